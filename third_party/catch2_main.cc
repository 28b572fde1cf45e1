// The main() shared by every Catch2 test binary of the project.
//
// Under `bazel test`, XML_OUTPUT_FILE names where Bazel wants the JUnit
// report: we write Catch2's JUnit report there (one <testcase> per
// TEST_CASE, which CI counts) and, on failure, also print it, since Catch2 2
// has one reporter per run and the console would otherwise show nothing.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const char* xml = std::getenv("XML_OUTPUT_FILE");
  std::vector<char*> args(argv, argv + argc);
  std::string reporter = "--reporter=junit";
  std::string out = std::string("--out=") + (xml ? xml : "");
  if (xml != nullptr && argc == 1) {
    args.push_back(reporter.data());
    args.push_back(out.data());
  }
  const int result = Catch::Session().run(static_cast<int>(args.size()), args.data());
  if (xml != nullptr && argc == 1) {
    std::ifstream report(xml);
    std::string line;
    int cases = 0;
    while (std::getline(report, line)) {
      if (line.find("<testcase") != std::string::npos) ++cases;
      if (result != 0) std::cout << line << '\n';
    }
    std::cout << "catch2: " << cases << " test cases, "
              << (result == 0 ? "all passed" : "FAILURES (see the JUnit report above)")
              << '\n';
  }
  return result;
}
