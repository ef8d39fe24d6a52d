#include <keel/db/migrate.hpp>

#include <algorithm>
#include <string>

namespace keel::db {

Result<std::vector<const Migration*>> plan_migrations(std::span<const Migration> known, std::span<const int> applied) {
    for (std::size_t i = 0; i < known.size(); ++i) {
        if (known[i].version <= 0 || (i > 0 && known[i].version <= known[i - 1].version)) {
            return Error::with_detail(Errc::internal, "migrations: versions must be positive and increasing (at \"" +
                                                          std::string(known[i].name) + "\")");
        }
    }
    int newest_known = known.empty() ? 0 : known.back().version;
    for (int v : applied) {
        bool is_known = std::any_of(known.begin(), known.end(), [v](const Migration& m) { return m.version == v; });
        if (v > newest_known || !is_known) {
            return Error::with_detail(Errc::conflict, "migrations: the database has schema version " +
                                                          std::to_string(v) +
                                                          ", which this binary does not know (it knows up to " +
                                                          std::to_string(newest_known) +
                                                          "): the database is newer than the code; refusing to start");
        }
    }
    std::vector<const Migration*> todo;
    for (const Migration& m : known) {
        if (std::find(applied.begin(), applied.end(), m.version) == applied.end()) {
            todo.push_back(&m);
        }
    }
    return todo;
}

}  // namespace keel::db
