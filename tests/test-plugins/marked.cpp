// A good plugin whose constructor leaves a trace (constructor_mark.hpp): where the host must
// refuse a file before loading it (another user can write it, a link out of the folder), this
// one is dropped in, and no trace may appear. Loaded where it is trusted, it leaves one.
#define TEST_PLUGIN_SLUG "marked"
#define TEST_PLUGIN_DEFINITION_ID "00000000-0000-4000-8000-00000000004d"
#define TEST_PLUGIN_MARK "marked"
#include "constructor_mark.hpp"
#include "minimal_provider.hpp"

CONNECTOR_REGISTER_PROVIDER(MinimalProvider)
