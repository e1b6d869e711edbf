// A real shared library with a constructor (constructor_mark.hpp) and no negotiation function:
// the host must see from its dynamic symbol table, before dlopen, that it is no plugin, so
// the constructor never runs.
#define TEST_PLUGIN_MARK "marked-without-export"
#include "constructor_mark.hpp"

#include <connector/abi.h>

extern "C" CONNECTOR_PLUGIN_EXPORT int connector_plugin_negotiate_not() { return 0; }
