# CHATRIX_FUZZ: the libFuzzer targets of fuzz/. They need clang (libFuzzer is its runtime) and
# a build of their own (`make fuzz`: build-fuzz/, configured with CHATRIX_SANITIZE=address,undefined).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "CHATRIX_FUZZ needs clang (CXX=clang++); this is ${CMAKE_CXX_COMPILER_ID}")
endif()
if(NOT CHATRIX_SANITIZE MATCHES "address")
  message(FATAL_ERROR "CHATRIX_FUZZ needs CHATRIX_SANITIZE=address,undefined: a fuzzer without ASan misses most memory errors")
endif()
# Coverage feedback for every library, not only the fuzz targets: the mutator learns from the
# branches our parsers take. The libFuzzer runtime itself is linked by the targets (fuzzer).
add_compile_options(-fsanitize=fuzzer-no-link)
# UBSan's `function` check (indirect calls through a mistyped function pointer) makes clang 14
# fail on coroutines ("Cannot represent a difference across sections"); every other check stays.
add_compile_options(-fno-sanitize=function)
