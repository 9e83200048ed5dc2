# CHATRIX_SANITIZE: the sanitizers to build everything with, as given to -fsanitize=
# ("address,undefined" for `make test-sanitize`, "thread" for `make test-tsan`; empty: none).
# Global flags on purpose: a sanitizer sees only the code compiled with it, and ASan/TSan need
# every object, tests included, built with the same runtime.
set(CHATRIX_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address,undefined or thread")

if(CHATRIX_SANITIZE)
  add_compile_options(-fsanitize=${CHATRIX_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${CHATRIX_SANITIZE})
  if(CHATRIX_SANITIZE MATCHES "undefined")
    # UBSan otherwise prints and carries on, and the test passes.
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # With these flags GCC 12 pairs Asio's awaitable-frame operator delete with the wrong
    # operator new: a false warning (GCC PR 109224) that the Release build does not show.
    add_compile_options(-Wno-mismatched-new-delete)
    if(CHATRIX_SANITIZE MATCHES "address")
      # libstdc++'s std::regex under ASan at -O1: a false "may be used uninitialized"
      # (GCC PR 105616). The Release build still checks our code for the real thing.
      add_compile_options(-Wno-maybe-uninitialized)
    endif()
    if(CHATRIX_SANITIZE MATCHES "thread")
      # TSan does not model atomic_thread_fence, which Asio puts around every handler call.
      # Asio also hands handlers over through its scheduler's mutex, which TSan does see, so
      # the fences hide no race from it; the warning (dozens per file) buries all others.
      add_compile_options(-Wno-tsan)
    endif()
  endif()
endif()

# The allocator the server and chatrix-bench link: mimalloc, except under a sanitizer, whose
# runtime must own malloc to see every allocation (mimalloc would replace it).
add_library(chatrix_allocator INTERFACE)
if(NOT CHATRIX_SANITIZE)
  find_package(mimalloc 2 CONFIG REQUIRED)
  target_link_libraries(chatrix_allocator INTERFACE mimalloc)
  target_compile_definitions(chatrix_allocator INTERFACE CHATRIX_MIMALLOC=1)
endif()
