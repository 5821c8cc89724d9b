# Sanitizer and fuzzing builds (scripts/sanitize.sh, scripts/fuzz.sh), each in a build dir of its own:
#   -DZS_SANITIZE=address,undefined   every target compiled and linked with these sanitizers
#   -DZS_FUZZ=ON                      clang only: coverage for libFuzzer, and the fuzz/ targets
# Undefined behaviour stops the program (no recovery), so a test or a fuzz run cannot pass over it.
set(ZS_SANITIZE "" CACHE STRING "Sanitizers for every target, e.g. address,undefined (empty: none)")
option(ZS_FUZZ "Build the libFuzzer targets in fuzz/ (clang; with ZS_SANITIZE)" OFF)

if(ZS_SANITIZE)
  add_compile_options(-fsanitize=${ZS_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${ZS_SANITIZE})
endif()
if(ZS_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "ZS_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
