# keel_embed_migrations(TARGET DIR NAMESPACE FUNCTION): compiles every DIR/NNNN_name.sql into
# TARGET as `std::span<const keel::db::Migration> NAMESPACE::FUNCTION()`, regenerated when a
# file changes (and when one is added, at the next configure). Works in keel's own build, with
# keel added by add_subdirectory, and from an installed keel (find_package(keel) includes this
# file): the generator script is found beside this file, not in the consumer's tree.
set(KEEL_EMBED_MIGRATIONS_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/keel_embed_migrations.cmake")

function(keel_embed_migrations target dir namespace function)
  get_filename_component(dir "${dir}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  file(GLOB sql CONFIGURE_DEPENDS "${dir}/*.sql")
  string(MAKE_C_IDENTIFIER "${namespace}_${function}" id)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${id}.cpp")
  add_custom_command(OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -DDIR=${dir} -DOUT=${out} -DNAMESPACE=${namespace} -DFUNCTION=${function}
            -P "${KEEL_EMBED_MIGRATIONS_SCRIPT}"
    DEPENDS ${sql} "${KEEL_EMBED_MIGRATIONS_SCRIPT}"
    COMMENT "Embedding migrations from ${dir}")
  target_sources(${target} PRIVATE "${out}")
endfunction()
