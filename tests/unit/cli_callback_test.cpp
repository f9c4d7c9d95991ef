// Callbacks and activities through the real binary: a waitForTaskToken
// execution started, run by `stepwise worker --until-idle` (which leaves it
// parked), answered by `send-task-success`, finished by the next worker run;
// activities created, polled and answered the same way.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "cli_process.h"
#include "engine_test_util.h"
#include "service_test.h"

using namespace stepwise;
using stepwise::testing::ServiceTempDir;

namespace {

struct Run {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Run cli(const ServiceTempDir& dir, std::vector<std::string> args) {
  static int counter = 0;
  const std::string base = dir.file("run" + std::to_string(counter++));
  args.push_back("--db");
  args.push_back(dir.file("flow.db"));
  stepwise::testing::CliOptions o;
  o.out_path = base + ".out";
  o.err_path = base + ".err";
  o.cwd = dir.file("");
  o.unset_env = {"STEPWISE_DB"};
  Run r;
  r.code = stepwise::testing::wait_cli(stepwise::testing::spawn_cli(args, o));
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  return r;
}

json::object ok(const ServiceTempDir& dir, const std::vector<std::string>& args) {
  Run r = cli(dir, args);
  INFO("stepwise ", args.front(), "\nstdout: ", r.out, "\nstderr: ", r.err);
  REQUIRE(r.code == 0);
  if (r.out.empty()) return {};
  auto v = parse_json(r.out);
  REQUIRE(v);
  REQUIRE(v->is_object());
  return v->get_object();
}

std::string str(const json::object& o, std::string_view key) {
  const auto* m = o.if_contains(key);
  return m && m->is_string() ? std::string(m->get_string()) : "<absent>";
}

// `stepwise worker --until-idle`: runs what is claimable, exits once nothing is.
void work(const ServiceTempDir& dir) {
  Run r = cli(dir, {"worker", "--until-idle"});
  INFO("stdout: ", r.out, "\nstderr: ", r.err);
  REQUIRE(r.code == 0);
}

// The token the execution's TaskScheduled event carries in its message.
std::string token_of(const ServiceTempDir& dir, const std::string& execution) {
  auto history = ok(dir, {"get-execution-history", execution});
  for (const auto& e : history.at("events").as_array()) {
    const auto& o = e.as_object();
    if (str(o, "type") != "TaskScheduled") continue;
    auto params = parse_json(o.at("taskScheduledEventDetails").at("parameters").as_string());
    REQUIRE(params);
    return std::string(params->at("MessageBody").at("token").as_string());
  }
  FAIL("no TaskScheduled event");
  return "";
}

}  // namespace

TEST_CASE("CLI callbacks: start, worker, send-task-success, worker: SUCCEEDED with the output") {
  ServiceTempDir dir;
  std::ofstream(dir.file("approve.asl.json")) << R"({"StartAt":"Ask","States":{
    "Ask":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken",
           "Parameters":{"QueueUrl":"q","MessageBody":{"token.$":"$$.Task.Token"}},
           "ResultPath":"$.answer","End":true}}})";
  ok(dir, {"create-state-machine", "--name", "Approve", "--definition", "file://" + dir.file("approve.asl.json")});
  auto started =
      ok(dir, {"start-execution", "--state-machine-arn", "Approve", "--name", "one", "--input", R"({"order":1})"});
  const std::string arn = str(started, "executionArn");
  work(dir);
  CHECK(str(ok(dir, {"describe-execution", arn}), "status") == "RUNNING");
  const std::string token = token_of(dir, arn);

  Run bad = cli(dir, {"send-task-success", "--task-token", "nonsense", "--task-output", "{}"});
  CHECK(bad.code == 1);
  CHECK(bad.err.find("(InvalidToken)") != std::string::npos);
  Run missing = cli(dir, {"send-task-failure", "--task-token", "00000000-0000-4000-8000-000000000000"});
  CHECK(missing.code == 1);
  CHECK(missing.err.find("(TaskDoesNotExist)") != std::string::npos);

  CHECK(ok(dir, {"send-task-heartbeat", "--task-token", token}).empty());
  CHECK(ok(dir, {"send-task-success", "--task-token", token, "--task-output", R"({"yes":true})"}).empty());
  Run twice = cli(dir, {"send-task-success", "--task-token", token, "--task-output", "{}"});
  CHECK(twice.code == 1);
  CHECK(twice.err.find("(TaskTimedOut)") != std::string::npos);

  work(dir);
  auto done = ok(dir, {"describe-execution", arn});
  CHECK(str(done, "status") == "SUCCEEDED");
  CHECK(*parse_json(str(done, "output")) == *parse_json(R"({"order":1,"answer":{"yes":true}})"));
}

TEST_CASE("CLI activities: create, list, describe, get-activity-task, send-task-failure, delete") {
  ServiceTempDir dir;
  auto created = ok(dir, {"create-activity", "--name", "Resize"});
  const std::string activity = str(created, "activityArn");
  CHECK(activity == "arn:aws:states:us-east-1:123456789012:activity:Resize");
  auto listed = ok(dir, {"list-activities"});
  REQUIRE(listed.at("activities").as_array().size() == 1);
  CHECK(str(ok(dir, {"describe-activity", "--activity-arn", "Resize"}), "activityArn") == activity);
  CHECK(str(ok(dir, {"get-activity-task", "--activity-arn", activity, "--wait-seconds", "0"}), "taskToken") == "");

  std::ofstream(dir.file("resize.asl.json"))
      << R"({"StartAt":"Work","States":{"Work":{"Type":"Task","Resource":")" << activity << R"(","End":true}}})";
  ok(dir, {"create-state-machine", "--name", "Resizer", "--definition", "file://" + dir.file("resize.asl.json")});
  const std::string arn = str(
      ok(dir, {"start-execution", "--state-machine-arn", "Resizer", "--input", R"({"img":"a.png"})"}), "executionArn");
  work(dir);
  auto task = ok(dir, {"get-activity-task", "--activity-arn", activity, "--worker-name", "cli", "--wait-seconds", "1"});
  const std::string token = str(task, "taskToken");
  REQUIRE(token.size() == 36);
  CHECK(*parse_json(str(task, "input")) == *parse_json(R"({"img":"a.png"})"));
  ok(dir, {"send-task-failure", "--task-token", token, "--error", "Resize.Failed", "--cause", "too big"});
  work(dir);
  auto done = ok(dir, {"describe-execution", arn});
  CHECK(str(done, "status") == "FAILED");
  CHECK(str(done, "error") == "Resize.Failed");
  CHECK(str(done, "cause") == "too big");
  CHECK(ok(dir, {"delete-activity", "--activity-arn", activity}).empty());
  Run gone = cli(dir, {"describe-activity", "--activity-arn", activity});
  CHECK(gone.code == 1);
  CHECK(gone.err.find("(ActivityDoesNotExist)") != std::string::npos);
}
