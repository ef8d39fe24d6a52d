# Every external package keel's modules use, declared once: how it is found, the targets a
# module links, what pkg-config users need. keel's build includes this file (the modules name
# their packages in src/keel/CMakeLists.txt with DEPENDS), and it is installed beside
# keelConfig.cmake, which finds the packages of the modules a consumer asks for with the same
# calls. A package is looked for only when a module being built (or asked for) needs it.
#
#   keel_dependency(<name> CONFIG <package> | PKG <pkg-config module>
#                   TARGETS <imported target>... [PC <pkg-config module>] [PC_LIBS <flag>...])
#   keel_find_dependency(<name> [REQUIRED]): finds it once; sets keel_dependency_<name>_FOUND.

macro(keel_dependency name)
  cmake_parse_arguments(_kd "" "CONFIG;PKG" "TARGETS;PC;PC_LIBS" ${ARGN})
  set(KEEL_DEPENDENCY_${name}_CONFIG "${_kd_CONFIG}")
  set(KEEL_DEPENDENCY_${name}_PKG "${_kd_PKG}")
  set(KEEL_DEPENDENCY_${name}_TARGETS "${_kd_TARGETS}")
  set(KEEL_DEPENDENCY_${name}_PC "${_kd_PC}")
  set(KEEL_DEPENDENCY_${name}_PC_LIBS "${_kd_PC_LIBS}")
  list(APPEND KEEL_DEPENDENCIES ${name})
endmacro()

keel_dependency(threads CONFIG Threads TARGETS Threads::Threads PC_LIBS -pthread)
keel_dependency(liburing PKG liburing TARGETS PkgConfig::keel_liburing PC liburing)
keel_dependency(simdjson CONFIG simdjson TARGETS simdjson::simdjson PC simdjson)
keel_dependency(nghttp2 PKG libnghttp2 TARGETS PkgConfig::keel_nghttp2 PC libnghttp2)
keel_dependency(libssl CONFIG OpenSSL TARGETS OpenSSL::SSL PC libssl)
keel_dependency(libcrypto CONFIG OpenSSL TARGETS OpenSSL::Crypto PC libcrypto)
keel_dependency(zlib CONFIG ZLIB TARGETS ZLIB::ZLIB PC zlib)
keel_dependency(brotlienc PKG libbrotlienc TARGETS PkgConfig::keel_brotlienc PC libbrotlienc)
keel_dependency(curl CONFIG CURL TARGETS CURL::libcurl PC libcurl)
keel_dependency(fmt CONFIG fmt TARGETS fmt::fmt PC fmt)
keel_dependency(spdlog CONFIG spdlog TARGETS spdlog::spdlog PC spdlog)
keel_dependency(profiler PKG libprofiler TARGETS PkgConfig::keel_profiler PC libprofiler)
keel_dependency(tcmalloc PKG libtcmalloc TARGETS PkgConfig::keel_tcmalloc PC libtcmalloc)
keel_dependency(sqlite3 PKG sqlite3 TARGETS PkgConfig::keel_sqlite3 PC sqlite3)
keel_dependency(libpq PKG libpq TARGETS PkgConfig::keel_libpq PC libpq)
keel_dependency(hiredis PKG hiredis TARGETS PkgConfig::keel_hiredis PC hiredis)
keel_dependency(tomlplusplus CONFIG tomlplusplus TARGETS tomlplusplus::tomlplusplus PC tomlplusplus)
keel_dependency(cli11 CONFIG CLI11 TARGETS CLI11::CLI11 PC CLI11)

# A macro, not a function: find_package's imported targets and variables must land in the
# caller's scope. (FindCURL, FindOpenSSL and FindZLIB are CMake's own modules; CONFIG here
# means "by find_package", whichever way that package is found.)
macro(keel_find_dependency name)
  cmake_parse_arguments(_kfd "REQUIRED" "" "" ${ARGN})
  if(NOT DEFINED KEEL_DEPENDENCY_${name}_TARGETS)
    message(FATAL_ERROR "keel: no dependency called '${name}' (cmake/keel_dependencies.cmake: ${KEEL_DEPENDENCIES})")
  endif()
  set(_kfd_mode QUIET)
  if(_kfd_REQUIRED)
    set(_kfd_mode REQUIRED)
  endif()
  _keel_dependency_targets_exist(${name})
  if(NOT keel_dependency_${name}_FOUND)
    if(KEEL_DEPENDENCY_${name}_CONFIG)
      if(name STREQUAL "threads")
        set(THREADS_PREFER_PTHREAD_FLAG ON)
      endif()
      find_package(${KEEL_DEPENDENCY_${name}_CONFIG} ${_kfd_mode})
    else()
      find_package(PkgConfig ${_kfd_mode})
      if(PKG_CONFIG_FOUND)
        set(_kfd_global "")
        if(CMAKE_FIND_PACKAGE_TARGETS_GLOBAL)
          set(_kfd_global GLOBAL)  # keel's own build: its tests and services link them too
        endif()
        pkg_check_modules(keel_${name} ${_kfd_mode} IMPORTED_TARGET ${_kfd_global} ${KEEL_DEPENDENCY_${name}_PKG})
      endif()
    endif()
    _keel_dependency_targets_exist(${name})
  endif()
endmacro()

# Found means: every target it names exists (imported targets outlive the scope of a function).
macro(_keel_dependency_targets_exist name)
  set(keel_dependency_${name}_FOUND TRUE)
  foreach(_kfd_t IN LISTS KEEL_DEPENDENCY_${name}_TARGETS)
    if(NOT TARGET ${_kfd_t})
      set(keel_dependency_${name}_FOUND FALSE)
    endif()
  endforeach()
endmacro()
