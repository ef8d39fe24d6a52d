cmake_minimum_required(VERSION 3.25)
# The layering test: every #include in include/keel/<module>/ and src/keel/<module>/ names a
# header of the module itself or of a module it USES (the graph src/keel/CMakeLists.txt writes
# down, read from keel_modules.cmake). Run by CTest:
#   cmake -DSOURCE_DIR=<repo> -DGRAPH=<build>/keel_modules.cmake -P check_layering.cmake
# It also checks that docs/architecture.md's table states the same graph.
include(${GRAPH})

set(violations "")
foreach(module IN LISTS KEEL_MODULES)
  set(allowed ${module} ${KEEL_USES_${module}})
  file(GLOB_RECURSE files ${SOURCE_DIR}/include/keel/${module}/*.hpp ${SOURCE_DIR}/src/keel/${module}/*.hpp
                          ${SOURCE_DIR}/src/keel/${module}/*.cpp)
  foreach(file IN LISTS files)
    file(STRINGS ${file} includes ENCODING UTF-8 REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]keel/")
    foreach(line IN LISTS includes)
      if(NOT line MATCHES "keel/([a-z_]+)/")
        continue()  # keel/keel.hpp, keel/version.hpp: not a module's
      endif()
      set(target ${CMAKE_MATCH_1})
      if(NOT target IN_LIST allowed)
        file(RELATIVE_PATH rel ${SOURCE_DIR} ${file})
        string(STRIP "${line}" line)
        list(APPEND violations "${rel}: ${line} — module '${module}' does not use '${target}' (uses: ${KEEL_USES_${module}})")
      endif()
    endforeach()
  endforeach()
endforeach()

# docs/architecture.md: one row per module, "| `name` | ... | uses |".
file(STRINGS ${SOURCE_DIR}/docs/architecture.md rows ENCODING UTF-8 REGEX "^\\| `[a-z_]+` \\|")
set(documented "")
foreach(row IN LISTS rows)
  string(REGEX MATCH "^\\| `([a-z_]+)` \\|" _ "${row}")
  set(module ${CMAKE_MATCH_1})
  # The last cell: the module names in backquotes ("—" for none).
  string(REPLACE ";" "," row "${row}")
  string(REPLACE "|" ";" cells "${row}")
  list(FILTER cells EXCLUDE REGEX "^[ ]*$")
  list(GET cells -1 last)
  string(REGEX MATCHALL "`[a-z_]+`" uses "${last}")
  list(TRANSFORM uses REPLACE "`" "")
  list(APPEND documented ${module})
  set(expected ${KEEL_USES_${module}})
  list(SORT uses)
  list(SORT expected)
  if(NOT "${uses}" STREQUAL "${expected}")
    list(APPEND violations "docs/architecture.md: '${module}' uses '${uses}', the build says '${expected}'")
  endif()
endforeach()
foreach(module IN LISTS KEEL_MODULES)
  if(NOT module IN_LIST documented)
    list(APPEND violations "docs/architecture.md: no row for module '${module}'")
  endif()
endforeach()

if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "layering: forbidden dependencies:\n  ${text}")
endif()
list(LENGTH KEEL_MODULES n)
message(STATUS "layering: ${n} modules, every #include allowed, docs/architecture.md agrees")
