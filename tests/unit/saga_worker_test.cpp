// Sagas under the durable runtime: a Worker killed between any two commits,
// again and again, while an execution runs and rolls back (docs/sagas.md):
// the roll-back resumes where its last commit left it, and the history shows
// each compensation succeeding exactly once, newest step first.
#include <map>
#include <random>

#include "engine/event_codec.h"
#include "engine/snapshot.h"
#include "engine/worker.h"
#include "engine_test_util.h"
#include "stored_execution.h"

using namespace stepwise;
using stepwise::testing::CountingRandom;
using stepwise::testing::parse_or_fail;
using stepwise::testing::must;
using stepwise::testing::record_started;
using stepwise::testing::stored_history;

namespace {

constexpr const char* kSaga = R"({"StartAt":"Flight","States":{
  "Flight":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Reserve","ResultPath":"$.flight",
            "Compensate":{"Resource":"arn:aws:lambda:us-east-1:123456789012:function:Release"},"Next":"Hotel"},
  "Hotel":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Reserve","ResultPath":"$.hotel",
           "Compensate":{"Resource":"arn:aws:lambda:us-east-1:123456789012:function:Release",
                         "Retry":[{"ErrorEquals":["Busy"],"IntervalSeconds":2,"MaxAttempts":1}]},"Next":"Car"},
  "Car":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Reserve","ResultPath":"$.car",
         "Compensate":{"Resource":"arn:aws:lambda:us-east-1:123456789012:function:Release"},"Next":"Pay"},
  "Pay":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Pay","End":true}}})";

// Invocations by idempotency key, across every incarnation.
struct Calls {
  std::map<std::string, int> count;
};

void register_functions(Engine& engine, Calls& calls) {
  engine.functions().add("Reserve", [&calls](const json::value&, const InvocationContext& ctx) -> json::value {
    ++calls.count[ctx.idempotency_key];
    return json::object{{"id", ctx.state_name}};
  });
  engine.functions().add("Pay", [&calls](const json::value&, const InvocationContext& ctx) -> json::value {
    ++calls.count[ctx.idempotency_key];
    throw TaskError("PaymentDeclined", "card refused");
  });
  // The hotel's release is busy on its first attempt.
  engine.functions().add("Release", [&calls](const json::value&, const InvocationContext& ctx) -> json::value {
    ++calls.count[ctx.idempotency_key];
    if (ctx.state_name == "Hotel" && ctx.attempt == 0) throw TaskError("Busy", "try again");
    return json::object{{"released", ctx.state_name}};
  });
}


std::string record_execution(storage::Store& store, Engine& engine, const std::string& name) {
  return record_started(store, engine, "Trip", kSaga, name, "{}");
}


// Forwards `budget` commits, then refuses every write: the process died there.
class DiesAfterCommits final : public storage::StoreWrapper {
 public:
  DiesAfterCommits(std::shared_ptr<storage::Store> target, int budget)
      : StoreWrapper(std::move(target)), budget_(budget) {}
  storage::StatusOr<std::int64_t> commit_transition(const storage::Transition& t) override {
    if (budget_-- <= 0) return storage::Status(storage::Code::kIoError, "dead");
    return target_->commit_transition(t);
  }
  storage::StatusOr<std::vector<std::int64_t>> commit_transitions(
      const std::vector<storage::Transition>& batch) override {
    if (budget_-- <= 0) return storage::Status(storage::Code::kIoError, "dead");
    return target_->commit_transitions(batch);
  }

 private:
  int budget_;
};

EngineOptions options_at(std::shared_ptr<ManualClock> clock) { return stepwise::testing::virtual_time_options(std::move(clock)); }

}  // namespace

TEST_CASE("saga worker: killed between any two commits, the roll-back resumes and no compensation succeeds twice") {
  std::shared_ptr<storage::Store> store = must(storage::open_memory());
  auto clock = std::make_shared<ManualClock>();
  std::vector<std::string> arns;
  {
    Engine engine(options_at(clock));
    for (int i = 0; i < 3; ++i) arns.push_back(record_execution(*store, engine, "t" + std::to_string(i)));
  }
  Calls calls;
  std::mt19937 rng(11);
  int incarnations = 0, killed_mid_rollback = 0;
  bool all_done = false;
  for (; incarnations < 500 && !all_done; ++incarnations) {
    Engine engine(options_at(clock));
    register_functions(engine, calls);
    WorkerOptions wo;
    wo.owner = "w" + std::to_string(incarnations);
    wo.max_batch_events = 1 + rng() % 3;
    wo.max_batch_growth = 1;  // small batches: a kill lands between commits
    auto dying = std::make_shared<DiesAfterCommits>(store, static_cast<int>(1 + rng() % 4));
    Worker worker(engine, dying, wo);
    for (int round = 0; round < 20 && !worker.paused(); ++round) (void)worker.run_once(0);
    clock->advance(wo.lease_duration + kNanosPerSecond);  // killed: the lease expires
    all_done = true;
    for (const auto& arn : arns) {
      auto rec = must(store->describe_execution(arn));
      all_done = all_done && rec.status != storage::ExecutionStatus::kRunning;
      // Killed with a roll-back in progress (its stored state shows it).
      if (rec.status == storage::ExecutionStatus::kRunning && rec.state.find("\"active\":") != std::string::npos)
        ++killed_mid_rollback;
    }
  }
  REQUIRE(all_done);
  CHECK(incarnations > 5);
  CHECK(killed_mid_rollback >= 3);
  for (const auto& arn : arns) {
    INFO(arn);
    auto rec = must(store->describe_execution(arn));
    CHECK(rec.status == storage::ExecutionStatus::kFailed);
    CHECK(rec.error.value_or("") == "PaymentDeclined");
    const auto events = stored_history(*store, arn);
    std::vector<std::string> released;
    int started = 0, ended = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
      CHECK(events[i].id == static_cast<std::int64_t>(i + 1));
      if (events[i].type == "CompensationStepSucceeded") {
        HistoryEvent h;
        h.details = events[i].details;
        released.emplace_back(h.details_object().at("compensationStepSucceededEventDetails").at("name").get_string());
      }
      started += events[i].type == "CompensationStarted";
      ended += events[i].type == "CompensationSucceeded";
    }
    CHECK(released == std::vector<std::string>{"Car", "Hotel", "Flight"});
    CHECK(started == 1);
    CHECK(ended == 1);
    REQUIRE(!events.empty());
    CHECK(events.back().type == "ExecutionFailed");
  }
  // At-least-once: every compensation key was invoked; Hotel's twice (its retry).
  int release_keys = 0;
  for (const auto& [key, n] : calls.count) release_keys += key.find("/compensate/") != std::string::npos;
  CHECK(release_keys == 3 * 4);  // Car, Hotel attempts 0 and 1, Flight; three executions
}

TEST_CASE("saga worker: a distributed Map run as a map run is compensated with its input and result") {
  auto store = must(storage::open_memory());
  std::shared_ptr<storage::Store> shared = std::move(store);
  auto clock = std::make_shared<ManualClock>();
  Engine engine(options_at(clock));
  std::vector<json::value> undone;
  engine.functions().add("Double", [](const json::value& ev, const InvocationContext&) -> json::value {
    return json::value(ev.at("n").to_number<long long>() * 2);
  });
  engine.functions().add("Undo", [&undone](const json::value& ev, const InvocationContext&) -> json::value {
    undone.push_back(ev);
    return json::object();
  });
  engine.functions().add("Pay", [](const json::value&, const InvocationContext&) -> json::value {
    throw TaskError("PaymentDeclined", "card refused");
  });
  const std::string def = R"({"StartAt":"Each","States":{
    "Each":{"Type":"Map","InputPath":"$.order","ItemsPath":"$.items","ResultPath":"$.doubled",
      "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"D",
        "States":{"D":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Double","End":true}}},
      "Compensate":{"Resource":"arn:aws:lambda:us-east-1:123456789012:function:Undo",
                    "Parameters":{"order.$":"$.Input.id","results.$":"$.Result"}},
      "Next":"Pay"},
    "Pay":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Pay","End":true}}})";
  const std::string arn =
      record_started(*shared, engine, "Orders", def, "o1", R"({"order":{"id":"o-1","items":[{"n":1},{"n":2},{"n":3}]}})");
  Worker worker(engine, shared, WorkerOptions{.owner = "w1"});
  for (int i = 0; i < 1000; ++i) {
    (void)worker.run_once(0);
    if (i > 0 && worker.active() == 0) break;
  }
  auto rec = must(shared->describe_execution(arn));
  REQUIRE(rec.status == storage::ExecutionStatus::kFailed);
  CHECK(rec.error == std::optional<std::string>("PaymentDeclined"));
  // The map run did run as child executions, and the Map was rolled back.
  CHECK(must(shared->list_map_runs(arn, {})).items.size() == 1);
  REQUIRE(undone.size() == 1);
  CHECK(undone[0] == *parse_json(R"({"order":"o-1","results":[2,4,6]})"));
}
