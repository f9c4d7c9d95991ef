// Distributed Map runs through the real `stepwise` binary: the fan_out
// example (3,000 child executions) recorded in a database, then
// list-map-runs, describe-map-run and list-executions --map-run-arn.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "states/json.h"
#include "tests/unit/cli_process.h"

namespace {

const std::string kExample = std::string(STEPWISE_SOURCE_DIR) + "/workflows/fan_out";

const char* kExpected =
    R"({"regions":{"apac":{"orders":992,"cents":51047907},"eu":{"orders":1009,"cents":53633110},)"
    R"("us":{"orders":999,"cents":50411931}}})"
    "\n";

stepwise::json::value parsed(const std::string& text) {
  auto v = stepwise::parse_json(text);
  REQUIRE(v.has_value());
  return *v;
}

}  // namespace

TEST_CASE("cli map runs: the fan_out example runs 3,000 children, shown by list-map-runs and describe-map-run") {
  stepwise::testing::ScratchDir dir("stepwise-cli-maprun");
  auto run = [&](const std::vector<std::string>& args) { return stepwise::testing::run_cli_in(dir, args); };

  auto r = run({"run", kExample + "/fan_out.asl.json", "--input-file", kExample + "/fan_out.input.json", "--name",
                "run1"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out == kExpected);

  auto listed = run({"list-map-runs", "fan_out:run1"});
  REQUIRE(listed.code == 0);
  auto runs = parsed(listed.out).at("mapRuns").as_array();
  REQUIRE(runs.size() == 1);
  const std::string map_run(runs[0].at("mapRunArn").as_string());
  CHECK(map_run.rfind("arn:aws:states:us-east-1:123456789012:mapRun:fan_out/Mappers:", 0) == 0);

  auto described = run({"describe-map-run", "--map-run-arn", map_run});
  REQUIRE(described.code == 0);
  auto d = parsed(described.out);
  CHECK(d.at("status").as_string() == "SUCCEEDED");
  CHECK(d.at("maxConcurrency").to_number<int>() == 100);
  CHECK(d.at("executionCounts").at("succeeded").to_number<int>() == 3000);
  CHECK(d.at("executionCounts").at("total").to_number<int>() == 3000);
  CHECK(d.at("itemCounts").at("failed").to_number<int>() == 0);

  auto table = run({"describe-map-run", "--map-run-arn", map_run, "--output", "table"});
  CHECK(table.code == 0);
  CHECK(table.out.find("DescribeMapRun") != std::string::npos);
  CHECK(table.out.find("executionCounts.succeeded") != std::string::npos);

  auto page = run({"list-executions", "--map-run-arn", map_run, "--max-results", "5"});
  REQUIRE(page.code == 0);
  auto p = parsed(page.out);
  const auto& kids = p.at("executions").as_array();
  REQUIRE(kids.size() == 5);
  CHECK(p.as_object().contains("nextToken"));
  const std::string child(kids[0].at("executionArn").as_string());
  CHECK(child.rfind("arn:aws:states:us-east-1:123456789012:execution:fan_out/Mappers:", 0) == 0);

  auto child_desc = run({"describe-execution", child});
  REQUIRE(child_desc.code == 0);
  CHECK(parsed(child_desc.out).at("mapRunArn").as_string() == map_run);
  auto child_history = run({"get-execution-history", child});
  REQUIRE(child_history.code == 0);
  auto events = parsed(child_history.out).at("events").as_array();
  REQUIRE(events.size() == 4);  // ExecutionStarted, PassStateEntered, PassStateExited, ExecutionSucceeded
  CHECK(events.front().at("type").as_string() == "ExecutionStarted");
  CHECK(events.back().at("type").as_string() == "ExecutionSucceeded");

  auto parent_history = run({"get-execution-history", "fan_out:run1"});
  REQUIRE(parent_history.code == 0);
  CHECK(parent_history.out.find("\"MapRunStarted\"") != std::string::npos);
  CHECK(parent_history.out.find("\"MapRunSucceeded\"") != std::string::npos);

  auto missing = run({"describe-map-run", "--map-run-arn", map_run + "x"});
  CHECK(missing.code == 1);
  CHECK(missing.err.find("ResourceNotFound") != std::string::npos);

  // In memory: the same result, no child executions.
  auto memory = run({"run", kExample + "/fan_out.asl.json", "--input-file", kExample + "/fan_out.input.json",
                     "--no-store"});
  INFO(memory.err);
  CHECK(memory.code == 0);
  CHECK(memory.out == kExpected);
}
