// A plugin linked with only the old SysV symbol hash table (DT_HASH, no DT_GNU_HASH): the
// host's export check must find connector_plugin_negotiate through either table.
#define TEST_PLUGIN_SLUG "sysv-hash"
#define TEST_PLUGIN_DEFINITION_ID "00000000-0000-4000-8000-0000000005e5"
#include "minimal_provider.hpp"

CONNECTOR_REGISTER_PROVIDER(MinimalProvider)
