#include "storage/records.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <utility>

#include "storage/internal.h"
#include "storage/status.h"

namespace stepwise::storage {

namespace {

template <class E, std::size_t N>
std::optional<E> lookup(const std::array<std::pair<E, std::string_view>, N>& table,
                        std::string_view text) {
  for (const auto& [value, name] : table) {
    if (name == text) return value;
  }
  return std::nullopt;
}

template <class E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "?";
}

constexpr std::array<std::pair<MachineType, std::string_view>, 2> kMachineTypes{{
    {MachineType::kStandard, "STANDARD"},
    {MachineType::kExpress, "EXPRESS"},
}};
constexpr std::array<std::pair<ExecutionStatus, std::string_view>, 5> kExecutionStatuses{{
    {ExecutionStatus::kRunning, "RUNNING"},
    {ExecutionStatus::kSucceeded, "SUCCEEDED"},
    {ExecutionStatus::kFailed, "FAILED"},
    {ExecutionStatus::kTimedOut, "TIMED_OUT"},
    {ExecutionStatus::kAborted, "ABORTED"},
}};
constexpr std::array<std::pair<TokenStatus, std::string_view>, 2> kTokenStatuses{{
    {TokenStatus::kOpen, "OPEN"},
    {TokenStatus::kClosed, "CLOSED"},
}};
constexpr std::array<std::pair<MapRunStatus, std::string_view>, 4> kMapRunStatuses{{
    {MapRunStatus::kRunning, "RUNNING"},
    {MapRunStatus::kSucceeded, "SUCCEEDED"},
    {MapRunStatus::kFailed, "FAILED"},
    {MapRunStatus::kAborted, "ABORTED"},
}};
constexpr std::array<std::pair<Code, std::string_view>, 11> kCodes{{
    {Code::kOk, "OK"},
    {Code::kNotFound, "NotFound"},
    {Code::kAlreadyExists, "AlreadyExists"},
    {Code::kConflict, "Conflict"},
    {Code::kInvalidArgument, "InvalidArgument"},
    {Code::kCorrupt, "Corrupt"},
    {Code::kNewerSchema, "NewerSchema"},
    {Code::kNotOurs, "NotOurs"},
    {Code::kDiskFull, "DiskFull"},
    {Code::kBusy, "Busy"},
    {Code::kIoError, "IoError"},
}};

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

std::string& EncodedEvents::begin(std::int64_t id, std::int64_t previous_id, UnixNanos timestamp,
                                 std::string_view type) {
  // The head is built on the stack and appended at once: one copy, no
  // zero-filling of room that resize() would give. Three int64s take at
  // most 20 characters each in decimal; punctuation and a plain type name
  // (they all are) fit in the rest.
  constexpr std::size_t kPunctuation = 8;
  char head[3 * 20 + kPunctuation + 64];
  char* p = head;
  if (!entries_.empty()) *p++ = ',';
  *p++ = '[';
  p = std::to_chars(p, p + 20, id).ptr;
  *p++ = ',';
  p = std::to_chars(p, p + 20, previous_id).ptr;
  *p++ = ',';
  // Events come in runs of one timestamp (a state exits and the next enters
  // at one instant): its digits are kept from the event before.
  if (timestamp != last_timestamp_ || timestamp_digits_ == 0) {
    last_timestamp_ = timestamp;
    timestamp_digits_ = static_cast<std::uint8_t>(std::to_chars(timestamp_text_, timestamp_text_ + 20, timestamp).ptr -
                                                  timestamp_text_);
  }
  p = std::copy_n(timestamp_text_, timestamp_digits_, p);
  *p++ = ',';
  *p++ = '"';
  // Event types are plain names, appended as they are; anything else is
  // escaped all the same.
  const bool plain = std::all_of(type.begin(), type.end(), [](char c) {
    return c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20;
  });
  if (plain && type.size() <= 64 - 2) {
    p = std::copy(type.begin(), type.end(), p);
    *p++ = '"';
    *p++ = ',';
    text_.append(head, static_cast<std::size_t>(p - head));
    entries_.push_back(Entry{id, 0});
    return text_;
  }
  text_.append(head, static_cast<std::size_t>(p - head));
  if (plain) {
    text_ += type;
  } else {
    for (const char c : type) {
      if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
        static constexpr char kHex[] = "0123456789abcdef";
        const auto u = static_cast<unsigned char>(c);
        text_ += "\\u00";
        text_ += kHex[u >> 4];
        text_ += kHex[u & 0xf];
      } else {
        text_ += c;
      }
    }
  }
  text_ += "\",";
  entries_.push_back(Entry{id, 0});
  return text_;
}

void EncodedEvents::end() {
  text_ += ']';
  entries_.back().end = text_.size();
}

std::string_view to_string(MachineType type) {
  return name_of(kMachineTypes, type);
}
std::string_view to_string(ExecutionStatus status) {
  return name_of(kExecutionStatuses, status);
}
std::string_view to_string(TokenStatus status) {
  return name_of(kTokenStatuses, status);
}
std::optional<MachineType> parse_machine_type(std::string_view text) {
  return lookup(kMachineTypes, text);
}
std::optional<ExecutionStatus> parse_execution_status(std::string_view text) {
  return lookup(kExecutionStatuses, text);
}
std::optional<TokenStatus> parse_token_status(std::string_view text) {
  return lookup(kTokenStatuses, text);
}
std::string_view to_string(MapRunStatus status) {
  return name_of(kMapRunStatuses, status);
}
std::optional<MapRunStatus> parse_map_run_status(std::string_view text) {
  return lookup(kMapRunStatuses, text);
}

std::string_view code_name(Code code) {
  return name_of(kCodes, code);
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  std::string out(code_name(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

namespace internal {

int page_size(const PageRequest& page) {
  if (page.max_results <= 0) return kDefaultPageSize;
  return std::min(page.max_results, kMaxPageSize);
}

bool same_input(std::string_view a, std::string_view b) {
  if (a == b) return true;
  boost::system::error_code ea, eb;
  boost::json::value va = boost::json::parse(a, ea);
  boost::json::value vb = boost::json::parse(b, eb);
  if (ea || eb) return false;
  return va == vb;
}

std::string encode_cursor(const ExecutionCursor& c) {
  return std::to_string(c.start_date) + "." + std::to_string(c.seq);
}

std::optional<ExecutionCursor> decode_cursor(std::string_view token) {
  auto dot = token.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto start = parse_int(token.substr(0, dot));
  auto seq = parse_int(token.substr(dot + 1));
  if (!start || !seq) return std::nullopt;
  return ExecutionCursor{*start, *seq};
}

std::string encode_name_cursor(std::string_view name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "n";
  out.reserve(1 + 2 * name.size());
  for (unsigned char c : name) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::optional<std::string> decode_name_cursor(std::string_view token) {
  if (token.size() < 3 || token[0] != 'n' || token.size() % 2 == 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string name;
  name.reserve(token.size() / 2);
  for (std::size_t i = 1; i < token.size(); i += 2) {
    const int hi = nibble(token[i]), lo = nibble(token[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    name += static_cast<char>(hi * 16 + lo);
  }
  return name;
}

std::string encode_event_cursor(std::int64_t last_id) {
  return std::to_string(last_id);
}

std::optional<std::int64_t> decode_event_cursor(std::string_view token) {
  return parse_int(token);
}

Status validate_transition_shape(const Transition& t) {
  if (t.outcome && !is_terminal(t.outcome->status)) {
    return {Code::kInvalidArgument, "an outcome must end the execution, not leave it RUNNING"};
  }
  if (t.outcome && t.redrive_date) {
    return {Code::kInvalidArgument, "a transition cannot both redrive and end an execution"};
  }
  if (t.outcome && t.park_until) {
    return {Code::kInvalidArgument, "a transition cannot both park and end an execution"};
  }
  std::int64_t previous = 0;
  bool any = false;
  auto next_id = [&](std::int64_t id) -> Status {
    if (any && id <= previous) {
      return {Code::kInvalidArgument,
              "event ids must increase: " + std::to_string(id) + " follows " + std::to_string(previous)};
    }
    any = true;
    previous = id;
    return {};
  };
  for (const EventRecord& e : t.events) {
    if (Status s = next_id(e.id); !s.ok()) return s;
  }
  for (std::size_t i = 0; i < t.encoded_events.size(); ++i) {
    if (Status s = next_id(t.encoded_events.id(i)); !s.ok()) return s;
  }
  return {};
}

std::optional<std::int64_t> first_event_id(const Transition& t) {
  if (!t.events.empty()) return t.events.front().id;
  if (!t.encoded_events.empty()) return t.encoded_events.id(0);
  return std::nullopt;
}

std::optional<std::int64_t> last_event_id(const Transition& t) {
  if (!t.encoded_events.empty()) return t.encoded_events.id(t.encoded_events.size() - 1);
  if (!t.events.empty()) return t.events.back().id;
  return std::nullopt;
}

std::size_t event_count(const Transition& t) {
  return t.events.size() + t.encoded_events.size();
}

Status check_transition_against(const Transition& t, ExecutionStatus status, std::int64_t version,
                                std::int64_t last_event_id, const std::string& lease_owner) {
  if (version != t.expected_version) {
    return {Code::kConflict, "execution '" + t.execution_arn + "' is at version " +
                                 std::to_string(version) + ", not " +
                                 std::to_string(t.expected_version)};
  }
  if (!t.lease_owner.empty() && lease_owner != t.lease_owner) {
    return {Code::kConflict, "'" + t.lease_owner + "' does not hold the lease of execution '" +
                                 t.execution_arn + "'"};
  }
  if (t.redrive_date && !is_redrivable(status)) {
    return {Code::kConflict, "execution '" + t.execution_arn + "' is " +
                                 std::string(to_string(status)) + " and cannot be redriven"};
  }
  if (!t.redrive_date && is_terminal(status)) {
    return {Code::kConflict, "execution '" + t.execution_arn + "' is " +
                                 std::string(to_string(status)) + ", not RUNNING"};
  }
  if (const auto first = first_event_id(t); first && *first <= last_event_id) {
    return {Code::kInvalidArgument, "event id " + std::to_string(*first) +
                                        " is not after the last recorded id " +
                                        std::to_string(last_event_id)};
  }
  return {};
}

Status in_batch(const Status& failure, std::size_t index, const std::string& execution_arn) {
  return {failure.code(), "transition " + std::to_string(index) + " (" + execution_arn + "): " + failure.message()};
}

Status not_found_execution(const std::string& arn) {
  return {Code::kNotFound, "execution '" + arn + "' does not exist"};
}

Status not_found_state_machine(const std::string& arn) {
  return {Code::kNotFound, "state machine '" + arn + "' does not exist"};
}

Status not_found_token(const std::string& token) {
  return {Code::kNotFound, "task token '" + token + "' does not exist"};
}

Status not_found_activity(const std::string& arn) {
  return {Code::kNotFound, "activity '" + arn + "' does not exist"};
}

Status check_token_open(const TaskTokenRecord& token, ExecutionStatus execution_status, UnixNanos now) {
  if (token.status != TokenStatus::kOpen) return {Code::kConflict, "task token '" + token.token + "' is closed"};
  if (execution_status != ExecutionStatus::kRunning) {
    return {Code::kConflict, "the execution of task token '" + token.token + "' has ended"};
  }
  if (token.timeout_at != 0 && now > token.timeout_at) {
    return {Code::kConflict, "the task of token '" + token.token + "' has timed out"};
  }
  if (token.heartbeat_due != 0 && now > token.heartbeat_due) {
    return {Code::kConflict, "the task of token '" + token.token + "' missed its heartbeat"};
  }
  return {};
}

void apply_heartbeat(TaskTokenRecord& token, UnixNanos now) {
  token.last_heartbeat = now;
  if (token.heartbeat_seconds > 0) {
    token.heartbeat_due = std::max<UnixNanos>(token.heartbeat_due, now + token.heartbeat_seconds * 1000000000);
  }
}

std::string encode_token_result(const TaskTokenResult& r) {
  boost::json::object o;
  o["date"] = r.date;
  if (r.success) {
    o["output"] = r.output;
  } else {
    if (r.error) o["error"] = *r.error;
    if (r.cause) o["cause"] = *r.cause;
  }
  return boost::json::serialize(o);
}

std::optional<TaskTokenResult> decode_token_result(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  TaskTokenResult r;
  if (const auto* d = o.if_contains("date"); d && d->is_int64()) r.date = d->get_int64();
  if (const auto* out = o.if_contains("output"); out && out->is_string()) {
    r.success = true;
    r.output = std::string(out->get_string());
    return r;
  }
  r.success = false;
  if (const auto* e = o.if_contains("error"); e && e->is_string()) r.error = std::string(e->get_string());
  if (const auto* c = o.if_contains("cause"); c && c->is_string()) r.cause = std::string(c->get_string());
  return r;
}

}  // namespace internal
}  // namespace stepwise::storage
