# Fails when a .cc file in the tree is not named in CMakeLists.txt (run as the ctest
# sources_listed_in_cmake): CMakeLists.txt lists every source explicitly (no GLOB), so a new
# file that was never added would otherwise be silently left out of the build.
#
#   cmake -DSOURCE_DIR=<repository root> -P this file
cmake_policy(VERSION 3.25)
set(dirs domain eventstore app server tests bench tools fuzz)
file(READ ${SOURCE_DIR}/CMakeLists.txt cmakelists)
# Comments do not count as naming a file.
string(REGEX REPLACE "#[^\n]*" "" cmakelists "${cmakelists}")
set(missing "")
set(count 0)
foreach(dir ${dirs})
  file(GLOB_RECURSE files RELATIVE ${SOURCE_DIR} ${SOURCE_DIR}/${dir}/*.cc)
  foreach(f ${files})
    math(EXPR count "${count} + 1")
    string(REGEX REPLACE "([.+*?^$()|])" "\\\\\\1" pattern "${f}")
    if(NOT cmakelists MATCHES "(^|[ \t\n(\"])${pattern}([ \t\n)\"]|$)")
      string(APPEND missing "\n  ${f}")
    endif()
  endforeach()
endforeach()
if(missing)
  message(FATAL_ERROR "not named in CMakeLists.txt (add each to its target's list):${missing}")
endif()
message(STATUS "all ${count} .cc files under ${dirs} are named in CMakeLists.txt")
