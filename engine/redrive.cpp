// prepare_redrive: turns an ended execution's frames back into ready ones.
// Everything the engine needs to continue is already in the final snapshot
// (the frames that were running, halted branches and iterations, the raw input
// of each unfinished state); this only resets what belonged to the attempt
// that ended and leaves the engine to write the events of the states it
// enters again.
#include "engine/redrive.h"

#include <algorithm>
#include <string>

namespace stepwise {
namespace {

constexpr Nanos kOneYear = 365LL * 24 * 3600 * kNanosPerSecond;  // AWS's maximum open time

Failure not_redrivable(std::string reason) {
  return Failure{"ExecutionNotRedrivable", std::move(reason), false};
}

// The reason AWS gives (DescribeExecution redriveStatusReason), or empty.
std::string refusal(const ExecutionState& st, Nanos now) {
  switch (st.status) {
    case ExecutionStatus::Running:
      return "Execution is RUNNING and cannot be redriven";
    case ExecutionStatus::Succeeded:
      return "Execution is SUCCEEDED and cannot be redriven";
    default:
      break;
  }
  if (st.arn.find(":express:") != std::string::npos)
    return "Execution belongs to an EXPRESS state machine and cannot be redriven";
  if (st.next_event_id - 1 >= kRedriveMaxEvents) return "Execution history event limit exceeded";
  if (st.saga.failing) return "Execution was rolled back by its compensations and cannot be redriven";
  if (now - st.start_time > kOneYear) return "Execution has exceeded the max execution time";
  return {};
}

class FrameReset {
 public:
  FrameReset(const states::Definition& def, ExecutionState& st) : def_(def), st_(st) {}

  // Makes frame `id` run its current state again from its entry: the top
  // frame ready, a child waiting (phase Done) for its parent to launch it.
  // A Parallel/Map frame that had progress keeps it and runs again only
  // what did not succeed: its running, halted and not yet relaunched
  // children, each reset the same way.
  void reset(std::uint32_t id, bool child) {
    Frame& f = st_.frames[id];
    const states::State& s = def_.machine(f.machine).states[f.state];
    const bool container = s.type == states::StateType::Parallel || s.type == states::StateType::Map;
    std::vector<std::uint32_t> again;
    for (const auto* list : {&f.children, &f.halted, &f.relaunch})
      again.insert(again.end(), list->begin(), list->end());
    f.children.clear();
    f.halted.clear();
    f.relaunch.clear();
    if (container && f.total > 0) {
      for (auto c : again) reset(c, true);
      // Launched from the back, lowest index first.
      std::sort(again.begin(), again.end(),
                [&](std::uint32_t a, std::uint32_t b) { return st_.frames[a].slot > st_.frames[b].slot; });
      Frame& g = st_.frames[id];
      g.relaunch = std::move(again);
      g.rerun = true;
      g.running = g.failed = 0;
    } else {
      // The whole state runs again (e.g. its own output processing failed).
      for (auto c : again) release_tree(c);
      Frame& g = st_.frames[id];
      g.rerun = false;
      g.total = g.launched = g.succeeded = g.failed = g.running = 0;
      g.results = {};
      g.items = {};
      g.effective = nullptr;
    }
    Frame& g = st_.frames[id];
    if (s.type != states::StateType::Map) g.effective = nullptr;  // a Map's feeds its ItemSelector
    g.phase = child ? FramePhase::Done : FramePhase::Ready;
    g.entered = false;
    g.token = 0;
    g.timer = TimerKind::None;
    g.due = 0;
    g.task_deadline = 0;
    g.task_timeout_seconds = 0;
    g.heartbeat_deadline = 0;
    g.heartbeat_seconds = 0;
    g.task_token.reset();
    g.retry_count = 0;
    g.attempts.clear();
  }

 private:
  void release_tree(std::uint32_t id) {
    Frame& f = st_.frames[id];
    for (const auto* list : {&f.children, &f.halted, &f.relaunch})
      for (auto c : *list) release_tree(c);
    Frame blank;
    blank.id = id;
    st_.frames[id] = std::move(blank);
    st_.free_frames.push_back(id);
  }

  const states::Definition& def_;
  ExecutionState& st_;
};

}  // namespace

Result<RedrivePlan> prepare_redrive(const states::Definition& def, const ExecutionSnapshot& ended, Nanos now) {
  if (std::string why = refusal(ended.state, now); !why.empty()) return not_redrivable(std::move(why));
  if (auto bad = check_snapshot(def, ended)) return std::move(*bad);
  std::uint32_t top = 0;
  std::size_t tops = 0;
  for (const auto& f : ended.state.frames) {
    if (f.in_use && f.parent < 0) {
      top = f.id;
      ++tops;
    }
  }
  if (tops == 0) return not_redrivable("Execution ended before its first state ran: there is nothing to redrive");
  if (tops > 1)
    return Failure{"Stepwise.InvalidSnapshot", "The snapshot has " + std::to_string(tops) + " top frames", false};

  RedrivePlan plan;
  plan.snapshot = ended;
  ExecutionState& st = plan.snapshot.state;
  st.status = ExecutionStatus::Running;
  st.output = nullptr;
  st.error.clear();
  st.cause.clear();
  st.has_error = st.has_cause = false;
  ++st.redrive_count;
  st.redrive_time = now;
  // "The state machine level timeout, if defined, is reset to 0."
  st.deadline = def.timeout_seconds ? now + seconds_to_nanos(*def.timeout_seconds) : 0;

  HistoryEvent ev;
  ev.id = st.next_event_id++;
  ev.previous_event_id = ev.id - 1;
  ev.timestamp = now;
  ev.type = "ExecutionRedriven";
  ev.details = to_json(json::object{{"executionRedrivenEventDetails", json::object{{"redriveCount", st.redrive_count}}}});

  FrameReset(def, st).reset(top, false);
  st.frames[top].last_event = ev.id;
  plan.snapshot.queue = RunQueue{{top}, 1, {}};
  plan.events.push_back(std::move(ev));
  return plan;
}

}  // namespace stepwise
