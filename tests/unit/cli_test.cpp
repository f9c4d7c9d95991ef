// The stepwise command line contract: outputs, --json shape and exit codes.
// Runs the real binary.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_process.h"
#include "states/json.h"

namespace {

struct Run {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Run stepwise_cli(const std::vector<std::string>& args) {
  static int counter = 0;
  const std::string base = "/tmp/stepwise_cli_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  stepwise::testing::CliOptions o;
  o.out_path = base + ".out";
  o.err_path = base + ".err";
  // `run` records into a database: each call its own, never the build tree's.
  if (!std::getenv("STEPWISE_DB")) o.env["STEPWISE_DB"] = base + ".db";
  Run r;
  r.code = stepwise::testing::wait_cli(stepwise::testing::spawn_cli(args, o));
  if (r.code < 0) r.code = -1;
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  for (const char* suffix : {".out", ".err", ".db", ".db-wal", ".db-shm"}) std::remove((base + suffix).c_str());
  return r;
}

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = "/tmp/stepwise_cli_test_" + std::to_string(getpid()) + "_" + name;
  std::ofstream(path) << text;
  return path;
}

const std::string kSource = STEPWISE_SOURCE_DIR;

}  // namespace

TEST_CASE("stepwise run prints the output and exits 0") {
  auto r = stepwise_cli({"run", kSource + "/bench/workflows/choice_loop.asl.json", "--input", R"({"n":3})"});
  CHECK(r.code == 0);
  CHECK(r.out == "{\"i\":3,\"n\":3}\n");
  CHECK(r.err.find("execution: arn:aws:states:") != std::string::npos);
}

TEST_CASE("stepwise run --json prints exactly one line") {
  auto ok = stepwise_cli({"run", kSource + "/bench/workflows/choice_loop.asl.json", "--input", R"({"n":2})", "--json"});
  CHECK(ok.code == 0);
  CHECK(ok.out == "{\"status\":\"SUCCEEDED\",\"output\":{\"i\":2,\"n\":2}}\n");

  auto def = write_temp("fail.asl.json", R"({"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Oops","Cause":"because"}}})");
  auto failed = stepwise_cli({"run", def, "--json"});
  CHECK(failed.code == 1);
  CHECK(failed.out == "{\"status\":\"FAILED\",\"error\":\"Oops\",\"cause\":\"because\"}\n");

  auto plain = stepwise_cli({"run", def});
  CHECK(plain.code == 1);
  CHECK(plain.out.empty());
  CHECK(plain.err.find("Error: Oops") != std::string::npos);
  CHECK(plain.err.find("Cause: because") != std::string::npos);
}

TEST_CASE("stepwise run reports TIMED_OUT with exit 1") {
  auto def = write_temp("timeout.asl.json",
                        R"({"TimeoutSeconds":1,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}})");
  auto r = stepwise_cli({"run", def, "--json", "--virtual-time"});
  CHECK(r.code == 1);
  CHECK(r.out == "{\"status\":\"TIMED_OUT\",\"error\":\"States.Timeout\"}\n");
}

TEST_CASE("stepwise run: usage errors, bad JSON and invalid definitions exit 2") {
  CHECK(stepwise_cli({"run"}).code == 2);
  CHECK(stepwise_cli({"run", "/nonexistent/def.json"}).code == 2);
  auto dir = stepwise_cli({"validate", "/tmp"});  // regression: a directory once crashed the reader
  CHECK(dir.code == 2);
  CHECK(dir.err.find("is a directory") != std::string::npos);
  CHECK(stepwise_cli({"frobnicate"}).code == 2);
  auto def = kSource + "/bench/workflows/choice_loop.asl.json";
  auto bad_input = stepwise_cli({"run", def, "--input", "{not json"});
  CHECK(bad_input.code == 2);
  CHECK(bad_input.err.find("--input is not valid JSON") != std::string::npos);
  CHECK(stepwise_cli({"run", def, "--input", "{}", "--input-file", def}).code == 2);
  CHECK(stepwise_cli({"run", def, "--mock-config", def}).code == 2);  // --test-case missing

  auto invalid = write_temp("invalid.asl.json", R"({"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Nope"}}})");
  auto r = stepwise_cli({"run", invalid});
  CHECK(r.code == 2);
  CHECK(r.err.find("/States/A/Next") != std::string::npos);
}

TEST_CASE("stepwise validate: 0 valid, 1 invalid with JSON pointers, 2 unreadable or not JSON") {
  auto good = stepwise_cli({"validate", kSource + "/bench/workflows/pass_chain.asl.json"});
  CHECK(good.code == 0);
  CHECK(good.out.find(": valid") != std::string::npos);

  auto invalid = write_temp(
      "invalid2.asl.json",
      R"({"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Nope","Bogus":1},"B":{"Type":"Choice","Choices":[]}}})");
  auto r = stepwise_cli({"validate", invalid});
  CHECK(r.code == 1);
  CHECK(r.err.find("/States/A/Next") != std::string::npos);
  CHECK(r.err.find("/States/A/Bogus") != std::string::npos);
  CHECK(r.err.find("/States/B") != std::string::npos);

  auto syntax = write_temp("syntax.asl.json", "{\n  \"StartAt\": \"A\",\n  \"States\": {\n}");
  auto s = stepwise_cli({"validate", syntax});
  CHECK(s.code == 2);
  CHECK(s.err.find("line 4") != std::string::npos);
}

TEST_CASE("stepwise run with a mock config and --trace") {
  auto def = write_temp("mocked.asl.json", R"({"StartAt":"Call","States":{"Call":{"Type":"Task",
      "Resource":"arn:aws:lambda:us-east-1:123456789012:function:Echo","End":true}}})");
  auto mocks = write_temp("mocks.json", R"({"StateMachines":{"Checkout":{"TestCases":{"Happy":{"Call":"Ok"}}}},
      "MockedResponses":{"Ok":{"0":{"Return":{"mocked":true}}}}})");
  auto r = stepwise_cli({"run", def, "--mock-config", mocks, "--test-case", "Happy", "--state-machine-name", "Checkout",
                         "--trace"});
  CHECK(r.code == 0);
  CHECK(r.out == "{\"mocked\":true}\n");
  CHECK(r.err.find("TaskStateEntered Call") != std::string::npos);
  CHECK(r.err.find("LambdaFunctionSucceeded") != std::string::npos);

  auto missing_case = stepwise_cli({"run", def, "--mock-config", mocks, "--test-case", "Nope", "--state-machine-name",
                                    "Checkout"});
  CHECK(missing_case.code == 2);
  CHECK(missing_case.err.find("/StateMachines/Checkout/TestCases/Nope") != std::string::npos);
}

TEST_CASE("stepwise run --payload-limit") {
  auto def = kSource + "/bench/workflows/choice_loop.asl.json";
  auto r = stepwise_cli({"run", def, "--input", R"({"n":2})", "--payload-limit", "10", "--json"});
  CHECK(r.code == 1);
  CHECK(r.out.find("\"error\":\"States.DataLimitExceeded\"") != std::string::npos);
  CHECK(stepwise_cli({"run", def, "--payload-limit", "-5"}).code == 2);
}

TEST_CASE("stepwise --help and COMMAND --help describe the commands") {
  auto h = stepwise_cli({"--help"});
  CHECK(h.code == 0);
  CHECK(h.out.find("validate") != std::string::npos);
  CHECK(h.out.find("run") != std::string::npos);
  auto rh = stepwise_cli({"run", "--help"});
  CHECK(rh.code == 0);
  CHECK(rh.out.find("--mock-config") != std::string::npos);
  CHECK(rh.out.find("--json") != std::string::npos);
}

TEST_CASE("cli: run records the state machine and the execution in the database; --no-store records nothing") {
  const std::string dir = write_temp("rundb", "");
  std::remove(dir.c_str());
  const std::string db = dir + ".db";
  const std::string def = write_temp("recorded.asl.json",
                                     R"({"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":5,"Next":"P"},)"
                                     R"("P":{"Type":"Pass","Result":{"ok":true},"End":true}}})");
  auto first = stepwise_cli({"run", def, "--db", db, "--name", "first", "--virtual-time", "--input", R"({"n":1})"});
  CHECK(first.code == 0);
  CHECK(first.out == "{\"ok\":true}\n");
  CHECK(first.err.find(":execution:") != std::string::npos);
  const std::string machine = "stepwise_cli_test_" + std::to_string(getpid()) + "_recorded";
  auto described = stepwise_cli({"describe-execution", machine + ":first", "--db", db});
  REQUIRE(described.code == 0);
  CHECK(described.out.find("\"status\": \"SUCCEEDED\"") != std::string::npos);
  CHECK(described.out.find(R"("input": "{\"n\":1}")") != std::string::npos);
  auto history = stepwise_cli({"get-execution-history", machine + ":first", "--db", db});
  CHECK(history.out.find("WaitStateExited") != std::string::npos);
  CHECK(history.out.find("ExecutionSucceeded") != std::string::npos);
  // A name is taken once.
  auto again = stepwise_cli({"run", def, "--db", db, "--name", "first", "--virtual-time"});
  CHECK(again.code == 1);
  CHECK(again.err.find("ExecutionAlreadyExists") != std::string::npos);
  // A changed definition becomes version 2 of the same state machine.
  std::ofstream(def) << R"({"StartAt":"P","States":{"P":{"Type":"Pass","Result":2,"End":true}}})";
  auto second = stepwise_cli({"run", def, "--db", db, "--name", "second"});
  CHECK(second.code == 0);
  CHECK(second.out == "2\n");
  auto machine_now = stepwise_cli({"describe-state-machine", "--state-machine-arn", machine, "--db", db});
  CHECK(machine_now.out.find("\"revisionId\": \"2\"") != std::string::npos);

  const std::string none = dir + "-none.db";
  auto in_memory = stepwise_cli({"run", def, "--no-store", "--db", none});
  CHECK(in_memory.code == 2);  // --no-store and --db exclude each other
  auto plain = stepwise_cli({"run", def, "--no-store"});
  CHECK(plain.code == 0);
  std::ifstream probe(none);
  CHECK_FALSE(probe.good());
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((db + suffix).c_str());
  std::remove(def.c_str());
}
