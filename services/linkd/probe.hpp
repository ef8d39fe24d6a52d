#pragma once
// `linkd probe URL`: the health check of an image without curl or a shell (the container's
// HEALTHCHECK runs it).

#include <string>

namespace linkd {

/// One GET of `url` (http://HOST:PORT/PATH, a numeric host), 2 s at most: 0 on a 2xx status,
/// 1 otherwise, with the reason on stderr.
int probe(const std::string& url);

}  // namespace linkd
