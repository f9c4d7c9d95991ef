// Snapshots: ExecutionState <-> JSON. The writer omits a frame member equal
// to its default so a snapshot costs little for the many small frames of a
// Map; the reader restores the default for a missing member, which keeps the
// round trip exact.
#include "engine/snapshot.h"

#include <limits>
#include <string_view>
#include <type_traits>

namespace stepwise {
namespace {

const char* kStatusNames[] = {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"};
const char* kPhaseNames[] = {"READY", "TASK", "TIMER", "CHILDREN", "DONE"};
const char* kTimerNames[] = {"NONE", "WAIT", "RETRY"};
const char* kPendingNames[] = {"TASK_DONE", "TIMER", "TASK_TIMEOUT", "HEARTBEAT_TIMEOUT",
                               "EXECUTION_TIMEOUT"};

json::array id_array(const std::vector<std::uint32_t>& ids) {
  json::array a;
  a.reserve(ids.size());
  for (auto id : ids) a.emplace_back(id);
  return a;
}

// A free slot: what release() leaves behind.
bool is_free_slot(const Frame& f) {
  Frame blank;
  blank.id = f.id;
  return f == blank;
}

json::object frame_to_json(const Frame& f) {
  const Frame d;  // defaults
  json::object o;
  auto put = [&o](const char* key, const auto& value, const auto& def) {
    if (value != def) o[key] = value;
  };
  put("parent", f.parent, d.parent);
  put("slot", f.slot, d.slot);
  put("machine", f.machine, d.machine);
  put("state", f.state, d.state);
  if (f.phase != d.phase) o["phase"] = kPhaseNames[static_cast<int>(f.phase)];
  put("entered", f.entered, d.entered);
  put("inUse", f.in_use, d.in_use);
  put("quiet", f.quiet, d.quiet);
  if (!f.input.is_null()) o["input"] = f.input;
  if (!f.effective.is_null()) o["effective"] = f.effective;
  put("enteredEvent", f.entered_event, d.entered_event);
  put("enteredTime", f.entered_time, d.entered_time);
  put("lastEvent", f.last_event, d.last_event);
  put("retryCount", f.retry_count, d.retry_count);
  if (!f.attempts.empty()) o["attempts"] = id_array(f.attempts);
  put("token", f.token, d.token);
  if (f.timer != d.timer) o["timer"] = kTimerNames[static_cast<int>(f.timer)];
  put("due", f.due, d.due);
  put("taskDeadline", f.task_deadline, d.task_deadline);
  put("taskTimeoutSeconds", f.task_timeout_seconds, d.task_timeout_seconds);
  put("heartbeatDeadline", f.heartbeat_deadline, d.heartbeat_deadline);
  put("heartbeatSeconds", f.heartbeat_seconds, d.heartbeat_seconds);
  if (f.task_token) o["taskToken"] = *f.task_token;
  put("awaitingWorker", f.awaiting_worker, d.awaiting_worker);
  put("callIndex", f.call_index, d.call_index);
  put("callAttempt", f.call_attempt, d.call_attempt);
  if (!f.items.empty()) o["items"] = f.items;
  if (!f.variables.empty()) o["variables"] = f.variables;
  if (!f.results.empty()) o["results"] = f.results;
  put("total", f.total, d.total);
  put("launched", f.launched, d.launched);
  put("succeeded", f.succeeded, d.succeeded);
  put("failed", f.failed, d.failed);
  put("running", f.running, d.running);
  put("maxConcurrency", f.max_concurrency, d.max_concurrency);
  if (f.tolerated_percentage) o["toleratedPercentage"] = *f.tolerated_percentage;
  if (f.tolerated_count) o["toleratedCount"] = *f.tolerated_count;
  if (!f.children.empty()) o["children"] = id_array(f.children);
  if (!f.halted.empty()) o["halted"] = id_array(f.halted);
  if (!f.relaunch.empty()) o["relaunch"] = id_array(f.relaunch);
  put("rerun", f.rerun, d.rerun);
  put("serial", f.serial, d.serial);
  return o;
}

// Reads members of one object; the first problem is kept, named by path.
class Reader {
 public:
  Reader(const json::object& o, std::string path, std::string& error)
      : o_(o), path_(std::move(path)), error_(error) {}

  bool ok() const { return error_.empty(); }

  const json::value* find(const char* key, bool required) {
    const json::value* v = o_.if_contains(key);
    if (!v && required) fail(key, "is missing");
    return v;
  }

  template <class Int>
  void integer(const char* key, Int& out, bool required = false) {
    const json::value* v = find(key, required);
    if (!v || !ok()) return;
    if (v->is_int64()) {
      const std::int64_t n = v->get_int64();
      if constexpr (std::is_signed_v<Int>) {
        if (n >= std::numeric_limits<Int>::min() && n <= std::numeric_limits<Int>::max()) {
          out = static_cast<Int>(n);
          return;
        }
      } else if (n >= 0 && static_cast<std::uint64_t>(n) <= std::numeric_limits<Int>::max()) {
        out = static_cast<Int>(n);
        return;
      }
    } else if (v->is_uint64() &&
               v->get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<Int>::max())) {
      out = static_cast<Int>(v->get_uint64());
      return;
    }
    fail(key, "is not an integer in range");
  }

  void number(const char* key, double& out) {
    const json::value* v = find(key, false);
    if (!v) return;
    if (v->is_double())
      out = v->get_double();
    else if (v->is_int64())
      out = static_cast<double>(v->get_int64());
    else if (v->is_uint64())
      out = static_cast<double>(v->get_uint64());
    else
      fail(key, "is not a number");
  }

  void boolean(const char* key, bool& out) {
    const json::value* v = find(key, false);
    if (!v) return;
    if (v->is_bool())
      out = v->get_bool();
    else
      fail(key, "is not a boolean");
  }

  void string(const char* key, std::string& out, bool required = false) {
    const json::value* v = find(key, required);
    if (!v) return;
    if (v->is_string())
      out = std::string(v->get_string());
    else
      fail(key, "is not a string");
  }

  void value(const char* key, json::value& out) {
    if (const json::value* v = find(key, false)) out = *v;
  }

  void array(const char* key, json::array& out) {
    const json::value* v = find(key, false);
    if (!v) return;
    if (v->is_array())
      out = v->get_array();
    else
      fail(key, "is not an array");
  }

  void object(const char* key, json::object& out) {
    const json::value* v = find(key, false);
    if (!v) return;
    if (v->is_object())
      out = v->get_object();
    else
      fail(key, "is not an object");
  }

  void ids(const char* key, std::vector<std::uint32_t>& out) {
    const json::value* v = find(key, false);
    if (!v) return;
    if (!v->is_array()) return fail(key, "is not an array");
    out.clear();
    out.reserve(v->get_array().size());
    for (const auto& e : v->get_array()) {
      if (e.is_int64() && e.get_int64() >= 0 && e.get_int64() <= UINT32_MAX) {
        out.push_back(static_cast<std::uint32_t>(e.get_int64()));
      } else if (e.is_uint64() && e.get_uint64() <= UINT32_MAX) {
        out.push_back(static_cast<std::uint32_t>(e.get_uint64()));
      } else {
        return fail(key, "holds a value that is not an id");
      }
    }
  }

  // One of `names`, stored as its index.
  template <class Enum, std::size_t N>
  void name(const char* key, Enum& out, const char* const (&names)[N]) {
    const json::value* v = find(key, false);
    if (!v) return;
    if (v->is_string()) {
      for (std::size_t i = 0; i < N; ++i) {
        if (v->get_string() == names[i]) {
          out = static_cast<Enum>(i);
          return;
        }
      }
    }
    fail(key, "is not a known name");
  }

  void fail(const char* key, const char* what) {
    if (ok()) error_ = path_ + "." + key + " " + what;
  }

 private:
  const json::object& o_;
  std::string path_;
  std::string& error_;
};

void read_frame(const json::object& o, Frame& f, std::string path, std::string& error) {
  Reader r(o, std::move(path), error);
  r.integer("parent", f.parent);
  r.integer("slot", f.slot);
  r.integer("machine", f.machine);
  r.integer("state", f.state);
  r.name("phase", f.phase, kPhaseNames);
  r.boolean("entered", f.entered);
  r.boolean("inUse", f.in_use);
  r.boolean("quiet", f.quiet);
  r.value("input", f.input);
  r.value("effective", f.effective);
  r.integer("enteredEvent", f.entered_event);
  r.integer("enteredTime", f.entered_time);
  r.integer("lastEvent", f.last_event);
  r.integer("retryCount", f.retry_count);
  r.ids("attempts", f.attempts);
  r.integer("token", f.token);
  r.name("timer", f.timer, kTimerNames);
  r.integer("due", f.due);
  r.integer("taskDeadline", f.task_deadline);
  r.number("taskTimeoutSeconds", f.task_timeout_seconds);
  r.integer("heartbeatDeadline", f.heartbeat_deadline);
  r.number("heartbeatSeconds", f.heartbeat_seconds);
  if (o.contains("taskToken")) {
    std::string token;
    r.string("taskToken", token);
    f.task_token = std::move(token);
  }
  r.boolean("awaitingWorker", f.awaiting_worker);
  r.integer("callIndex", f.call_index);
  r.integer("callAttempt", f.call_attempt);
  r.array("items", f.items);
  r.object("variables", f.variables);
  r.array("results", f.results);
  r.integer("total", f.total);
  r.integer("launched", f.launched);
  r.integer("succeeded", f.succeeded);
  r.integer("failed", f.failed);
  r.integer("running", f.running);
  r.integer("maxConcurrency", f.max_concurrency);
  if (o.contains("toleratedPercentage")) {
    double p = 0;
    r.number("toleratedPercentage", p);
    f.tolerated_percentage = p;
  }
  if (o.contains("toleratedCount")) {
    std::int64_t n = 0;
    r.integer("toleratedCount", n);
    f.tolerated_count = n;
  }
  r.ids("children", f.children);
  r.ids("halted", f.halted);
  r.ids("relaunch", f.relaunch);
  r.boolean("rerun", f.rerun);
  r.integer("serial", f.serial);
}

// Ids, parents and children must point at frames that exist and agree.
std::string check_structure(const ExecutionSnapshot& s) {
  const auto& frames = s.state.frames;
  const auto n = frames.size();
  auto in_use = [&](std::uint32_t id) { return id < n && frames[id].in_use; };
  std::vector<bool> listed(n, false);  // named by a parent's halted or relaunch
  for (const auto& f : frames) {
    const std::string where = "frames[" + std::to_string(f.id) + "]";
    if (!f.in_use) continue;
    if (f.parent >= 0) {
      const auto p = static_cast<std::uint32_t>(f.parent);
      if (!in_use(p)) return where + ".parent is not a frame in use";
    } else if (f.parent != -1) {
      return where + ".parent is negative";
    }
    for (auto c : f.children) {
      if (!in_use(c) || frames[c].parent != static_cast<std::int32_t>(f.id))
        return where + ".children names frame " + std::to_string(c) + ", which is not its child";
      if (frames[c].phase == FramePhase::Done)
        return where + ".children names frame " + std::to_string(c) + ", which is halted";
    }
    // Halted children (phase Done) are listed by their parent, once.
    for (const auto* list : {&f.halted, &f.relaunch}) {
      const char* name = list == &f.halted ? ".halted" : ".relaunch";
      for (auto c : *list) {
        if (!in_use(c) || frames[c].parent != static_cast<std::int32_t>(f.id) ||
            frames[c].phase != FramePhase::Done)
          return where + name + " names frame " + std::to_string(c) + ", which is not a halted child";
        if (listed[c]) return where + name + " names frame " + std::to_string(c) + " twice";
        listed[c] = true;
      }
    }
  }
  for (const auto& f : frames) {
    if (f.in_use && f.phase == FramePhase::Done && !listed[f.id])
      return "frames[" + std::to_string(f.id) + "] is halted, but its parent does not list it";
  }
  for (auto id : s.state.free_frames) {
    if (id >= n || frames[id].in_use)
      return "freeFrames names frame " + std::to_string(id) + ", which is in use";
  }
  for (auto id : s.queue.ready) {
    if (!in_use(id)) return "ready names frame " + std::to_string(id) + ", which is not in use";
  }
  if (s.queue.ready_first > s.queue.ready.size()) return "readyFirst is larger than ready";
  for (const auto& p : s.queue.pending) {
    if (p.kind != PendingWakeup::Kind::ExecutionTimeout && !in_use(p.frame))
      return "pending names frame " + std::to_string(p.frame) + ", which is not in use";
  }
  return {};
}

// ---- Sagas: "saga":{"records":[...],"active":{...},"waiting":[...],
//      "failing","error","cause","hasError","hasCause","nextSerial"} -----------

const char* kRecordStatusNames[] = {"PENDING", "RUNNING", "SUCCEEDED", "FAILED"};
const char* kRollBackPhaseNames[] = {"READY", "TASK", "TIMER"};

json::object saga_to_json(const SagaState& sg) {
  json::object o;
  json::array records;
  for (const auto& r : sg.records) {
    json::object ro{{"machine", r.machine}, {"state", r.state}, {"input", r.input}, {"result", r.result}};
    json::array scope;
    for (auto s : r.scope) scope.emplace_back(s);
    ro["scope"] = std::move(scope);
    ro["status"] = kRecordStatusNames[static_cast<int>(r.status)];
    if (r.status == CompensationRecord::Status::Failed) {
      ro["error"] = r.error;
      ro["cause"] = r.cause;
    }
    records.emplace_back(std::move(ro));
  }
  o["records"] = std::move(records);
  if (sg.active) {
    const RollBack& b = *sg.active;
    json::object a{{"frame", b.frame},
                   {"order", id_array(b.order)},
                   {"next", b.next},
                   {"failed", b.failed},
                   {"phase", kRollBackPhaseNames[static_cast<int>(b.phase)]},
                   {"token", b.token},
                   {"retryCount", b.retry_count},
                   {"attempts", id_array(b.attempts)},
                   {"payload", b.payload},
                   {"due", b.due},
                   {"taskDeadline", b.task_deadline},
                   {"timeoutSeconds", b.timeout_seconds}};
    o["active"] = std::move(a);
  }
  if (!sg.waiting.empty()) o["waiting"] = id_array(sg.waiting);
  o["failing"] = sg.failing;
  o["error"] = sg.error;
  o["cause"] = sg.cause;
  o["hasError"] = sg.has_error;
  o["hasCause"] = sg.has_cause;
  o["nextSerial"] = sg.next_serial;
  return o;
}

// Reads "saga"; returns the first problem, or "".
std::string saga_from_json(const json::value& v, SagaState& sg) {
  const std::string path = "snapshot.execution.saga";
  if (!v.is_object()) return path + " is not an object";
  std::string error;
  Reader r(v.get_object(), path, error);
  r.boolean("failing", sg.failing);
  r.string("error", sg.error);
  r.string("cause", sg.cause);
  r.boolean("hasError", sg.has_error);
  r.boolean("hasCause", sg.has_cause);
  r.integer("nextSerial", sg.next_serial);
  r.ids("waiting", sg.waiting);
  if (!error.empty()) return error;
  if (const json::value* recs = v.get_object().if_contains("records")) {
    if (!recs->is_array()) return path + ".records is not an array";
    std::size_t i = 0;
    for (const auto& e : recs->get_array()) {
      const std::string where = path + ".records[" + std::to_string(i++) + "]";
      if (!e.is_object()) return where + " is not an object";
      CompensationRecord rec;
      Reader rr(e.get_object(), where, error);
      rr.integer("machine", rec.machine, true);
      rr.integer("state", rec.state, true);
      rr.value("input", rec.input);
      rr.value("result", rec.result);
      rr.name("status", rec.status, kRecordStatusNames);
      rr.string("error", rec.error);
      rr.string("cause", rec.cause);
      if (const json::value* scope = e.get_object().if_contains("scope")) {
        if (!scope->is_array()) return where + ".scope is not an array";
        for (const auto& s : scope->get_array()) {
          if (s.is_uint64()) rec.scope.push_back(s.get_uint64());
          else if (s.is_int64() && s.get_int64() >= 0) rec.scope.push_back(static_cast<std::uint64_t>(s.get_int64()));
          else return where + ".scope holds a value that is not a serial";
        }
      }
      if (!error.empty()) return error;
      sg.records.push_back(std::move(rec));
    }
  }
  if (const json::value* av = v.get_object().if_contains("active")) {
    if (!av->is_object()) return path + ".active is not an object";
    RollBack b;
    Reader ar(av->get_object(), path + ".active", error);
    ar.integer("frame", b.frame, true);
    ar.ids("order", b.order);
    ar.integer("next", b.next);
    ar.integer("failed", b.failed);
    ar.name("phase", b.phase, kRollBackPhaseNames);
    ar.integer("token", b.token);
    ar.integer("retryCount", b.retry_count);
    ar.ids("attempts", b.attempts);
    ar.value("payload", b.payload);
    ar.integer("due", b.due);
    ar.integer("taskDeadline", b.task_deadline);
    ar.number("timeoutSeconds", b.timeout_seconds);
    if (!error.empty()) return error;
    for (auto i : b.order)
      if (i >= sg.records.size()) return path + ".active.order names record " + std::to_string(i) + ", which does not exist";
    if (b.next > b.order.size()) return path + ".active.next is past the end of its order";
    sg.active = std::move(b);
  }
  return {};
}

Failure invalid(std::string cause) {
  return Failure{"Stepwise.InvalidSnapshot", std::move(cause), false};
}

}  // namespace

const char* phase_name(FramePhase p) {
  return kPhaseNames[static_cast<int>(p)];
}

json::value snapshot_to_json(const ExecutionState& st, const RunQueue& queue) {
  json::object ex;
  ex["arn"] = st.arn;
  ex["name"] = st.name;
  ex["stateMachineArn"] = st.state_machine_arn;
  ex["stateMachineName"] = st.state_machine_name;
  ex["roleArn"] = st.role_arn;
  ex["input"] = st.input;
  ex["startTime"] = st.start_time;
  ex["startTimeText"] = st.start_time_text;
  ex["status"] = kStatusNames[static_cast<int>(st.status)];
  ex["output"] = st.output;
  ex["error"] = st.error;
  ex["cause"] = st.cause;
  ex["hasError"] = st.has_error;
  ex["hasCause"] = st.has_cause;
  ex["nextEventId"] = st.next_event_id;
  ex["nextToken"] = st.next_token;
  ex["statesEntered"] = st.states_entered;
  ex["deadline"] = st.deadline;
  if (st.redrive_count) ex["redriveCount"] = st.redrive_count;
  if (st.redrive_time) ex["redriveTime"] = st.redrive_time;
  if (st.saga != SagaState{}) ex["saga"] = saga_to_json(st.saga);
  if (!st.task_calls.empty()) {
    json::object calls;
    for (const auto& [name, n] : st.task_calls) calls[name] = n;
    ex["taskCalls"] = std::move(calls);
  }

  json::array frames;
  frames.reserve(st.frames.size());
  for (const auto& f : st.frames) {
    if (is_free_slot(f))
      frames.emplace_back(nullptr);
    else
      frames.emplace_back(frame_to_json(f));
  }
  json::object root;
  root["version"] = kSnapshotVersion;
  root["execution"] = std::move(ex);
  root["frames"] = std::move(frames);
  root["freeFrames"] = id_array(st.free_frames);
  root["ready"] = id_array(queue.ready);
  root["readyFirst"] = queue.ready_first;
  json::array pending;
  for (const auto& p : queue.pending) {
    json::object o;
    if (p.kind != PendingWakeup::Kind::ExecutionTimeout) o["frame"] = p.frame;
    o["kind"] = kPendingNames[static_cast<int>(p.kind)];
    pending.emplace_back(std::move(o));
  }
  root["pending"] = std::move(pending);
  return root;
}

Result<ExecutionSnapshot> snapshot_from_json(const json::value& v) {
  if (!v.is_object()) return invalid("a snapshot is a JSON object");
  const json::object& root = v.get_object();
  std::string error;
  Reader top(root, "snapshot", error);
  std::int64_t version = 0;
  top.integer("version", version, true);
  if (!error.empty()) return invalid(error);
  if (version != kSnapshotVersion)
    return invalid("snapshot version " + std::to_string(version) +
                   " is not supported (this engine reads version " +
                   std::to_string(kSnapshotVersion) + ")");

  ExecutionSnapshot s;
  ExecutionState& st = s.state;
  const json::value* exv = top.find("execution", true);
  if (!error.empty()) return invalid(error);
  if (!exv->is_object()) return invalid("snapshot.execution is not an object");
  Reader ex(exv->get_object(), "snapshot.execution", error);
  ex.string("arn", st.arn, true);
  ex.string("name", st.name);
  ex.string("stateMachineArn", st.state_machine_arn);
  ex.string("stateMachineName", st.state_machine_name);
  ex.string("roleArn", st.role_arn);
  ex.value("input", st.input);
  ex.integer("startTime", st.start_time);
  ex.string("startTimeText", st.start_time_text);
  ex.name("status", st.status, kStatusNames);
  ex.value("output", st.output);
  ex.string("error", st.error);
  ex.string("cause", st.cause);
  ex.boolean("hasError", st.has_error);
  ex.boolean("hasCause", st.has_cause);
  ex.integer("nextEventId", st.next_event_id);
  ex.integer("nextToken", st.next_token);
  ex.integer("statesEntered", st.states_entered);
  ex.integer("deadline", st.deadline);
  ex.integer("redriveCount", st.redrive_count);
  ex.integer("redriveTime", st.redrive_time);
  if (const json::value* calls = exv->get_object().if_contains("taskCalls")) {
    if (!calls->is_object()) return invalid("snapshot.execution.taskCalls is not an object");
    for (const auto& kv : calls->get_object()) {
      const json::value& n = kv.value();
      const bool count = (n.is_int64() && n.get_int64() >= 0 && n.get_int64() <= UINT32_MAX) ||
                         (n.is_uint64() && n.get_uint64() <= UINT32_MAX);
      if (!count) return invalid("snapshot.execution.taskCalls." + std::string(kv.key()) + " is not a count");
      st.task_calls[std::string(kv.key())] =
          static_cast<std::uint32_t>(n.is_int64() ? n.get_int64() : static_cast<std::int64_t>(n.get_uint64()));
    }
  }
  if (!error.empty()) return invalid(error);
  if (const json::value* saga = exv->get_object().if_contains("saga")) {
    if (std::string bad = saga_from_json(*saga, st.saga); !bad.empty()) return invalid(bad);
  }

  const json::value* fv = top.find("frames", true);
  if (!error.empty()) return invalid(error);
  if (!fv->is_array()) return invalid("snapshot.frames is not an array");
  std::uint32_t id = 0;
  for (const auto& e : fv->get_array()) {
    Frame& f = st.frames.emplace_back();
    f.id = id;
    if (e.is_object()) {
      read_frame(e.get_object(), f, "snapshot.frames[" + std::to_string(id) + "]", error);
      if (!error.empty()) return invalid(error);
    } else if (!e.is_null()) {
      return invalid("snapshot.frames[" + std::to_string(id) + "] is neither a frame nor null");
    }
    ++id;
  }
  top.ids("freeFrames", st.free_frames);
  top.ids("ready", s.queue.ready);
  top.integer("readyFirst", s.queue.ready_first);
  if (!error.empty()) return invalid(error);
  if (const json::value* pv = top.find("pending", false)) {
    if (!pv->is_array()) return invalid("snapshot.pending is not an array");
    std::size_t i = 0;
    for (const auto& e : pv->get_array()) {
      if (!e.is_object())
        return invalid("snapshot.pending[" + std::to_string(i) + "] is not an object");
      Reader r(e.get_object(), "snapshot.pending[" + std::to_string(i) + "]", error);
      PendingWakeup p;
      r.integer("frame", p.frame);
      r.name("kind", p.kind, kPendingNames);
      if (!error.empty()) return invalid(error);
      s.queue.pending.push_back(p);
      ++i;
    }
  }
  if (std::string bad = check_structure(s); !bad.empty()) return invalid("snapshot." + bad);
  return s;
}

std::optional<Failure> check_snapshot(const states::Definition& def,
                                      const ExecutionSnapshot& snapshot) {
  auto mismatch = [](std::string cause) {
    return Failure{"Stepwise.SnapshotMismatch",
                   "The snapshot does not fit this definition: " + std::move(cause), false};
  };
  using states::StateType;
  const auto& frames = snapshot.state.frames;
  std::size_t roots = 0;
  for (const auto& f : frames) {
    if (!f.in_use) continue;
    const std::string where = "frame " + std::to_string(f.id);
    if (f.machine >= def.machines.size())
      return mismatch(where + " runs machine " + std::to_string(f.machine) +
                      ", but the definition has " + std::to_string(def.machines.size()) +
                      " machines");
    const states::Machine& m = def.machine(f.machine);
    if (f.state >= m.states.size())
      return mismatch(where + " is at state " + std::to_string(f.state) + " of machine " +
                      std::to_string(f.machine) + ", which has " + std::to_string(m.states.size()) +
                      " states");
    const states::State& s = m.states[f.state];
    const bool ok_phase = [&] {
      switch (f.phase) {
        case FramePhase::Ready:
          return true;
        case FramePhase::Task:  // a Distributed Map waits for its map run as for a task
          return s.type == StateType::Task ||
                 (s.type == StateType::Map && s.as<states::MapSpec>().mode == "DISTRIBUTED");
        case FramePhase::Timer:
          return f.timer == TimerKind::Wait
                     ? s.type == StateType::Wait
                     : f.timer == TimerKind::Retry && f.retry_count > 0 && !s.retry.empty();
        case FramePhase::Children:  // a Compensate state waits for its roll-back
          return s.type == StateType::Parallel || s.type == StateType::Map || s.type == StateType::Compensate;
        case FramePhase::Done:
          return f.parent >= 0;  // a halted branch or iteration
      }
      return false;
    }();
    if (!ok_phase)
      return mismatch(where + " is in phase " + phase_name(f.phase) + ", which state '" + s.name +
                      "' cannot be in");
    const bool container = s.type == StateType::Parallel || s.type == StateType::Map;
    if (!container && (f.rerun || !f.halted.empty() || !f.relaunch.empty()))
      return mismatch(where + " keeps halted children, but state '" + s.name +
                      "' is neither a Parallel nor a Map");
    if (f.entered && f.attempts.size() > s.retry.size())
      return mismatch(where + " counts " + std::to_string(f.attempts.size()) +
                      " retriers, but state '" + s.name + "' has " +
                      std::to_string(s.retry.size()));
    if (f.parent < 0) {
      ++roots;
      if (f.machine != 0)
        return mismatch(where + " is the top frame but does not run the top-level machine");
      continue;
    }
    // A child runs what its parent's state says: branch `slot` or the item processor.
    const Frame& p = frames[static_cast<std::uint32_t>(f.parent)];
    if (p.machine >= def.machines.size() || p.state >= def.machine(p.machine).states.size())
      continue;  // reported there
    const states::State& ps = def.machine(p.machine).states[p.state];
    states::MachineId expected = 0;
    if (ps.type == StateType::Parallel) {
      const auto& branches = ps.as<states::ParallelSpec>().branches;
      if (f.slot >= branches.size())
        return mismatch(where + " is branch " + std::to_string(f.slot) + " of Parallel state '" +
                        ps.name + "', which has " + std::to_string(branches.size()) + " branches");
      expected = branches[f.slot];
    } else if (ps.type == StateType::Map) {
      expected = ps.as<states::MapSpec>().processor;
    } else {
      return mismatch(where + " is a child of state '" + ps.name +
                      "', which is neither a Parallel nor a Map");
    }
    if (f.machine != expected)
      return mismatch(where + " runs machine " + std::to_string(f.machine) + ", but state '" +
                      ps.name + "' runs machine " + std::to_string(expected) + " there");
  }
  for (const auto& r : snapshot.state.saga.records) {
    if (r.machine >= def.machines.size() || r.state >= def.machine(r.machine).states.size() ||
        !def.machine(r.machine).states[r.state].compensate)
      return mismatch("the saga records a completed step (machine " + std::to_string(r.machine) + ", state " +
                      std::to_string(r.state) + ") that has no Compensate block");
  }
  if (const auto& a = snapshot.state.saga.active; a && a->frame != kRollBackExecution &&
                                                  (a->frame >= frames.size() || !frames[a->frame].in_use))
    return mismatch("the roll-back in progress was asked for by frame " + std::to_string(a->frame) +
                    ", which is not in use");
  if (snapshot.state.status == ExecutionStatus::Running && roots != 1)
    return mismatch("a running execution has exactly one top frame, the snapshot has " +
                    std::to_string(roots));
  return std::nullopt;
}

}  // namespace stepwise
