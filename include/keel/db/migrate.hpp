#pragma once
/// keel::db migrations: numbered SQL files applied at start-up.
///
/// A service keeps one folder of files per driver, `0001_create_links.sql`, `0002_...`, and
/// embeds them in its binary with the CMake function keel_embed_migrations (so a deployed
/// binary carries its schema). At start-up the driver's migrate() takes the database's
/// applied versions from the `schema_migrations` table and, in one transaction, applies those
/// missing and records them. It refuses to start (Errc::conflict) when the database holds a
/// version this binary does not know: the database is newer than the code.

#include <keel/core/result.hpp>

#include <span>
#include <string_view>
#include <vector>

namespace keel::db {

struct Migration {
    int version = 0;
    std::string_view name = {};  ///< the file name, for the record and for messages
    std::string_view sql = {};
};

/// The migrations still to apply, in order, given what the database has applied. Errors:
/// the database is newer than the binary, or the known list has duplicate / unsorted versions.
Result<std::vector<const Migration*>> plan_migrations(std::span<const Migration> known, std::span<const int> applied);

}  // namespace keel::db
