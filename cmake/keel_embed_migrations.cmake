# Writes a C++ source that embeds every *.sql file of a folder as keel::db::Migration values.
# Run as a script: cmake -DDIR=... -DOUT=... -DNAMESPACE=... -DFUNCTION=... -P this-file
file(GLOB files RELATIVE "${DIR}" "${DIR}/*.sql")
list(SORT files)
set(body "")
foreach(f IN LISTS files)
  if(NOT f MATCHES "^([0-9]+)_[A-Za-z0-9_]+\\.sql$")
    message(FATAL_ERROR "migration file name must look like 0001_name.sql: ${DIR}/${f}")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}")
  file(READ "${DIR}/${f}" sql)
  string(APPEND body "    {${version}, \"${f}\", R\"keel_sql(${sql})keel_sql\"},\n")
endforeach()
file(WRITE "${OUT}.tmp" "// Generated from ${DIR} by cmake/keel_embed_migrations.cmake. Do not edit.
#include <keel/db/migrate.hpp>
#include <span>

namespace ${NAMESPACE} {
std::span<const keel::db::Migration> ${FUNCTION}() {
  static const keel::db::Migration kMigrations[] = {
${body}  };
  return kMigrations;
}
}  // namespace ${NAMESPACE}
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
