# keel_module(NAME [SOURCES file...] [USES module...] [DEPENDS package...] [PUBLIC_DEPENDS package...]
#             [FUZZ_SOURCES file...])
#
# One library per module: keel_<NAME>, aliased keel::<NAME>, installed and exported as
# keel::<NAME>. USES lists the keel modules whose headers it may include: the one place the
# module graph is written down. They are linked PUBLIC, recorded for the layering test
# (tests/layering) and for the package files (keelConfig.cmake, keel-<NAME>.pc). DEPENDS and
# PUBLIC_DEPENDS name external packages of cmake/keel_dependencies.cmake (linked PRIVATE or
# PUBLIC); they are found here, when the module is built, and recorded so that the installed
# package finds the same ones for the modules a consumer asks for. A module without SOURCES is
# header-only (an INTERFACE library). FUZZ_SOURCES: the parsing code libFuzzer instruments in
# the fuzz build (KEEL_FUZZ); not files that spawn coroutines (clang 14 under UBSan cannot
# instrument them: "Cannot represent a difference across sections").
#
# KEEL_MODULES (a cache list, empty for all) builds only the modules it names: a module left
# out is not defined and its packages are not looked for; naming one without a module it USES
# is an error.
function(keel_module name)
  cmake_parse_arguments(M "" "" "SOURCES;USES;DEPENDS;PUBLIC_DEPENDS;FUZZ_SOURCES" ${ARGN})
  if(KEEL_MODULES AND NOT name IN_LIST KEEL_MODULES)
    return()
  endif()
  foreach(dep IN LISTS M_USES)
    if(NOT TARGET keel_${dep})
      message(FATAL_ERROR "keel: module '${name}' uses '${dep}', which KEEL_MODULES (${KEEL_MODULES}) leaves out")
    endif()
  endforeach()
  set(private_targets "")
  set(public_targets "")
  set(pc_requires "")
  set(pc_libs "")
  foreach(kind IN ITEMS DEPENDS PUBLIC_DEPENDS)
    foreach(pkg IN LISTS M_${kind})
      keel_find_dependency(${pkg} REQUIRED)
      if(kind STREQUAL "DEPENDS")
        list(APPEND private_targets ${KEEL_DEPENDENCY_${pkg}_TARGETS})
      else()
        list(APPEND public_targets ${KEEL_DEPENDENCY_${pkg}_TARGETS})
      endif()
      list(APPEND pc_requires ${KEEL_DEPENDENCY_${pkg}_PC})
      list(APPEND pc_libs ${KEEL_DEPENDENCY_${pkg}_PC_LIBS})
    endforeach()
  endforeach()

  set(target keel_${name})
  if(M_SOURCES)
    add_library(${target} ${M_SOURCES})
    set(scope PUBLIC)
    target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src)
    set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    if(CMAKE_INTERPROCEDURAL_OPTIMIZATION)
      # Machine code beside the LTO bytecode: an installed library links into programs built
      # without LTO too.
      target_compile_options(${target} PRIVATE -ffat-lto-objects)
    endif()
  else()
    add_library(${target} INTERFACE)
    set(scope INTERFACE)
  endif()
  add_library(keel::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(${target} ${scope} $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                                $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  foreach(dep IN LISTS M_USES)
    target_link_libraries(${target} ${scope} keel_${dep})
  endforeach()
  target_link_libraries(${target} ${scope} ${public_targets})
  if(private_targets)
    target_link_libraries(${target} PRIVATE ${private_targets})
  endif()
  target_compile_features(${target} ${scope} cxx_std_20)

  set_property(GLOBAL APPEND PROPERTY KEEL_MODULES ${name})
  set_property(GLOBAL PROPERTY KEEL_USES_${name} "${M_USES}")
  set_property(GLOBAL PROPERTY KEEL_HAS_SOURCES_${name} "${M_SOURCES}")
  set_property(GLOBAL PROPERTY KEEL_DEPENDS_${name} ${M_DEPENDS} ${M_PUBLIC_DEPENDS})
  set_property(GLOBAL PROPERTY KEEL_PC_REQUIRES_${name} "${pc_requires}")
  set_property(GLOBAL PROPERTY KEEL_PC_LIBS_${name} "${pc_libs}")
  if(KEEL_FUZZ AND M_FUZZ_SOURCES)
    # libFuzzer's coverage counters in the parsing code, so the fuzzers are guided by its
    # branches and not only by their harness's.
    set_source_files_properties(${M_FUZZ_SOURCES} PROPERTIES COMPILE_OPTIONS -fsanitize=fuzzer-no-link)
  endif()

  install(TARGETS ${target} EXPORT keel-${name}-targets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT keel-${name}-targets NAMESPACE keel:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/keel)
endfunction()

# keel_test(NAME SOURCES ... DEPS ... [BOTH_IO]): a GoogleTest binary registered with CTest.
# BOTH_IO: it runs servers, so its tests run on each loop back-end: once on epoll, and again
# under names ending in @io_uring with the back-end named in the environment: KEEL_TEST_IO for
# keel::testing::TestServer, and server.io's variable for the programs the tests start (each
# prefix: KEEL for an in-process App, LINKD, TODO, TE). Each back-end has its own TEST_TMPDIR.
function(keel_test name)
  cmake_parse_arguments(T "BOTH_IO" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/src)
  if(NOT T_BOTH_IO)
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES ENVIRONMENT "KEEL_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
    return()
  endif()
  foreach(io epoll io_uring)
    set(io_env "")
    foreach(var KEEL_TEST_IO KEEL_SERVER_IO LINKD_SERVER_IO TODO_SERVER_IO TE_SERVER_IO)
      list(APPEND io_env "${var}=set:${io}")
    endforeach()
    # A temp dir per back-end: ctest runs a test and its @io_uring twin at once, and files named
    # after the test (::testing::TempDir()) must not be shared between them.
    set(tmp ${PROJECT_BINARY_DIR}/test-tmp/${io})
    file(MAKE_DIRECTORY ${tmp})
    list(APPEND io_env "TEST_TMPDIR=set:${tmp}")
    set(suffix "")
    if(io STREQUAL "io_uring")
      set(suffix "@io_uring")
    endif()
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_SUFFIX "${suffix}"
                         PROPERTIES ENVIRONMENT "KEEL_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
                                    ENVIRONMENT_MODIFICATION "${io_env}")
  endforeach()
endfunction()
