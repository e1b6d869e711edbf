// Leaves a trace when the plugin's code runs at all: a constructor, which the dynamic loader
// runs inside dlopen before the host can look at anything, appends TEST_PLUGIN_MARK to the
// file named by CONNECTOR_TEST_CONSTRUCTOR_MARK. A test that drops such a plugin where the host
// must refuse it checks that no trace appeared: the refusal came before dlopen.
#pragma once

#include <cstdio>
#include <cstdlib>

#ifndef TEST_PLUGIN_MARK
#error "define TEST_PLUGIN_MARK before including constructor_mark.hpp"
#endif

__attribute__((constructor)) static void connector_test_leave_trace() {
  const char* mark = std::getenv("CONNECTOR_TEST_CONSTRUCTOR_MARK");
  if (mark == nullptr) return;
  if (FILE* out = std::fopen(mark, "a")) {
    std::fputs(TEST_PLUGIN_MARK "\n", out);
    std::fclose(out);
  }
}
