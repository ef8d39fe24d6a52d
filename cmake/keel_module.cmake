# keel_module(NAME SOURCES ... DEPS ...): one static library per module, named keel_<NAME>,
# aliased keel::<NAME>. A module may only link the modules listed before it in DESIGN.md, so a
# forbidden edge fails to link.
function(keel_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(keel_${name} STATIC ${M_SOURCES})
  add_library(keel::${name} ALIAS keel_${name})
  target_include_directories(keel_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(keel_${name} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
endfunction()

# keel_test(NAME SOURCES ... DEPS ...): a GoogleTest binary registered with CTest.
function(keel_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/src)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES ENVIRONMENT "KEEL_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# keel_embed_migrations(TARGET DIR NAMESPACE FUNCTION): compiles every DIR/NNNN_name.sql into
# TARGET as `std::span<const keel::db::Migration> NAMESPACE::FUNCTION()`, regenerated when a
# file changes (and when one is added, at the next configure).
function(keel_embed_migrations target dir namespace function)
  file(GLOB sql CONFIGURE_DEPENDS "${dir}/*.sql")
  string(MAKE_C_IDENTIFIER "${namespace}_${function}" id)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${id}.cpp")
  add_custom_command(OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -DDIR=${dir} -DOUT=${out} -DNAMESPACE=${namespace} -DFUNCTION=${function}
            -P ${PROJECT_SOURCE_DIR}/cmake/keel_embed_migrations.cmake
    DEPENDS ${sql} ${PROJECT_SOURCE_DIR}/cmake/keel_embed_migrations.cmake
    COMMENT "Embedding migrations from ${dir}")
  target_sources(${target} PRIVATE "${out}")
endfunction()
