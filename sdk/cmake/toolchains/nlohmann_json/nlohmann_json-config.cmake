# nlohmann/json for a cross-build on Debian (mingw-w64-x86_64.cmake points here): the build
# machine's header-only package is right for any target, but its own config file puts all of
# /usr/include first, where the build machine's C library would shadow the target's. Here the
# headers are searched after the target's own (-idirafter).
if(NOT TARGET nlohmann_json::nlohmann_json)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  set_target_properties(nlohmann_json::nlohmann_json PROPERTIES INTERFACE_COMPILE_OPTIONS "-idirafter;/usr/include")
endif()
