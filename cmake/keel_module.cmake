# keel_module(NAME [SOURCES file...] [USES module...] [PUBLIC_LINK target...] [PRIVATE_LINK target...]
#             [PC_REQUIRES pc-module...] [PC_LIBS flag...])
#
# One library per module: keel_<NAME>, aliased keel::<NAME>, installed and exported as
# keel::<NAME>. USES lists the keel modules whose headers it may include: the one place the
# module graph is written down. They are linked PUBLIC, recorded for the layering test
# (tests/layering) and for the package files (keelConfig.cmake, keel-<NAME>.pc). A module
# without SOURCES is header-only (an INTERFACE library). PC_* describe the external
# dependencies for pkg-config users (the CMake package finds them again itself).
function(keel_module name)
  cmake_parse_arguments(M "" "" "SOURCES;USES;PUBLIC_LINK;PRIVATE_LINK;PC_REQUIRES;PC_LIBS" ${ARGN})
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
  target_link_libraries(${target} ${scope} ${M_PUBLIC_LINK})
  if(M_PRIVATE_LINK)
    target_link_libraries(${target} PRIVATE ${M_PRIVATE_LINK})
  endif()
  target_compile_features(${target} ${scope} cxx_std_20)

  set_property(GLOBAL APPEND PROPERTY KEEL_MODULES ${name})
  set_property(GLOBAL PROPERTY KEEL_USES_${name} "${M_USES}")
  set_property(GLOBAL PROPERTY KEEL_HAS_SOURCES_${name} "${M_SOURCES}")
  set_property(GLOBAL PROPERTY KEEL_PC_REQUIRES_${name} "${M_PC_REQUIRES}")
  set_property(GLOBAL PROPERTY KEEL_PC_LIBS_${name} "${M_PC_LIBS}")

  install(TARGETS ${target} EXPORT keel-${name}-targets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT keel-${name}-targets NAMESPACE keel:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/keel)
endfunction()

# keel_test(NAME SOURCES ... DEPS ... [BOTH_IO]): a GoogleTest binary registered with CTest.
# BOTH_IO: it runs servers, so its tests run on each loop back-end: once on epoll, and again
# with KEEL_IO=io_uring (ServerOptions' default, inherited by the processes they start) under
# names ending in @io_uring.
function(keel_test name)
  cmake_parse_arguments(T "BOTH_IO" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/src)
  if(NOT T_BOTH_IO)
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES ENVIRONMENT "KEEL_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
    return()
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
                       PROPERTIES ENVIRONMENT "KEEL_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
                                  ENVIRONMENT_MODIFICATION "KEEL_IO=set:epoll")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_SUFFIX "@io_uring"
                       PROPERTIES ENVIRONMENT "KEEL_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
                                  ENVIRONMENT_MODIFICATION "KEEL_IO=set:io_uring")
endfunction()
