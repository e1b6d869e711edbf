# CONNECTOR_SANITIZE: the -fsanitize= list for every target of the build (libraries, the host,
# the plugin modules, the test plugins, the test binaries), e.g. "address,undefined" or
# "thread". Empty (the default) builds without sanitizers. scripts/test-sanitizers.sh uses it.
#
# Applied as directory options before any add_subdirectory(), so every target made afterwards
# gets them; the plugins' exported SDK targets stay untouched (they are INTERFACE and carry no
# compile options), so an out-of-tree plugin built against the installed SDK is not affected.
set(CONNECTOR_SANITIZE "" CACHE STRING "Sanitizers for every target, as -fsanitize= takes them (address,undefined or thread); empty for none")

if(CONNECTOR_SANITIZE)
  if(CONNECTOR_SANITIZE MATCHES "thread" AND CONNECTOR_SANITIZE MATCHES "address")
    message(FATAL_ERROR "CONNECTOR_SANITIZE=${CONNECTOR_SANITIZE}: ThreadSanitizer cannot be combined with AddressSanitizer")
  endif()
  message(STATUS "Sanitizers: ${CONNECTOR_SANITIZE}")

  # Frame pointers give the reports whole stacks at a cheap unwinder's cost.
  add_compile_options(-fsanitize=${CONNECTOR_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${CONNECTOR_SANITIZE})
  if(CONNECTOR_SANITIZE MATCHES "undefined")
    # Undefined behaviour stops the process, so the test that reached it fails instead of
    # printing a line nobody reads.
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()

  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang" AND CONNECTOR_SANITIZE MATCHES "thread")
    # The plugins need the shared runtime (below), and clang-14's shared TSan runtime crashes
    # before main even in an empty program. g++ links libtsan.so everywhere and works.
    message(FATAL_ERROR "CONNECTOR_SANITIZE=thread: build with g++ (clang's shared TSan runtime crashes at start)")
  endif()
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    # Plugins are modules linked with --no-undefined (sdk/cmake/ConnectorPlugin.cmake) and
    # dlopen()ed by the host. Clang links its static sanitizer runtime into executables only,
    # which leaves a module's __asan_*/__tsan_* references undefined at link time. With the
    # shared runtime every executable and module links the same one library, found through
    # the rpath (g++ does this by default, with libasan.so/libtsan.so).
    add_compile_options(-shared-libsan)
    add_link_options(-shared-libsan)
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-runtime-dir OUTPUT_VARIABLE _connector_sanitizer_runtime_dir
                    OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
    add_link_options("LINKER:-rpath,${_connector_sanitizer_runtime_dir}")
    if(CONNECTOR_SANITIZE MATCHES "undefined")
      # clang-14's -fsanitize=function cannot compile C++20 coroutines (Asio's awaitables):
      # its prologue data ends in "Cannot represent a difference across sections".
      add_compile_options(-fno-sanitize=function)
    endif()
  endif()
endif()
