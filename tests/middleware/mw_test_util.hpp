#pragma once
#include <keel/router/router.hpp>
#include <keel/testing/recorder.hpp>

#include <string>

#include "support/run_command.hpp"

namespace keel::test {

inline http::Handler text(std::string body) {
    return [body](http::Request&) { return http::Response::text(body); };
}

}  // namespace keel::test
