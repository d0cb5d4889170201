# Initial cache of the sanitizer tree, shared by tools/run-tests and tools/run-fuzz:
#   cmake -C tools/cmake/sanitize-tree.cmake -S . -B build-sanitize
# clang with ASan+UBSan, and the libFuzzer targets with coverage instrumentation in every module
# (SENNEN_FUZZ implies SENNEN_SANITIZE). Unoptimised, with line tables only: it compiles in about
# half the time of the normal tree, which CI builds as well (-O2 with ASan would take 1.7 times as
# long). The fuzzer's long run wants speed instead: tools/run-fuzz --long configures its own tree
# with -DCMAKE_BUILD_TYPE=RelWithDebInfo, which wins over this file.
set(CMAKE_CXX_COMPILER clang++ CACHE STRING "")
set(CMAKE_BUILD_TYPE Debug CACHE STRING "")
set(CMAKE_CXX_FLAGS_DEBUG "-O0 -gline-tables-only" CACHE STRING "")
set(SENNEN_FUZZ ON CACHE BOOL "")
