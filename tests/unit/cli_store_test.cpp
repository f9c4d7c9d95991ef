// The aws-style commands over a database, run as the real binary in a
// temporary directory: output shapes (JSON as the AWS CLI prints it, tables),
// errors and exit codes, name resolution, refusing a foreign file, timeline.
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli_process.h"
#include "engine_test_util.h"
#include "service_test.h"

using namespace stepwise;
using stepwise::testing::run_stored;
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

// Runs `stepwise args...` in `dir` with STEPWISE_DB unset unless `env` sets it.
Run cli(const ServiceTempDir& dir, const std::vector<std::string>& args,
        const std::map<std::string, std::string>& env = {}) {
  static int counter = 0;
  const std::string base = dir.file("run" + std::to_string(counter++));
  stepwise::testing::CliOptions o;
  o.out_path = base + ".out";
  o.err_path = base + ".err";
  o.cwd = dir.file("");
  o.unset_env = {"STEPWISE_DB"};
  o.env = env;
  Run r;
  r.code = stepwise::testing::wait_cli(stepwise::testing::spawn_cli(args, o));
  if (r.code < 0) r.code = -1;
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  return r;
}

json::object json_out(const Run& r) {
  INFO("stdout: ", r.out, "\nstderr: ", r.err);
  REQUIRE(r.code == 0);
  auto v = parse_json(r.out);
  REQUIRE(v);
  REQUIRE(v->is_object());
  return v->get_object();
}

std::string str(const json::value& v, std::string_view key) {
  const auto* m = v.as_object().if_contains(key);
  return m && m->is_string() ? std::string(m->get_string()) : "<absent>";
}

bool is_cli_date(const std::string& s) {
  static const std::regex kDate(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00)");
  return std::regex_match(s, kDate);
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

const char* kWaitThenPass = R"({"StartAt":"W","States":{
  "W":{"Type":"Wait","Seconds":3600,"Next":"P"},
  "P":{"Type":"Pass","End":true}}})";
const std::string kArnPrefix = "arn:aws:states:us-east-1:123456789012:";

}  // namespace

TEST_CASE("CLI store: create, start, describe, list, history, stop") {
  ServiceTempDir dir;
  write(dir.file("hello.asl.json"), kWaitThenPass);
  const std::string db = dir.file("flow.db");

  auto created = json_out(
      cli(dir, {"create-state-machine", "--name", "Hello", "--definition", "file://hello.asl.json", "--db", db}));
  CHECK(str(created, "stateMachineArn") == kArnPrefix + "stateMachine:Hello");
  CHECK(is_cli_date(str(created, "creationDate")));
  // Printed as the AWS CLI prints: four-space indentation.
  CHECK(cli(dir, {"describe-state-machine", "--state-machine-arn", "Hello", "--db", db})
            .out.find("\n    \"name\": \"Hello\",\n") != std::string::npos);

  auto started = json_out(
      cli(dir, {"start-execution", "--state-machine", "Hello", "--name", "e1", "--input", R"({"a": 1})", "--db", db}));
  const std::string arn = kArnPrefix + "execution:Hello:e1";
  CHECK(str(started, "executionArn") == arn);
  CHECK(is_cli_date(str(started, "startDate")));

  auto described = json_out(cli(dir, {"describe-execution", "e1", "--db", db}));
  CHECK(str(described, "status") == "RUNNING");
  CHECK(str(described, "input") == R"({"a": 1})");
  CHECK(str(described, "startDate") == str(started, "startDate"));
  CHECK(json_out(cli(dir, {"describe-execution", "--execution-arn", arn, "--db", db})) == described);
  CHECK(json_out(cli(dir, {"describe-execution", "Hello:e1", "--db", db})) == described);

  auto listed = json_out(cli(dir, {"list-executions", "--state-machine", "Hello", "--db", db}));
  REQUIRE(listed.at("executions").as_array().size() == 1);
  CHECK(str(listed.at("executions").at(0), "name") == "e1");
  CHECK_FALSE(listed.contains("nextToken"));

  auto history = json_out(cli(dir, {"get-execution-history", "e1", "--db", db}));
  REQUIRE(history.at("events").as_array().size() == 1);
  const auto& event = history.at("events").at(0);
  CHECK(str(event, "type") == "ExecutionStarted");
  CHECK(is_cli_date(str(event, "timestamp")));
  CHECK(str(event.at("executionStartedEventDetails"), "input") == R"({"a":1})");

  auto running = cli(dir, {"timeline", "e1", "--db", db});
  CHECK(running.code == 0);
  CHECK(running.out.find("Status    RUNNING\n") != std::string::npos);
  CHECK(running.out.find("Duration") == std::string::npos);

  auto stopped = json_out(cli(dir, {"stop-execution", "e1", "--error", "Manual", "--cause", "probe", "--db", db}));
  CHECK(is_cli_date(str(stopped, "stopDate")));
  auto after = json_out(cli(dir, {"describe-execution", arn, "--db", db}));
  CHECK(str(after, "status") == "ABORTED");
  CHECK(str(after, "error") == "Manual");
  CHECK(str(after, "cause") == "probe");
  CHECK(str(after, "stopDate") == str(stopped, "stopDate"));
  auto reversed = json_out(cli(dir, {"get-execution-history", "e1", "--reverse-order", "--db", db}));
  CHECK(str(reversed.at("events").at(0), "type") == "ExecutionAborted");
  CHECK(json_out(cli(dir, {"list-executions", "--status-filter", "ABORTED", "--db", db}))
            .at("executions")
            .as_array()
            .size() == 1);
  CHECK(json_out(cli(dir, {"list-executions", "--status-filter", "RUNNING", "--db", db}))
            .at("executions")
            .as_array()
            .empty());
}

TEST_CASE("CLI store: state machines: update keeps versions, list pages, delete prints nothing") {
  ServiceTempDir dir;
  const std::string db = dir.file("machines.db");
  for (const char* name : {"b", "a", "c"}) {
    json_out(cli(dir, {"create-state-machine", "--name", name, "--definition", kWaitThenPass, "--db", db}));
  }
  auto updated = json_out(cli(dir, {"update-state-machine", "--state-machine-arn", "a", "--definition",
                                    R"({"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}})", "--db", db}));
  CHECK(str(updated, "stateMachineVersionArn") == kArnPrefix + "stateMachine:a:2");
  CHECK(is_cli_date(str(updated, "updateDate")));
  CHECK(str(json_out(cli(dir, {"describe-state-machine", "--state-machine-arn", "a:1", "--db", db})), "definition") ==
        kWaitThenPass);

  auto page = json_out(cli(dir, {"list-state-machines", "--max-results", "2", "--db", db}));
  REQUIRE(page.at("stateMachines").as_array().size() == 2);
  CHECK(str(page.at("stateMachines").at(0), "name") == "a");
  REQUIRE(page.contains("nextToken"));
  auto rest = json_out(
      cli(dir, {"list-state-machines", "--max-results", "2", "--next-token", str(page, "nextToken"), "--db", db}));
  REQUIRE(rest.at("stateMachines").as_array().size() == 1);
  CHECK(str(rest.at("stateMachines").at(0), "name") == "c");
  // Without paging options every page is fetched, as the AWS CLI does.
  CHECK(json_out(cli(dir, {"list-state-machines", "--db", db})).at("stateMachines").as_array().size() == 3);

  auto deleted = cli(dir, {"delete-state-machine", "--state-machine-arn", "b", "--db", db});
  CHECK(deleted.code == 0);
  CHECK(deleted.out.empty());
  CHECK(json_out(cli(dir, {"list-state-machines", "--db", db})).at("stateMachines").as_array().size() == 2);
}

TEST_CASE("CLI store: --output table") {
  ServiceTempDir dir;
  const std::string db = dir.file("table.db");
  json_out(cli(dir, {"create-state-machine", "--name", "Hello", "--definition", kWaitThenPass, "--db", db}));
  json_out(cli(dir, {"start-execution", "--state-machine", "Hello", "--name", "e1", "--db", db}));

  auto d = cli(dir, {"describe-execution", "e1", "--output", "table", "--db", db});
  CHECK(d.code == 0);
  CHECK(d.out.find("DescribeExecution") != std::string::npos);
  CHECK(std::regex_search(d.out, std::regex(R"(\|  status +\|  RUNNING +\|)")));
  CHECK(std::regex_search(d.out, std::regex(R"(\|  startDate +\|  \d{4}-\d\d-\d\dT[^ ]*\+00:00 +\|)")));

  auto l = cli(dir, {"list-executions", "--output", "table", "--db", db});
  CHECK(l.code == 0);
  CHECK(std::regex_search(l.out, std::regex(R"(\|  name +\|  status +\|  startDate +\|)")));
  CHECK(std::regex_search(l.out, std::regex(R"(\|  e1 +\|  RUNNING +\|)")));
  // Every line of a table is as wide as the others.
  std::istringstream lines(l.out);
  std::string line;
  std::size_t width = 0;
  while (std::getline(lines, line)) {
    if (width == 0) width = line.size();
    CHECK(line.size() == width);
  }

  auto h = cli(dir, {"get-execution-history", "e1", "--output", "table", "--db", db});
  CHECK(std::regex_search(h.out, std::regex(R"(\|  1 +\|  0 +\|  [^|]+\|  ExecutionStarted +\|  input=\{\} +\|)")));
}

TEST_CASE("CLI store: service errors exit 1 in the AWS CLI's words; usage errors exit 2") {
  ServiceTempDir dir;
  const std::string db = dir.file("errors.db");
  json_out(cli(dir, {"create-state-machine", "--name", "Hello", "--definition", kWaitThenPass, "--db", db}));

  auto missing = cli(dir, {"describe-execution", "Hello:nope", "--db", db});
  CHECK(missing.code == 1);
  CHECK(missing.out.empty());
  CHECK(missing.err ==
        "\nAn error occurred (ExecutionDoesNotExist) when calling the DescribeExecution operation: "
        "Execution Does Not Exist: '" +
            kArnPrefix + "execution:Hello:nope'\n");
  auto bare = cli(dir, {"stop-execution", "nope", "--db", db});
  CHECK(bare.code == 1);
  CHECK(bare.err.find("(ExecutionDoesNotExist) when calling the StopExecution operation") != std::string::npos);

  auto invalid = cli(dir, {"create-state-machine", "--name", "Bad", "--definition",
                           R"({"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Nope"}}})", "--db", db});
  CHECK(invalid.code == 1);
  CHECK(invalid.err.find("(InvalidDefinition) when calling the CreateStateMachine operation: Invalid State Machine "
                         "Definition: 'MISSING_TRANSITION_TARGET") != std::string::npos);
  CHECK(invalid.err.find("/States/A/Next") != std::string::npos);

  auto exists = cli(dir, {"create-state-machine", "--name", "Hello", "--definition",
                          R"({"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}})", "--db", db});
  CHECK(exists.code == 1);
  CHECK(exists.err.find("(StateMachineAlreadyExists)") != std::string::npos);
  auto bad_input = cli(dir, {"start-execution", "--state-machine", "Hello", "--input", "{oops", "--db", db});
  CHECK(bad_input.code == 1);
  CHECK(bad_input.err.find("(InvalidExecutionInput)") != std::string::npos);
  auto no_machine = cli(dir, {"start-execution", "--state-machine", "Nope", "--db", db});
  CHECK(no_machine.code == 1);
  CHECK(no_machine.err.find("(StateMachineDoesNotExist)") != std::string::npos);
  CHECK(cli(dir, {"list-executions", "--status-filter", "DONE", "--db", db}).code == 1);

  // Usage errors.
  CHECK(cli(dir, {"create-state-machine", "--definition", kWaitThenPass, "--db", db}).code == 2);
  auto no_file = cli(dir, {"create-state-machine", "--name", "X", "--definition", "file://nope.json", "--db", db});
  CHECK(no_file.code == 2);
  CHECK(no_file.err.find("Error parsing parameter '--definition': Unable to load paramfile file://nope.json") !=
        std::string::npos);
  CHECK(cli(dir, {"describe-execution", "--db", db}).code == 2);
  CHECK(cli(dir, {"list-executions", "--output", "yaml", "--db", db}).code == 2);
  CHECK(cli(dir, {"list-executions", "--max-results", "5000", "--db", db}).code == 2);
  auto no_db = cli(dir, {"list-executions", "--db", dir.file("absent.db")});
  CHECK(no_db.code == 2);
  CHECK(no_db.err.find("absent.db' does not exist") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("absent.db")));  // a read creates no database
}

TEST_CASE("CLI store: an execution name used by two machines must be given in full") {
  ServiceTempDir dir;
  const std::string db = dir.file("names.db");
  for (const char* m : {"One", "Two"}) {
    json_out(cli(dir, {"create-state-machine", "--name", m, "--definition", kWaitThenPass, "--db", db}));
    json_out(cli(dir, {"start-execution", "--state-machine", m, "--name", "run", "--db", db}));
  }
  auto ambiguous = cli(dir, {"describe-execution", "run", "--db", db});
  CHECK(ambiguous.code == 2);
  CHECK(ambiguous.err.find(kArnPrefix + "execution:One:run") != std::string::npos);
  CHECK(ambiguous.err.find(kArnPrefix + "execution:Two:run") != std::string::npos);
  CHECK(str(json_out(cli(dir, {"describe-execution", "Two:run", "--db", db})), "stateMachineArn") ==
        kArnPrefix + "stateMachine:Two");
}

TEST_CASE("CLI store: the database is --db, else $STEPWISE_DB, else ./stepwise.db") {
  ServiceTempDir dir;
  json_out(cli(dir, {"create-state-machine", "--name", "Here", "--definition", kWaitThenPass}));
  CHECK(std::filesystem::exists(dir.file("stepwise.db")));
  json_out(cli(dir, {"create-state-machine", "--name", "There", "--definition", kWaitThenPass},
               {{"STEPWISE_DB", dir.file("env.db")}}));
  CHECK(std::filesystem::exists(dir.file("env.db")));
  auto here = json_out(cli(dir, {"list-state-machines"}));
  REQUIRE(here.at("stateMachines").as_array().size() == 1);
  CHECK(str(here.at("stateMachines").at(0), "name") == "Here");
  auto env = json_out(cli(dir, {"list-state-machines"}, {{"STEPWISE_DB", dir.file("env.db")}}));
  REQUIRE(env.at("stateMachines").as_array().size() == 1);
  CHECK(str(env.at("stateMachines").at(0), "name") == "There");
  // --db wins over the environment.
  auto flag = json_out(
      cli(dir, {"list-state-machines", "--db", dir.file("stepwise.db")}, {{"STEPWISE_DB", dir.file("env.db")}}));
  CHECK(str(flag.at("stateMachines").at(0), "name") == "Here");
}

TEST_CASE("CLI store: a file that is not a Stepwise database is refused, exit 2, and left unchanged") {
  ServiceTempDir dir;
  const std::string text = dir.file("notes.txt");
  write(text, "shopping list: eggs, milk\n");
  const std::string other = dir.file("other.sqlite");
  {
    SQLite::Database foreign(other, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    foreign.exec("CREATE TABLE t(x); INSERT INTO t VALUES (42);");
  }
  for (const std::string& path : {text, other}) {
    const std::string before = slurp(path);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"list-state-machines", "--db", path},
          std::vector<std::string>{"create-state-machine", "--name", "X", "--definition", kWaitThenPass, "--db", path},
          std::vector<std::string>{"describe-execution", "x:y", "--db", path}}) {
      auto r = cli(dir, args);
      CHECK(r.code == 2);
      CHECK(r.out.empty());
      CHECK(r.err.find("cannot use database '" + path + "'") != std::string::npos);
      CHECK(r.err.find("left untouched") != std::string::npos);
    }
    CHECK(slurp(path) == before);
  }
}

TEST_CASE("CLI store: timeline shows states, durations, retries, errors, branches and iterations") {
  ServiceTempDir dir;
  const std::string db = dir.file("timeline.db");
  std::string arn;
  {
    auto clock = std::make_shared<ManualClock>(1735689600LL * kNanosPerSecond);
    auto store = std::shared_ptr<storage::Store>(std::move(storage::open_sqlite(db)).value());
    ServiceOptions o;
    o.clock = clock;
    Service service(store, o);
    auto created = service.create_state_machine({{"name", "Flow"}, {"definition", R"({"StartAt":"Flaky","States":{
           "Flaky":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Flaky",
                    "Retry":[{"ErrorEquals":["Boom"],"IntervalSeconds":2}],"Next":"Fan"},
           "Fan":{"Type":"Parallel","ResultPath":"$.fan","Next":"Each","Branches":[
             {"StartAt":"Left","States":{"Left":{"Type":"Wait","Seconds":5,"End":true}}},
             {"StartAt":"Right","States":{"Right":{"Type":"Pass","End":true}}}]},
           "Each":{"Type":"Map","ItemsPath":"$.items","Next":"Done",
                   "ItemProcessor":{"StartAt":"Item","States":{"Item":{"Type":"Pass","End":true}}}},
           "Done":{"Type":"Succeed"}}})"}});
    REQUIRE(created.ok());
    json::array items;
    for (int i = 0; i < 8; ++i) items.push_back(i);
    auto started = service.start_execution({{"stateMachineArn", created.response().at("stateMachineArn")},
                                            {"name", "t1"},
                                            {"input", to_json(json::object{{"items", items}})}});
    REQUIRE(started.ok());
    arn = std::string(started.response().at("executionArn").get_string());
    EngineOptions eo;
    eo.clock = clock;
    eo.virtual_time = true;
    Engine engine(eo);
    int calls = 0;
    engine.functions().add("Flaky", [&calls](const json::value& v, const InvocationContext&) -> json::value {
      if (++calls < 3) throw TaskError("Boom", "not yet");
      return v;
    });
    run_stored(*store, service, engine, arn, [](Engine& e) { e.run_pending(); });

    // And one that fails in a Task.
    auto broken =
        service.create_state_machine({{"name", "Broken"}, {"definition", R"({"StartAt":"T","States":{"T":{"Type":"Task",
           "Resource":"arn:aws:lambda:us-east-1:123456789012:function:Fail","End":true}}})"}});
    REQUIRE(broken.ok());
    auto failed =
        service.start_execution({{"stateMachineArn", broken.response().at("stateMachineArn")}, {"name", "f1"}});
    REQUIRE(failed.ok());
    engine.functions().add("Fail", [](const json::value&, const InvocationContext&) -> json::value {
      throw TaskError("Bad", "it broke");
    });
    run_stored(*store, service, engine, std::string(failed.response().at("executionArn").get_string()),
               [](Engine& e) { e.run_pending(); });
  }
  auto r = cli(dir, {"timeline", "Flow:t1", "--db", db});
  INFO(r.out, r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("Execution " + arn + "\n") != std::string::npos);
  CHECK(r.out.find("Status    SUCCEEDED\n") != std::string::npos);
  CHECK(r.out.find("Duration  11.000s\n") != std::string::npos);  // 2 + 4 s of backoff, then the 5 s Wait
  CHECK(std::regex_search(r.out, std::regex(R"(\n  \+0\.000s +6\.000s +Flaky +Task +2 retries; errors: Boom x2\n)")));
  CHECK(std::regex_search(r.out, std::regex(R"(\n  \+6\.000s +5\.000s +Fan +Parallel +2 branches\n)")));
  CHECK(std::regex_search(r.out, std::regex(R"(\n    branch 1  \(5\.000s\)\n      \+6\.000s +5\.000s +Left +Wait\n)")));
  CHECK(std::regex_search(r.out, std::regex(R"(\n    branch 2  \(0ms\)\n      \+6\.000s +0ms +Right +Pass\n)")));
  CHECK(std::regex_search(r.out, std::regex(R"(\n  \+11\.000s +0ms +Each +Map +8 iterations\n)")));
  CHECK(std::regex_search(r.out,
                          std::regex(R"(\n    iteration 0  SUCCEEDED  \(0ms\)\n      \+11\.000s +0ms +Item +Pass\n)")));
  CHECK(r.out.find("iteration 2  SUCCEEDED") != std::string::npos);
  CHECK(r.out.find("iteration 3 ") == std::string::npos);  // summarised
  CHECK(r.out.find("    ... 5 more iterations: 5 SUCCEEDED; 0ms to 0ms\n") != std::string::npos);
  CHECK(std::regex_search(r.out, std::regex(R"(\n  \+11\.000s +0ms +Done +Succeed\n)")));

  auto f = cli(dir, {"timeline", "f1", "--db", db});
  INFO(f.out);
  REQUIRE(f.code == 0);
  CHECK(f.out.find("Status    FAILED\nStarted   2025-01-01T00:00:11+00:00\nDuration  0ms\nError     Bad\nCause     it "
                   "broke\n") != std::string::npos);
  CHECK(std::regex_search(f.out, std::regex(R"(\n  \+0\.000s +failed +T +Task +errors: Bad\n)")));

  CHECK(cli(dir, {"timeline", "Flow:nope", "--db", db}).code == 1);
}
