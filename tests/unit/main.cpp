#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

int main(int argc, char** argv) {
  // Tests provoke store errors on purpose; their log lines would only be noise.
  spdlog::set_level(spdlog::level::off);
  return doctest::Context(argc, argv).run();
}
