// Describes itself with a slug the API cannot carry: refused at load.
#define TEST_PLUGIN_SLUG "Bad Slug!"
#define TEST_PLUGIN_DEFINITION_ID "00000000-0000-4000-8000-0000000000bd"
#include "minimal_provider.hpp"

CONNECTOR_REGISTER_PROVIDER(MinimalProvider)
