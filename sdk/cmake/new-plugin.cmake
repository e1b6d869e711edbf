# A new plugin project from the SDK's template (examples/hello-oauth: a generic OAuth 2.0
# provider with PKCE, refresh, revocation and a check call, its tests under the SDK's test kit,
# and a zip package for Linux or, cross-built, for Windows):
#
#   cmake -DSLUG=acme-crm [-DNAME="Acme CRM"] -DDESTINATION=~/acme-crm -P <SDK>/share/cmake/ConnectorSDK/new-plugin.cmake
#
# The copy is renamed after the slug (files, targets, CONNECTOR_<SLUG>_* settings, the display
# name) and gets a source definition id of its own.
cmake_minimum_required(VERSION 3.20)
if(NOT SLUG MATCHES "^[a-z][a-z0-9-]*$")
  message(FATAL_ERROR "SLUG must match [a-z][a-z0-9-]* (it names the plugin: acme-crm.so, acme-crm.dll)")
endif()
if(NOT DESTINATION)
  message(FATAL_ERROR "DESTINATION is required: the folder of the new project")
endif()
if(EXISTS "${DESTINATION}")
  message(FATAL_ERROR "${DESTINATION} exists already")
endif()
# Installed: share/connector-sdk/template beside share/cmake/ConnectorSDK; in the host's tree:
# examples/hello-oauth.
set(template "${CMAKE_CURRENT_LIST_DIR}/../../connector-sdk/template")
if(NOT EXISTS "${template}/CMakeLists.txt")
  set(template "${CMAKE_CURRENT_LIST_DIR}/../../examples/hello-oauth")
endif()
if(NOT NAME)
  set(NAME "${SLUG}")
endif()

string(REPLACE "-" "_" identifier "${SLUG}")
string(TOUPPER "${identifier}" IDENTIFIER)
string(REPLACE "_" ";" words "${identifier}")
set(camel "")
foreach(word IN LISTS words)
  string(SUBSTRING "${word}" 0 1 first)
  string(SUBSTRING "${word}" 1 -1 rest)
  string(TOUPPER "${first}" first)
  string(APPEND camel "${first}${rest}")
endforeach()
# A random (version 4) UUID: clients store a source definition id forever, so it is the plugin's own.
set(hex 0123456789abcdef)
string(RANDOM LENGTH 8 ALPHABET ${hex} a)
string(RANDOM LENGTH 4 ALPHABET ${hex} b)
string(RANDOM LENGTH 3 ALPHABET ${hex} c)
string(RANDOM LENGTH 1 ALPHABET 89ab v)
string(RANDOM LENGTH 3 ALPHABET ${hex} d)
string(RANDOM LENGTH 12 ALPHABET ${hex} e)
set(id "${a}-${b}-4${c}-${v}${d}-${e}")

file(GLOB_RECURSE files RELATIVE "${template}" "${template}/*")
foreach(file IN LISTS files)
  if(file MATCHES "^build")
    continue()
  endif()
  file(READ "${template}/${file}" text)
  string(REPLACE "1b0674dd-6a5b-44a8-93e8-2d91896c4c0c" "${id}" text "${text}")
  string(REPLACE "examples/hello-oauth" "." text "${text}")
  string(REPLACE "example-oauth" "${SLUG}" text "${text}")
  string(REPLACE "EXAMPLE_OAUTH" "${IDENTIFIER}" text "${text}")
  string(REPLACE "hello-oauth" "${SLUG}" text "${text}")
  string(REPLACE "hello_oauth" "${identifier}" text "${text}")
  string(REPLACE "HELLO_OAUTH" "${IDENTIFIER}" text "${text}")
  string(REPLACE "ExampleOAuth" "${camel}" text "${text}")
  string(REPLACE "Example OAuth" "${NAME}" text "${text}")
  string(REPLACE "hello_oauth" "${identifier}" target "${file}")
  file(WRITE "${DESTINATION}/${target}" "${text}")
endforeach()
message(STATUS "${DESTINATION}: plugin ${SLUG} (${NAME}), source definition ${id}")
