# Boost's headers for a cross-build on Debian (the root's CONNECTOR_PLUGINS_ONLY with the
# mingw-w64 toolchain points here): the header-only libraries the plugin binding uses (Boost.DLL
# and what it includes) are right for any target, but the build machine's own BoostConfig puts
# all of /usr/include first, where its C library would shadow the target's. Here the headers are
# searched after the target's own (-idirafter), as the SDK's nlohmann/json shim does.
if(NOT TARGET Boost::headers)
  add_library(Boost::headers INTERFACE IMPORTED)
  set_target_properties(Boost::headers PROPERTIES INTERFACE_COMPILE_OPTIONS "-idirafter;/usr/include")
endif()
