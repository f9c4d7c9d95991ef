// The functions file through the real `stepwise` binary: run (functions.json
// beside the definition), invoke, and a bad functions file.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "states/json.h"
#include "tests/unit/cli_process.h"

namespace {

namespace fs = std::filesystem;

const std::string kExample = std::string(STEPWISE_SOURCE_DIR) + "/workflows/word_count";

// Each test's own directory, removed afterwards.
struct Scratch : stepwise::testing::ScratchDir {
  Scratch() : ScratchDir("stepwise-cli-fn") {}
};
using Ran = stepwise::testing::CliRun;

Ran stepwise_in(const Scratch& dir, const std::vector<std::string>& args) {
  return stepwise::testing::run_cli_in(dir, args);
}

const char* kExpected = R"({"total":10,"distinct":4,"top":[{"word":"the","count":4},{"word":"cat","count":2},)"
                        R"({"word":"dog","count":2},{"word":"saw","count":2}]})"
                        "\n";

}  // namespace

TEST_CASE("cli run: functions.json beside the definition runs real python3 and node functions") {
  Scratch dir;
  SUBCASE("in memory") {
    auto r = stepwise_in(dir, {"run", kExample + "/word_count.asl.json", "--input-file",
                               kExample + "/word_count.input.json", "--no-store"});
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(r.out == kExpected);
  }
  SUBCASE("--trace prints a REPORT line per invocation") {
    auto r = stepwise_in(dir, {"run", kExample + "/word_count.asl.json", "--input-file",
                               kExample + "/word_count.input.json", "--no-store", "--trace"});
    CHECK(r.code == 0);
    std::size_t reports = 0;
    for (std::size_t at = r.err.find("REPORT RequestId: "); at != std::string::npos;
         at = r.err.find("REPORT RequestId: ", at + 1))
      ++reports;
    CHECK(reports == 12);  // Tokenize, 10 x Normalize, Summarize
    CHECK(r.err.find("[trace] Tokenize REPORT RequestId: ") != std::string::npos);
  }
  SUBCASE("recorded in the database, through the worker") {
    auto r = stepwise_in(dir, {"run", kExample + "/word_count.asl.json", "--input-file",
                               kExample + "/word_count.input.json", "--function-logs", "logs"});
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(r.out == kExpected);
    // The handler's print went to its log, not into the protocol or the output.
    CHECK(stepwise::testing::slurp_file(dir.path + "/logs/Tokenize.log").find(": 10 words") != std::string::npos);
    // Every invocation was recorded: 1 Tokenize, 10 Normalize (one per word), 1 Summarize.
    auto stats = stepwise_in(dir, {"functions", "stats"});
    INFO(stats.err);
    REQUIRE(stats.code == 0);
    auto doc = stepwise::parse_json(stats.out);
    REQUIRE(doc);
    const auto& fns = doc->at("Functions").as_array();
    REQUIRE(fns.size() == 3);
    CHECK(fns[0].at("FunctionName") == stepwise::json::value("Normalize"));
    CHECK(fns[0].at("Invocations") == stepwise::json::value(10));
    CHECK(fns[0].at("Errors") == stepwise::json::value(0));
    const auto cold = fns[0].at("ColdStarts").to_number<int>();
    CHECK(cold >= 1);
    CHECK(cold <= 2);  // ReservedConcurrentExecutions 2 (and MaxConcurrency 2)
    CHECK(fns[2].at("FunctionName") == stepwise::json::value("Tokenize"));
    CHECK(fns[2].at("ColdStartRate") == stepwise::json::value(1.0));
    auto one = stepwise_in(dir, {"functions", "stats", "Summarize", "--output", "table"});
    CHECK(one.code == 0);
    CHECK(one.out.find("Summarize") != std::string::npos);
    CHECK(one.out.find("Normalize") == std::string::npos);
  }
}

TEST_CASE("cli invoke: one function, the result on stdout and the REPORT line on stderr") {
  Scratch dir;
  auto ok = stepwise_in(
      dir, {"invoke", "Normalize", "--functions", kExample + "/functions.json", "--payload", R"({"word":"'Hello'"})"});
  INFO(ok.err);
  CHECK(ok.code == 0);
  CHECK(ok.out == "\"hello\"\n");
  CHECK(ok.err.find("REPORT RequestId: ") == 0);
  CHECK(ok.err.find("Memory Size: 128 MB") != std::string::npos);
  CHECK(ok.err.find("Init Duration: ") != std::string::npos);

  auto failed = stepwise_in(dir, {"invoke", "Normalize", "--functions", kExample + "/functions.json"});
  CHECK(failed.code == 1);
  CHECK(failed.out.find(R"({"errorMessage":"'word'","errorType":"KeyError","stackTrace":[)") == 0);
  CHECK(failed.out.find("python3_shim") == std::string::npos);  // the shim's frames are left out
  CHECK(failed.err.find("Error: KeyError") != std::string::npos);

  auto unknown = stepwise_in(dir, {"invoke", "Nobody", "--functions", kExample + "/functions.json"});
  CHECK(unknown.code == 2);
  CHECK(unknown.err.find("Function not found: Nobody") != std::string::npos);
}

TEST_CASE("cli: a bad functions file is a usage error naming the file and the JSON pointer") {
  Scratch dir;
  std::ofstream(dir.path + "/functions.json")
      << R"({"Functions": {"F": {"Runtime": "cobol", "Handler": "a.b", "MemorySize": 1}}})";
  std::ofstream(dir.path + "/flow.asl.json") << R"({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})";
  auto r = stepwise_in(dir, {"run", dir.path + "/flow.asl.json", "--no-store"});
  CHECK(r.code == 2);
  CHECK(r.err.find(dir.path + "/functions.json: /Functions/F/Runtime: unknown runtime \"cobol\"") != std::string::npos);
  CHECK(r.err.find("/Functions/F/MemorySize: must be from 128 to 10240") != std::string::npos);
  auto inv = stepwise_in(dir, {"invoke", "F"});
  CHECK(inv.code == 2);
  CHECK(inv.err.find("functions.json: /Functions/F/Runtime") != std::string::npos);
}

TEST_CASE("cli worker: --functions runs the recorded executions' tasks on real functions") {
  Scratch dir;
  auto created = stepwise_in(
      dir, {"create-state-machine", "--name", "wc", "--definition", "file://" + kExample + "/word_count.asl.json"});
  INFO(created.err);
  REQUIRE(created.code == 0);
  auto started = stepwise_in(dir, {"start-execution", "--state-machine", "wc", "--name", "one", "--input",
                                   "file://" + kExample + "/word_count.input.json"});
  INFO(started.err);
  REQUIRE(started.code == 0);
  auto worker = stepwise_in(dir, {"worker", "--until-idle", "--functions", kExample + "/functions.json"});
  INFO(worker.err);
  REQUIRE(worker.code == 0);
  auto described = stepwise_in(dir, {"describe-execution", "wc:one"});
  INFO(described.err);
  REQUIRE(described.code == 0);
  auto doc = stepwise::parse_json(described.out);
  REQUIRE(doc);
  CHECK(doc->at("status") == stepwise::json::value("SUCCEEDED"));
  CHECK(std::string(doc->at("output").as_string()) + "\n" == kExpected);
  auto stats = stepwise_in(dir, {"functions", "stats", "Tokenize"});
  REQUIRE(stats.code == 0);
  CHECK(stepwise::parse_json(stats.out)->at("Functions").at(0).at("Invocations") == stepwise::json::value(1));
}
