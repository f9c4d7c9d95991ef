// stepwise timeline EXEC: an execution's history as a readable timeline:
// each state with its start offset, duration, retries and errors; Parallel
// branches and Map iterations indented under their state (long Maps summarised).
//
// The history is flat; who belongs to which branch or iteration is read from
// previousEventId, which follows each branch's own chain of events: a
// branch's first event points at its ParallelStateStarted, an iteration's at
// its MapIterationStarted, and every other event at the previous event of the
// same branch.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <unordered_map>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
#include "cli/store_cli.h"

namespace stepwise::cli {
namespace {

// One visit of a state.
struct Span {
  std::string name;
  std::string type;  // "Task", "Pass", "Parallel", ...
  Nanos start = 0;
  Nanos last = 0;            // the newest event seen for it
  std::optional<Nanos> end;  // when it was left (or aborted)
  bool aborted = false;
  int attempts = 0;  // TaskScheduled (Task) or ...StateStarted (Parallel, Map)
  std::vector<std::string> errors;
  std::vector<int> children;                   // lanes: branches or iterations, in start order
  std::map<std::int64_t, int> iteration_lane;  // Map: iteration index -> lane
};

// A sequence of states run one after another: the execution itself, one
// Parallel branch, one Map iteration.
struct Lane {
  int parent = -1;
  int parent_span = -1;
  std::string label;
  std::vector<Span> spans;
  std::string status;  // iterations: SUCCEEDED / FAILED / ABORTED from MapIteration* events
  Nanos start = 0, end = 0;

  Span* open_span() {
    if (spans.empty() || spans.back().end) return nullptr;
    return &spans.back();
  }
};

// One compensation of a saga's roll-back (docs/sagas.md).
struct Undo {
  std::string step;
  Nanos start = 0;
  std::optional<Nanos> end;
  int attempts = 0;
  std::string outcome;  // "compensated", "failed: ERROR"; empty while running
};

// One roll-back: its trigger and its compensations, in the order they ran.
struct RollBackRun {
  std::string trigger;  // EXECUTION_FAILED, COMPENSATE_STATE
  std::string name;     // the Compensate state
  std::string status;   // SUCCEEDED / FAILED; empty while running
  std::vector<Undo> undos;
};

struct Timeline {
  std::vector<Lane> lanes{Lane{}};
  std::vector<RollBackRun> roll_backs;
  std::string arn, status, error, cause;
  bool has_error = false, has_cause = false;
  Nanos start = 0, end = 0;
  bool ended = false;
};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The first member `field` of the event's ...EventDetails.
const json::value* detail(const json::object& event, std::string_view field) {
  for (const auto& kv : event) {
    if (!ends_with(kv.key(), "EventDetails") || !kv.value().is_object()) continue;
    if (const auto* v = kv.value().get_object().if_contains(field)) return v;
  }
  return nullptr;
}

std::string detail_string(const json::object& event, std::string_view field) {
  const auto* v = detail(event, field);
  return v && v->is_string() ? std::string(v->get_string()) : "";
}

// Events of a Parallel or Map state itself (not of its children), and which kind.
const char* container_kind(std::string_view type) {
  if (starts_with(type, "ParallelState") && type != "ParallelStateEntered") return "Parallel";
  if (starts_with(type, "MapIteration")) return "Map";
  if (starts_with(type, "MapState") && type != "MapStateEntered") return "Map";
  return nullptr;
}

// Errors an event reports (a task's, a state's, an iteration's).
bool is_failure_event(std::string_view type) {
  return ends_with(type, "Failed") || ends_with(type, "TimedOut");
}

class Builder {
 public:
  explicit Builder(Timeline& t) : t_(t) {}

  void add(const json::object& e) {
    const std::int64_t id = e.at("id").to_number<std::int64_t>();
    const std::int64_t prev = e.at("previousEventId").to_number<std::int64_t>();
    const std::string type(e.at("type").get_string());
    const Nanos ts = static_cast<Nanos>(std::llround(e.at("timestamp").to_number<double>() * 1e3)) * kNanosPerMilli;
    if (starts_with(type, "Execution")) {
      execution_event(type, e, ts);
      lane_of_[id] = 0;
      type_of_[id] = type;
      return;
    }
    if (starts_with(type, "Compensation")) {  // a roll-back's events belong to no state
      compensation_event(type, e, ts);
      lane_of_[id] = lane_of(prev);
      type_of_[id] = type;
      return;
    }
    const int lane = lane_for(type, prev, e);
    lane_of_[id] = lane;
    type_of_[id] = type;
    state_event(lane, type, e, ts, id);
  }

 private:
  int lane_of(std::int64_t id) const {
    auto it = lane_of_.find(id);
    return it == lane_of_.end() ? 0 : it->second;
  }

  // The lane from `from` upward whose open state is a `kind` state.
  int container_lane(int from, std::string_view kind) {
    for (int l = from; l >= 0; l = t_.lanes[l].parent) {
      Span* s = t_.lanes[l].open_span();
      if (s && s->type == kind) return l;
    }
    return from;
  }

  int new_lane(int parent, std::string label, Nanos start) {
    Lane lane;
    lane.parent = parent;
    lane.parent_span = static_cast<int>(t_.lanes[parent].spans.size()) - 1;
    lane.label = std::move(label);
    lane.start = start;
    t_.lanes.push_back(std::move(lane));
    const int id = static_cast<int>(t_.lanes.size()) - 1;
    t_.lanes[parent].spans.back().children.push_back(id);
    return id;
  }

  int lane_for(const std::string& type, std::int64_t prev, const json::object& e) {
    const int from = lane_of(prev);
    if (const char* kind = container_kind(type)) return container_lane(from, kind);
    auto prev_type = type_of_.find(prev);
    if (prev_type != type_of_.end() && prev_type->second == "ParallelStateStarted") {
      Lane& parent = t_.lanes[from];
      const auto n = parent.spans.empty() ? 0 : parent.spans.back().children.size();
      const Nanos ts = static_cast<Nanos>(std::llround(e.at("timestamp").to_number<double>() * 1e3)) * kNanosPerMilli;
      return new_lane(from, "branch " + std::to_string(n + 1), ts);
    }
    if (auto it = iteration_started_.find(prev); it != iteration_started_.end()) return it->second;
    return from;
  }

  void execution_event(const std::string& type, const json::object& e, Nanos ts) {
    if (type == "ExecutionStarted") {
      t_.start = ts;
      t_.lanes[0].start = ts;
      return;
    }
    static const std::map<std::string, std::string, std::less<>> kEnds = {{"ExecutionSucceeded", "SUCCEEDED"},
                                                                          {"ExecutionFailed", "FAILED"},
                                                                          {"ExecutionTimedOut", "TIMED_OUT"},
                                                                          {"ExecutionAborted", "ABORTED"}};
    auto it = kEnds.find(type);
    if (it == kEnds.end()) return;  // e.g. ExecutionRedriven
    t_.status = it->second;
    t_.ended = true;
    t_.end = ts;
    // A state that failed without an event of its own (e.g. a bad path) fails the execution.
    Span* open = t_.lanes[0].open_span();
    if (const auto* v = detail(e, "error")) {
      t_.has_error = true;
      t_.error = v->is_string() ? std::string(v->get_string()) : "";
    }
    if (const auto* v = detail(e, "cause")) {
      t_.has_cause = true;
      t_.cause = v->is_string() ? std::string(v->get_string()) : "";
    }
    if (open && open->errors.empty() && t_.has_error && type != "ExecutionAborted") open->errors.push_back(t_.error);
  }

  void compensation_event(const std::string& type, const json::object& e, Nanos ts) {
    auto& runs = t_.roll_backs;
    if (type == "CompensationStarted") {
      runs.push_back(RollBackRun{detail_string(e, "trigger"), detail_string(e, "name"), "", {}});
      return;
    }
    if (runs.empty()) return;
    RollBackRun& run = runs.back();
    if (type == "CompensationSucceeded" || type == "CompensationFailed") {
      run.status = type == "CompensationSucceeded" ? "SUCCEEDED" : "FAILED";
      return;
    }
    const std::string step = detail_string(e, "name");
    if (type == "CompensationStepStarted") {
      if (run.undos.empty() || run.undos.back().step != step || run.undos.back().end) {
        run.undos.push_back(Undo{step, ts, std::nullopt, 0, ""});
      }
      ++run.undos.back().attempts;
      return;
    }
    if (run.undos.empty()) return;
    Undo& undo = run.undos.back();
    if (type == "CompensationStepSucceeded") {
      undo.end = ts;
      undo.outcome = "compensated";
    } else if (type == "CompensationStepFailed") {
      undo.end = ts;
      undo.outcome = "failed: " + detail_string(e, "error");
    }
  }

  void state_event(int lane_id, const std::string& type, const json::object& e, Nanos ts, std::int64_t id) {
    Lane& lane = t_.lanes[lane_id];
    lane.end = std::max(lane.end, ts);
    if (ends_with(type, "StateEntered")) {
      Span s;
      s.name = detail_string(e, "name");
      s.type = type.substr(0, type.size() - std::string_view("StateEntered").size());
      s.start = s.last = ts;
      lane.spans.push_back(std::move(s));
      return;
    }
    Span* span = lane.open_span();
    if (!span) return;
    span->last = ts;
    if (ends_with(type, "StateExited")) {
      span->end = ts;
    } else if (ends_with(type, "StateAborted")) {
      span->end = ts;
      span->aborted = true;
    } else if (ends_with(type, "Scheduled") || type == "ParallelStateStarted" || type == "MapStateStarted") {
      ++span->attempts;
    } else if (type == "MapIterationStarted") {
      const auto* index = detail(e, "index");
      const std::int64_t i = index && index->is_number() ? index->to_number<std::int64_t>() : 0;
      const int child = new_lane(lane_id, "iteration " + std::to_string(i), ts);
      span = t_.lanes[lane_id].open_span();  // new_lane may have moved the lanes
      span->iteration_lane[i] = child;
      iteration_started_[id] = child;
    } else if (starts_with(type, "MapIteration")) {
      const auto* index = detail(e, "index");
      const std::int64_t i = index && index->is_number() ? index->to_number<std::int64_t>() : 0;
      if (auto it = span->iteration_lane.find(i); it != span->iteration_lane.end()) {
        Lane& child = t_.lanes[it->second];
        child.status = type == "MapIterationSucceeded" ? "SUCCEEDED"
                       : type == "MapIterationFailed"  ? "FAILED"
                                                       : "ABORTED";
        child.end = ts;
      }
    } else if (is_failure_event(type) && !starts_with(type, "MapIteration")) {
      std::string error = detail_string(e, "error");
      span->errors.push_back(error.empty() ? type : error);
    }
  }

  Timeline& t_;
  std::unordered_map<std::int64_t, int> lane_of_;
  std::unordered_map<std::int64_t, std::string> type_of_;
  std::unordered_map<std::int64_t, int> iteration_started_;  // MapIterationStarted id -> lane
};

// ---- Printing -------------------------------------------------------------------

std::string duration_text(Nanos d) {
  char buf[64];
  if (d < kNanosPerMilli) return d <= 0 ? "0ms" : "<1ms";
  if (d < kNanosPerSecond) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(d / kNanosPerMilli));
  } else if (d < 60 * kNanosPerSecond) {
    std::snprintf(buf, sizeof buf, "%.3fs", static_cast<double>(d) / 1e9);
  } else if (d < 3600 * kNanosPerSecond) {
    std::snprintf(buf, sizeof buf, "%lldm%06.3fs", static_cast<long long>(d / (60 * kNanosPerSecond)),
                  static_cast<double>(d % (60 * kNanosPerSecond)) / 1e9);
  } else {
    const long long s = d / kNanosPerSecond;
    std::snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", s / 3600, s / 60 % 60, s % 60);
  }
  return buf;
}

std::string offset_text(Nanos d) {
  if (d >= 60 * kNanosPerSecond) return "+" + duration_text(d);
  char buf[32];
  std::snprintf(buf, sizeof buf, "+%.3fs", static_cast<double>(d) / 1e9);
  return buf;
}

// "3 retries; errors: States.TaskFailed x2, Timeout"
std::string notes(const Span& s) {
  std::vector<std::string> parts;
  const int retries = s.attempts - 1;
  if (retries > 0) parts.push_back(std::to_string(retries) + (retries == 1 ? " retry" : " retries"));
  if (!s.errors.empty()) {
    std::vector<std::pair<std::string, int>> counted;
    for (const auto& e : s.errors) {
      auto it = std::find_if(counted.begin(), counted.end(), [&](const auto& p) { return p.first == e; });
      if (it == counted.end()) {
        counted.emplace_back(e, 1);
      } else {
        ++it->second;
      }
    }
    std::string text = "errors: ";
    for (std::size_t i = 0; i < counted.size(); ++i) {
      if (i) text += ", ";
      text += counted[i].first;
      if (counted[i].second > 1) text += " x" + std::to_string(counted[i].second);
    }
    parts.push_back(text);
  }
  if (s.type == "Parallel" && !s.children.empty()) parts.push_back(std::to_string(s.children.size()) + " branches");
  if (s.type == "Map") parts.push_back(std::to_string(s.children.size()) + " iterations");
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

class Printer {
 public:
  Printer(const Timeline& t, std::ostream& out) : t_(t), out_(out) {}

  void lane(int id, int depth) {
    const Lane& l = t_.lanes[id];
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : l.spans) rows.push_back(row(s));
    std::vector<std::size_t> w(5, 0);
    for (const auto& r : rows) {
      for (std::size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
    }
    const std::string indent(static_cast<std::size_t>(depth) * 4 + 2, ' ');
    for (std::size_t i = 0; i < l.spans.size(); ++i) {
      std::string line = indent;
      for (std::size_t c = 0; c < rows[i].size(); ++c) {
        line += rows[i][c];
        if (c + 1 < rows[i].size()) line += std::string(w[c] - rows[i][c].size() + 2, ' ');
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out_ << line << "\n";
      children(l.spans[i], depth + 1);
    }
  }

 private:
  std::vector<std::string> row(const Span& s) const {
    std::string duration;
    if (s.aborted) {
      duration = "aborted";
    } else if (s.end) {
      duration = duration_text(*s.end - s.start);
    } else if (s.type == "Fail" || s.type == "Succeed") {
      duration = duration_text(0);
    } else if (!s.errors.empty()) {
      duration = "failed";
    } else {
      duration = t_.ended ? "unfinished" : "running";
    }
    return {offset_text(s.start - t_.start), duration, s.name, s.type, notes(s)};
  }

  Nanos lane_duration(const Lane& l) const { return l.end - l.start; }

  void child_heading(const Lane& l, int depth) {
    std::string heading = std::string(static_cast<std::size_t>(depth) * 4 - 2 + 2, ' ') + l.label;
    if (!l.status.empty()) heading += "  " + l.status;
    out_ << heading << "  (" << duration_text(lane_duration(l)) << ")\n";
  }

  // Parallel branches all; a Map's first iterations and its failed ones,
  // the rest as one summary line.
  void children(const Span& s, int depth) {
    if (s.children.empty()) return;
    constexpr std::size_t kShown = 3;
    std::vector<int> hidden;
    std::size_t shown_failures = 0;
    for (std::size_t i = 0; i < s.children.size(); ++i) {
      const Lane& l = t_.lanes[s.children[i]];
      const bool failed = !l.status.empty() && l.status != "SUCCEEDED";
      const bool show = s.type != "Map" || i < kShown || (failed && shown_failures++ < kShown);
      if (!show) {
        hidden.push_back(s.children[i]);
        continue;
      }
      child_heading(l, depth);
      lane(s.children[i], depth);
    }
    if (hidden.empty()) return;
    std::map<std::string, int> by_status;
    Nanos shortest = INT64_MAX, longest = 0;
    for (int id : hidden) {
      const Lane& l = t_.lanes[id];
      ++by_status[l.status.empty() ? "RUNNING" : l.status];
      shortest = std::min(shortest, lane_duration(l));
      longest = std::max(longest, lane_duration(l));
    }
    std::string counts;
    for (const auto& [status, n] : by_status) counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + status;
    out_ << std::string(static_cast<std::size_t>(depth) * 4, ' ') << "... " << hidden.size()
         << " more iterations: " << counts << "; " << duration_text(shortest) << " to " << duration_text(longest)
         << "\n";
  }

  const Timeline& t_;
  std::ostream& out_;
};

void print_timeline(const Timeline& t, std::ostream& out) {
  out << "Execution " << t.arn << "\n";
  out << "Status    " << (t.status.empty() ? "RUNNING" : t.status) << "\n";
  out << "Started   " << aws_cli_date_nanos(t.start) << "\n";
  if (t.ended) out << "Duration  " << duration_text(t.end - t.start) << "\n";
  if (t.has_error) out << "Error     " << t.error << "\n";
  if (t.has_cause) out << "Cause     " << t.cause << "\n";
  out << "\n";
  Printer(t, out).lane(0, 0);
  for (const auto& run : t.roll_backs) {
    out << "\nRoll-back (" << (run.trigger == "COMPENSATE_STATE" ? "Compensate state " + run.name : "uncaught error")
        << ")  " << (run.status.empty() ? "RUNNING" : run.status) << "\n";
    std::size_t width = 0;
    for (const auto& u : run.undos) width = std::max(width, u.step.size());
    for (const auto& u : run.undos) {
      std::string line = "  " + offset_text(u.start - t.start) + "  ";
      std::string duration = u.end ? duration_text(*u.end - u.start) : (t.ended ? "unfinished" : "running");
      line += duration + std::string(duration.size() < 8 ? 8 - duration.size() : 1, ' ');
      line += u.step + std::string(width - u.step.size() + 2, ' ') + u.outcome;
      if (u.attempts > 1) line += "  (" + std::to_string(u.attempts) + " attempts)";
      out << line << "\n";
    }
  }
}

}  // namespace

Command add_timeline(CLI::App& app) {
  struct Args {
    StoreArgs store;
    std::string execution;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("timeline",
                                 "Show an execution as a timeline: each state's start, duration, retries and errors.");
  cmd->add_option("execution", a->execution, "The execution: its ARN, MACHINE:NAME, or its name")->required();
  add_store_options(cmd, a->store, false);
  cmd->footer(
      "Offsets are from the execution's start. Parallel branches and Map iterations are indented under their\n"
      "state; a long Map shows its first and its failed iterations and sums up the rest.");
  return [a] {
    auto service = open_service(a->store, false);
    if (!service) return kExitUsage;
    int rc = kExitOk;
    auto arn = execution_arn_of(*service, a->execution, "GetExecutionHistory", &rc);
    if (!arn) return rc;
    auto history = call_all_pages(*service, "GetExecutionHistory", {{"executionArn", *arn}}, "events");
    if (!history.ok()) {
      print_service_error("GetExecutionHistory", history.error());
      return kExitFailed;
    }
    Timeline t;
    t.arn = *arn;
    Builder builder(t);
    for (const auto& e : history.response().at("events").get_array()) builder.add(e.get_object());
    print_timeline(t, std::cout);
    return kExitOk;
  };
}

}  // namespace stepwise::cli
