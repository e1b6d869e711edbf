// Claims the slug of the real GitHub plugin: the registry must refuse it and keep the first.
#define TEST_PLUGIN_SLUG "github"
#define TEST_PLUGIN_DEFINITION_ID "00000000-0000-4000-8000-000000000d0b"
#include "minimal_provider.hpp"

CONNECTOR_REGISTER_PROVIDER(MinimalProvider)
