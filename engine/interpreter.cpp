// The interpreter: what each state type does when a frame reaches it, and how
// errors travel through Retry, Catch, Parallel branches and Map iterations.
// Section names refer to the Amazon States Language specification.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <string_view>
#include <type_traits>
#include <utility>

#include "engine/engine_impl.h"
#include "engine/map_io.h"
#include "engine/map_select.h"
#include "engine/seeded_random.h"
#include "states/query.h"
#include "states/timestamp.h"

namespace stepwise {
namespace {

using states::Definition;
using states::JsonPath;
using states::Machine;
using states::PathSpec;
using states::ResultPathSpec;
using states::Scope;
using states::State;
using states::StateType;

const json::value kNull;

std::string uuid4(states::RandomSource& r) {
  std::uint64_t a = r.next_u64(), b = r.next_u64();
  a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return buf;
}


// ASL "Error names": States.ALL matches every error but States.Runtime;
// States.TaskFailed matches every error except States.Timeout.
bool error_matches(const std::vector<std::string>& names, const std::string& error) {
  // AWS's recordings show States.ALL catching States.DataLimitExceeded raised
  // by a task's result, so only States.Runtime is terminal here.
  const bool terminal = error == "States.Runtime";
  for (const auto& n : names) {
    if (n == error) return true;
    if (terminal) continue;
    if (n == "States.ALL") return true;
    if (n == "States.TaskFailed" && error != "States.Timeout") return true;
  }
  return false;
}

const char* entered_name(StateType t) {
  static const char* names[] = {"TaskStateEntered",    "PassStateEntered",     "ChoiceStateEntered",
                                "WaitStateEntered",    "SucceedStateEntered",  "FailStateEntered",
                                "ParallelStateEntered", "MapStateEntered",      "CompensateStateEntered"};
  return names[static_cast<int>(t)];
}

const char* exited_name(StateType t) {
  static const char* names[] = {"TaskStateExited",    "PassStateExited",     "ChoiceStateExited",
                                "WaitStateExited",    "SucceedStateExited",  "FailStateExited",
                                "ParallelStateExited", "MapStateExited",      "CompensateStateExited"};
  return names[static_cast<int>(t)];
}

// How history names a task's events, from its resource: Lambda ARNs write
// LambdaFunction* events, activities Activity*, integrations Task*. Deciding
// allocates nothing, so tasks cost no history work when none is recorded.
enum class TaskFamily { Lambda, Activity, Service };

TaskFamily task_family(const std::string& resource) {
  if (resource.rfind("arn:aws:lambda:", 0) == 0) return TaskFamily::Lambda;
  if (resource.find(":activity:") != std::string::npos) return TaskFamily::Activity;
  return TaskFamily::Service;
}

// The event type of a task event: kind is "Scheduled", "Started", ...
const char* task_event_type(TaskFamily fam, std::string_view kind) {
  static constexpr std::string_view kinds[] = {"Scheduled", "Started", "Succeeded", "Failed", "TimedOut"};
  static const char* const names[][5] = {
      {"LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "LambdaFunctionFailed",
       "LambdaFunctionTimedOut"},
      {"ActivityScheduled", "ActivityStarted", "ActivitySucceeded", "ActivityFailed", "ActivityTimedOut"},
      {"TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskFailed", "TaskTimedOut"}};
  std::size_t k = 0;
  while (k < 4 && kinds[k] != kind) ++k;
  return names[static_cast<int>(fam)][k];
}

// The details member of an event type: "TaskScheduled" ->
// "taskScheduledEventDetails".
std::string details_key(std::string_view type) {
  std::string key(type);
  key[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(key[0])));
  key += "EventDetails";
  return key;
}

// Task* events name the integration as resourceType and resource:
// arn:aws:states:::sqs:sendMessage.waitForTaskToken -> "sqs",
// "sendMessage.waitForTaskToken"; arn:aws:states:::aws-sdk:s3:getObject ->
// "aws-sdk:s3", "getObject".
struct ServiceResource {
  std::string resource_type;
  std::string resource;
};

ServiceResource service_resource(const std::string& arn) {
  ServiceResource r;
  constexpr std::string_view kPrefix = "arn:aws:states:::";
  if (arn.rfind(kPrefix, 0) != 0) return r;
  std::string rest = arn.substr(kPrefix.size());
  auto colon = rest.find(':');
  r.resource_type = rest.substr(0, colon);
  r.resource = colon == std::string::npos ? "" : rest.substr(colon + 1);
  if (r.resource_type == "aws-sdk") {
    auto c2 = r.resource.find(':');
    r.resource_type = "aws-sdk:" + r.resource.substr(0, c2);
    r.resource = c2 == std::string::npos ? "" : r.resource.substr(c2 + 1);
  }
  return r;
}

void put_service_resource(json::object& det, const std::string& arn) {
  ServiceResource r = service_resource(arn);
  det["resourceType"] = std::move(r.resource_type);
  det["resource"] = std::move(r.resource);
}

// The text AWS shows for a value inside a quoted message: strings bare, the rest as JSON.
std::string bare_text(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  return to_json(v);
}

std::optional<std::int64_t> as_integer(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(v.get_uint64());
  if (v.is_double()) {
    double d = v.get_double();
    if (std::floor(d) == d && std::fabs(d) < 9.2e18) return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

std::optional<double> as_number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  return std::nullopt;
}

// A Map's ...Path numbers may also be text holding the number: AWS accepts
// "1" (from the input or a variable) and rejects "NoNumber".
std::optional<std::int64_t> integer_or_text(const json::value& v) {
  if (!v.is_string()) return as_integer(v);
  std::string text(v.get_string());
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return static_cast<std::int64_t>(n);
}

std::optional<double> number_or_text(const json::value& v) {
  if (!v.is_string()) return as_number(v);
  std::string text(v.get_string());
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(text.c_str(), &end);
  if (*end != '\0' || !std::isfinite(d)) return std::nullopt;
  return d;
}

}  // namespace

// One interpreter step over one execution. Short-lived: built per call.
struct Interp {
  Engine::Impl& E;
  Execution& ex;

  const Definition& def() const { return *ex.def; }
  Frame& frame(std::uint32_t id) { return ex.st.frames[id]; }
  const State& state_of(const Frame& f) const { return def().machine(f.machine).states[f.state]; }
  Nanos now() const { return E.clock->now(); }
  bool recording() const {
    return ex.options.record_history || static_cast<bool>(ex.options.on_event) || ex.options.event_writer != nullptr;
  }

  // ---- History ----------------------------------------------------------

  // Appends an event. `details` fills its details: either a json::object
  // (the less frequent events), or, for the events every state writes, the
  // details text itself (a std::string&, written directly: no object built).
  // `at`: the event's timestamp, when the caller has taken it (0: now).
  template <class Details>
  std::int64_t emit(Frame* f, const char* type, Details&& details, Nanos at = 0) {
    if (f && f->quiet) return 0;
    std::int64_t id = ex.st.next_event_id++;
    if (recording()) {
      const std::int64_t previous = f ? f->last_event : id - 1;
      const Nanos timestamp = at != 0 ? at : now();
      // Straight into the writer's text (the worker's buffer of encoded
      // events): no HistoryEvent, no copy of the details.
      if (ex.options.event_writer != nullptr) {
        write_details(ex.options.event_writer->begin_event(id, previous, timestamp, type), details);
        ex.options.event_writer->end_event();
      }
      if (ex.options.record_history || ex.options.on_event) {
        HistoryEvent e;
        e.id = id;
        e.previous_event_id = previous;
        e.timestamp = timestamp;
        e.type = type;
        e.details.clear();
        e.details.reserve(256);  // most details fit: one allocation, not several as it grows
        write_details(e.details, details);
        if (ex.options.record_history) {
          if (ex.options.on_event) ex.options.on_event(HistoryEvent(e));
          ex.history.push_back(std::move(e));
        } else {
          ex.options.on_event(std::move(e));
        }
      }
    }
    if (f) f->last_event = id;
    return id;
  }
  // Appends the details text to `out` ("{}" for an empty object).
  template <class Details>
  static void write_details(std::string& out, Details& details) {
    if constexpr (std::is_invocable_v<Details, json::object&>) {
      json::object d;
      details(d);
      if (d.empty()) {
        out += "{}";
      } else {
        append_json(out, d);
      }
    } else {
      details(out);
    }
  }
  std::int64_t emit(Frame* f, const char* type) {
    return emit(f, type, [](json::object&) {});
  }

  // {"<member>":{"name":"<state>","input":"<JSON text>","inputDetails":{"truncated":false}}}
  // (or output; "name" only when the event is about a state): the details
  // text of the events that carry a payload.
  // `kept` (optional) receives the payload's text as written (v serialized
  // and escaped); `written` (optional) is that text already, written instead
  // of v.
  static void payload_details(std::string& out, std::string_view member, std::string_view key, const json::value& v,
                              const std::string* name = nullptr, std::string* kept = nullptr,
                              const std::string* written = nullptr) {
    // Pieces of known length (no strlen per piece), appended into room
    // reserved at once for all but the payload.
    constexpr std::string_view kDetailsTail = "Details\":{\"truncated\":false}}}";
    out.reserve(out.size() + member.size() + 2 * key.size() + kDetailsTail.size() + (name ? name->size() + 12 : 0) +
                (written ? written->size() : 0) + 16);
    out.append("{\"", 2);
    out.append(member);
    out.append("\":{", 3);
    if (name) {
      out.append("\"name\":", 7);
      append_json_string(out, *name);
      out.push_back(',');
    }
    out.push_back('"');
    out.append(key);
    out.append("\":", 2);
    if (written) {
      out.append(*written);
    } else {
      const std::size_t at = out.size();
      append_json_as_string(out, v);
      if (kept) kept->assign(out, at, out.size() - at);
    }
    out.append(",\"", 2);
    out.append(key);
    out.append(kDetailsTail);
  }
  // {"<member>":{"name":"<Map state>","index":<i>}}
  static void iteration_details(std::string& out, const char* member, const std::string& name, std::uint32_t index) {
    out += "{\"";
    out += member;
    out += "\":{\"name\":";
    append_json_string(out, name);
    out += ",\"index\":";
    out += std::to_string(index);
    out += "}}";
  }

  // ---- Frames -----------------------------------------------------------

  std::uint32_t new_frame(std::int32_t parent, std::uint32_t slot, states::MachineId machine, json::value input) {
    std::uint32_t id;
    if (!ex.st.free_frames.empty()) {
      id = ex.st.free_frames.back();
      ex.st.free_frames.pop_back();
      ex.st.frames[id] = Frame{};
    } else {
      id = static_cast<std::uint32_t>(ex.st.frames.size());
      ex.st.frames.emplace_back();
    }
    Frame& f = ex.st.frames[id];
    f.id = id;
    f.in_use = true;
    f.parent = parent;
    f.slot = slot;
    f.machine = machine;
    f.state = def().machine(machine).start;
    f.input = std::move(input);
    if (def().has_compensation) f.serial = ex.st.saga.next_serial++;  // names the frame in a step's scope
    if (parent >= 0) {
      const Frame& p = frame(static_cast<std::uint32_t>(parent));
      f.quiet = p.quiet || distributed(state_of(p));
    }
    f.last_event = parent >= 0 ? frame(static_cast<std::uint32_t>(parent)).last_event : ex.st.next_event_id - 1;
    return id;
  }

  void release(std::uint32_t id) {
    Frame& f = frame(id);
    f = Frame{};
    f.id = id;
    ex.st.free_frames.push_back(id);
  }

  // Releases a frame and every frame below it: running, halted or waiting
  // to be relaunched.
  void release_tree(std::uint32_t id) {
    Frame& f = frame(id);
    for (const auto* list : {&f.children, &f.halted, &f.relaunch})
      for (auto c : *list) release_tree(c);
    release(id);
  }

  // The ...StateAborted event of a frame whose state was in progress.
  void emit_state_aborted(Frame& f) {
    if (f.entered && (f.phase == FramePhase::Task || f.phase == FramePhase::Timer || f.phase == FramePhase::Children)) {
      const State& s = state_of(f);
      static const char* names[] = {"TaskStateAborted", nullptr, nullptr, "WaitStateAborted", nullptr, nullptr,
                                    "ParallelStateAborted", "MapStateAborted", nullptr};
      if (const char* n = names[static_cast<int>(s.type)]) emit(&f, n);
    }
  }

  // A frame's ...StateAborted event and, for an iteration of an inline Map,
  // the MapIterationAborted that follows it.
  void emit_frame_aborted(Frame& f) {
    emit_state_aborted(f);
    if (f.parent < 0) return;
    Frame& p = frame(static_cast<std::uint32_t>(f.parent));
    const State& ps = state_of(p);
    if (ps.type != StateType::Map || distributed(ps)) return;
    emit(&p, "MapIterationAborted", [&](std::string& d) {
      iteration_details(d, "mapIterationAbortedEventDetails", ps.name, f.slot);
    });
  }

  // Stops a frame and everything below it (a failed sibling branch, a
  // Map over its failure threshold, an execution that ended).
  void abort_frame(std::uint32_t id) {
    Frame& f = frame(id);
    for (auto c : f.children) abort_frame(c);
    f.children.clear();
    emit_frame_aborted(f);
    release_tree(id);
  }

  // Writes the ...StateAborted events of a frame and everything below it,
  // children first, leaving the frames as they are (a stopped execution
  // keeps where it stood, for redrive).
  void emit_aborted(std::uint32_t id) {
    Frame& f = frame(id);
    for (auto c : f.children) emit_aborted(c);
    emit_frame_aborted(f);
  }

  // ---- Keeping what a redrive needs ---------------------------------------
  //
  // Only an execution that reports its snapshots (on_transition) can be
  // redriven, so only such a run pays for it: a failed branch or iteration,
  // and the siblings aborted with it, are halted rather than released, and a
  // state that rewrites its frame's input in place keeps a copy of its raw
  // input until it has left (see raw_backup).

  bool keep_for_redrive() const { return ex.hooked; }

  // abort_frame, keeping the frames: events as abort_frame writes them, then
  // the frame is halted (phase Done) with what it had done; its own running
  // children become its halted ones.
  void halt_tree(std::uint32_t id) {
    Frame& f = frame(id);
    for (auto c : f.children) halt_tree(c);
    f.halted.insert(f.halted.end(), f.children.begin(), f.children.end());
    f.children.clear();
    emit_frame_aborted(f);
    halt(f);
  }

  // A frame that stopped: stale its pending completion or timer.
  static void halt(Frame& f) {
    f.phase = FramePhase::Done;
    f.token = 0;
  }

  // Stops a Parallel/Map frame's running children after a failure: halted
  // under it when keeping for a redrive, else released with the frame's
  // progress (as if the state had never run).
  void stop_children(std::uint32_t pid) {
    Frame& p = frame(pid);
    if (!keep_for_redrive()) {
      for (auto x : p.children) abort_frame(x);
      p.children.clear();
      discard_progress(pid);
      return;
    }
    for (auto x : p.children) halt_tree(x);
    p.halted.insert(p.halted.end(), p.children.begin(), p.children.end());
    p.halted.insert(p.halted.end(), p.relaunch.begin(), p.relaunch.end());  // a redrive's not run yet
    p.children.clear();
    p.relaunch.clear();
  }

  // Forgets a Parallel/Map frame's progress (the state is left, retried or
  // run anew): its halted children are released, its counters cleared.
  void discard_progress(std::uint32_t fid) {
    Frame& f = frame(fid);
    for (const auto* list : {&f.halted, &f.relaunch})
      for (auto c : *list) release_tree(c);
    f.halted.clear();
    f.relaunch.clear();
    f.rerun = false;
    f.total = f.launched = f.succeeded = f.failed = f.running = 0;
    f.results = {};
    f.items = {};
  }

  // The raw input of the state running in one frame, copied before the
  // state rewrites the frame's input in place (ResultPath, OutputPath), so
  // that if the state then fails the frame shows the input it was entered
  // with: a redrive runs the state again with it. Valid while that state
  // runs within this step.
  // It is kept in one of two ways. Copied (or moved, when the state
  // replaces its input whole) into `input`; or, when all the state changes
  // is what its ResultPath puts in place, as what undoes that assignment
  // (`path` and `undo`): the value it replaced is moved out, nothing copied.
  struct RawBackup {
    std::uint32_t frame = kNoFrame;
    std::int64_t entered_event = 0;
    json::value input;
    const states::JsonPath* path = nullptr;
    states::JsonPath::AssignUndo undo;
  } raw_backup;

  void keep_raw_input(const Frame& f) {
    if (!keep_for_redrive()) return;
    raw_backup.frame = f.id;
    raw_backup.entered_event = f.entered_event;
    raw_backup.input = f.input;
    raw_backup.path = nullptr;
  }

  // f.input = v, keeping the raw input (moved, not copied) when kept.
  void replace_input(Frame& f, json::value&& v) {
    if (keep_for_redrive()) {
      raw_backup.frame = f.id;
      raw_backup.entered_event = f.entered_event;
      raw_backup.input = std::move(f.input);
      raw_backup.path = nullptr;
    }
    f.input = std::move(v);
  }

  // ResultPath, then OutputPath, on the frame's input in place. The raw
  // input is kept for a redrive (raw_backup), as an undo of the ResultPath
  // when that is the only change, else as a copy. On failure the input is
  // as it was (ResultPath) or is put back by restore_raw_input (OutputPath).
  std::optional<Failure> place_result(Frame& f, const State& s, json::value&& result, const json::value& ctx) {
    const ResultPathSpec& rp = s.result_path;
    if (!keep_for_redrive() || rp.kind == ResultPathSpec::Kind::Discard) {
      if (auto bad = apply_result_path_in_place(rp, f.input, std::move(result))) return bad;
    } else if (!whole(s.output_path)) {
      keep_raw_input(f);
      if (auto bad = apply_result_path_in_place(rp, f.input, std::move(result))) return bad;
    } else if (rp.kind == ResultPathSpec::Kind::Replace || rp.path->is_root()) {
      replace_input(f, std::move(result));
    } else {
      raw_backup.undo.old = nullptr;
      if (!rp.path->assign(f.input, std::move(result), raw_backup.undo)) return reference_path_conflict(rp, f.input);
      raw_backup.frame = f.id;
      raw_backup.entered_event = f.entered_event;
      raw_backup.input = nullptr;
      raw_backup.path = &*rp.path;
      return std::nullopt;  // OutputPath is whole
    }
    return apply_path_in_place(s.output_path, f.input, ctx);
  }

  // The state of frame `fid` failed: put its raw input back if it was kept.
  void restore_raw_input(std::uint32_t fid) {
    if (raw_backup.frame != fid) return;
    Frame& f = frame(fid);
    if (f.in_use && f.entered && f.entered_event == raw_backup.entered_event) {
      if (raw_backup.path) {
        raw_backup.path->undo_assign(f.input, std::move(raw_backup.undo));
      } else {
        f.input = std::move(raw_backup.input);
      }
    }
    drop_raw_input();
  }

  void drop_raw_input() {
    raw_backup.frame = kNoFrame;
    raw_backup.input = nullptr;
    raw_backup.path = nullptr;
    raw_backup.undo.old = nullptr;
  }

  // A Distributed Map run's ARN, as AWS forms it
  // (arn:aws:states:REGION:ACCOUNT:mapRun:MACHINE/LABEL:ID, the label being
  // the state's Label or its name). The ID is derived from the execution and
  // the state's entry, so it is stable across replays and resumes.
  std::string map_run_arn(const Frame& f, const State& s) const {
    const auto& spec = s.as<states::MapSpec>();
    // A retried Map starts a map run of its own (the retry count joins the seed).
    SeededRandom r(fnv1a(ex.st.arn) ^ static_cast<std::uint64_t>(f.entered_event) ^
                   (static_cast<std::uint64_t>(f.retry_count) * 0x9E3779B97F4A7C15ULL));
    return "arn:aws:states:" + E.opts.region + ":" + E.opts.account + ":mapRun:" + ex.st.state_machine_name + "/" +
           (spec.label ? *spec.label : s.name) + ":" + uuid4(r);
  }

  static bool distributed(const State& s) {
    return s.type == StateType::Map && s.as<states::MapSpec>().mode == "DISTRIBUTED";
  }

  // ---- Context object ($$) ---------------------------------------------

  json::value context(const Frame& f, const State& s, const json::value* map_item = nullptr,
                      std::int64_t map_index = 0) const {
    json::object exo;
    exo["Id"] = ex.st.arn;
    exo["Input"] = ex.st.input;
    exo["StartTime"] = ex.st.start_time_text;
    exo["Name"] = ex.st.name;
    exo["RoleArn"] = ex.st.role_arn;
    if (ex.options.type != RunOptions::Type::ExpressSync) {
      exo["RedriveCount"] = ex.st.redrive_count;
      // Present only once the execution has been redriven.
      if (ex.st.redrive_count > 0) exo["RedriveTime"] = states::format_timestamp(ex.st.redrive_time);
    }
    json::object sm;
    sm["Id"] = ex.st.state_machine_arn;
    sm["Name"] = ex.st.state_machine_name;
    json::object so;
    so["Name"] = s.name;
    so["EnteredTime"] = states::format_timestamp(f.entered_time);
    if (s.type == StateType::Task) so["RetryCount"] = f.retry_count;
    json::object root;
    root["Execution"] = std::move(exo);
    root["StateMachine"] = std::move(sm);
    root["State"] = std::move(so);
    // Only a callback reads its token in the context ($$.Task.Token); an
    // activity's token reaches its worker through GetActivityTask.
    if (f.task_token && !(s.type == StateType::Task && is_activity_resource(s.as<states::TaskSpec>().resource))) {
      json::object t;
      t["Token"] = *f.task_token;
      root["Task"] = std::move(t);
    }
    if (map_item) {
      json::object item;
      item["Index"] = map_index;
      item["Value"] = *map_item;
      json::object m;
      m["Item"] = std::move(item);
      root["Map"] = std::move(m);
    }
    return root;
  }

  bool uses_context(const Frame& f) const { return ex.plan->uses_context[f.machine][f.state]; }


  // ---- Workflow variables -------------------------------------------------

  // The variables a frame sees: its own scope, then the enclosing ones up to
  // the top level. A distributed Map's children start a scope of their own.
  struct FrameVars final : states::VariableLookup {
    const Interp* in = nullptr;
    std::uint32_t frame = 0;
    const json::value* find(std::string_view name) const override {
      const auto& frames = in->ex.st.frames;
      for (std::uint32_t id = frame;;) {
        const Frame& f = frames[id];
        if (const json::value* v = f.variables.if_contains(name)) return v;
        if (f.parent < 0) return nullptr;
        id = static_cast<std::uint32_t>(f.parent);
        if (distributed(in->state_of(frames[id]))) return nullptr;
      }
    }
  };
  FrameVars vars_ = make_vars();
  FrameVars make_vars() const {
    FrameVars v;
    v.in = this;
    return v;
  }

  // Points variable lookups at the frame whose state runs now.
  void focus(std::uint32_t fid) { vars_.frame = fid; }

  // Assignments evaluated by the running state, applied when it is left
  // (every Assign and Output of a state sees the variables as they were when
  // it was entered).
  json::object staged_;
  std::size_t staged_bytes_ = 0;  // the serialized size of the staged values
  bool has_staged_ = false;

  static constexpr std::size_t kVariableLimit = 256 * 1024;           // one variable, and one Assign
  static constexpr std::size_t kExecutionVariablesLimit = 10 << 20;  // all variables of an execution

  // What JSONata expressions of the state in frame `f` read.
  states::QueryInputs query_inputs(const json::value* input, const json::value& ctx) const {
    states::QueryInputs q;
    q.input = input;
    q.context = ctx.is_null() ? nullptr : &ctx;
    q.vars = &vars_;
    q.random = E.random.get();
    // $now() and $millis() read the time the state was entered: one clock
    // read per state, and the same value for every expression of the state.
    q.now_millis = ex.st.frames[vars_.frame].entered_time / 1000000;
    return q;
  }

  // Evaluates an Assign (JSONPath: against `scope`; JSONata: with `q`) into
  // the staged assignments.
  std::optional<Failure> stage_assign(const states::AssignSpec& a, const Scope& scope, const states::QueryInputs& q) {
    Result<json::value> r = a.path ? a.path->evaluate(scope) : a.query->evaluate(q, "Assign");
    if (!r) return std::move(r.failure());
    if (!r->is_object()) return std::nullopt;
    std::size_t total = 0;
    for (const auto& kv : r->get_object()) {
      const std::size_t size = json_size(kv.value());
      if (size > kVariableLimit)
        return Failure{"States.DataLimitExceeded",
                       "The variable '" + std::string(kv.key()) +
                           "' has a size exceeding the maximum number of bytes service limit.",
                       true};
      total += size;
    }
    if (total > kVariableLimit)
      return Failure{"States.DataLimitExceeded",
                     "The assigned variables have a size exceeding the maximum number of bytes service limit.", true};
    staged_ = std::move(r->get_object());
    staged_bytes_ = total;
    has_staged_ = true;
    return std::nullopt;
  }

  void drop_staged() {
    if (!has_staged_) return;  // the usual case: nothing to free
    staged_ = {};
    has_staged_ = false;
  }

  // Applies the staged assignments to the frame's scope, checking the limit
  // on all variables of the execution: every scope alive now (the top
  // level's, and each running Parallel branch's and Map iteration's).
  std::optional<Failure> commit_staged(Frame& f) {
    if (!has_staged_) return std::nullopt;
    // The staged values are still written to history (append_assigned) when it is recorded.
    const bool keep = recording();
    for (auto& kv : staged_) f.variables[kv.key()] = keep ? kv.value() : std::move(kv.value());
    // ExecutionState::variables_bound only grows with what is assigned
    // (replaced values and released scopes are not taken off), so it stays an
    // upper bound; the exact sum is measured only when the bound passes the
    // limit, and then becomes the bound.
    std::size_t& bound = ex.st.variables_bound.bytes;
    if (bound != ExecutionState::kUnknownBytes) bound += staged_bytes_;
    if (bound <= kExecutionVariablesLimit) return std::nullopt;
    bound = 0;
    for (const Frame& g : ex.st.frames)
      if (g.in_use && !g.variables.empty()) bound += json_size(g.variables);
    if (bound > kExecutionVariablesLimit)
      return Failure{"States.DataLimitExceeded",
                     "The execution's variables have a size exceeding the maximum number of bytes service limit.",
                     true};
    return std::nullopt;
  }

  // Adds the staged assignments to a ...StateExited event's details text `d`
  // ({"stateExitedEventDetails":{...}}) as AWS records them.
  void append_assigned(std::string& d) const {
    if (!has_staged_ || d.size() < 2) return;
    d.resize(d.size() - 2);  // the closing braces of the details member and of the event's details
    d += ",\"assignedVariables\":{";
    bool first = true;
    for (const auto& kv : staged_) {
      if (!first) d += ',';
      first = false;
      append_json_string(d, kv.key());
      d += ':';
      append_json_as_string(d, kv.value());
    }
    d += "},\"assignedVariablesDetails\":{\"truncated\":false}}}";
  }

  // A JSONata state's Output (or the default output when it has none).
  Result<json::value> query_output(const std::optional<states::QueryTemplate>& output, const states::QueryInputs& q,
                                   json::value fallback) {
    if (!output) return fallback;
    return output->evaluate(q, "Output");
  }

  // ---- Paths (ASL "Input and Output Processing") ------------------------

  // The value a path starts from: the input, the context object or a
  // variable (nullptr when it is not set).
  const json::value* root_of(const JsonPath& p, const json::value& input, const json::value& ctx) const {
    if (p.is_context()) return &ctx;
    if (p.is_variable()) return vars_.find(p.variable());
    return &input;
  }

  Result<json::value> select(const JsonPath& p, const json::value& input, const json::value& ctx) const {
    std::string miss;
    const json::value* root = root_of(p, input, ctx);
    if (!root) return runtime_failure("Invalid path '" + p.text() + "' : The variable '" + p.variable() + "' is not set");
    auto v = p.select(*root, &miss);
    if (!v) return runtime_failure("Invalid path '" + p.text() + "' : " + miss);
    return std::move(*v);
  }

  // Whether the path selects its whole input ("$", or no path).
  static bool whole(const PathSpec& p) {
    return p.kind == PathSpec::Kind::Whole ||
           (p.kind == PathSpec::Kind::Path && p.path->is_root() && !p.path->is_context() && !p.path->is_variable());
  }

  // The effective input after InputPath, without copying the raw input: points
  // at `input` for "$", else at `holder`, which receives the selection.
  Result<const json::value*> input_view(const PathSpec& p, const json::value& input, const json::value& ctx,
                                        json::value& holder) const {
    switch (p.kind) {
      case PathSpec::Kind::Whole: return &input;
      case PathSpec::Kind::Empty: holder = json::object(); return &holder;
      case PathSpec::Kind::Path: {
        if (p.path->is_root() && !p.path->is_context() && !p.path->is_variable()) return &input;
        auto v = select(*p.path, input, ctx);
        if (!v) return v.failure();
        holder = std::move(*v);
        return &holder;
      }
    }
    return &input;
  }

  // InputPath, then Parameters: what a Task sends and a Parallel gives each
  // branch. The raw input is left as it is (Retry and Catch need it).
  Result<json::value> effective_input(const State& s, const json::value& input, const json::value& ctx) const {
    json::value holder;
    auto eff = input_view(s.input_path, input, ctx, holder);
    if (!eff) return eff.failure();
    if (s.parameters) return s.parameters->evaluate(Scope{**eff, ctx, E.random.get(), &vars_});
    return *eff == &holder ? std::move(holder) : **eff;
  }

  // InputPath / OutputPath. `v` is consumed.
  Result<json::value> apply_path(const PathSpec& p, json::value v, const json::value& ctx) const {
    switch (p.kind) {
      case PathSpec::Kind::Whole: return v;
      case PathSpec::Kind::Empty: return json::value(json::object());
      case PathSpec::Kind::Path:
        if (p.path->is_root() && !p.path->is_context() && !p.path->is_variable()) return v;
        return select(*p.path, v, ctx);
    }
    return v;
  }

  // AWS reports a ResultPath that cannot be applied (e.g. "$.x" on a string
  // input) as States.ReferencePathConflict, not the documented
  // States.ResultPathMatchFailure.
  static Failure reference_path_conflict(const ResultPathSpec& rp, const json::value& input) {
    return Failure{"States.ReferencePathConflict",
                   "Unable to apply ReferencePath " + rp.path->text() + " to input " + to_json(input), false};
  }

  // ResultPath, updating `input` in place (no copies or moves of the state's
  // data). On failure `input` is unchanged, so a Catch still sees the raw input.
  std::optional<Failure> apply_result_path_in_place(const ResultPathSpec& rp, json::value& input,
                                                    json::value&& result) const {
    switch (rp.kind) {
      case ResultPathSpec::Kind::Replace: input = std::move(result); return std::nullopt;
      case ResultPathSpec::Kind::Discard: return std::nullopt;
      case ResultPathSpec::Kind::Path: {
        if (rp.path->is_root()) {
          input = std::move(result);
          return std::nullopt;
        }
        if (!rp.path->assign(input, std::move(result), nullptr)) return reference_path_conflict(rp, input);
        return std::nullopt;
      }
    }
    return std::nullopt;
  }

  // apply_path (OutputPath), updating `v` in place.
  std::optional<Failure> apply_path_in_place(const PathSpec& p, json::value& v, const json::value& ctx) const {
    switch (p.kind) {
      case PathSpec::Kind::Whole: return std::nullopt;
      case PathSpec::Kind::Empty: v = json::object(); return std::nullopt;
      case PathSpec::Kind::Path: {
        if (p.path->is_root() && !p.path->is_context() && !p.path->is_variable()) return std::nullopt;
        auto selected = select(*p.path, v, ctx);
        if (!selected) return std::move(selected.failure());
        v = std::move(*selected);
        return std::nullopt;
      }
    }
    return std::nullopt;
  }

  // The value Catch passes on: {"Error": ..., "Cause": ...}, null where absent.
  static json::value error_output(const Failure& f) {
    json::object err;
    err["Error"] = f.has_error ? json::value(f.error) : json::value();
    err["Cause"] = f.has_cause ? json::value(f.cause) : json::value();
    return err;
  }

  bool over_limit(const json::value& v) const { return json_size(v) > E.opts.payload_limit; }

  // `who` is the state's name, or a task's resource for a task's result.
  Failure data_limit(const std::string& who) const {
    return Failure{"States.DataLimitExceeded",
                   "The state/task '" + who +
                       "' returned a result with a size exceeding the maximum number of bytes service limit.",
                   false};
  }

  // ---- Ending things ----------------------------------------------------

  void prefix_cause(Failure& f, const Frame& fr, const State& s) const {
    if (!f.in_state) return;
    f.cause = "An error occurred while executing the state '" + s.name + "' (entered at the event id #" +
              std::to_string(fr.entered_event) + "). " + f.cause;
    f.in_state = false;
  }

  void end_execution(ExecutionStatus status) {
    ex.st.status = status;
    for (auto& f : ex.st.frames) f.token = 0;  // stale every pending completion and timer
    E.complete(ex);
  }

  void execution_succeeded(json::value output) {
    emit(nullptr, "ExecutionSucceeded", [&](std::string& d) {
      payload_details(d, "executionSucceededEventDetails", "output", output);
    });
    ex.st.output = std::move(output);
    end_execution(ExecutionStatus::Succeeded);
  }

  void execution_failed(const Failure& f, ExecutionStatus status = ExecutionStatus::Failed, bool rolled_back = false) {
    // The state that failed (if it was rewriting its input) shows its raw input.
    if (raw_backup.frame != kNoFrame) restore_raw_input(raw_backup.frame);
    // Nothing caught the error: completed steps are rolled back first (sagas).
    if (status == ExecutionStatus::Failed && !rolled_back && E.saga_fail(ex, f)) return;
    const char* type = status == ExecutionStatus::TimedOut ? "ExecutionTimedOut" : "ExecutionFailed";
    const char* key =
        status == ExecutionStatus::TimedOut ? "executionTimedOutEventDetails" : "executionFailedEventDetails";
    emit(nullptr, type, [&](json::object& d) {
      json::object det;
      if (f.has_error) det["error"] = f.error;
      if (f.has_cause) det["cause"] = f.cause;
      d[key] = std::move(det);
    });
    ex.st.error = f.error;
    ex.st.cause = f.cause;
    ex.st.has_error = f.has_error;
    ex.st.has_cause = f.has_cause;
    end_execution(status);
  }

  // The frame's machine reached End (or a Succeed state).
  void frame_succeeded(std::uint32_t fid, json::value output) {
    Frame& f = frame(fid);
    if (f.parent < 0) {
      execution_succeeded(std::move(output));
      return;
    }
    child_ended(fid, true, std::move(output), {});
  }

  void frame_failed(std::uint32_t fid, Failure failure) {
    restore_raw_input(fid);
    Frame& f = frame(fid);
    if (f.parent < 0) {
      execution_failed(failure);
      return;
    }
    child_ended(fid, false, {}, std::move(failure));
  }

  // A state failed. Runtime errors end the execution; others go through the
  // state's Retry and Catch (ASL "Error Handling"), then up to the parent.
  // Returns true when the frame is ready to advance (caught).
  // `final_event` ("ParallelStateFailed", "MapStateFailed") is written once
  // the state is not retried.
  bool state_failed(std::uint32_t fid, const State& s, Failure failure, const char* final_event = nullptr) {
    restore_raw_input(fid);  // Retry and Catch see the raw input
    Frame& f = frame(fid);
    const bool container = s.type == StateType::Parallel || s.type == StateType::Map;
    prefix_cause(failure, f, s);
    if (failure.error == "States.Runtime") {
      execution_failed(failure);
      return false;
    }
    for (std::size_t i = 0; i < s.retry.size(); ++i) {
      const auto& r = s.retry[i];
      if (!error_matches(r.errors, failure.error)) continue;
      if (f.attempts.size() < s.retry.size()) f.attempts.resize(s.retry.size(), 0);
      if (f.attempts[i] < static_cast<std::uint32_t>(r.max_attempts)) {
        double delay = r.interval_seconds * std::pow(r.backoff_rate, static_cast<double>(f.attempts[i]));
        if (r.max_delay_seconds) delay = std::min(delay, *r.max_delay_seconds);
        if (r.jitter == states::Jitter::Full) {
          double u = static_cast<double>(E.random->next_u64() >> 11) * (1.0 / 9007199254740992.0);
          delay *= u;
        }
        if (container) discard_progress(fid);  // a retry runs every branch or iteration again
        ++f.attempts[i];
        ++f.retry_count;
        f.phase = FramePhase::Timer;
        f.timer = TimerKind::Retry;
        f.token = ex.st.next_token++;
        f.due = now() + seconds_to_nanos(delay);
        E.arm(f.due, Wakeup{ex.key, fid, f.token, Wakeup::Kind::Timer, {}});
        return false;
      }
      break;  // the matching retrier is exhausted: on to the catchers
    }
    if (final_event) emit(&f, final_event);
    if (final_event && distributed(s)) {
      emit(&f, "MapRunFailed", [&](json::object& d) {
        json::object det;
        if (failure.has_error) det["error"] = failure.error;
        if (failure.has_cause) det["cause"] = failure.cause;
        d["mapRunFailedEventDetails"] = std::move(det);
      });
    }
    for (const auto& c : s.catches) {
      if (!error_matches(c.errors, failure.error)) continue;
      json::value err = error_output(failure);
      // The catcher's Assign replaces the state's; both it and a JSONata
      // catcher's Output read the error output.
      drop_staged();
      focus(fid);
      if (c.assign || s.jsonata) {
        json::value ctx = s.jsonata && uses_context(f) ? context(f, s) : json::value();
        states::QueryInputs q = query_inputs(&f.input, ctx);
        q.error_output = &err;
        std::optional<Failure> bad;
        if (c.assign) bad = stage_assign(*c.assign, Scope{err, ctx, E.random.get(), &vars_}, q);
        if (!bad && s.jsonata) {
          if (c.output) {
            auto out = c.output->evaluate(q, "Output");
            if (out) f.input = std::move(*out);
            else bad = std::move(out.failure());
          } else {
            f.input = std::move(err);
          }
        }
        if (bad) {
          drop_staged();
          if (bad->error == "States.QueryEvaluationError") evaluation_failed(f, s, *bad);
          prefix_cause(*bad, f, s);
          execution_failed(*bad);
          return false;
        }
      }
      if (!s.jsonata) {
        if (auto bad = apply_result_path_in_place(c.result_path, f.input, std::move(err))) {
          drop_staged();
          prefix_cause(*bad, f, s);
          execution_failed(*bad);
          return false;
        }
      }
      if (auto bad = commit_staged(f)) {
        drop_staged();
        prefix_cause(*bad, f, s);
        execution_failed(*bad);
        return false;
      }
      emit(&f, exited_name(s.type), [&](std::string& d) {
        payload_details(d, "stateExitedEventDetails", "output", f.input, &s.name);
        append_assigned(d);
      });
      drop_staged();
      if (container) discard_progress(fid);
      if (s.compensate) f.effective = nullptr;  // a Parallel's input kept for its compensation
      f.state = c.next;
      f.entered = false;
      f.phase = FramePhase::Ready;
      return true;
    }
    frame_failed(fid, std::move(failure));
    return false;
  }

  // The state produced its output: leave it, then End or go to Next.
  // Returns true when the frame continues with its next state.
  bool transition(std::uint32_t fid, const State& s, json::value output, states::StateIndex next) {
    frame(fid).input = std::move(output);
    return leave(fid, s, next);
  }

  // transition() for a state whose output is already in the frame's input.
  bool leave(std::uint32_t fid, const State& s, states::StateIndex next) {
    Frame& f = frame(fid);
    json::value& output = f.input;
    if (over_limit(output)) {
      drop_staged();
      execution_failed(data_limit(s.name));
      return false;
    }
    if (auto bad = commit_staged(f)) {
      drop_staged();
      prefix_cause(*bad, f, s);
      execution_failed(*bad);
      return false;
    }
    if (raw_backup.frame == fid) drop_raw_input();
    // The frame's next state enters with this output as its input: its
    // StateEntered event reuses the text (see enter()).
    auto& kept = E.exited_payload;
    const Nanos at = recording() ? now() : 0;  // 0: emit() reads no clock when nothing is recorded
    const std::int64_t exited = emit(
        &f, exited_name(s.type),
        [&](std::string& d) {
          payload_details(d, "stateExitedEventDetails", "output", output, &s.name,
                          next == states::kNoState ? nullptr : &kept.text);
          append_assigned(d);
        },
        at);
    if (next != states::kNoState && exited != 0 && recording()) {
      kept.exec = ex.key;
      kept.frame = fid;
      kept.event = exited;
      kept.time = at;
    }
    drop_staged();
    if (next == states::kNoState) {
      frame_succeeded(fid, std::move(output));
      return false;
    }
    f.state = next;
    f.entered = false;
    return true;
  }

  // ---- Entering a state ---------------------------------------------------

  void enter(Frame& f, const State& s) {
    // Right after the frame left its previous state (no event in between),
    // it enters this one at that instant, and its input is that state's
    // output, already written once.
    auto& kept = E.exited_payload;
    const bool reuse = kept.exec == ex.key && kept.frame == f.id && kept.event + 1 == ex.st.next_event_id;
    f.entered = true;
    f.entered_time = reuse ? kept.time : now();
    f.retry_count = 0;
    f.call_index = 0;
    f.attempts.assign(s.retry.size(), 0);
    f.task_token.reset();
    ++ex.st.states_entered;
    f.entered_event = emit(
        &f, entered_name(s.type),
        [&](std::string& d) {
          payload_details(d, "stateEnteredEventDetails", "input", f.input, &s.name, nullptr,
                          reuse ? &kept.text : nullptr);
        },
        f.entered_time);
    kept.exec = 0;
  }

  // Runs the current state of a ready frame. Returns true when the frame moved
  // on to another state and is still ready.
  bool run_state(std::uint32_t fid) {
    Frame& f = frame(fid);
    const State& s = state_of(f);
    if (!f.entered) enter(f, s);
    switch (s.type) {
      case StateType::Pass: return run_pass(fid, s);
      case StateType::Choice: return run_choice(fid, s);
      case StateType::Wait: return run_wait(fid, s);
      case StateType::Succeed: return run_succeed(fid, s);
      case StateType::Fail: return run_fail(fid, s);
      case StateType::Task: return run_task(fid, s);
      case StateType::Parallel: return run_parallel(fid, s);
      case StateType::Map: return run_map(fid, s);
      case StateType::Compensate: return run_compensate(fid, s);
    }
    return false;
  }

  // Fails the current state with a failure raised by the interpreter.
  bool fail_here(std::uint32_t fid, const State& s, Failure failure) {
    drop_staged();
    const bool query_error = failure.error == "States.QueryEvaluationError";
    if (query_error) evaluation_failed(frame(fid), s, failure);
    if (s.type == StateType::Task || s.type == StateType::Parallel || s.type == StateType::Map)
      return state_failed(fid, s, std::move(failure),
                          query_error && s.type == StateType::Map ? "MapStateFailed" : nullptr);
    prefix_cause(failure, frame(fid), s);
    if (failure.error == "States.Runtime" || failure.error == "States.DataLimitExceeded") {
      execution_failed(failure);
      return false;
    }
    frame_failed(fid, std::move(failure));
    return false;
  }

  // The EvaluationFailed event AWS writes when a JSONata expression fails.
  void evaluation_failed(Frame& f, const State& s, const Failure& failure) {
    emit(&f, "EvaluationFailed", [&](json::object& d) {
      Failure shown = failure;
      prefix_cause(shown, f, s);
      json::object det;
      det["error"] = shown.error;
      det["cause"] = shown.cause;
      det["state"] = s.name;
      d["evaluationFailedEventDetails"] = std::move(det);
    });
  }

  // ---- JSONata states -----------------------------------------------------

  // The end of a JSONata state: Assign and Output (both seeing the variables
  // as the state found them, $states.result set when there is a result),
  // then leave. Without Output the state's output is its result, or its input.
  bool finish_query(std::uint32_t fid, const State& s, json::value* result, const states::AssignSpec* assign,
                    const std::optional<states::QueryTemplate>& output, states::StateIndex next) {
    Frame& f = frame(fid);
    focus(fid);
    json::value ctx = (assign || output) && uses_context(f) ? context(f, s) : json::value();
    states::QueryInputs q = query_inputs(&f.input, ctx);
    q.result = result;
    if (assign) {
      if (auto bad = stage_assign(*assign, Scope{f.input, ctx, E.random.get(), &vars_}, q))
        return fail_here(fid, s, std::move(*bad));
    }
    // Past this point only the execution can fail (the output over the size
    // limit): a redrive runs the state again with its raw input, kept here.
    if (output) {
      auto out = output->evaluate(q, "Output");
      if (!out) return fail_here(fid, s, std::move(out.failure()));
      replace_input(f, std::move(*out));
    } else if (result) {
      replace_input(f, std::move(*result));
    }
    return leave(fid, s, next);
  }

  // AWS's error for a JSONata field whose value has the wrong type.
  static Failure unexpected_query_type(const states::QueryExpression& e, const char* field, const char* expected,
                                       const json::value& v) {
    return states::query_failure("The JSONata expression '" + e.text() + "' specified for the field '" + field +
                                 "' returned an unexpected result type. Expected '" + expected + "', but was '" +
                                 json_type_name(v) + "' for value: " + to_json(v));
  }

  // An integer from a JSONata expression (TimeoutSeconds, MaxConcurrency, ...).
  Result<std::optional<std::int64_t>> query_integer(const std::optional<states::QueryExpression>& e,
                                                    const char* field, const states::QueryInputs& q) {
    if (!e) return std::optional<std::int64_t>();
    auto v = e->evaluate(q, field);
    if (!v) return std::move(v.failure());
    auto n = as_integer(*v);
    if (!n) return unexpected_query_type(*e, field, "integer", *v);
    return std::optional<std::int64_t>(*n);
  }

  Result<std::optional<double>> query_float(const std::optional<states::QueryExpression>& e, const char* field,
                                            const states::QueryInputs& q) {
    if (!e) return std::optional<double>();
    auto v = e->evaluate(q, field);
    if (!v) return std::move(v.failure());
    auto n = as_number(*v);
    if (!n) return unexpected_query_type(*e, field, "number", *v);
    return std::optional<double>(*n);
  }

  // ---- Pass ---------------------------------------------------------------

  bool run_pass(std::uint32_t fid, const State& s) {
    focus(fid);
    if (s.jsonata)
      return finish_query(fid, s, nullptr, s.assign ? &*s.assign : nullptr, s.output, s.end ? states::kNoState : s.next);
    Frame& f = frame(fid);
    const auto& spec = s.as<states::PassSpec>();
    json::value ctx = uses_context(f) ? context(f, s) : json::value();
    json::value result;
    if (spec.result) {
      // Result replaces the effective input; InputPath still has to match.
      if (s.input_path.kind == PathSpec::Kind::Path) {
        json::value holder;
        auto eff = input_view(s.input_path, f.input, ctx, holder);
        if (!eff) return fail_here(fid, s, eff.failure());
      }
      result = *spec.result;
    } else {
      json::value holder;
      auto eff = input_view(s.input_path, f.input, ctx, holder);
      if (!eff) return fail_here(fid, s, eff.failure());
      if (s.parameters) {
        auto p = s.parameters->evaluate(Scope{**eff, ctx, E.random.get(), &vars_});
        if (!p) return fail_here(fid, s, p.failure());
        result = std::move(*p);
      } else if (*eff == &holder) {
        result = std::move(holder);
      } else if (s.result_path.kind == ResultPathSpec::Kind::Replace) {
        // The result is the raw input, which it replaces: the input stays
        // as it is (Assign reads it there), only OutputPath applies.
        if (s.assign) {
          if (auto bad = stage_assign(*s.assign, Scope{f.input, ctx, E.random.get(), &vars_}, {}))
            return fail_here(fid, s, std::move(*bad));
        }
        if (auto bad = apply_path_in_place(s.output_path, f.input, ctx)) return fail_here(fid, s, std::move(*bad));
        return leave(fid, s, s.end ? states::kNoState : s.next);
      } else {
        result = f.input;
      }
    }
    // Assign reads the state's result.
    if (s.assign) {
      if (auto bad = stage_assign(*s.assign, Scope{result, ctx, E.random.get(), &vars_}, {}))
        return fail_here(fid, s, std::move(*bad));
    }
    if (auto bad = place_result(f, s, std::move(result), ctx)) return fail_here(fid, s, std::move(*bad));
    return leave(fid, s, s.end ? states::kNoState : s.next);
  }

  // ---- Choice -------------------------------------------------------------

  bool run_query_choice(std::uint32_t fid, const State& s) {
    Frame& f = frame(fid);
    const auto& spec = s.as<states::ChoiceSpec>();
    json::value ctx = uses_context(f) ? context(f, s) : json::value();
    states::QueryInputs q = query_inputs(&f.input, ctx);
    for (const auto& b : spec.choices) {
      auto r = b.condition->evaluate(q, "Condition");
      if (!r) return fail_here(fid, s, std::move(r.failure()));
      if (!r->is_bool())
        return fail_here(fid, s,
                         states::query_failure("The JSONata expression '" + b.condition->text() +
                                               "' specified for the field 'Condition' returned an unexpected result "
                                               "type. Expected 'boolean', but was '" +
                                               json_type_name(*r) + "' for value: " + to_json(*r)));
      if (r->get_bool()) {
        // A matched rule's Assign and Output replace the state's.
        const states::AssignSpec* assign = b.assign ? &*b.assign : s.assign ? &*s.assign : nullptr;
        return finish_query(fid, s, nullptr, assign, b.output ? b.output : s.output, b.next);
      }
    }
    if (spec.default_next == states::kNoState) {
      return fail_here(fid, s,
                       Failure{"States.NoChoiceMatched",
                               "No Choice Rules matched and no Default was specified for the state '" + s.name + "'",
                               false});
    }
    return finish_query(fid, s, nullptr, s.assign ? &*s.assign : nullptr, s.output, spec.default_next);
  }

  bool run_choice(std::uint32_t fid, const State& s) {
    focus(fid);
    if (s.jsonata) return run_query_choice(fid, s);
    Frame& f = frame(fid);
    const auto& spec = s.as<states::ChoiceSpec>();
    json::value ctx = uses_context(f) ? context(f, s) : json::value();
    // The frame's input stays the raw input until the state is left (a
    // redrive evaluates the rules again on it).
    json::value holder;
    auto eff = input_view(s.input_path, f.input, ctx, holder);
    if (!eff) return fail_here(fid, s, eff.failure());
    states::StateIndex next = states::kNoState;
    const states::AssignSpec* assign = s.assign ? &*s.assign : nullptr;
    for (const auto& b : spec.choices) {
      auto r = b.rule->evaluate(Scope{**eff, ctx, E.random.get(), &vars_});
      if (!r) return fail_here(fid, s, r.failure());
      if (*r) {
        next = b.next;
        if (b.assign) assign = &*b.assign;  // a matched rule's Assign replaces the state's
        break;
      }
    }
    if (next == states::kNoState) next = spec.default_next;
    if (next != states::kNoState && assign) {
      if (auto bad = stage_assign(*assign, Scope{**eff, ctx, E.random.get(), &vars_}, {}))
        return fail_here(fid, s, std::move(*bad));
    }
    if (next == states::kNoState) {
      return fail_here(fid, s,
                       Failure{"States.NoChoiceMatched",
                               "No Choice Rules matched and no Default was specified for the state '" + s.name + "'",
                               false});
    }
    json::value out_holder;
    auto out = input_view(s.output_path, **eff, ctx, out_holder);
    if (!out) return fail_here(fid, s, out.failure());
    if (*out == &out_holder)
      f.input = std::move(out_holder);
    else if (*out == &holder)
      f.input = std::move(holder);
    return leave(fid, s, next);
  }

  // ---- Wait ---------------------------------------------------------------

  // The due time of a Wait whose Seconds or Timestamp is a literal, in
  // either query language; nullopt when it is a path or an expression.
  static std::optional<Result<Nanos>> literal_wait_due(const Frame& f, const states::WaitSpec& spec) {
    if (spec.seconds) return Result<Nanos>(f.entered_time + seconds_to_nanos(*spec.seconds));
    if (spec.timestamp) {
      auto t = states::parse_timestamp(*spec.timestamp);
      if (!t) {
        return Result<Nanos>(
            runtime_failure("The Timestamp field is not a valid ISO-8601 extended offset date-time: " + *spec.timestamp));
      }
      return Result<Nanos>(*t);
    }
    return std::nullopt;
  }

  Result<Nanos> wait_due(const Frame& f, const State& s, const json::value& eff, const json::value& ctx) {
    const auto& spec = s.as<states::WaitSpec>();
    if (auto literal = literal_wait_due(f, spec)) return std::move(*literal);
    if (spec.seconds_path) {
      const JsonPath& p = *spec.seconds_path;
      const json::value* root = root_of(p, eff, ctx);
      auto v = root ? p.select(*root) : std::nullopt;
      if (!v) return runtime_failure("The SecondsPath parameter does not reference an input value: " + p.text());
      auto n = as_integer(*v);
      if (!n) return runtime_failure("The SecondsPath parameter cannot be parsed as a long value: " + p.text() +
                                     " == " + bare_text(*v));
      if (*n < 0)
        return runtime_failure("The SecondsPath parameter references a negative value: " + p.text() + " == " +
                               bare_text(*v));
      if (*n > 2147483647LL) return runtime_failure("Wait state delay is too long.");
      return f.entered_time + *n * kNanosPerSecond;
    }
    const JsonPath& p = *spec.timestamp_path;
    const json::value* root = root_of(p, eff, ctx);
    auto v = root ? p.select(*root) : std::nullopt;
    if (!v) return runtime_failure("The TimestampPath parameter does not reference an input value: " + p.text());
    std::optional<states::EpochNanos> t;
    if (v->is_string()) t = states::parse_timestamp(v->get_string());
    if (!t)
      return runtime_failure(
          "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format "
          "string: " +
          p.text() + " == " + bare_text(*v));
    return *t;
  }

  // A JSONata Wait's due time, from Seconds or Timestamp.
  Result<Nanos> query_wait_due(const Frame& f, const State& s, const states::QueryInputs& q) {
    const auto& spec = s.as<states::WaitSpec>();
    if (auto literal = literal_wait_due(f, spec)) return std::move(*literal);
    if (spec.seconds_expression) {
      auto n = query_integer(spec.seconds_expression, "Seconds", q);
      if (!n) return std::move(n.failure());
      if (**n < 0)
        return states::query_failure("The JSONata expression '" + spec.seconds_expression->text() +
                                     "' specified for the field 'Seconds' returned a negative value: " +
                                     std::to_string(**n));
      if (**n > 2147483647LL) return runtime_failure("Wait state delay is too long.");
      return f.entered_time + **n * kNanosPerSecond;
    }
    if (spec.timestamp_expression) {
      auto v = spec.timestamp_expression->evaluate(q, "Timestamp");
      if (!v) return std::move(v.failure());
      std::optional<states::EpochNanos> t;
      if (v->is_string()) t = states::parse_timestamp(v->get_string());
      if (!t)
        return states::query_failure(
            "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: " +
            bare_text(*v));
      return *t;
    }
    return f.entered_time;
  }

  bool run_query_wait(std::uint32_t fid, const State& s) {
    Frame& f = frame(fid);
    if (f.timer == TimerKind::Wait) {  // the timer fired
      f.timer = TimerKind::None;
      return finish_query(fid, s, nullptr, s.assign ? &*s.assign : nullptr, s.output, s.end ? states::kNoState : s.next);
    }
    json::value ctx = uses_context(f) ? context(f, s) : json::value();
    auto due = query_wait_due(f, s, query_inputs(&f.input, ctx));
    if (!due) return fail_here(fid, s, due.failure());
    if (*due - f.entered_time > 2147483647LL * kNanosPerSecond)
      return fail_here(fid, s, runtime_failure("Wait state delay is too long."));
    f.phase = FramePhase::Timer;
    f.timer = TimerKind::Wait;
    f.token = ex.st.next_token++;
    f.due = *due;
    E.arm(f.due, Wakeup{ex.key, fid, f.token, Wakeup::Kind::Timer, {}});
    return false;
  }

  bool run_wait(std::uint32_t fid, const State& s) {
    focus(fid);
    if (s.jsonata) return run_query_wait(fid, s);
    Frame& f = frame(fid);
    json::value ctx = uses_context(f) ? context(f, s) : json::value();
    if (f.timer == TimerKind::Wait) {  // the timer fired
      f.timer = TimerKind::None;
      // The effective input: apart when InputPath selected it, else the raw
      // input itself (which snapshots before redrive support moved into
      // `effective`).
      json::value& eff = whole(s.input_path) && f.effective.is_null() ? f.input : f.effective;
      if (s.assign) {
        if (auto bad = stage_assign(*s.assign, Scope{eff, ctx, E.random.get(), &vars_}, {}))
          return fail_here(fid, s, std::move(*bad));
      }
      json::value holder;
      auto out = input_view(s.output_path, eff, ctx, holder);
      if (!out) return fail_here(fid, s, out.failure());
      json::value output = *out == &holder ? std::move(holder) : std::move(eff);
      f.effective = nullptr;
      return transition(fid, s, std::move(output), s.end ? states::kNoState : s.next);
    }
    // The raw input stays in the frame while it waits (a redrive enters the
    // state again with it).
    json::value holder;
    auto eff = input_view(s.input_path, f.input, ctx, holder);
    if (!eff) return fail_here(fid, s, eff.failure());
    auto due = wait_due(f, s, **eff, ctx);
    if (!due) return fail_here(fid, s, due.failure());
    if (*due - f.entered_time > 2147483647LL * kNanosPerSecond)
      return fail_here(fid, s, runtime_failure("Wait state delay is too long."));
    if (*eff == &holder) f.effective = std::move(holder);
    f.phase = FramePhase::Timer;
    f.timer = TimerKind::Wait;
    f.token = ex.st.next_token++;
    f.due = *due;
    E.arm(f.due, Wakeup{ex.key, fid, f.token, Wakeup::Kind::Timer, {}});
    return false;
  }

  // ---- Succeed and Fail ---------------------------------------------------

  bool run_succeed(std::uint32_t fid, const State& s) {
    focus(fid);
    if (s.jsonata) return finish_query(fid, s, nullptr, nullptr, s.output, states::kNoState);
    Frame& f = frame(fid);
    json::value ctx = uses_context(f) ? context(f, s) : json::value();
    json::value holder, out_holder;
    auto eff = input_view(s.input_path, f.input, ctx, holder);
    if (!eff) return fail_here(fid, s, eff.failure());
    auto out = input_view(s.output_path, **eff, ctx, out_holder);
    if (!out) return fail_here(fid, s, out.failure());
    json::value output = *out == &out_holder ? std::move(out_holder)
                         : *out == &holder   ? std::move(holder)
                                             : std::move(f.input);
    return transition(fid, s, std::move(output), states::kNoState);
  }

  Result<std::string> fail_field(const char* field, const std::optional<std::string>& literal,
                                 const std::optional<JsonPath>& path, const std::optional<states::Intrinsic>& fn,
                                 const json::value& input, const json::value& ctx) {
    if (literal) return *literal;
    if (path) {
      const json::value* root = root_of(*path, input, ctx);
      auto v = root ? path->select(*root) : std::nullopt;
      if (!v)
        return runtime_failure("The JSONPath '" + path->text() + "' specified for the field '" + field +
                               "' could not be found in the input '" + to_json(input) + "'");
      return bare_text(*v);
    }
    if (fn) {
      auto v = fn->evaluate(Scope{input, ctx, E.random.get(), &vars_});
      if (!v) return v.failure();
      return bare_text(*v);
    }
    return std::string();
  }

  // A JSONata Fail's Error or Cause given as an expression.
  Result<std::optional<std::string>> query_text(const std::optional<states::QueryExpression>& e, const char* field,
                                                const states::QueryInputs& q) {
    if (!e) return std::optional<std::string>();
    auto v = e->evaluate(q, field);
    if (!v) return std::move(v.failure());
    if (!v->is_string())
      return states::query_failure("The JSONata expression '" + e->text() + "' specified for the field '" + field +
                                   "' returned an unexpected result type. Expected 'string', but was '" +
                                   json_type_name(*v) + "' for value: " + to_json(*v));
    return std::optional<std::string>(std::string(v->get_string()));
  }

  bool run_fail(std::uint32_t fid, const State& s) {
    focus(fid);
    Frame& f = frame(fid);
    const auto& spec = s.as<states::FailSpec>();
    json::value ctx = uses_context(f) ? context(f, s) : json::value();
    if (spec.error_expression || spec.cause_expression) {
      states::QueryInputs q = query_inputs(&f.input, ctx);
      auto error = query_text(spec.error_expression, "Error", q);
      if (!error) return fail_here(fid, s, error.failure());
      auto cause = query_text(spec.cause_expression, "Cause", q);
      if (!cause) return fail_here(fid, s, cause.failure());
      Failure failure{error->value_or(spec.error.value_or("")), cause->value_or(spec.cause.value_or("")), false};
      failure.has_error = error->has_value() || spec.error.has_value();
      failure.has_cause = cause->has_value() || spec.cause.has_value();
      frame_failed(fid, std::move(failure));
      return false;
    }
    auto error = fail_field("ErrorPath", spec.error, spec.error_path, spec.error_intrinsic, f.input, ctx);
    if (!error) return fail_here(fid, s, error.failure());
    auto cause = fail_field("CausePath", spec.cause, spec.cause_path, spec.cause_intrinsic, f.input, ctx);
    if (!cause) return fail_here(fid, s, cause.failure());
    Failure failure{std::move(*error), std::move(*cause), false};
    failure.has_error = spec.error || spec.error_path || spec.error_intrinsic;
    failure.has_cause = spec.cause || spec.cause_path || spec.cause_intrinsic;
    frame_failed(fid, std::move(failure));
    return false;
  }

  // ---- Task ---------------------------------------------------------------

  // TimeoutSeconds / HeartbeatSeconds, literal or from a path.
  Result<double> seconds_field(const states::NumberSource& src, const json::value& eff, const json::value& ctx) {
    if (src.literal) return *src.literal;
    if (!src.path) return 0.0;
    auto v = select(*src.path, eff, ctx);
    if (!v) return v.failure();
    auto n = as_integer(*v);
    if (!n || *n <= 0)
      return runtime_failure("The value of '" + src.path->text() + "' must be a positive integer: " + to_json(*v));
    return static_cast<double>(*n);
  }

  // Checks AWS makes on an optimized integration's parameters before it
  // schedules the task.
  static std::optional<Failure> check_integration_parameters(const std::string& resource, const json::value& payload) {
    if (resource.rfind("arn:aws:states:::apigateway:invoke", 0) == 0 && payload.is_object()) {
      if (const auto* h = payload.get_object().if_contains("Headers"); h && h->is_object()) {
        for (const auto& kv : h->get_object()) {
          if (!kv.value().is_array())
            return runtime_failure("The Parameters '" + to_json(payload) +
                                   "' could not be used to start the Task: [The value of the field 'Headers' has an "
                                   "invalid format]");
        }
      }
    }
    return std::nullopt;
  }

  // A JSONata state's Arguments (its input when it has none).
  Result<json::value> query_arguments(const State& s, const states::QueryInputs& q, const json::value& input) {
    if (!s.arguments) return input;
    return s.arguments->evaluate(q, "Arguments");
  }

  // TimeoutSeconds / HeartbeatSeconds of a JSONata Task.
  Result<double> query_seconds(const states::NumberSource& src, const char* field, const states::QueryInputs& q) {
    if (src.literal) return *src.literal;
    auto n = query_integer(src.expression, field, q);
    if (!n) return std::move(n.failure());
    if (!*n) return 0.0;
    if (**n <= 0)
      return states::query_failure("The JSONata expression '" + src.expression->text() + "' specified for the field '" +
                                   field + "' must be a positive integer: " + std::to_string(**n));
    return static_cast<double>(**n);
  }

  bool run_task(std::uint32_t fid, const State& s) {
    focus(fid);
    Frame& f = frame(fid);
    const auto& spec = s.as<states::TaskSpec>();
    // Callback (.waitForTaskToken) and job (.sync) integrations carry a task token.
    // Activity tasks carry one too: it names the task for its worker.
    if (spec.resource.find(".waitForTaskToken") != std::string::npos ||
        spec.resource.find(".sync") != std::string::npos || is_activity_resource(spec.resource))
      f.task_token = uuid4(*E.random);
    json::value ctx = uses_context(f) ? context(f, s) : json::value();
    json::value payload;
    Result<double> timeout = 0.0, heartbeat = 0.0;
    if (s.jsonata) {
      states::QueryInputs q = query_inputs(&f.input, ctx);
      auto args = query_arguments(s, q, f.input);
      if (!args) return fail_here(fid, s, args.failure());
      payload = std::move(*args);
      timeout = query_seconds(spec.timeout_seconds, "TimeoutSeconds", q);
      if (!timeout) return fail_here(fid, s, timeout.failure());
      heartbeat = query_seconds(spec.heartbeat_seconds, "HeartbeatSeconds", q);
      if (!heartbeat) return fail_here(fid, s, heartbeat.failure());
    } else {
      auto effective = effective_input(s, f.input, ctx);
      if (!effective) return fail_here(fid, s, effective.failure());
      payload = std::move(*effective);
      timeout = seconds_field(spec.timeout_seconds, f.input, ctx);
      if (!timeout) return fail_here(fid, s, timeout.failure());
      heartbeat = seconds_field(spec.heartbeat_seconds, f.input, ctx);
      if (!heartbeat) return fail_here(fid, s, heartbeat.failure());
    }
    if (auto bad = check_integration_parameters(spec.resource, payload)) return fail_here(fid, s, *bad);

    const TaskDispatch dispatch = ex.invoker->dispatch(spec.resource, s.name);
    if (dispatch.refusal) {
      f.task_token.reset();
      return fail_here(fid, s, runtime_failure(*dispatch.refusal));
    }
    const TaskFamily fam = task_family(spec.resource);
    emit(&f, task_event_type(fam, "Scheduled"), [&](json::object& d) {
      // TaskScheduledEventDetails, ActivityScheduledEventDetails or
      // LambdaFunctionScheduledEventDetails (which has no heartbeat).
      json::object det;
      const char* key = "lambdaFunctionScheduledEventDetails";
      if (fam == TaskFamily::Service) {
        key = "taskScheduledEventDetails";
        put_service_resource(det, spec.resource);
        det["region"] = E.opts.region;
        det["parameters"] = to_json(payload);
      } else {
        if (fam == TaskFamily::Activity) key = "activityScheduledEventDetails";
        det["resource"] = spec.resource;
        det["input"] = to_json(payload);
        det["inputDetails"] = json::object{{"truncated", false}};
      }
      if (*timeout > 0) det["timeoutInSeconds"] = static_cast<std::int64_t>(*timeout);
      if (*heartbeat > 0 && fam != TaskFamily::Lambda)
        det["heartbeatInSeconds"] = static_cast<std::int64_t>(*heartbeat);
      d[key] = std::move(det);
    });
    // TaskStartedEventDetails names the integration; LambdaFunctionStarted has
    // no details, and ActivityStarted's only one (workerName) is unknown here.
    // An activity task a worker has to take starts when one does
    // (Engine::task_started).
    f.awaiting_worker = fam == TaskFamily::Activity && dispatch.awaits_worker;
    if (!f.awaiting_worker) {
      emit(&f, task_event_type(fam, "Started"), [&](json::object& d) {
        if (fam != TaskFamily::Service) return;
        json::object det;
        put_service_resource(det, spec.resource);
        d["taskStartedEventDetails"] = std::move(det);
      });
    }
    if (f.task_token && fam == TaskFamily::Service) {  // a job started or a callback sent: now it waits
      emit(&f, "TaskSubmitted", [&](json::object& d) {
        json::object det;
        put_service_resource(det, spec.resource);
        d["taskSubmittedEventDetails"] = std::move(det);
      });
    }

    f.phase = FramePhase::Task;
    f.token = ex.st.next_token++;
    const Nanos t0 = now();
    f.task_deadline = *timeout > 0 ? t0 + seconds_to_nanos(*timeout) : 0;
    f.task_timeout_seconds = *timeout;
    f.heartbeat_seconds = *heartbeat;
    f.heartbeat_deadline = *heartbeat > 0 ? t0 + seconds_to_nanos(*heartbeat) : 0;
    f.effective = std::move(payload);
    invoke_task(fid, s);
    return false;
  }

  // Arms the task's deadlines and hands its request (payload in f.effective)
  // to the invoker. Also how a resumed execution invokes a task again: all it
  // needs is in the frame.
  void invoke_task(std::uint32_t fid, const State& s) {
    Frame& f = frame(fid);
    if (s.type == StateType::Map) {
      invoke_map_run(fid, s);
      return;
    }
    const auto& spec = s.as<states::TaskSpec>();
    if (f.task_deadline) E.arm(f.task_deadline, Wakeup{ex.key, fid, f.token, Wakeup::Kind::TaskTimeout, {}});
    if (f.heartbeat_deadline)
      E.arm(f.heartbeat_deadline, Wakeup{ex.key, fid, f.token, Wakeup::Kind::HeartbeatTimeout, {}});

    TaskRequest req;
    req.execution_id = ex.st.arn;
    req.state_name = s.name;
    req.resource = spec.resource;
    req.payload = std::move(f.effective);
    req.attempt = static_cast<int>(f.retry_count);
    req.idempotency_key = ex.st.arn + "/" + s.name + "/" + std::to_string(f.entered_event) + "/" +
                          std::to_string(f.retry_count);
    if (f.call_index == 0 || f.call_attempt != f.retry_count) {
      f.call_index = ++ex.st.task_calls[s.name];
      f.call_attempt = f.retry_count;
    }
    req.call_index = f.call_index - 1;
    req.task_token = f.task_token;
    req.timeout_seconds = f.task_timeout_seconds;
    if (f.heartbeat_seconds > 0) req.heartbeat_seconds = f.heartbeat_seconds;

    send_request(fid, f.token, req);
  }

  // Hands `req` to the invoker; its completion and heartbeats come back
  // through the mailbox as wake-ups of frame `fid` carrying `token`.
  void send_request(std::uint32_t fid, std::uint64_t token, TaskRequest& req) {
    ++E.in_flight;
    std::shared_ptr<Mailbox> mailbox = E.mailbox;
    const std::uint64_t key = ex.key;
    ex.invoker->invoke(
        req,
        [mailbox, key, fid, token](TaskOutcome o) {
          mailbox->deliver(Wakeup{key, fid, token, Wakeup::Kind::TaskDone, std::move(o)});
        },
        [mailbox, key, fid, token]() {
          mailbox->deliver(Wakeup{key, fid, token, Wakeup::Kind::Heartbeat, {}});
        });
    // The request is the invoker's only during invoke() (a completion is never
    // processed inside it): the frame keeps the payload, without a copy, so a
    // snapshot of the request in flight can send it again.
    frame(fid).effective = std::move(req.payload);
  }

  // A Distributed Map's request to run its map run (payload in f.effective).
  void invoke_map_run(std::uint32_t fid, const State& s) {
    Frame& f = frame(fid);
    TaskRequest req;
    req.execution_id = ex.st.arn;
    req.state_name = s.name;
    req.resource = std::string(kMapRunResource);
    req.payload = std::move(f.effective);
    req.idempotency_key = ex.st.arn + "/" + s.name + "/" + std::to_string(f.entered_event);
    send_request(fid, f.token, req);  // a map run sends no heartbeats
  }

  // ActivityStarted, with the worker's name when known.
  void activity_started(Frame& f, const std::optional<std::string>& worker_name) {
    f.awaiting_worker = false;
    emit(&f, "ActivityStarted", [&](json::object& d) {
      if (worker_name) d["activityStartedEventDetails"] = json::object{{"workerName", *worker_name}};
    });
  }

  // TaskFailed / TaskTimedOut (with the integration), LambdaFunction* and
  // Activity* ones (error and cause only).
  void task_failed_event(Frame& f, const State& s, const char* suffix, const Failure& failure) {
    const auto& spec = s.as<states::TaskSpec>();
    const TaskFamily fam = task_family(spec.resource);
    const char* type = task_event_type(fam, suffix);
    emit(&f, type, [&](json::object& d) {
      json::object det;
      if (fam == TaskFamily::Service) put_service_resource(det, spec.resource);
      if (failure.has_error) det["error"] = failure.error;
      if (failure.has_cause) det["cause"] = failure.cause;
      d[details_key(type)] = std::move(det);
    });
  }

  // A task's outcome arrived; returns true when the frame can advance.
  bool task_done(std::uint32_t fid, TaskOutcome& o) {
    Frame& f = frame(fid);
    const State& s = state_of(f);
    if (s.type == StateType::Map) return map_run_done(fid, s, o);
    // An answer means a worker took the task, even if we never saw it do so.
    if (f.awaiting_worker) activity_started(f, std::nullopt);
    f.phase = FramePhase::Ready;
    f.token = 0;
    json::value request = std::move(f.effective);
    f.effective = nullptr;  // the request's payload
    if (!o.ok) {
      // A task that reports States.Timeout timed out: Catch sees an empty Cause.
      if (o.failure.error == "States.Timeout" && !o.failure.has_cause) o.failure.has_cause = true;
      task_failed_event(f, s, o.failure.error == "States.Timeout" ? "TimedOut" : "Failed", o.failure);
      return state_failed(fid, s, std::move(o.failure));
    }
    if (over_limit(o.output)) {
      Failure dl = data_limit(s.as<states::TaskSpec>().resource);
      task_failed_event(f, s, "Failed", dl);
      return state_failed(fid, s, dl);
    }
    const std::string& resource = s.as<states::TaskSpec>().resource;
    const TaskFamily fam = task_family(resource);
    const char* type = task_event_type(fam, "Succeeded");
    emit(&f, type, [&](json::object& d) {
      json::object det;
      if (fam == TaskFamily::Service) put_service_resource(det, resource);
      det["output"] = to_json(o.output);
      det["outputDetails"] = json::object{{"truncated", false}};
      d[details_key(type)] = std::move(det);
    });
    if (s.compensate) E.saga_record(ex, fid, std::move(request), o.output);
    return finish_with_result(fid, s, std::move(o.output));
  }

  // ResultSelector → ResultPath → OutputPath → transition (Task, Parallel, Map).
  bool finish_with_result(std::uint32_t fid, const State& s, json::value result) {
    focus(fid);
    if (s.jsonata)
      return finish_query(fid, s, &result, s.assign ? &*s.assign : nullptr, s.output, s.end ? states::kNoState : s.next);
    Frame& f = frame(fid);
    json::value ctx = uses_context(f) ? context(f, s) : json::value();
    if (s.result_selector) {
      auto r = s.result_selector->evaluate(Scope{result, ctx, E.random.get(), &vars_});
      if (!r) return fail_here(fid, s, r.failure());
      result = std::move(*r);
    }
    // Assign reads the result (after ResultSelector).
    if (s.assign) {
      if (auto bad = stage_assign(*s.assign, Scope{result, ctx, E.random.get(), &vars_}, {}))
        return fail_here(fid, s, std::move(*bad));
    }
    // In place: on failure the raw input is intact for a Catch. Past
    // ResultPath, only the execution can fail (OutputPath, the size limit):
    // the kept raw input is what a redrive runs the state with.
    if (auto bad = place_result(f, s, std::move(result), ctx)) return fail_here(fid, s, std::move(*bad));
    return leave(fid, s, s.end ? states::kNoState : s.next);
  }

  // ---- Compensate (saga extension, docs/sagas.md) ---------------------------

  // Asks for the roll-back of the steps completed in this frame's scope; the
  // frame waits for it (phase Children) unless there is nothing to wait for.
  // The report arrives as f.results[0]; ResultPath (default: discard) places it.
  bool run_compensate(std::uint32_t fid, const State& s) {
    if (frame(fid).results.empty()) {
      auto report = E.saga_request(ex, fid);
      if (!report) return false;
      frame(fid).results.emplace_back(std::move(*report));
    }
    Frame& g = frame(fid);
    json::value report = std::move(g.results[0]);
    g.results = {};
    if (auto bad = apply_result_path_in_place(s.result_path, g.input, std::move(report)))
      return fail_here(fid, s, std::move(*bad));
    return leave(fid, s, s.end ? states::kNoState : s.next);
  }

  // ---- Parallel -----------------------------------------------------------

  bool run_parallel(std::uint32_t fid, const State& s) {
    Frame& f = frame(fid);
    if (f.rerun) {  // a redrive: only the branches that did not succeed run again
      f.rerun = false;
      emit(&f, "ParallelStateStarted");
      f.succeeded = f.total - static_cast<std::uint32_t>(f.relaunch.size());
      f.failed = 0;
      f.phase = FramePhase::Children;
      for (auto it = f.relaunch.rbegin(); it != f.relaunch.rend(); ++it) {
        Frame& b = frame(*it);
        b.phase = FramePhase::Ready;
        b.last_event = f.last_event;
        f.children.push_back(*it);
        E.schedule(ex, *it);
      }
      f.relaunch.clear();
      if (!f.children.empty()) return false;
      f.phase = FramePhase::Ready;  // every branch had succeeded
    }
    if (f.phase == FramePhase::Ready && f.total && f.succeeded == f.total) {  // every branch is done
      json::value results = std::move(f.results);
      f.results = {};
      f.total = f.succeeded = 0;
      if (s.compensate) E.saga_record(ex, fid, std::exchange(f.effective, nullptr), results);
      // AWS writes no ParallelStateSucceeded: ParallelStateExited follows the branches.
      return finish_with_result(fid, s, std::move(results));
    }
    const auto& spec = s.as<states::ParallelSpec>();
    focus(fid);
    json::value ctx = uses_context(f) ? context(f, s) : json::value();
    auto effective = s.jsonata ? query_arguments(s, query_inputs(&f.input, ctx), f.input)
                               : effective_input(s, f.input, ctx);
    if (!effective) return fail_here(fid, s, effective.failure());
    json::value branch_input = std::move(*effective);
    if (s.compensate) f.effective = branch_input;  // the step's input, for its compensation
    emit(&f, "ParallelStateStarted");
    const auto n = static_cast<std::uint32_t>(spec.branches.size());
    f.total = n;
    f.succeeded = f.failed = 0;
    f.results = json::array(n);
    f.children.clear();
    f.phase = FramePhase::Children;
    const auto self = static_cast<std::int32_t>(fid);
    for (std::uint32_t i = 0; i < n; ++i) {
      std::uint32_t c = new_frame(self, i, spec.branches[i], branch_input);
      frame(fid).children.push_back(c);
      E.schedule(ex, c);
    }
    return false;
  }

  // ---- Map ----------------------------------------------------------------

  Result<std::optional<std::int64_t>> int_field(const states::NumberSource& src, const char* path_field,
                                                const json::value& eff, const json::value& ctx) {
    if (src.literal) return std::optional<std::int64_t>(static_cast<std::int64_t>(*src.literal));
    if (!src.path) return std::optional<std::int64_t>();
    auto v = select(*src.path, eff, ctx);
    if (!v) return v.failure();
    auto n = integer_or_text(*v);
    if (!n)
      return runtime_failure(std::string("The ") + path_field + " field refers to value \"" + bare_text(*v) +
                             "\" which is not a valid integer: " + src.path->text());
    return std::optional<std::int64_t>(*n);
  }

  Result<std::optional<double>> float_field(const states::NumberSource& src, const char* path_field,
                                            const json::value& eff, const json::value& ctx) {
    if (src.literal) return std::optional<double>(*src.literal);
    if (!src.path) return std::optional<double>();
    auto v = select(*src.path, eff, ctx);
    if (!v) return v.failure();
    auto n = number_or_text(*v);
    if (!n)
      return runtime_failure(std::string("The ") + path_field + " field refers to value \"" + bare_text(*v) +
                             "\" which is not a valid float: " + src.path->text());
    return std::optional<double>(*n);
  }

  // The items in one child's input: a batch's "Items", else one.
  static std::uint64_t batch_size(const json::value& input, bool batched) {
    if (!batched) return 1;
    const json::value* items = input.is_object() ? input.get_object().if_contains("Items") : nullptr;
    return items && items->is_array() ? items->get_array().size() : 1;
  }

  // A worker's map run's items: what it reads them from, and how many.
  struct CountedStream {
    mapio::ItemStream stream;
    std::shared_ptr<const ItemSelectorScope> selector;  // with an ItemSelector
    std::uint32_t count = 0;   // items, or batches with an ItemBatcher
    std::uint64_t items = 0;   // items (in the batches)
  };

  bool run_map(std::uint32_t fid, const State& s) {
    Frame& f = frame(fid);
    if (f.rerun && distributed(s) && ex.invoker->runs_map_runs() && f.effective.is_object() &&
        f.effective.get_object().contains("mapRunArn")) {
      return redrive_map_run(fid, s);
    }
    if (f.rerun) {  // a redrive: only the iterations that did not succeed run again
      f.rerun = false;
      emit(&f, "MapStateStarted", [&](json::object& d) {
        d["mapStateStartedEventDetails"] = json::object{{"length", f.total}};
      });
      if (distributed(s)) {
        emit(&f, "MapRunRedriven", [&](json::object& d) {
          d["mapRunRedrivenEventDetails"] =
              json::object{{"mapRunArn", map_run_arn(f, s)}, {"redriveCount", ex.st.redrive_count}};
        });
      }
      f.running = f.failed = 0;
      f.succeeded = f.launched - static_cast<std::uint32_t>(f.relaunch.size());
      f.phase = FramePhase::Children;
      const bool caught = launch_iterations(fid, s);
      if (f.phase != FramePhase::Children || f.running > 0) return caught;
      f.phase = FramePhase::Ready;  // every iteration had succeeded
    }
    if (f.phase == FramePhase::Ready && f.total && f.launched == f.total && f.running == 0 && f.relaunch.empty()) {
      auto written = write_map_results(fid, s, std::move(f.results));  // ResultWriter (engine/map_io.h)
      discard_progress(fid);  // and the iterations whose failure was tolerated
      if (!written) return state_failed(fid, s, std::move(written.failure()), "MapStateFailed");
      json::value results = std::move(*written);
      if (s.compensate) E.saga_record(ex, fid, f.effective, results);
      if (distributed(s)) emit(&f, "MapRunSucceeded");
      emit(&f, "MapStateSucceeded");
      return finish_with_result(fid, s, std::move(results));
    }
    const auto& spec = s.as<states::MapSpec>();
    focus(fid);
    if (s.jsonata) return run_query_map(fid, s);
    json::value ctx = uses_context(f) ? context(f, s) : json::value();
    auto eff = apply_path(s.input_path, json::value(f.input), ctx);
    if (!eff) return fail_here(fid, s, eff.failure());
    json::value items_v;
    std::optional<CountedStream> stream;
    if (streams_items(s)) {  // the worker's map run reads the items (engine/map_io.h)
      auto counted = count_streamed_items(fid, s, *eff);
      if (!counted) return fail_here(fid, s, counted.failure());
      stream = std::move(*counted);
    } else if (spec.item_reader) {  // a distributed Map reading its items from a file (engine/map_io.h)
      auto v = read_map_items(fid, s, *eff);
      if (!v) return fail_here(fid, s, v.failure());
      items_v = std::move(*v);
    } else if (spec.items_path && !(spec.items_path->is_root() && !spec.items_path->is_context() && !spec.items_path->is_variable())) {
      auto v = select(*spec.items_path, *eff, ctx);
      if (!v) return fail_here(fid, s, v.failure());
      items_v = std::move(*v);
    } else {
      items_v = *eff;
    }
    if (stream) {
      items_v = json::array();
    } else if (!items_v.is_array()) {
      return fail_here(fid, s,
                       runtime_failure("Item path " + (spec.items_path ? spec.items_path->text() : std::string("$")) +
                                       " does not reference an array: " + to_json(items_v)));
    }
    if (spec.item_batcher && !stream) {  // each iteration's input is a batch of items (engine/map_io.h)
      auto b = batch_map_items(fid, s, std::move(items_v.get_array()), *eff);
      if (!b) return fail_here(fid, s, b.failure());
      items_v = std::move(*b);
    }
    const std::size_t length = stream ? stream->count : items_v.get_array().size();
    // AWS reads MaxConcurrencyPath before MapStateStarted, the tolerances after.
    auto mc = int_field(spec.max_concurrency, "MaxConcurrencyPath", *eff, ctx);
    if (!mc) return fail_here(fid, s, mc.failure());
    emit(&f, "MapStateStarted", [&](json::object& d) {
      d["mapStateStartedEventDetails"] = json::object{{"length", length}};
    });
    auto tp = float_field(spec.tolerated_failure_percentage, "ToleratedFailurePercentagePath", *eff, ctx);
    if (!tp) return fail_here(fid, s, tp.failure());
    if (*tp && (**tp < 0 || **tp > 100))
      return fail_here(fid, s, runtime_failure("ToleratedFailurePercentage must be between 0 and 100."));
    auto tc = int_field(spec.tolerated_failure_count, "ToleratedFailureCountPath", *eff, ctx);
    if (!tc) return fail_here(fid, s, tc.failure());
    if (*tc && **tc < 0) return fail_here(fid, s, runtime_failure("ToleratedFailureCount cannot be negative."));
    if (*mc && **mc < 0) return fail_here(fid, s, runtime_failure("MaxConcurrency cannot be negative."));
    return start_map(fid, s, std::move(items_v.get_array()), std::move(*eff), *mc, *tp, *tc, std::move(stream));
  }

  // A JSONata Map: Items (or the input), then the numbers as expressions.
  bool run_query_map(std::uint32_t fid, const State& s) {
    Frame& f = frame(fid);
    const auto& spec = s.as<states::MapSpec>();
    json::value ctx = uses_context(f) ? context(f, s) : json::value();
    states::QueryInputs q = query_inputs(&f.input, ctx);
    json::value items_v;
    std::optional<CountedStream> stream;
    if (streams_items(s)) {  // the worker's map run reads the items (engine/map_io.h)
      auto counted = count_streamed_items(fid, s, f.input);
      if (!counted) return fail_here(fid, s, counted.failure());
      stream = std::move(*counted);
      items_v = json::array();
    } else if (spec.item_reader) {  // a distributed Map reading its items from a file (engine/map_io.h)
      auto v = read_map_items(fid, s, f.input);
      if (!v) return fail_here(fid, s, v.failure());
      items_v = std::move(*v);
    } else if (spec.items) {
      auto v = spec.items->evaluate(q, "Items");
      if (!v) return fail_here(fid, s, v.failure());
      if (!v->is_array()) {
        const states::QueryExpression* e = spec.items->expression();
        return fail_here(fid, s,
                         states::query_failure("The JSONata expression '" + (e ? e->text() : std::string()) +
                                               "' specified for the field 'Items' returned an unexpected result "
                                               "type. Expected 'array', but was '" +
                                               json_type_name(*v) + "' for value: " + to_json(*v)));
      }
      items_v = std::move(*v);
    } else if (f.input.is_array()) {
      items_v = f.input;
    } else {
      return fail_here(fid, s, states::query_failure("Map state input must be an array but was: " + to_json(f.input)));
    }
    if (spec.item_batcher && !stream) {  // each iteration's input is a batch of items (engine/map_io.h)
      auto b = batch_map_items(fid, s, std::move(items_v.get_array()), f.input);
      if (!b) return fail_here(fid, s, b.failure());
      items_v = std::move(*b);
    }
    const std::size_t length = stream ? stream->count : items_v.get_array().size();
    std::optional<std::int64_t> mc;
    if (spec.max_concurrency.literal) mc = static_cast<std::int64_t>(*spec.max_concurrency.literal);
    auto mce = query_integer(spec.max_concurrency.expression, "MaxConcurrency", q);
    if (!mce) return fail_here(fid, s, mce.failure());
    if (*mce) mc = *mce;
    emit(&f, "MapStateStarted", [&](json::object& d) {
      d["mapStateStartedEventDetails"] = json::object{{"length", length}};
    });
    std::optional<double> tp = spec.tolerated_failure_percentage.literal;
    auto tpe = query_float(spec.tolerated_failure_percentage.expression, "ToleratedFailurePercentage", q);
    if (!tpe) return fail_here(fid, s, tpe.failure());
    if (*tpe) tp = *tpe;
    if (tp && (*tp < 0 || *tp > 100))
      return fail_here(fid, s, runtime_failure("ToleratedFailurePercentage must be between 0 and 100."));
    std::optional<std::int64_t> tc;
    if (spec.tolerated_failure_count.literal) tc = static_cast<std::int64_t>(*spec.tolerated_failure_count.literal);
    auto tce = query_integer(spec.tolerated_failure_count.expression, "ToleratedFailureCount", q);
    if (!tce) return fail_here(fid, s, tce.failure());
    if (*tce) tc = *tce;
    if (tc && *tc < 0) return fail_here(fid, s, runtime_failure("ToleratedFailureCount cannot be negative."));
    if (mc && *mc < 0) return fail_here(fid, s, runtime_failure("MaxConcurrency cannot be negative."));
    return start_map(fid, s, std::move(items_v.get_array()), json::value(f.input), mc, tp, tc, std::move(stream));
  }

  // Starts a Map's iterations over `items`, or over the `stream` a worker's
  // map run reads; `effective` is what ItemSelector reads.
  bool start_map(std::uint32_t fid, const State& s, json::array items, json::value effective,
                 std::optional<std::int64_t> mc, std::optional<double> tp, std::optional<std::int64_t> tc,
                 std::optional<CountedStream> stream = std::nullopt) {
    Frame& f = frame(fid);
    f.items = std::move(items);
    f.effective = std::move(effective);
    f.total = stream ? stream->count : static_cast<std::uint32_t>(f.items.size());
    f.launched = f.succeeded = f.failed = f.running = 0;
    f.max_concurrency = mc ? static_cast<std::uint32_t>(*mc) : 0;
    f.tolerated_percentage = tp;
    f.tolerated_count = tc;
    f.results = json::array(f.total);
    f.children.clear();
    if (distributed(s)) {
      emit(&f, "MapRunStarted", [&](json::object& d) {
        d["mapRunStartedEventDetails"] = json::object{{"mapRunArn", map_run_arn(f, s)}};
      });
    }
    if (f.total == 0) {
      if (distributed(s)) emit(&f, "MapRunSucceeded");
      auto written = write_map_results(fid, s, json::array());  // ResultWriter (engine/map_io.h)
      if (!written) {
        f.items = {};
        return state_failed(fid, s, std::move(written.failure()), "MapStateFailed");
      }
      emit(&frame(fid), "MapStateSucceeded");
      frame(fid).items = {};
      frame(fid).effective = {};
      return finish_with_result(fid, s, std::move(*written));
    }
    if (distributed(s) && ex.invoker->runs_map_runs()) return start_map_run(fid, s, mc, tp, tc, std::move(stream));
    f.phase = FramePhase::Children;
    return launch_iterations(fid, s);
  }

  // One item's input: ItemSelector applied to it, or the item itself.
  Result<json::value> item_input(std::uint32_t fid, const State& s, std::uint32_t i) {
    const auto& spec = s.as<states::MapSpec>();
    Frame& f = frame(fid);
    // With an ItemBatcher the items are batches whose items already went
    // through ItemSelector (batch_map_items).
    if ((!spec.item_selector && !spec.item_selector_query) || spec.item_batcher) return json::value(f.items[i]);
    focus(fid);
    json::value ctx = context(f, s, &f.items[i], i);
    return spec.item_selector ? spec.item_selector->evaluate(Scope{f.effective, ctx, E.random.get(), &vars_})
                              : spec.item_selector_query->evaluate(query_inputs(&f.effective, ctx), "ItemSelector");
  }

  // A Distributed Map whose invoker runs map runs: its items become child
  // executions (engine/worker.h); the frame waits for the map run as for a
  // task, whose outcome is the Map's result or failure. The request carries
  // the children's inputs, or (`stream`) what the map run reads them from;
  // and the ResultWriter's Parameters/Arguments, evaluated now, since the
  // map run writes the result files.
  bool start_map_run(std::uint32_t fid, const State& s, std::optional<std::int64_t> mc, std::optional<double> tp,
                     std::optional<std::int64_t> tc, std::optional<CountedStream> stream) {
    const auto& spec = s.as<states::MapSpec>();
    auto give_up = [&](Failure failure) {
      discard_progress(fid);
      frame(fid).phase = FramePhase::Ready;
      return fail_here(fid, s, std::move(failure));
    };
    json::object payload;
    if (spec.item_batcher) {  // the children process batches: how many items in all (DescribeMapRun's itemCounts)
      std::uint64_t items = 0;
      if (stream) {
        items = stream->items;
      } else {
        for (const auto& batch : frame(fid).items) items += batch_size(batch, true);
      }
      payload["itemTotal"] = items;
    }
    if (stream) {
      payload["items"] = mapio::item_stream_to_json(stream->stream);
      if (stream->selector) payload["itemSelector"] = selector_scope_to_json(*stream->selector);
    } else {
      json::array inputs;
      inputs.reserve(frame(fid).total);
      for (std::uint32_t i = 0; i < frame(fid).total; ++i) {
        auto v = item_input(fid, s, i);
        if (!v) return give_up(std::move(v.failure()));
        inputs.push_back(std::move(*v));
      }
      payload["inputs"] = std::move(inputs);
    }
    if (spec.result_writer && spec.result_writer->writes_files()) {
      const auto& writer = *spec.result_writer;
      focus(fid);
      const Frame& f = frame(fid);
      auto args = io_template(writer.parameters, writer.arguments, writer.parameters ? "Parameters" : "Arguments",
                              f.effective, context(f, s));
      if (!args) return give_up(std::move(args.failure()));
      if (auto target = mapio::result_writer_target(writer, *args); !target) return give_up(std::move(target.failure()));
      payload["resultWriter"] = std::move(*args);
    }
    Frame& f = frame(fid);
    // A Compensate block reads the Map's effective input when it runs (saga_record).
    if (s.compensate) payload["mapInput"] = f.effective;
    payload["mapRunArn"] = map_run_arn(f, s);
    payload["stateName"] = s.name;
    payload["label"] = spec.label ? *spec.label : s.name;
    payload["total"] = f.total;
    payload["maxConcurrency"] = mc ? *mc : 0;
    if (tp) payload["toleratedFailurePercentage"] = *tp;
    if (tc) payload["toleratedFailureCount"] = *tc;
    f.items = {};
    f.results = {};
    f.phase = FramePhase::Task;
    f.token = ex.st.next_token++;
    f.task_token.reset();
    f.task_deadline = f.heartbeat_deadline = 0;
    f.task_timeout_seconds = f.heartbeat_seconds = 0;
    f.effective = std::move(payload);
    invoke_task(fid, s);
    return false;
  }

  // A redrive of a Map whose map run failed: the same map run runs again
  // its children that did not succeed (the worker redrives them).
  bool redrive_map_run(std::uint32_t fid, const State& s) {
    Frame& f = frame(fid);
    f.rerun = false;
    emit(&f, "MapStateStarted", [&](json::object& d) {
      d["mapStateStartedEventDetails"] = json::object{{"length", f.total}};
    });
    json::object& payload = f.effective.get_object();
    emit(&f, "MapRunRedriven", [&](json::object& d) {
      d["mapRunRedrivenEventDetails"] =
          json::object{{"mapRunArn", payload["mapRunArn"]}, {"redriveCount", ex.st.redrive_count}};
    });
    payload["redrive"] = ex.st.redrive_count;
    f.phase = FramePhase::Task;
    f.token = ex.st.next_token++;
    invoke_task(fid, s);
    return false;
  }

  // The map run ended: its outcome is the Map's result (or failure); the
  // map run shaped it by WriterConfig or wrote it to files (ResultWriter).
  bool map_run_done(std::uint32_t fid, const State& s, TaskOutcome& o) {
    Frame& f = frame(fid);
    f.phase = FramePhase::Ready;
    f.token = 0;
    // A failed map run keeps its request (and the item count) for a redrive.
    if (!o.ok) return state_failed(fid, s, std::move(o.failure), "MapStateFailed");
    emit(&f, "MapRunSucceeded");
    if (s.compensate) {
      json::value input;
      if (json::object* payload = f.effective.if_object(); payload && payload->contains("mapInput"))
        input = std::move((*payload)["mapInput"]);
      E.saga_record(ex, fid, std::move(input), o.output);
    }
    Frame& g = frame(fid);
    g.effective = nullptr;
    g.total = 0;
    emit(&g, "MapStateSucceeded");
    return finish_with_result(fid, s, std::move(o.output));
  }

  // Starts iterations while MaxConcurrency allows. Returns false (the Map
  // frame waits for its children) unless launching failed the state.
  bool launch_iterations(std::uint32_t fid, const State& s) {
    const auto& spec = s.as<states::MapSpec>();
    while (true) {
      Frame& f = frame(fid);
      if (f.max_concurrency && f.running >= f.max_concurrency) break;
      if (!f.relaunch.empty()) {  // a redrive runs its halted iterations first, by index
        const std::uint32_t c = f.relaunch.back();
        f.relaunch.pop_back();
        const std::uint32_t index = frame(c).slot;
        ++f.running;
        if (!distributed(s)) emit(&f, "MapIterationStarted", [&](std::string& d) {
          iteration_details(d, "mapIterationStartedEventDetails", s.name, index);
        });
        Frame& it = frame(c);
        it.phase = FramePhase::Ready;
        it.last_event = f.last_event;
        f.children.push_back(c);
        E.schedule(ex, c);
        continue;
      }
      if (f.launched >= f.total) break;
      const std::uint32_t i = f.launched++;
      json::value input;
      if ((spec.item_selector || spec.item_selector_query) && !spec.item_batcher) {  // batches: applied per item
        focus(fid);
        json::value ctx = context(f, s, &f.items[i], i);
        auto v = spec.item_selector ? spec.item_selector->evaluate(Scope{f.effective, ctx, E.random.get(), &vars_})
                                    : spec.item_selector_query->evaluate(query_inputs(&f.effective, ctx), "ItemSelector");
        if (!v) {
          for (auto c : f.children) abort_frame(c);
          f.children.clear();
          discard_progress(fid);  // a redrive runs the whole state again
          f.phase = FramePhase::Ready;
          return fail_here(fid, s, v.failure());
        }
        input = std::move(*v);
      } else {
        input = f.items[i];
      }
      ++f.running;
      if (!distributed(s)) emit(&f, "MapIterationStarted", [&](std::string& d) {
        iteration_details(d, "mapIterationStartedEventDetails", s.name, i);
      });
      std::uint32_t c = new_frame(static_cast<std::int32_t>(fid), i, spec.processor, std::move(input));
      frame(fid).children.push_back(c);
      E.schedule(ex, c);
    }
    return false;
  }

  // ---- Distributed Map data plane (engine/map_io.h) ------------------------
  // Kept apart from the iteration machinery so that the distributed driver can
  // call them wherever it computes items and finishes a map run.

  // A template of ItemReader/ItemBatcher/ResultWriter in the state's language;
  // absent: {}.
  Result<json::value> io_template(const std::optional<states::PayloadTemplate>& path,
                                  const std::optional<states::QueryTemplate>& query, const char* field,
                                  const json::value& eff, const json::value& ctx) {
    if (path) return path->evaluate(Scope{eff, ctx, E.random.get(), &vars_});
    if (query) return query->evaluate(query_inputs(&eff, ctx), field);
    return json::value(json::object());
  }

  Result<std::optional<std::int64_t>> io_number(const states::NumberSource& src, const char* path_field,
                                                const char* field, const json::value& eff, const json::value& ctx) {
    if (src.expression) return query_integer(src.expression, field, query_inputs(&eff, ctx));
    return int_field(src, path_field, eff, ctx);
  }

  // The ItemReader's (and, with `batched`, the ItemBatcher's) fields evaluated.
  Result<mapio::ItemStream> item_stream(std::uint32_t fid, const State& s, const json::value& eff, bool batched) {
    const auto& spec = s.as<states::MapSpec>();
    const auto& reader = *spec.item_reader;
    focus(fid);
    const json::value ctx = context(frame(fid), s);
    const char* field = reader.parameters ? "Parameters" : "Arguments";
    auto args = io_template(reader.parameters, reader.arguments, field, eff, ctx);
    if (!args) return args.failure();
    auto max_items = io_number(reader.max_items, "MaxItemsPath", "MaxItems", eff, ctx);
    if (!max_items) return max_items.failure();
    mapio::ItemStream stream;
    stream.arguments = std::move(*args);
    stream.max_items = *max_items;
    if (batched && spec.item_batcher) {
      auto batch = batch_options(fid, s, eff);
      if (!batch) return batch.failure();
      stream.batch = std::move(*batch);
    }
    return stream;
  }

  // A distributed Map run by a worker's map run, with an ItemReader: the map
  // run reads the items (or batches) itself, a few at a time (Worker::drive),
  // from the evaluated fields in its request, and shapes them with the
  // ItemSelector and the scope sent with them (engine/map_select.h); here
  // they are only read once, to count them and to fail at once on a bad
  // file or item.
  bool streams_items(const State& s) const {
    return s.as<states::MapSpec>().item_reader && distributed(s) && ex.invoker->runs_map_runs();
  }

  // What an ItemSelector reads, for a map run that shapes its items itself
  // (engine/map_select.h); null without an ItemSelector.
  std::shared_ptr<const ItemSelectorScope> selector_scope(std::uint32_t fid, const State& s, const json::value& eff) {
    const auto& spec = s.as<states::MapSpec>();
    if (!spec.item_selector && !spec.item_selector_query) return nullptr;
    auto scope = std::make_shared<ItemSelectorScope>();
    const Frame& f = frame(fid);
    scope->input = eff;
    scope->context = context(f, s);
    // The variables the Map state sees, innermost scope first (the
    // no-shadowing rule means no name is in two of them).
    for (std::uint32_t id = fid;;) {
      const Frame& g = ex.st.frames[id];
      for (const auto& kv : g.variables)
        if (!scope->variables.contains(kv.key())) scope->variables.emplace(kv.key(), kv.value());
      if (g.parent < 0) break;
      id = static_cast<std::uint32_t>(g.parent);
      if (distributed(state_of(ex.st.frames[id]))) break;
    }
    scope->now_millis = f.entered_time / 1000000;
    scope->seed = fnv1a(map_run_arn(f, s));
    return scope;
  }

  // The items (or batches) of a map run that reads them itself, shaped by
  // the ItemSelector before they are batched.
  Result<std::unique_ptr<mapio::ItemSource>> open_streamed_items(const State& s, const mapio::ItemStream& stream,
                                                                 std::shared_ptr<const ItemSelectorScope> scope) {
    const auto& spec = s.as<states::MapSpec>();
    std::function<std::unique_ptr<mapio::ItemSource>(std::unique_ptr<mapio::ItemSource>)> shape;
    if (scope) {
      shape = [&spec, scope](std::unique_ptr<mapio::ItemSource> items) {
        return selected_items(std::move(items), spec, scope);
      };
    }
    return mapio::open_item_stream(*spec.item_reader, stream, E.opts.data_dir, E.opts.payload_limit, shape);
  }

  Result<CountedStream> count_streamed_items(std::uint32_t fid, const State& s, const json::value& eff) {
    auto stream = item_stream(fid, s, eff, true);
    if (!stream) return stream.failure();
    CountedStream counted;
    counted.selector = selector_scope(fid, s, eff);
    auto source = open_streamed_items(s, *stream, counted.selector);
    if (!source) return source.failure();
    while (true) {
      auto item = (*source)->next();
      if (!item) return item.failure();
      if (!*item) break;
      ++counted.count;
      counted.items += batch_size(**item, stream->batch.has_value());
    }
    counted.stream = std::move(*stream);
    return counted;
  }

  // The items of a Map with an ItemReader, read from the data directory.
  Result<json::value> read_map_items(std::uint32_t fid, const State& s, const json::value& eff) {
    auto stream = item_stream(fid, s, eff, false);
    if (!stream) return stream.failure();
    auto source = mapio::open_item_stream(*s.as<states::MapSpec>().item_reader, *stream, E.opts.data_dir,
                                          E.opts.payload_limit);
    if (!source) return source.failure();
    json::array items;
    while (true) {
      auto item = (*source)->next();
      if (!item) return item.failure();
      if (!*item) break;
      items.push_back(std::move(**item));
    }
    return json::value(std::move(items));
  }

  // The ItemBatcher's fields evaluated and checked.
  Result<mapio::BatchOptions> batch_options(std::uint32_t fid, const State& s, const json::value& eff) {
    const auto& batcher = *s.as<states::MapSpec>().item_batcher;
    focus(fid);
    const json::value ctx = context(frame(fid), s);
    mapio::BatchOptions options;
    auto max_items = io_number(batcher.max_items_per_batch, "MaxItemsPerBatchPath", "MaxItemsPerBatch", eff, ctx);
    if (!max_items) return max_items.failure();
    options.max_items_per_batch = *max_items;
    auto max_bytes =
        io_number(batcher.max_input_bytes_per_batch, "MaxInputBytesPerBatchPath", "MaxInputBytesPerBatch", eff, ctx);
    if (!max_bytes) return max_bytes.failure();
    options.max_input_bytes_per_batch = *max_bytes;
    if (batcher.batch_input || batcher.batch_input_query) {
      auto input = io_template(batcher.batch_input, batcher.batch_input_query, "BatchInput", eff, ctx);
      if (!input) return input.failure();
      options.batch_input = std::move(*input);
    }
    if (auto bad = mapio::check_batch_options(options)) return *bad;
    return options;
  }

  // Batches of a Map with an ItemBatcher: ItemSelector shapes each item, then
  // items are grouped into {"BatchInput", "Items"} inputs.
  Result<json::value> batch_map_items(std::uint32_t fid, const State& s, json::array items, const json::value& eff) {
    const auto& spec = s.as<states::MapSpec>();
    focus(fid);
    if (spec.item_selector || spec.item_selector_query) {
      for (std::size_t i = 0; i < items.size(); ++i) {
        const json::value ictx = context(frame(fid), s, &items[i], static_cast<std::int64_t>(i));
        auto v = spec.item_selector ? spec.item_selector->evaluate(Scope{eff, ictx, E.random.get(), &vars_})
                                    : spec.item_selector_query->evaluate(query_inputs(&eff, ictx), "ItemSelector");
        if (!v) return v.failure();
        items[i] = std::move(*v);
      }
    }
    auto options = batch_options(fid, s, eff);
    if (!options) return options.failure();
    mapio::ItemBatcher batches(mapio::array_item_source(std::move(items)), std::move(*options), E.opts.payload_limit);
    json::array out;
    while (true) {
      auto batch = batches.next();
      if (!batch) return batch.failure();
      if (!*batch) break;
      out.push_back(std::move(**batch));
    }
    return json::value(std::move(out));
  }

  // The Map's result from its iterations' outputs (in item order): unchanged
  // without a ResultWriter; shaped by WriterConfig; or written to files, the
  // result then being {"MapRunArn", "ResultWriterDetails"}. Frames do not
  // record which tolerated iteration failed, so every one counts as SUCCEEDED here.
  // The iterations ran in this execution (a worker's map run writes its own,
  // Worker::drive): their records are derived here.
  Result<json::value> write_map_results(std::uint32_t fid, const State& s, json::array results) {
    const auto& spec = s.as<states::MapSpec>();
    if (!spec.result_writer || !distributed(s)) return json::value(std::move(results));
    const auto& writer = *spec.result_writer;
    const Frame& f = frame(fid);
    const std::string run_arn = map_run_arn(f, s);
    const std::string label = spec.label ? *spec.label : s.name;
    const std::int64_t now_ns = now();
    auto outcome_of = [&](std::size_t i) {
      mapio::ChildOutcome o;
      SeededRandom r(fnv1a(run_arn) ^ static_cast<std::uint64_t>(i));
      o.name = uuid4(r);
      o.execution_arn = "arn:aws:states:" + E.opts.region + ":" + E.opts.account + ":execution:" +
                        ex.st.state_machine_name + "/" + label + ":" + o.name;
      o.state_machine_arn = ex.st.state_machine_arn + "/" + label;
      o.status = "SUCCEEDED";
      o.input = i < f.items.size() ? f.items[i] : json::value();
      o.output = results[i];
      o.start_ns = o.stop_ns = now_ns;
      o.redrive_count = ex.st.redrive_count;
      return o;
    };
    if (!writer.writes_files()) {
      json::array shaped;
      for (std::size_t i = 0; i < results.size(); ++i)
        mapio::append_result(shaped, outcome_of(i), writer.effective_transformation());
      return json::value(std::move(shaped));
    }
    focus(fid);
    auto args = io_template(writer.parameters, writer.arguments, writer.parameters ? "Parameters" : "Arguments",
                            f.effective, context(f, s));
    if (!args) return args.failure();
    auto target = mapio::result_writer_target(writer, *args);
    if (!target) return target.failure();
    auto sink = mapio::ResultWriterSink::open(E.opts.data_dir, std::move(*target), run_arn);
    if (!sink) return sink.failure();
    for (std::size_t i = 0; i < results.size(); ++i)
      if (auto failed = (*sink)->add(outcome_of(i))) return *failed;
    return (*sink)->finish();
  }

  bool over_tolerance(const Frame& f) const {
    if (!f.tolerated_percentage && !f.tolerated_count) return f.failed > 0;
    bool over_count = !f.tolerated_count || static_cast<std::int64_t>(f.failed) > *f.tolerated_count;
    bool over_pct = !f.tolerated_percentage ||
                    static_cast<double>(f.failed) * 100.0 > *f.tolerated_percentage * static_cast<double>(f.total);
    return over_count && over_pct;
  }

  // ---- Children ending ----------------------------------------------------

  void child_ended(std::uint32_t cid, bool ok, json::value output, Failure failure) {
    Frame& c = frame(cid);
    const auto pid = static_cast<std::uint32_t>(c.parent);
    const std::uint32_t slot = c.slot;
    const std::int64_t branch_last_event = c.last_event;
    const bool branch_quiet = c.quiet;
    Frame& p = frame(pid);
    if (p.phase != FramePhase::Children) {  // the parent was already stopped
      release_tree(cid);
      return;
    }
    // A failed branch or iteration is kept for a redrive, where it stopped.
    if (!ok && keep_for_redrive()) {
      halt(c);
      p.halted.push_back(cid);
    } else {
      release_tree(cid);
    }
    // What the parent writes next (MapIterationSucceeded, ParallelStateFailed,
    // the state's exit...) follows from the branch's last event, as in AWS.
    if (!branch_quiet) p.last_event = branch_last_event;
    auto& ch = p.children;
    ch.erase(std::find(ch.begin(), ch.end(), cid));
    const State& ps = state_of(p);
    if (ps.type == StateType::Parallel) {
      if (ok) {
        p.results[slot] = std::move(output);
        if (++p.succeeded == p.total) {
          p.phase = FramePhase::Ready;
          E.schedule(ex, pid);
        }
        return;
      }
      stop_children(pid);
      p.phase = FramePhase::Ready;
      if (state_failed(pid, ps, std::move(failure), "ParallelStateFailed")) E.schedule(ex, pid);
      return;
    }
    // Map
    --p.running;
    if (ok) {
      p.results[slot] = std::move(output);
      ++p.succeeded;
      if (!distributed(ps)) emit(&p, "MapIterationSucceeded", [&](std::string& d) {
        iteration_details(d, "mapIterationSucceededEventDetails", ps.name, slot);
      });
    } else {
      ++p.failed;
      if (!distributed(ps)) emit(&p, "MapIterationFailed", [&](std::string& d) {
        iteration_details(d, "mapIterationFailedEventDetails", ps.name, slot);
      });
      if (over_tolerance(p)) {
        const bool tolerance_set = p.tolerated_percentage || p.tolerated_count;
        stop_children(pid);
        p.running = 0;
        p.phase = FramePhase::Ready;
        if (tolerance_set) {
          failure = Failure{"States.ExceedToleratedFailureThreshold",
                            "The specified tolerated failure threshold was exceeded", false};
        }
        if (state_failed(pid, ps, std::move(failure), "MapStateFailed")) E.schedule(ex, pid);
        return;
      }
      p.results[slot] = error_output(failure);
    }
    if (p.launched < p.total || !p.relaunch.empty()) {
      launch_iterations(pid, ps);
      return;
    }
    if (p.running == 0) {
      p.phase = FramePhase::Ready;
      E.schedule(ex, pid);
    }
  }
};

// ---- Entry points -----------------------------------------------------------

void Engine::Impl::begin(Execution& ex) {
  Interp in{*this, ex};
  auto& st = ex.st;
  st.state_machine_name = ex.options.state_machine_name;
  st.name = ex.options.execution_name.empty() ? uuid4(*random) : ex.options.execution_name;
  st.state_machine_arn = "arn:aws:states:" + opts.region + ":" + opts.account + ":stateMachine:" + st.state_machine_name;
  if (!ex.options.execution_arn.empty()) {
    st.arn = ex.options.execution_arn;
  } else if (ex.options.type != RunOptions::Type::Standard) {
    st.arn = "arn:aws:states:" + opts.region + ":" + opts.account + ":express:" + st.state_machine_name + ":" +
             st.name + ":" + uuid4(*random);
  } else {
    st.arn = "arn:aws:states:" + opts.region + ":" + opts.account + ":execution:" + st.state_machine_name + ":" +
             st.name;
  }
  st.role_arn = ex.options.role_arn.empty() ? "arn:aws:iam::" + opts.account + ":role/StepwiseExecutionRole"
                                            : ex.options.role_arn;
  st.start_time = clock->now();
  st.start_time_text = states::format_timestamp(st.start_time);
  in.emit(nullptr, "ExecutionStarted", [&](json::object& d) {
    json::object det;
    det["input"] = to_json(st.input);
    det["inputDetails"] = json::object{{"truncated", false}};
    det["roleArn"] = st.role_arn;
    d["executionStartedEventDetails"] = std::move(det);
  });
  if (json_size(st.input) > opts.payload_limit) {
    in.execution_failed(Failure{"States.DataLimitExceeded",
                                "The execution input has a size exceeding the maximum number of bytes service limit.",
                                false});
    return;
  }
  std::uint32_t top = in.new_frame(-1, 0, 0, st.input);
  if (ex.def->timeout_seconds) {
    st.deadline = st.start_time + seconds_to_nanos(*ex.def->timeout_seconds);
    arm(st.deadline, Wakeup{ex.key, UINT32_MAX, 0, Wakeup::Kind::ExecutionTimeout, {}});
  }
  schedule(ex, top);
}

void Engine::Impl::stop(Execution& ex, std::optional<std::string> error, std::optional<std::string> cause) {
  Interp in{*this, ex};
  for (std::uint32_t id = 0; id < ex.st.frames.size(); ++id) {
    const Frame& f = ex.st.frames[id];
    if (f.in_use && f.parent < 0) in.emit_aborted(id);
  }
  in.emit(nullptr, "ExecutionAborted", [&](json::object& d) {
    json::object det;
    if (error) det["error"] = *error;
    if (cause) det["cause"] = *cause;
    d["executionAbortedEventDetails"] = std::move(det);
  });
  ex.st.has_error = error.has_value();
  ex.st.has_cause = cause.has_value();
  ex.st.error = error.value_or("");
  ex.st.cause = cause.value_or("");
  in.end_execution(ExecutionStatus::Aborted);
  if (ex.hooked) checkpoint(ex);
}

void Engine::Impl::advance(Execution& ex, std::uint32_t fid) {
  if (ex.st.saga.failing) return;  // a roll-back runs: every frame stands still
  Interp in{*this, ex};
  while (!ex.finished) {
    Frame& f = ex.st.frames[fid];
    if (!f.in_use || f.phase != FramePhase::Ready) return;
    const bool more = in.run_state(fid);
    if (ex.hooked) checkpoint(ex, more ? fid : kNoFrame);
    if (!more) return;
  }
}

// The frame of `ex` that waits for the task with this token (null: none).
static Frame* task_frame(Execution& ex, const std::string& task_token) {
  for (auto& f : ex.st.frames) {
    if (f.in_use && f.phase == FramePhase::Task && f.task_token == task_token) return &f;
  }
  return nullptr;
}

bool Engine::Impl::task_started(Execution& ex, const std::string& task_token, const std::string& worker_name) {
  Frame* f = task_frame(ex, task_token);
  if (!f || !f->awaiting_worker) return false;
  Interp{*this, ex}.activity_started(*f, worker_name.empty() ? std::nullopt : std::optional<std::string>(worker_name));
  // Inside the loop (an invoker telling it while a resumed task is invoked
  // again) the step under way reports the change.
  if (ex.hooked && !in_loop) checkpoint(ex);
  return true;
}

bool Engine::Impl::task_heartbeat(Execution& ex, const std::string& task_token, Nanos at) {
  Frame* f = task_frame(ex, task_token);
  if (!f || f->heartbeat_seconds <= 0) return false;
  const Nanos due = at + seconds_to_nanos(f->heartbeat_seconds);
  if (due <= f->heartbeat_deadline) return false;
  f->heartbeat_deadline = due;
  if (ex.hooked && !in_loop) checkpoint(ex);
  return true;
}

void Engine::Impl::on_wakeup(Execution& ex, Wakeup& w) {
  const std::uint64_t before = ex.checkpoints;
  // A delivery that changed the execution without a step reporting it.
  if (apply_wakeup(ex, w) && ex.hooked && ex.checkpoints == before) checkpoint(ex);
}

bool Engine::Impl::apply_wakeup(Execution& ex, Wakeup& w) {
  Interp in{*this, ex};
  if (w.frame == kSagaFrame) return saga_wakeup(ex, w);
  if (w.kind == Wakeup::Kind::ExecutionTimeout) {
    if (ex.st.saga.failing) return false;  // it has failed: the roll-back finishes first
    // The frames stay as they stand: a redrive continues from there.
    Failure timeout{"States.Timeout", "", false};
    timeout.has_cause = false;
    in.execution_failed(timeout, ExecutionStatus::TimedOut);
    return true;
  }
  if (w.frame >= ex.st.frames.size()) return false;
  Frame& f = ex.st.frames[w.frame];
  if (!f.in_use || f.token != w.token || w.token == 0) return false;  // stale
  const State& s = in.state_of(f);
  switch (w.kind) {
    case Wakeup::Kind::TaskDone:
      if (f.phase != FramePhase::Task) return false;
      if (in.task_done(w.frame, w.outcome)) {
        if (ex.hooked) checkpoint(ex, w.frame);  // the task's state is left (or caught)
        advance(ex, w.frame);
      }
      return true;
    case Wakeup::Kind::Heartbeat:
      if (f.phase != FramePhase::Task || f.heartbeat_seconds <= 0) return false;
      f.heartbeat_deadline = clock->now() + seconds_to_nanos(f.heartbeat_seconds);
      return true;
    case Wakeup::Kind::HeartbeatTimeout:
    case Wakeup::Kind::TaskTimeout: {
      if (f.phase != FramePhase::Task) return false;
      if (w.kind == Wakeup::Kind::HeartbeatTimeout && clock->now() < f.heartbeat_deadline) {
        arm(f.heartbeat_deadline, w);  // a heartbeat moved the deadline
        return false;
      }
      f.phase = FramePhase::Ready;
      f.token = 0;
      f.effective = nullptr;  // the request's payload
      f.awaiting_worker = false;
      Failure fail{w.kind == Wakeup::Kind::TaskTimeout ? "States.Timeout" : "States.HeartbeatTimeout", "", false};
      in.task_failed_event(f, s, "TimedOut", fail);
      if (in.state_failed(w.frame, s, std::move(fail))) {
        if (ex.hooked) checkpoint(ex, w.frame);  // caught
        advance(ex, w.frame);
      }
      return true;
    }
    case Wakeup::Kind::Timer:
      if (f.phase != FramePhase::Timer) return false;
      f.phase = FramePhase::Ready;
      if (f.timer == TimerKind::Retry) f.timer = TimerKind::None;
      advance(ex, w.frame);
      return true;
    case Wakeup::Kind::ExecutionTimeout: return false;
  }
  return false;
}

namespace {

// Whether frame `id` still waits as it did in the snapshot, with `token`
// (a sibling's failure may have aborted it since).
bool still_waiting(const ExecutionState& st, std::uint32_t id, std::uint64_t token, FramePhase phase) {
  return id < st.frames.size() && token != 0 && st.frames[id].in_use && st.frames[id].phase == phase &&
         st.frames[id].token == token;
}

std::uint64_t snapshot_token(const ResumeRest& rest, std::uint32_t id) {
  return id < rest.token_of.size() ? rest.token_of[id] : 0;
}

}  // namespace

void Engine::Impl::restore_pending(Execution& ex) {
  Interp in{*this, ex};
  ResumeRest& rest = *ex.resume_rest;
  rest.pending_restored = true;
  const auto& frames = ex.st.frames;
  auto take = [&](std::uint32_t id, FramePhase phase) {
    const std::uint64_t token = snapshot_token(rest, id);
    if (!still_waiting(ex.st, id, token, phase) || rest.handled[id]) return false;
    rest.handled[id] = true;
    return true;
  };
  // In their order: a fired timer or timeout fires again at once; a task
  // whose completion had arrived is invoked again.
  for (const auto& p : rest.queue.pending) {
    using K = PendingWakeup::Kind;
    switch (p.kind) {
      case K::ExecutionTimeout:
        local_inbox.push_back(Wakeup{ex.key, UINT32_MAX, 0, Wakeup::Kind::ExecutionTimeout, {}});
        break;
      case K::TaskDone:
        if (take(p.frame, FramePhase::Task)) in.invoke_task(p.frame, in.state_of(frames[p.frame]));
        break;
      case K::Timer:
        if (take(p.frame, FramePhase::Timer))
          local_inbox.push_back(Wakeup{ex.key, p.frame, frames[p.frame].token, Wakeup::Kind::Timer, {}});
        break;
      case K::TaskTimeout:
      case K::HeartbeatTimeout:
        // The task timed out: it is not invoked again.
        if (take(p.frame, FramePhase::Task)) {
          local_inbox.push_back(Wakeup{ex.key, p.frame, frames[p.frame].token,
                                       p.kind == K::TaskTimeout ? Wakeup::Kind::TaskTimeout
                                                                : Wakeup::Kind::HeartbeatTimeout,
                                       {}});
        }
        break;
    }
  }
}

void Engine::Impl::finish_restore(Execution& ex) {
  Interp in{*this, ex};
  if (!ex.resume_rest->pending_restored) restore_pending(ex);
  std::unique_ptr<ResumeRest> rest = std::move(ex.resume_rest);
  auto& frames = ex.st.frames;
  // Other timers and tasks in the order they were armed, so equal due times
  // fire in their original order. A due time already past fires at the
  // loop's next look at the timers.
  for (const auto& [id, token] : rest->waiting) {
    if (rest->handled[id]) continue;
    if (still_waiting(ex.st, id, token, FramePhase::Timer)) {
      arm(frames[id].due, Wakeup{ex.key, id, token, Wakeup::Kind::Timer, {}});
    } else if (still_waiting(ex.st, id, token, FramePhase::Task)) {
      in.invoke_task(id, in.state_of(frames[id]));  // at-least-once: same attempt, same idempotency key
    }
  }
  // The remaining ready frames: the snapshot's order, then any other (by id).
  std::vector<bool> scheduled(frames.size(), false);
  for (auto id : ex.ready) scheduled[id] = true;
  auto add = [&](std::uint32_t id) {
    if (id >= frames.size() || scheduled[id] || !frames[id].in_use || frames[id].phase != FramePhase::Ready) return;
    scheduled[id] = true;
    schedule(ex, id);
  };
  for (auto id : rest->queue.ready) add(id);
  for (std::uint32_t id = 0; id < frames.size(); ++id) add(id);
  saga_restore(ex);
}

void Engine::Impl::end_rolled_back(Execution& ex) {
  Interp in{*this, ex};
  const SagaState& sg = ex.st.saga;
  Failure f{sg.error, sg.cause, false};
  f.has_error = sg.has_error;
  f.has_cause = sg.has_cause;
  in.execution_failed(f, ExecutionStatus::Failed, /*rolled_back=*/true);
}

void Engine::Impl::compensate_state_done(Execution& ex, std::uint32_t fid, json::value report) {
  Frame& f = ex.st.frames[fid];
  // A sibling's failure may have stopped the frame while it waited.
  if (!f.in_use || f.phase != FramePhase::Children || ex.def->machine(f.machine).states[f.state].type !=
                                                           states::StateType::Compensate)
    return;
  f.results = json::array{std::move(report)};
  f.phase = FramePhase::Ready;
  schedule(ex, fid);
}

}  // namespace stepwise
