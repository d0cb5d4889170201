# sennen_module(NAME SOURCES a.cpp ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# One static library per folder, so a change rebuilds and relinks little, and heavy third-party
# headers (Asio, yaml-cpp, DCMTK) stay private to the one module that needs them.
function(sennen_module name)
  cmake_parse_arguments(M "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${M_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/generated)
  target_link_libraries(${name} PUBLIC ${M_PUBLIC_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  sennen_warnings(${name})
endfunction()

function(sennen_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)
  if(SENNEN_SANITIZE)
    # Undefined behaviour stops the program, like an ASan finding: a test or fuzz target fails on it
    # instead of printing a line nobody reads.
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=all
      -fno-omit-frame-pointer)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined -fno-sanitize-recover=all)
  endif()
endfunction()

# sennen_test(NAME SOURCES ... DEPS ...): one doctest executable, registered with CTest.
function(sennen_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE sennen_test_support ${T_DEPS})
  sennen_warnings(${name})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "SENNEN_SOURCE_DIR=${PROJECT_SOURCE_DIR};SENNEN_BINARY_DIR=${PROJECT_BINARY_DIR}"
    LABELS "unit;${T_LABELS}")
  add_dependencies(sennen_unit_tests ${name})
endfunction()
