# connector_add_plugin(<target> SLUG <slug> SOURCES <files...> [OUTPUT_DIRECTORY <dir>] [FILE_NAME <name>])
#
# Declares a provider plugin: a loadable module named after its slug (github.so,
# google-sheets.dll, ...), linked to the SDK, built with hidden visibility so that the
# negotiation function is the only exported symbol. The module lands in OUTPUT_DIRECTORY,
# else in ${CONNECTOR_PLUGIN_OUTPUT_DIR} when that is set, else in ${CMAKE_BINARY_DIR}/plugins.
#
# The same file serves the in-tree plugins and, installed beside ConnectorSDKConfig.cmake,
# third-party ones: it needs only the connector::sdk target and plugin-exports.map next to it.
include_guard(GLOBAL)

function(connector_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "SLUG;OUTPUT_DIRECTORY;FILE_NAME" "SOURCES")
  if(NOT arg_SLUG)
    message(FATAL_ERROR "connector_add_plugin(${target}): SLUG is required")
  endif()
  if(NOT arg_SLUG MATCHES "^[a-z][a-z0-9-]*$")
    message(FATAL_ERROR "connector_add_plugin(${target}): slug '${arg_SLUG}' must match [a-z][a-z0-9-]*")
  endif()
  if(NOT arg_SOURCES)
    message(FATAL_ERROR "connector_add_plugin(${target}): SOURCES is required")
  endif()
  if(NOT TARGET connector::sdk)
    message(FATAL_ERROR "connector_add_plugin(${target}): no connector::sdk target; call find_package(ConnectorSDK) first")
  endif()
  if(NOT arg_OUTPUT_DIRECTORY)
    if(DEFINED CONNECTOR_PLUGIN_OUTPUT_DIR)
      set(arg_OUTPUT_DIRECTORY "${CONNECTOR_PLUGIN_OUTPUT_DIR}")
    else()
      set(arg_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/plugins")
    endif()
  endif()

  if(NOT arg_FILE_NAME)
    set(arg_FILE_NAME "${arg_SLUG}")
  endif()

  add_library(${target} MODULE ${arg_SOURCES})
  target_link_libraries(${target} PRIVATE connector::sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "${arg_FILE_NAME}"
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY "${arg_OUTPUT_DIRECTORY}"
    RUNTIME_OUTPUT_DIRECTORY "${arg_OUTPUT_DIRECTORY}")
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    # Belt and braces beside hidden visibility: whatever a plugin links statically, only the
    # negotiation symbol leaves the module. The map sits next to this file, in the source
    # tree and in the installed package alike.
    target_link_options(${target} PRIVATE
                        "LINKER:--version-script=${CMAKE_CURRENT_FUNCTION_LIST_DIR}/plugin-exports.map"
                        "LINKER:--no-undefined")
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/plugin-exports.map")
  endif()
  if(COMMAND connector_set_warnings)
    connector_set_warnings(${target})
  endif()
endfunction()

# Fails the configure step if any of the given plugin targets links anything but the SDK.
function(connector_check_plugins_use_sdk_only)
  foreach(target IN LISTS ARGN)
    get_target_property(libraries ${target} LINK_LIBRARIES)
    foreach(library IN LISTS libraries)
      if(NOT library STREQUAL "connector::sdk")
        message(FATAL_ERROR "plugin ${target} links '${library}': plugins may link only connector::sdk")
      endif()
    endforeach()
  endforeach()
endfunction()
