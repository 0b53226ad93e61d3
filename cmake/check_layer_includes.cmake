# Fails when a file breaks a layer boundary (run as the ctests layer_includes_<LAYER>):
#
#   cmake -DSOURCE_DIR=<repository root> -DLAYER=<domain|eventstore|app|rocksdb> -P this file
#
# Dependencies point inward: server/ -> app/ -> domain/ + eventstore/.
#   domain      pure: no gRPC, RocksDB, protobuf or generated (*.pb.h) code; nothing from app/,
#               server/ or eventstore/.
#   eventstore  no app/, server/ or domain/; no gRPC or protobuf.
#   app         no gRPC (grpc/, grpcpp/, generated *.grpc.pb.h) and nothing from server/. Plain
#               *.pb.h messages are allowed: they are the stored formats.
#   rocksdb     RocksDB headers (rocksdb/...) only in eventstore/rocksdb_* and eventstore/wal_files*,
#               server/main.cc (the composition root), tools/, tests/ and bench/.
# Only the included path is looked at ("#include <x>" or "#include "x""), not comments.
cmake_policy(VERSION 3.25)
set(grpc "^grpc(pp|\\+\\+)?/|\\.grpc\\.pb\\.h$")
set(protobuf "^google/protobuf/|\\.pb\\.h$")
set(rocksdb "^rocksdb/")
set(except "^$")
if(LAYER STREQUAL "domain")
  set(dirs domain)
  set(forbidden "${grpc}|${rocksdb}|${protobuf}|^(app|server|eventstore)/")
elseif(LAYER STREQUAL "eventstore")
  set(dirs eventstore)
  set(forbidden "${grpc}|${protobuf}|^(app|server|domain)/")
elseif(LAYER STREQUAL "app")
  set(dirs app)
  set(forbidden "${grpc}|^server/")
elseif(LAYER STREQUAL "rocksdb")
  set(dirs domain eventstore app server fuzz)
  set(forbidden "${rocksdb}")
  set(except "^eventstore/(rocksdb_|wal_files)|^server/main\\.cc$")
else()
  message(FATAL_ERROR "LAYER must be domain, eventstore, app or rocksdb (got '${LAYER}')")
endif()

set(bad "")
set(count 0)
foreach(dir ${dirs})
  file(GLOB_RECURSE files RELATIVE ${SOURCE_DIR} ${SOURCE_DIR}/${dir}/*.h ${SOURCE_DIR}/${dir}/*.cc)
  list(LENGTH files n)
  math(EXPR count "${count} + ${n}")
  foreach(f ${files})
    if(f MATCHES "${except}")
      continue()
    endif()
    file(STRINGS ${SOURCE_DIR}/${f} lines REGEX "^[ \t]*#[ \t]*include")
    foreach(line ${lines})
      if(line MATCHES "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"]")
        set(path "${CMAKE_MATCH_1}")
        if(path MATCHES "${forbidden}")
          string(APPEND bad "\n  ${f}: ${line}")
        endif()
      endif()
    endforeach()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "layer ${LAYER}: includes across the boundary:${bad}")
endif()
message(STATUS "layer ${LAYER}: ${count} files under ${dirs}, boundary kept")
