# Cross-builds Windows x86-64 plugins (.dll) and their tests on Debian, with mingw-w64's GCC in
# its POSIX-threads flavour (package g++-mingw-w64-x86-64-posix; wine64 runs the tests):
#
#   cmake -S <project> -B build-windows --toolchain <this file>
#
# Modules and test programs link libgcc, libstdc++ and winpthread statically, so a .dll needs
# only what every Windows has (KERNEL32.dll, msvcrt.dll): nothing of MinGW ships beside it.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(triple x86_64-w64-mingw32)

find_program(CMAKE_C_COMPILER NAMES ${triple}-gcc-posix REQUIRED)
find_program(CMAKE_CXX_COMPILER NAMES ${triple}-g++-posix REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${triple}-windres)

# Libraries and programs come from the target's root only; header-only packages (nlohmann/json's
# CMake config) may come from the build machine too.
set(CMAKE_FIND_ROOT_PATH /usr/${triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static")

# ctest and gtest_discover_tests run the Windows programs through Wine.
find_program(CONNECTOR_WINE NAMES wine64 wine PATHS /usr/lib/wine)
if(CONNECTOR_WINE)
  # A Wine prefix of the build's own (made on first use, a few seconds), and Wine's own
  # diagnostics off so that test output is the tests'.
  set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/env WINEDEBUG=-all "WINEPREFIX=${CMAKE_BINARY_DIR}/wine-prefix"
                                    ${CONNECTOR_WINE})
endif()

# nlohmann/json, header-only, from the build machine, without the rest of its /usr/include.
set(nlohmann_json_DIR "${CMAKE_CURRENT_LIST_DIR}/nlohmann_json" CACHE PATH "nlohmann/json for the cross-build")
