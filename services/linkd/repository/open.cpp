#include "repository/repository.hpp"

namespace linkd {

Result<std::unique_ptr<Repository>> open_repository(const RepositoryOptions& options) {
    std::string_view url = options.url;
    if (url.rfind("sqlite://", 0) == 0) {
        std::string path(url.substr(9));  // sqlite://rel/path or sqlite:///abs/path
        if (path.empty()) {
            return keel::Error(keel::Errc::invalid_argument, "db.url: sqlite:// needs a file path");
        }
        return make_sqlite_repository(options, std::move(path));
    }
    if (url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0) {
        return make_postgres_repository(options);
    }
    return keel::Error(keel::Errc::invalid_argument,
                       "db.url: must start with sqlite:// or postgres:// (or postgresql://)");
}

}  // namespace linkd
