// A real shared library that forgot the negotiation function (exports a misspelt one).
#include <connector/abi.h>

extern "C" CONNECTOR_PLUGIN_EXPORT int connector_plugin_negociate() { return 0; }
