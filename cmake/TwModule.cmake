# tw_module(NAME <name> SOURCES ... [DEPS ...] [PRIVATE_DEPS ...])
# Creates library tw_<name> with alias tw::<name>; public headers live in
# src/<name>/include/tw/<name>/, implementation files next to them in src/<name>/.
function(tw_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion
                                           -Wnon-virtual-dtor -Wno-sign-conversion)
endfunction()

function(tw_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(tw_${M_NAME} STATIC ${M_SOURCES})
  add_library(tw::${M_NAME} ALIAS tw_${M_NAME})
  target_include_directories(tw_${M_NAME} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                          PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(tw_${M_NAME} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  tw_warnings(tw_${M_NAME})
endfunction()

# tw_test(NAME <name> SOURCES ... DEPS ... [LABELS ...])
function(tw_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  tw_warnings(${T_NAME})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  gtest_discover_tests(${T_NAME} PROPERTIES LABELS "${T_LABELS}" DISCOVERY_TIMEOUT 60
                       WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
endfunction()
