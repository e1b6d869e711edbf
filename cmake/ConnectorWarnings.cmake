# connector_set_warnings(target): the project's warning set, errors when asked (CI).
function(connector_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
                                           -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
                                           -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
  # g++ 12 misreads Asio's coroutine frame allocator (operator new/delete pairs) as mismatched.
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wno-mismatched-new-delete>)
  if(CONNECTOR_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
