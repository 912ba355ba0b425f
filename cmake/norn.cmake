# Build helpers: one library target per source folder (norn::<name>) and one ctest per test binary.

# norn_cc_library(NAME <name> SRCS <files...> [DEPS <targets...>])
# Builds norn_<name>, aliased norn::<name>. Headers are included by path from src/.
function(norn_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(norn_${ARG_NAME} STATIC ${ARG_SRCS})
  add_library(norn::${ARG_NAME} ALIAS norn_${ARG_NAME})
  target_include_directories(norn_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_BINARY_DIR}/src)
  target_link_libraries(norn_${ARG_NAME} PUBLIC ${ARG_DEPS})
endfunction()

# norn_cc_test(NAME <name> SRCS <files...> [DEPS <targets...>] [LABELS <labels...>])
# A GoogleTest binary registered as one ctest test; label defaults to "unit".
function(norn_cc_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 300)
endfunction()
