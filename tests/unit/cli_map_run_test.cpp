// Distributed Map runs through the real `stepwise` binary: the fan_out
// example (3,000 child executions) recorded in a database, then
// list-map-runs, describe-map-run and list-executions --map-run-arn.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
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

  // The records are read from data/sales/records.jsonl by the Map's ItemReader.
  auto r = run({"run", kExample + "/fan_out.asl.json", "--input-file", kExample + "/fan_out.input.json", "--data-dir",
                kExample + "/data", "--name", "run1"});
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

  // update-map-run: the run has ended (refused); a bad value; an unknown run.
  auto ended = run({"update-map-run", "--map-run-arn", map_run, "--max-concurrency", "5"});
  CHECK(ended.code == 1);
  CHECK(ended.err.find("ValidationException") != std::string::npos);
  auto negative = run({"update-map-run", "--map-run-arn", map_run, "--tolerated-failure-count", "-1"});
  CHECK(negative.code == 1);
  CHECK(negative.err.find("'toleratedFailureCount' failed to satisfy constraint") != std::string::npos);
  auto unknown = run({"update-map-run", "--map-run-arn", map_run + "x", "--max-concurrency", "5"});
  CHECK(unknown.code == 1);
  CHECK(unknown.err.find("ResourceNotFound") != std::string::npos);

  // In memory: the same result, no child executions.
  auto memory = run({"run", kExample + "/fan_out.asl.json", "--input-file", kExample + "/fan_out.input.json",
                     "--data-dir", kExample + "/data", "--no-store"});
  INFO(memory.err);
  CHECK(memory.code == 0);
  CHECK(memory.out == kExpected);
}

TEST_CASE("cli map runs: a worker SIGKILLed mid-run; the next worker finishes the map run, no child run twice") {
  stepwise::testing::ScratchDir dir("stepwise-cli-maprun-kill");
  auto run = [&](const std::vector<std::string>& args) { return stepwise::testing::run_cli_in(dir, args); };
  {
    std::ofstream def(dir.path + "/slow.json");
    def << R"({"StartAt":"Each","States":{"Each":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":10,
      "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"Nap","States":{
        "Nap":{"Type":"Wait","Seconds":1,"Next":"Done"},"Done":{"Type":"Pass","Parameters":{"n.$":"$"},"End":true}}},
      "End":true}}})";
    std::ofstream in(dir.path + "/in.json");
    in << R"({"items":[)";
    for (int i = 0; i < 60; ++i) in << (i ? "," : "") << i;
    in << "]}";
  }
  REQUIRE(run({"create-state-machine", "--name", "slow", "--definition", "file://slow.json"}).code == 0);
  REQUIRE(run({"start-execution", "--state-machine", "slow", "--name", "s1", "--input", "file://in.json"}).code == 0);

  auto map_run_counts = [&]() -> std::optional<stepwise::json::value> {
    auto listed = run({"list-map-runs", "slow:s1"});
    if (listed.code != 0) return std::nullopt;
    auto v = stepwise::parse_json(listed.out);
    if (!v || v->at("mapRuns").as_array().empty()) return std::nullopt;
    const std::string arn(v->at("mapRuns").as_array()[0].at("mapRunArn").as_string());
    auto described = run({"describe-map-run", "--map-run-arn", arn});
    if (described.code != 0) return std::nullopt;
    return stepwise::parse_json(described.out);
  };
  stepwise::testing::CliOptions o;
  o.out_path = dir.path + "/w1.out";
  o.err_path = dir.path + "/w1.err";
  o.cwd = dir.path;
  pid_t first = stepwise::testing::spawn_cli({"worker"}, o);
  std::int64_t done_before = 0;
  for (int i = 0; i < 600 && done_before < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (auto d = map_run_counts()) done_before = d->at("executionCounts").at("succeeded").to_number<std::int64_t>();
  }
  ::kill(first, SIGKILL);
  stepwise::testing::wait_cli(first);
  REQUIRE(done_before >= 10);
  auto mid = map_run_counts();
  REQUIRE(mid.has_value());
  CHECK(mid->at("status").as_string() == "RUNNING");
  const auto succeeded_mid = mid->at("executionCounts").at("succeeded").to_number<std::int64_t>();
  CHECK(succeeded_mid < 60);

  o.out_path = dir.path + "/w2.out";
  o.err_path = dir.path + "/w2.err";
  pid_t second = stepwise::testing::spawn_cli({"worker"}, o);
  std::string status = "RUNNING";
  for (int i = 0; i < 600 && status == "RUNNING"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto d = run({"describe-execution", "slow:s1"});
    if (d.code == 0) status = std::string(parsed(d.out).at("status").as_string());
  }
  ::kill(second, SIGTERM);
  stepwise::testing::wait_cli(second);
  REQUIRE(status == "SUCCEEDED");
  auto end = map_run_counts();
  REQUIRE(end.has_value());
  CHECK(end->at("status").as_string() == "SUCCEEDED");
  CHECK(end->at("executionCounts").at("succeeded").to_number<int>() == 60);
  CHECK(end->at("executionCounts").at("total").to_number<int>() == 60);
  // Every child once: 60 distinct children, each with one ExecutionStarted.
  auto kids = run({"list-executions", "--map-run-arn", std::string(end->at("mapRunArn").as_string())});
  REQUIRE(kids.code == 0);
  CHECK(parsed(kids.out).at("executions").as_array().size() == 60);
  auto out = run({"describe-execution", "slow:s1"});
  auto output = stepwise::parse_json(std::string(parsed(out.out).at("output").as_string()));
  REQUIRE(output.has_value());
  REQUIRE(output->as_array().size() == 60);
  CHECK(output->as_array()[59].at("n").to_number<int>() == 59);
}
