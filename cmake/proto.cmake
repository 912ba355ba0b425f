# Protobuf C++ code generation. Generated sources go to the build tree
# (${PROJECT_BINARY_DIR}/proto_gen), never the source tree (STYLE.md section 8).
#
# norn_proto_library(NAME <name> PROTOS <files relative to ${PROJECT_SOURCE_DIR}/proto> [GRPC])
# Builds norn_<name> (alias norn::<name>), a static library of the generated message classes,
# linked to protobuf::libprotobuf (and gRPC::grpc++ with GRPC, which also runs the gRPC plugin).
# Headers are included by path from the repository root: proto/push.proto gives
# `#include "proto/push.pb.h"`. Protos import each other as "proto/<file>.proto".
include_guard(GLOBAL)

set(NORN_PROTO_GEN_DIR ${PROJECT_BINARY_DIR}/proto_gen)

if(TARGET protobuf::protoc)
  set(NORN_PROTOC protobuf::protoc)
else()
  set(NORN_PROTOC ${Protobuf_PROTOC_EXECUTABLE})
endif()

function(norn_proto_library)
  cmake_parse_arguments(ARG "GRPC" "NAME" "PROTOS" ${ARGN})
  if(TARGET norn_${ARG_NAME})
    return()  # Already defined by another includer.
  endif()
  set(srcs)
  set(hdrs)
  foreach(proto ${ARG_PROTOS})
    get_filename_component(dir ${proto} DIRECTORY)
    get_filename_component(base ${proto} NAME_WE)
    if(dir)
      set(stem proto/${dir}/${base})
    else()
      set(stem proto/${base})
    endif()
    set(out_cc ${NORN_PROTO_GEN_DIR}/${stem}.pb.cc)
    set(out_h ${NORN_PROTO_GEN_DIR}/${stem}.pb.h)
    set(outputs ${out_cc} ${out_h})
    set(args --cpp_out=${NORN_PROTO_GEN_DIR})
    if(ARG_GRPC)
      find_program(NORN_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
      list(APPEND outputs ${NORN_PROTO_GEN_DIR}/${stem}.grpc.pb.cc ${NORN_PROTO_GEN_DIR}/${stem}.grpc.pb.h)
      list(APPEND args --grpc_out=${NORN_PROTO_GEN_DIR} --plugin=protoc-gen-grpc=${NORN_GRPC_CPP_PLUGIN})
    endif()
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${NORN_PROTO_GEN_DIR}
      COMMAND ${NORN_PROTOC} -I ${PROJECT_SOURCE_DIR} -I ${Protobuf_INCLUDE_DIRS} ${args}
              ${PROJECT_SOURCE_DIR}/proto/${proto}
      DEPENDS ${PROJECT_SOURCE_DIR}/proto/${proto} ${NORN_PROTOC}
      COMMENT "protoc proto/${proto}"
      VERBATIM)
    list(APPEND srcs ${out_cc})
    list(APPEND hdrs ${out_h})
    if(ARG_GRPC)
      list(APPEND srcs ${NORN_PROTO_GEN_DIR}/${stem}.grpc.pb.cc)
    endif()
  endforeach()
  add_library(norn_${ARG_NAME} STATIC ${srcs} ${hdrs})
  add_library(norn::${ARG_NAME} ALIAS norn_${ARG_NAME})
  target_include_directories(norn_${ARG_NAME} PUBLIC ${NORN_PROTO_GEN_DIR})
  target_link_libraries(norn_${ARG_NAME} PUBLIC protobuf::libprotobuf)
  if(ARG_GRPC)
    target_link_libraries(norn_${ARG_NAME} PUBLIC gRPC::grpc++)
  endif()
  # Generated code is not ours to keep warning-free.
  target_compile_options(norn_${ARG_NAME} PRIVATE -w)
endfunction()
