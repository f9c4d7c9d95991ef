#include "engine/service.h"

#include "engine/redrive.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <thread>

#include "engine/engine.h"
#include "engine/event_codec.h"

namespace stepwise {
namespace {

using storage::Code;

// AWS's limits on request members.
constexpr std::size_t kMaxNameLength = 80;
constexpr std::size_t kMaxArnLength = 256;
constexpr std::size_t kMaxDefinitionLength = 1024 * 1024;
constexpr std::size_t kMaxInputBytes = 256 * 1024;
constexpr std::size_t kMaxErrorLength = 256;
constexpr std::size_t kMaxCauseLength = 32768;
constexpr Nanos kRedrivablePeriod = 14LL * 24 * 3600 * kNanosPerSecond;

// ---- Errors -----------------------------------------------------------------

// AWS reports a broken model constraint as "1 validation error detected: ...".
ServiceError validation(const std::string& what) {
  return {"ValidationException", "1 validation error detected: " + what};
}

ServiceError missing(std::string_view member) {
  return validation("Value null at '" + std::string(member) +
                    "' failed to satisfy constraint: Member must not be null");
}

ServiceError too_long(std::string_view member, const std::string& value, std::size_t max, bool show_value = true) {
  std::string shown = show_value ? "Value '" + value + "' at '" : "Value at '";
  return validation(shown + std::string(member) +
                    "' failed to satisfy constraint: Member must have length less than or equal to " +
                    std::to_string(max));
}

ServiceError invalid_arn(std::string_view arn) {
  return {"InvalidArn", "Invalid Arn: '" + std::string(arn) + "'"};
}

ServiceError state_machine_missing(std::string_view arn) {
  return {"StateMachineDoesNotExist", "State Machine Does Not Exist: '" + std::string(arn) + "'"};
}

ServiceError execution_missing(std::string_view arn) {
  return {"ExecutionDoesNotExist", "Execution Does Not Exist: '" + std::string(arn) + "'"};
}

ServiceError invalid_token(std::string_view) {
  return {"InvalidToken", "Invalid Token: 'Invalid token'"};
}

// A store failure that is no fault of the request.
ServiceError store_failure(const storage::Status& s) {
  if (s.code() == Code::kBusy || s.code() == Code::kDiskFull) return {"ServiceUnavailable", s.to_string()};
  return {"InternalFailure", s.to_string()};
}

// ---- Request members ----------------------------------------------------------

// The first problem met while reading a request's members.
class Reader {
 public:
  explicit Reader(const json::object& request) : request_(request) {}

  // A string member; nullopt when absent or null.
  std::optional<std::string> string(std::string_view key) {
    const json::value* v = request_.if_contains(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string()) {
      fail_type(key, "a string", *v);
      return std::nullopt;
    }
    return std::string(v->get_string());
  }
  // A required string member.
  std::string required(std::string_view key) {
    auto s = string(key);
    if (!s && !error_) error_ = missing(key);
    return s.value_or("");
  }
  std::optional<std::int64_t> integer(std::string_view key) {
    const json::value* v = request_.if_contains(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
      return static_cast<std::int64_t>(v->get_uint64());
    fail_type(key, "an integer", *v);
    return std::nullopt;
  }
  std::optional<bool> boolean(std::string_view key) {
    const json::value* v = request_.if_contains(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_bool()) return v->get_bool();
    fail_type(key, "a boolean", *v);
    return std::nullopt;
  }
  bool has(std::string_view key) const {
    const json::value* v = request_.if_contains(key);
    return v && !v->is_null();
  }

  // maxResults: 0 (the default page) to 1000.
  int max_results() {
    auto n = integer("maxResults");
    if (!n) return 0;
    if (*n < 0) {
      set(validation(
          "Value '" + std::to_string(*n) +
          "' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 0"));
    } else if (*n > storage::kMaxPageSize) {
      set(validation(
          "Value '" + std::to_string(*n) +
          "' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"));
    }
    return static_cast<int>(std::clamp<std::int64_t>(*n, 0, storage::kMaxPageSize));
  }

  void check_length(std::string_view key, const std::optional<std::string>& value, std::size_t max,
                    bool show_value = true) {
    if (value && value->size() > max) set(too_long(key, *value, max, show_value));
  }

  void set(ServiceError e) {
    if (!error_) error_ = std::move(e);
  }
  const std::optional<ServiceError>& error() const { return error_; }

 private:
  void fail_type(std::string_view key, const char* expected, const json::value& v) {
    set({"SerializationException",
         "Member '" + std::string(key) + "' must be " + expected + ", not " + json_type_name(v)});
  }

  const json::object& request_;
  std::optional<ServiceError> error_;
};

// ---- ARNs -------------------------------------------------------------------

// arn:PARTITION:states:REGION:ACCOUNT:TYPE:RESOURCE[:...]
struct ArnParts {
  std::string prefix;  // "arn:PARTITION:states:REGION:ACCOUNT:"
  std::string type;    // "stateMachine", "execution", ...
  std::vector<std::string> resource;
};

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    auto end = text.find(sep, start);
    out.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

std::optional<ServiceError> parse_arn(std::string_view arn, ArnParts* out) {
  if (arn.substr(0, 4) != "arn:")
    return ServiceError{"InvalidArn", "Invalid Arn: 'Invalid ARN prefix: " + std::string(arn) + "'"};
  auto parts = split(arn, ':');
  if (parts.size() < 7 || parts[1].empty() || parts[2] != "states" || parts[3].empty() || parts[4].empty())
    return invalid_arn(arn);
  out->prefix = "arn:" + parts[1] + ":states:" + parts[3] + ":" + parts[4] + ":";
  out->type = parts[5];
  out->resource.assign(parts.begin() + 6, parts.end());
  for (const auto& r : out->resource) {
    if (r.empty()) return invalid_arn(arn);
  }
  return std::nullopt;
}

ServiceError wrong_type(const std::string& type) {
  return {"InvalidArn", "Invalid Arn: 'Resource type not valid in this context: " + type + "'"};
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A state machine ARN, possibly qualified by a version number.
struct MachineRef {
  std::string arn;  // unqualified
  std::string name;
  std::optional<std::int64_t> version;
};

std::optional<ServiceError> parse_machine_arn(std::string_view text, MachineRef* out, bool allow_version) {
  ArnParts p;
  if (auto e = parse_arn(text, &p)) return e;
  if (p.type != "stateMachine") return wrong_type(p.type);
  if (p.resource.size() > 2) return invalid_arn(text);
  out->name = p.resource[0];
  out->arn = p.prefix + "stateMachine:" + out->name;
  if (p.resource.size() == 2) {
    if (!all_digits(p.resource[1])) return state_machine_missing(text);  // an alias: Stepwise has none
    if (!allow_version) {
      return ServiceError{"ValidationException", "This operation takes the state machine's ARN, not a version ARN: '" +
                                                     std::string(text) + "'"};
    }
    out->version = std::stoll(p.resource[1]);
  }
  return std::nullopt;
}

std::optional<ServiceError> parse_execution_arn(std::string_view text) {
  ArnParts p;
  if (auto e = parse_arn(text, &p)) return e;
  if (p.type != "execution") return wrong_type(p.type);
  if (p.resource.size() != 2) return invalid_arn(text);
  return std::nullopt;
}

std::string version_arn(const std::string& machine_arn, std::int64_t version) {
  return machine_arn + ":" + std::to_string(version);
}

// ---- Values ------------------------------------------------------------------

// A date as the wire carries it: epoch seconds with a millisecond fraction.
json::value wire_date(Nanos t) {
  std::int64_t ms = t / kNanosPerMilli - (t % kNanosPerMilli < 0 ? 1 : 0);
  return static_cast<double>(ms) / 1000.0;
}

std::string invalid_definition_message(const Diagnostics& diagnostics) {
  std::string text;
  for (const auto& d : diagnostics) {
    if (!text.empty()) text += ", ";
    if (!d.code.empty()) text += d.code + ": ";
    text += d.message + " at " + (d.pointer.empty() ? "/" : d.pointer);
  }
  return "Invalid State Machine Definition: '" + text + "'";
}

// Decodes one UTF-8 code point at s[i], advancing i; -1 when malformed.
std::int32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto c = static_cast<unsigned char>(s[i++]);
  if (c < 0x80) return c;
  int extra = c >= 0xF0 && c < 0xF8 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1;
  if (extra < 0 || i + extra > s.size()) return -1;
  std::int32_t cp = c & (0x3F >> extra);
  for (int k = 0; k < extra; ++k) {
    const auto cc = static_cast<unsigned char>(s[i++]);
    if ((cc & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (cc & 0x3F);
  }
  return cp;
}

bool is_unicode_space(std::int32_t cp) {
  return cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Request members that carry execution data (omitted when includeExecutionData is false).
bool is_execution_data(std::string_view key) {
  return key == "input" || key == "inputDetails" || key == "output" || key == "outputDetails" || key == "parameters";
}

json::object event_to_wire(const storage::EventRecord& r, bool include_data) {
  json::object o;
  o["timestamp"] = wire_date(r.timestamp);
  o["type"] = r.type;
  o["id"] = r.id;
  o["previousEventId"] = r.previous_id;
  auto details = parse_json(r.details);
  if (details && details->is_object()) {
    for (auto& [key, member] : details->get_object()) {
      if (!include_data && member.is_object()) {
        json::object kept;
        for (const auto& [k, v] : member.get_object()) {
          if (!is_execution_data(k)) kept[k] = v;
        }
        o[key] = std::move(kept);
      } else {
        o[key] = member;
      }
    }
  }
  return o;
}

json::object execution_list_item(const storage::ExecutionSummary& e) {
  json::object o;
  o["executionArn"] = e.arn;
  o["stateMachineArn"] = e.state_machine_arn;
  o["name"] = e.name;
  o["status"] = storage::to_string(e.status);
  o["startDate"] = wire_date(e.start_date);
  if (e.stop_date) o["stopDate"] = wire_date(*e.stop_date);
  o["stateMachineVersionArn"] = version_arn(e.state_machine_arn, e.state_machine_version);
  if (e.redrive_count > 0) o["redriveCount"] = e.redrive_count;
  if (e.item_count) o["itemCount"] = *e.item_count;  // listed by map run, as AWS returns it
  return o;
}

}  // namespace

// ---- Free functions -------------------------------------------------------------

RedriveStatus redrive_status(const storage::ExecutionRecord& e, Nanos now) {
  if (!storage::is_redrivable(e.status)) {
    return {"NOT_REDRIVABLE", "Execution is " + std::string(storage::to_string(e.status)) + " and cannot be redriven"};
  }
  if (e.stop_date && now - *e.stop_date > kRedrivablePeriod) {
    return {"NOT_REDRIVABLE", "Execution redrivable period exceeded"};
  }
  return {"REDRIVABLE", ""};
}

bool is_valid_resource_name(std::string_view name) {
  static constexpr std::string_view kForbidden = "<>{}[]?*\"#%\\^|~`$&,;:/";
  for (std::size_t i = 0; i < name.size();) {
    const std::int32_t cp = next_code_point(name, i);
    if (cp < 0) return false;
    if (cp <= 0x20 || (cp >= 0x7F && cp <= 0x9F) || is_unicode_space(cp)) return false;
    if (cp < 0x80 && kForbidden.find(static_cast<char>(cp)) != std::string_view::npos) return false;
  }
  return !name.empty();
}

std::string state_machine_arn(const ServiceOptions& o, std::string_view name) {
  return "arn:aws:states:" + o.region + ":" + o.account + ":stateMachine:" + std::string(name);
}

std::string execution_arn(const ServiceOptions& o, std::string_view machine, std::string_view execution) {
  return "arn:aws:states:" + o.region + ":" + o.account + ":execution:" + std::string(machine) + ":" +
         std::string(execution);
}

// ---- Service ----------------------------------------------------------------------

namespace {

// The Engine that prepares new executions shares the service's identity, clock and randomness.
EngineOptions engine_options(const ServiceOptions& o) {
  EngineOptions e;
  e.clock = o.clock;
  e.random = o.random;
  e.region = o.region;
  e.account = o.account;
  return e;
}

constexpr std::size_t kDefinitionCacheSize = 256;

}  // namespace

Service::Service(std::shared_ptr<storage::Store> store, ServiceOptions options)
    : store_(std::move(store)), options_(std::move(options)) {
  if (!options_.clock) options_.clock = std::make_shared<SystemClock>();
}

Service::~Service() = default;

const std::vector<std::string_view>& Service::operations() {
  static const std::vector<std::string_view> kNames = {
      "CreateActivity",      "CreateStateMachine", "DeleteActivity",    "DeleteStateMachine",
      "DescribeActivity",    "DescribeExecution",  "DescribeMapRun",    "DescribeStateMachine",
      "GetActivityTask",     "GetExecutionHistory", "ListActivities",   "ListExecutions",
      "ListMapRuns",         "ListStateMachines",  "RedriveExecution",  "SendTaskFailure",
      "SendTaskHeartbeat",   "SendTaskSuccess",    "StartExecution",    "StopExecution",
      "UpdateStateMachine"};
  return kNames;
}

ServiceResult Service::call(std::string_view operation, const json::object& request) {
  using Method = ServiceResult (Service::*)(const json::object&);
  static const std::map<std::string_view, Method> kMethods = {
      {"CreateStateMachine", &Service::create_state_machine},
      {"UpdateStateMachine", &Service::update_state_machine},
      {"DescribeStateMachine", &Service::describe_state_machine},
      {"ListStateMachines", &Service::list_state_machines},
      {"DeleteStateMachine", &Service::delete_state_machine},
      {"StartExecution", &Service::start_execution},
      {"DescribeExecution", &Service::describe_execution},
      {"ListExecutions", &Service::list_executions},
      {"GetExecutionHistory", &Service::get_execution_history},
      {"StopExecution", &Service::stop_execution},
      {"RedriveExecution", &Service::redrive_execution},
      {"SendTaskSuccess", &Service::send_task_success},
      {"SendTaskFailure", &Service::send_task_failure},
      {"SendTaskHeartbeat", &Service::send_task_heartbeat},
      {"CreateActivity", &Service::create_activity},
      {"DescribeActivity", &Service::describe_activity},
      {"ListActivities", &Service::list_activities},
      {"DeleteActivity", &Service::delete_activity},
      {"GetActivityTask", &Service::get_activity_task},
      {"DescribeMapRun", &Service::describe_map_run},
      {"ListMapRuns", &Service::list_map_runs},
  };
  auto it = kMethods.find(operation);
  if (it == kMethods.end()) {
    return ServiceError{"UnknownOperationException", "Unknown operation: '" + std::string(operation) + "'"};
  }
  return (this->*(it->second))(request);
}

std::shared_ptr<const states::Definition> Service::cached_definition(const std::string& arn, std::int64_t version) {
  std::lock_guard lock(cache_mu_);
  auto it = definitions_.find({arn, version});
  return it == definitions_.end() ? nullptr : it->second;
}

void Service::cache_definition(const std::string& arn, std::int64_t version,
                               std::shared_ptr<const states::Definition> definition) {
  std::lock_guard lock(cache_mu_);
  // Versions are immutable, so an entry never goes stale; the bound only caps memory.
  if (definitions_.size() >= kDefinitionCacheSize) definitions_.clear();
  definitions_[{arn, version}] = std::move(definition);
}

std::shared_ptr<const states::Definition> Service::definition(const std::string& arn, std::int64_t version,
                                                              ServiceError* error) {
  if (auto def = cached_definition(arn, version)) return def;
  auto stored = store_->get_state_machine_version(arn, version);
  if (!stored) {
    *error = stored.code() == Code::kNotFound ? state_machine_missing(version_arn(arn, version))
                                              : store_failure(stored.status());
    return nullptr;
  }
  auto parsed = states::parse_definition_text(stored->definition);
  if (!parsed.definition) {
    *error = {"InternalFailure", "The stored definition of " + version_arn(arn, version) +
                                     " no longer parses: " + invalid_definition_message(parsed.diagnostics)};
    return nullptr;
  }
  cache_definition(arn, version, parsed.definition);
  return parsed.definition;
}

// ---- State machines -----------------------------------------------------------------

ServiceResult Service::create_state_machine(const json::object& request) {
  Reader in(request);
  const std::string name = in.required("name");
  const std::string definition = in.required("definition");
  const auto role = in.string("roleArn");
  const auto type_text = in.string("type");
  if (in.error()) return *in.error();
  if (code_points(name) > kMaxNameLength) in.set(too_long("name", name, kMaxNameLength));
  in.check_length("definition", definition, kMaxDefinitionLength, false);
  in.check_length("roleArn", role, kMaxArnLength);
  auto type = type_text ? storage::parse_machine_type(*type_text) : storage::MachineType::kStandard;
  if (!type) {
    in.set(validation(
        "Value '" + *type_text +
        "' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"));
  }
  if (in.error()) return *in.error();
  if (!is_valid_resource_name(name)) return ServiceError{"InvalidName", "Invalid Name: '" + name + "'"};
  if (role && role->substr(0, 4) != "arn:") {
    return ServiceError{"InvalidArn", "Invalid Arn: 'Invalid ARN prefix: " + *role + "'"};
  }

  states::ParseOptions popts;
  popts.express = *type == storage::MachineType::kExpress;
  auto parsed = states::parse_definition_text(definition, popts);
  if (!parsed.definition) return ServiceError{"InvalidDefinition", invalid_definition_message(parsed.diagnostics)};

  storage::NewStateMachine m;
  m.arn = state_machine_arn(options_, name);
  m.name = name;
  m.type = *type;
  m.role_arn = role.value_or("arn:aws:iam::" + options_.account + ":role/StepwiseExecutionRole");
  m.definition = definition;
  m.creation_date = options_.clock->now();
  auto created = store_->create_state_machine(m);
  if (!created && created.code() == Code::kAlreadyExists) {
    // AWS: the same name, definition and role again is not an error; it answers with the existing machine.
    auto existing = store_->describe_state_machine(m.arn);
    if (existing && existing->definition == m.definition && existing->role_arn == m.role_arn &&
        existing->type == m.type) {
      created = std::move(existing);
    } else {
      return ServiceError{"StateMachineAlreadyExists", "State Machine Already Exists: '" + m.arn + "'"};
    }
  }
  if (!created) return store_failure(created.status());
  cache_definition(created->arn, created->version, parsed.definition);
  json::object out;
  out["stateMachineArn"] = created->arn;
  out["creationDate"] = wire_date(created->creation_date);
  out["stateMachineVersionArn"] = version_arn(created->arn, created->version);
  return out;
}

ServiceResult Service::update_state_machine(const json::object& request) {
  Reader in(request);
  const std::string arn_text = in.required("stateMachineArn");
  const auto definition = in.string("definition");
  const auto role = in.string("roleArn");
  if (in.error()) return *in.error();
  in.check_length("stateMachineArn", arn_text, kMaxArnLength);
  in.check_length("definition", definition, kMaxDefinitionLength, false);
  in.check_length("roleArn", role, kMaxArnLength);
  if (in.error()) return *in.error();
  MachineRef ref;
  if (auto e = parse_machine_arn(arn_text, &ref, false)) return *e;
  if (!definition && !role && !in.has("loggingConfiguration") && !in.has("tracingConfiguration")) {
    return ServiceError{"MissingRequiredParameter",
                        "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration "
                        "must be specified"};
  }
  if (role && role->substr(0, 4) != "arn:") {
    return ServiceError{"InvalidArn", "Invalid Arn: 'Invalid ARN prefix: " + *role + "'"};
  }
  auto current = store_->describe_state_machine(ref.arn);
  if (!current) {
    return current.code() == Code::kNotFound ? state_machine_missing(ref.arn) : store_failure(current.status());
  }
  std::shared_ptr<const states::Definition> parsed_definition;
  if (definition) {
    states::ParseOptions popts;
    popts.express = current->type == storage::MachineType::kExpress;
    auto parsed = states::parse_definition_text(*definition, popts);
    if (!parsed.definition) return ServiceError{"InvalidDefinition", invalid_definition_message(parsed.diagnostics)};
    parsed_definition = parsed.definition;
  }
  storage::StateMachineUpdate u;
  u.definition = definition;
  u.role_arn = role;
  u.update_date = options_.clock->now();
  auto updated = store_->update_state_machine(ref.arn, u);
  if (!updated) {
    return updated.code() == Code::kNotFound ? state_machine_missing(ref.arn) : store_failure(updated.status());
  }
  if (parsed_definition) cache_definition(updated->arn, updated->version, parsed_definition);
  json::object out;
  out["updateDate"] = wire_date(u.update_date);
  out["revisionId"] = std::to_string(updated->version);
  out["stateMachineVersionArn"] = version_arn(updated->arn, updated->version);
  return out;
}

ServiceResult Service::describe_state_machine(const json::object& request) {
  Reader in(request);
  const std::string arn_text = in.required("stateMachineArn");
  if (in.error()) return *in.error();
  MachineRef ref;
  if (auto e = parse_machine_arn(arn_text, &ref, true)) return *e;
  auto machine = store_->describe_state_machine(ref.arn);
  if (!machine) {
    return machine.code() == Code::kNotFound ? state_machine_missing(arn_text) : store_failure(machine.status());
  }
  std::string definition = machine->definition;
  Nanos date = machine->creation_date;
  std::int64_t version = machine->version;
  if (ref.version) {
    auto v = store_->get_state_machine_version(ref.arn, *ref.version);
    if (!v) return v.code() == Code::kNotFound ? state_machine_missing(arn_text) : store_failure(v.status());
    definition = std::move(v->definition);
    date = v->creation_date;
    version = v->version;
  }
  json::object out;
  out["stateMachineArn"] = arn_text;
  out["name"] = machine->name;
  out["status"] = "ACTIVE";
  out["definition"] = definition;
  out["roleArn"] = machine->role_arn;
  out["type"] = storage::to_string(machine->type);
  out["creationDate"] = wire_date(date);
  out["loggingConfiguration"] = json::object{{"level", "OFF"}, {"includeExecutionData", false}};
  out["tracingConfiguration"] = json::object{{"enabled", false}};
  out["revisionId"] = std::to_string(version);
  return out;
}

ServiceResult Service::list_state_machines(const json::object& request) {
  Reader in(request);
  storage::PageRequest page;
  page.max_results = in.max_results();
  page.next_token = in.string("nextToken").value_or("");
  if (in.error()) return *in.error();
  auto listed = store_->list_state_machines(page);
  if (!listed) {
    return listed.code() == Code::kInvalidArgument ? invalid_token(page.next_token) : store_failure(listed.status());
  }
  json::array machines;
  machines.reserve(listed->items.size());
  for (const auto& m : listed->items) {
    machines.push_back(json::object{{"stateMachineArn", m.arn},
                                    {"name", m.name},
                                    {"type", storage::to_string(m.type)},
                                    {"creationDate", wire_date(m.creation_date)}});
  }
  json::object out;
  out["stateMachines"] = std::move(machines);
  if (!listed->next_token.empty()) out["nextToken"] = listed->next_token;
  return out;
}

ServiceResult Service::delete_state_machine(const json::object& request) {
  Reader in(request);
  const std::string arn_text = in.required("stateMachineArn");
  if (in.error()) return *in.error();
  MachineRef ref;
  if (auto e = parse_machine_arn(arn_text, &ref, false)) return *e;
  auto deleted = store_->delete_state_machine(ref.arn);
  // AWS answers a delete of a machine that does not exist (any more) with success.
  if (!deleted.ok() && deleted.code() != Code::kNotFound) return store_failure(deleted);
  return json::object{};
}

// ---- Executions ---------------------------------------------------------------------

ServiceResult Service::start_execution(const json::object& request) {
  Reader in(request);
  const std::string arn_text = in.required("stateMachineArn");
  const auto name = in.string("name");
  const std::string input_text = in.string("input").value_or("{}");
  if (in.error()) return *in.error();
  // Model constraints first, then the machine, then the name, then the input (AWS's order).
  in.check_length("stateMachineArn", arn_text, kMaxArnLength);
  if (name && code_points(*name) > kMaxNameLength) in.set(too_long("name", *name, kMaxNameLength));
  if (input_text.size() > kMaxInputBytes) {
    in.set(validation("Value at 'input' failed to satisfy constraint: Member must have size less than or equal to " +
                      std::to_string(kMaxInputBytes) + " bytes in UTF-8 encoding"));
  }
  if (in.error()) return *in.error();
  MachineRef ref;
  if (auto e = parse_machine_arn(arn_text, &ref, true)) return *e;
  auto machine = store_->describe_state_machine(ref.arn);
  if (!machine) {
    return machine.code() == Code::kNotFound ? state_machine_missing(arn_text) : store_failure(machine.status());
  }
  const std::int64_t version = ref.version.value_or(machine->version);
  if (name && !is_valid_resource_name(*name)) return ServiceError{"InvalidName", "Invalid Name: '" + *name + "'"};
  JsonParseError perr;
  auto input = parse_json(input_text, &perr);
  if (!input) {
    return ServiceError{"InvalidExecutionInput", "Invalid State Machine Execution Input: '" + perr.describe() + "'"};
  }
  ServiceError def_error;
  auto def = definition(ref.arn, version, &def_error);
  if (!def) return def_error;

  RunOptions run;
  run.state_machine_name = machine->name;
  run.role_arn = machine->role_arn;
  if (name) {
    run.execution_name = *name;
    run.execution_arn = execution_arn(options_, machine->name, *name);
  }
  // A fresh engine per start: prepare() leaves the execution's timeout armed in
  // the engine, and an engine that never runs its loop would keep them all.
  Engine engine(engine_options(options_));
  PreparedExecution prepared = engine.prepare(def, std::move(*input), std::move(run));
  const ExecutionState& st = prepared.snapshot.state;
  storage::NewExecution e;
  e.arn = st.arn;
  e.name = st.name;
  e.state_machine_arn = ref.arn;
  e.state_machine_version = version;
  e.input = input_text;
  e.start_date = st.start_time;
  e.state = to_json(snapshot_to_json(prepared.snapshot));
  e.events.reserve(prepared.events.size());
  for (const auto& ev : prepared.events) e.events.push_back(to_event_record(ev));
  // The ExecutionStarted event is recorded with the execution; an input the
  // engine refuses (ExecutionFailed) ends it in a second transition below.
  std::vector<storage::EventRecord> ending;
  if (st.status != ExecutionStatus::Running) {
    auto first_end = std::find_if(e.events.begin(), e.events.end(),
                                  [](const storage::EventRecord& r) { return r.type != "ExecutionStarted"; });
    ending.assign(first_end, e.events.end());
    e.events.erase(first_end, e.events.end());
  }
  auto created = store_->create_execution(e);
  if (!created) {
    switch (created.code()) {
      case Code::kAlreadyExists:
        return ServiceError{"ExecutionAlreadyExists", "Execution Already Exists: '" + e.arn + "'"};
      case Code::kNotFound:
        return state_machine_missing(arn_text);
      default:
        return store_failure(created.status());
    }
  }
  if (created->created && st.status != ExecutionStatus::Running) {
    storage::Transition t;
    t.execution_arn = e.arn;
    t.expected_version = created->execution.version;
    t.events = std::move(ending);
    storage::ExecutionOutcome outcome;
    outcome.status = storage::ExecutionStatus::kFailed;
    if (st.has_error) outcome.error = st.error;
    if (st.has_cause) outcome.cause = st.cause;
    outcome.stop_date = t.events.empty() ? st.start_time : t.events.back().timestamp;
    t.outcome = std::move(outcome);
    auto committed = store_->commit_transition(t);
    if (!committed) return store_failure(committed.status());
  }
  json::object out;
  out["executionArn"] = created->execution.arn;
  out["startDate"] = wire_date(created->execution.start_date);
  return out;
}

namespace {

// Stepwise's saga extension (docs/sagas.md): how the roll-back of a FAILED
// execution went, from its last events (the roll-back's end comes right
// before ExecutionFailed): {"status":"SUCCEEDED"|"FAILED","compensated":n,
// "failed":n,"error","cause"}. Nullopt when the execution rolled nothing back.
std::optional<json::object> compensation_summary(storage::Store& store, const std::string& arn) {
  storage::HistoryRequest last;
  last.page.max_results = 2;
  last.reverse_order = true;
  auto events = store.get_history(arn, last);
  if (!events.ok()) return std::nullopt;
  for (const auto& e : events->items) {
    if (e.type != "CompensationSucceeded" && e.type != "CompensationFailed") continue;
    const bool ok = e.type == "CompensationSucceeded";
    json::object out{{"status", ok ? "SUCCEEDED" : "FAILED"}};
    HistoryEvent h;
    h.details = e.details;
    json::object details = h.details_object();
    const char* key = ok ? "compensationSucceededEventDetails" : "compensationFailedEventDetails";
    if (const auto* d = details.if_contains(key); d && d->is_object()) {
      for (const auto& kv : d->get_object()) out[kv.key()] = kv.value();
    }
    if (!out.contains("failed")) out["failed"] = 0;
    return out;
  }
  return std::nullopt;
}

}  // namespace

ServiceResult Service::describe_execution(const json::object& request) {
  Reader in(request);
  const std::string arn = in.required("executionArn");
  if (in.error()) return *in.error();
  if (auto e = parse_execution_arn(arn)) return *e;
  auto rec = store_->describe_execution(arn);
  if (!rec) return rec.code() == Code::kNotFound ? execution_missing(arn) : store_failure(rec.status());
  json::object out;
  out["executionArn"] = rec->arn;
  out["stateMachineArn"] = rec->state_machine_arn;
  out["name"] = rec->name;
  out["status"] = storage::to_string(rec->status);
  out["startDate"] = wire_date(rec->start_date);
  if (rec->stop_date) out["stopDate"] = wire_date(*rec->stop_date);
  out["input"] = rec->input;
  out["inputDetails"] = json::object{{"included", true}};
  if (rec->output) {
    out["output"] = *rec->output;
    out["outputDetails"] = json::object{{"included", true}};
  }
  if (rec->error) out["error"] = *rec->error;
  if (rec->cause) out["cause"] = *rec->cause;
  if (!rec->map_run_arn.empty()) out["mapRunArn"] = rec->map_run_arn;
  out["stateMachineVersionArn"] = version_arn(rec->state_machine_arn, rec->state_machine_version);
  out["redriveCount"] = rec->redrive_count;
  if (rec->redrive_date) out["redriveDate"] = wire_date(*rec->redrive_date);
  auto redrive = redrive_status(*rec, options_.clock->now());
  out["redriveStatus"] = redrive.status;
  if (!redrive.reason.empty()) out["redriveStatusReason"] = redrive.reason;
  if (rec->status == storage::ExecutionStatus::kFailed) {
    if (auto roll_back = compensation_summary(*store_, arn)) {
      out["compensation"] = std::move(*roll_back);
      // prepare_redrive refuses it (engine/redrive.cpp).
      out["redriveStatus"] = "NOT_REDRIVABLE";
      out["redriveStatusReason"] = "Execution was rolled back by its compensations and cannot be redriven";
    }
  }
  return out;
}

ServiceResult Service::list_executions(const json::object& request) {
  Reader in(request);
  const auto machine_arn = in.string("stateMachineArn");
  const auto map_run_arn = in.string("mapRunArn");
  const auto status_text = in.string("statusFilter");
  storage::PageRequest page;
  page.max_results = in.max_results();
  page.next_token = in.string("nextToken").value_or("");
  if (in.error()) return *in.error();
  storage::ExecutionFilter filter;
  bool pending_redrive = false;
  if (status_text) {
    filter.status = storage::parse_execution_status(*status_text);
    pending_redrive = *status_text == "PENDING_REDRIVE";
    if (!filter.status && !pending_redrive) {
      return validation("Value '" + *status_text +
                        "' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: "
                        "[RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]");
    }
  }
  if (machine_arn && map_run_arn) {
    return ServiceError{"ValidationException", "Specify either a stateMachineArn or a mapRunArn, not both"};
  }
  if (map_run_arn) {
    auto run = store_->describe_map_run(*map_run_arn);
    if (!run) {
      return run.code() == Code::kNotFound ? ServiceError{"ResourceNotFound", "Resource not found: '" + *map_run_arn + "'"}
                                           : store_failure(run.status());
    }
    filter.map_run_arn = *map_run_arn;
  }
  if (machine_arn) {
    MachineRef ref;
    if (auto e = parse_machine_arn(*machine_arn, &ref, false)) return *e;
    auto machine = store_->describe_state_machine(ref.arn);
    if (!machine) {
      return machine.code() == Code::kNotFound ? state_machine_missing(*machine_arn) : store_failure(machine.status());
    }
    filter.state_machine_arn = ref.arn;
  }
  json::object out;
  if (pending_redrive) {  // only Map Run children wait for a redrive
    out["executions"] = json::array();
    return out;
  }
  auto listed = store_->list_executions(filter, page);
  if (!listed) {
    return listed.code() == Code::kInvalidArgument ? invalid_token(page.next_token) : store_failure(listed.status());
  }
  json::array items;
  items.reserve(listed->items.size());
  for (const auto& e : listed->items) items.push_back(execution_list_item(e));
  out["executions"] = std::move(items);
  if (!listed->next_token.empty()) out["nextToken"] = listed->next_token;
  return out;
}

ServiceResult Service::get_execution_history(const json::object& request) {
  Reader in(request);
  const std::string arn = in.required("executionArn");
  storage::HistoryRequest h;
  h.page.max_results = in.max_results();
  h.page.next_token = in.string("nextToken").value_or("");
  h.reverse_order = in.boolean("reverseOrder").value_or(false);
  const bool include_data = in.boolean("includeExecutionData").value_or(true);
  if (in.error()) return *in.error();
  if (auto e = parse_execution_arn(arn)) return *e;
  auto history = store_->get_history(arn, h);
  if (!history) {
    switch (history.code()) {
      case Code::kNotFound:
        return execution_missing(arn);
      case Code::kInvalidArgument:
        return invalid_token(h.page.next_token);
      default:
        return store_failure(history.status());
    }
  }
  json::array events;
  events.reserve(history->items.size());
  for (const auto& r : history->items) events.push_back(event_to_wire(r, include_data));
  json::object out;
  out["events"] = std::move(events);
  if (!history->next_token.empty()) out["nextToken"] = history->next_token;
  return out;
}

namespace {

// The ABORTED end of a running execution, as StopExecution commits it.
struct Abort {
  std::vector<storage::EventRecord> events;
  std::optional<std::string> state;  // the final snapshot; absent: keep the stored state
};

// Used when the stored state cannot be resumed (it should always be): the
// execution still ends, with ExecutionAborted after its last event.
Abort abort_without_engine(const storage::ExecutionRecord& rec, const std::optional<std::string>& error,
                           const std::optional<std::string>& cause, Nanos now) {
  json::object det;
  if (error) det["error"] = *error;
  if (cause) det["cause"] = *cause;
  storage::EventRecord r;
  r.id = rec.last_event_id + 1;
  r.previous_id = rec.last_event_id;
  r.timestamp = now;
  r.type = "ExecutionAborted";
  r.details = to_json(json::object{{"executionAbortedEventDetails", std::move(det)}});
  return Abort{{std::move(r)}, std::nullopt};
}

}  // namespace

ServiceResult Service::stop_execution(const json::object& request) {
  Reader in(request);
  const std::string arn = in.required("executionArn");
  const auto error = in.string("error");
  const auto cause = in.string("cause");
  if (in.error()) return *in.error();
  in.check_length("error", error, kMaxErrorLength, false);
  in.check_length("cause", cause, kMaxCauseLength, false);
  if (in.error()) return *in.error();
  if (auto e = parse_execution_arn(arn)) return *e;

  for (int attempt = 0; attempt < std::max(1, options_.stop_attempts); ++attempt) {
    auto rec = store_->describe_execution(arn);
    if (!rec) return rec.code() == Code::kNotFound ? execution_missing(arn) : store_failure(rec.status());
    if (rec->status != storage::ExecutionStatus::kRunning) {
      return ServiceError{"ValidationException", "Execution '" + arn + "' is " +
                                                     std::string(storage::to_string(rec->status)) +
                                                     ": only a RUNNING execution can be stopped"};
    }
    // The engine writes the aborts AWS writes (each state in progress, then
    // the execution): resume the stored snapshot without running it, stop it.
    Abort abort;
    bool stopped = false;
    ServiceError def_error;
    auto def = definition(rec->state_machine_arn, rec->state_machine_version, &def_error);
    auto snapshot = parse_json(rec->state);
    if (def && snapshot) {
      Engine engine(engine_options(options_));
      RunOptions run;
      std::optional<std::string> final_state;
      run.on_event = [&](const HistoryEvent& e) { abort.events.push_back(to_event_record(e)); };
      run.on_transition = [&](const Checkpoint& c) { final_state = to_json(c.to_json()); };
      auto resumed = engine.resume(def, *snapshot, std::move(run), nullptr);
      stopped = resumed && engine.stop(*resumed, error, cause) && final_state.has_value();
      abort.state = std::move(final_state);
    }
    if (!stopped || abort.events.empty() || abort.events.back().type != "ExecutionAborted") {
      abort = abort_without_engine(*rec, error, cause, options_.clock->now());
    }
    storage::Transition t;
    t.execution_arn = arn;
    t.expected_version = rec->version;
    t.state = std::move(abort.state);
    storage::ExecutionOutcome outcome;
    outcome.status = storage::ExecutionStatus::kAborted;
    outcome.error = error;
    outcome.cause = cause;
    outcome.stop_date = abort.events.back().timestamp;
    t.outcome = outcome;
    t.events = std::move(abort.events);
    auto committed = store_->commit_transition(t);
    if (committed) {
      abort_map_runs(arn, outcome.stop_date);
      return json::object{{"stopDate", wire_date(outcome.stop_date)}};
    }
    // Conflict: a worker committed a step (or ended the execution) since the read.
    if (committed.code() != Code::kConflict) return store_failure(committed.status());
  }
  return ServiceError{"ServiceUnavailable",
                      "Execution '" + arn + "' kept changing while it was being stopped; try again"};
}

void Service::abort_map_runs(const std::string& execution_arn, std::int64_t stop_date) {
  storage::PageRequest page;
  page.max_results = storage::kMaxPageSize;
  for (;;) {
    auto runs = store_->list_map_runs(execution_arn, page);
    if (!runs) return;
    for (const auto& run : runs->items) {
      if (run.status != storage::MapRunStatus::kRunning) continue;
      storage::MapRunUpdate u;
      u.status = storage::MapRunStatus::kAborted;
      u.stop_date = stop_date;
      (void)store_->update_map_run(run.arn, u);
      // Each running child is stopped as StopExecution stops it (its own map runs too).
      storage::ExecutionFilter filter;
      filter.map_run_arn = run.arn;
      filter.status = storage::ExecutionStatus::kRunning;
      for (int rounds = 0; rounds < 1000; ++rounds) {
        auto children = store_->list_executions(filter, storage::PageRequest{storage::kMaxPageSize, ""});
        if (!children || children->items.empty()) break;
        for (const auto& c : children->items) (void)stop_execution(json::object{{"executionArn", c.arn}});
      }
    }
    if (runs->next_token.empty()) return;
    page.next_token = runs->next_token;
  }
}

namespace {

// DescribeMapRun's executionCounts, or (with `items`) its itemCounts.
json::object map_run_counts(const storage::MapRunRecord& r, const storage::MapRunRecord::ItemCounts* items = nullptr) {
  storage::MapRunRecord::ItemCounts n;
  std::int64_t total = r.total;
  if (items) {
    n = *items;
    total = r.item_total.value_or(r.total);
  } else {
    n = {r.launched, r.running, r.succeeded, r.failed, r.timed_out, r.aborted};
  }
  json::object c;
  c["pending"] = std::max<std::int64_t>(0, total - n.launched);
  c["running"] = n.running;
  c["succeeded"] = n.succeeded;
  c["failed"] = n.failed;
  c["timedOut"] = n.timed_out;
  c["aborted"] = n.aborted;
  c["total"] = total;
  c["resultsWritten"] =
      r.status == storage::MapRunStatus::kSucceeded ? n.succeeded + n.failed + n.timed_out + n.aborted : 0;
  c["failuresNotRedrivable"] = 0;
  c["pendingRedrive"] = 0;
  return c;
}

}  // namespace

ServiceResult Service::describe_map_run(const json::object& request) {
  Reader in(request);
  const std::string arn = in.required("mapRunArn");
  if (in.error()) return *in.error();
  in.check_length("mapRunArn", arn, 2000);
  if (in.error()) return *in.error();
  auto run = store_->describe_map_run(arn);
  if (!run) {
    return run.code() == Code::kNotFound ? ServiceError{"ResourceNotFound", "Resource not found: '" + arn + "'"}
                                         : store_failure(run.status());
  }
  json::object out;
  out["mapRunArn"] = run->arn;
  out["executionArn"] = run->execution_arn;
  out["status"] = storage::to_string(run->status);
  out["startDate"] = wire_date(run->start_date);
  if (run->stop_date) out["stopDate"] = wire_date(*run->stop_date);
  out["maxConcurrency"] = run->max_concurrency;
  out["toleratedFailurePercentage"] = run->tolerated_failure_percentage.value_or(0.0);
  out["toleratedFailureCount"] = run->tolerated_failure_count.value_or(0);
  // Without an ItemBatcher each child processes one item.
  out["itemCounts"] = run->items ? map_run_counts(*run, &*run->items) : map_run_counts(*run);
  out["executionCounts"] = map_run_counts(*run);
  out["redriveCount"] = run->redrive_count;
  if (run->redrive_date) out["redriveDate"] = wire_date(*run->redrive_date);
  return out;
}

ServiceResult Service::list_map_runs(const json::object& request) {
  Reader in(request);
  const std::string arn = in.required("executionArn");
  storage::PageRequest page;
  page.max_results = in.max_results();
  page.next_token = in.string("nextToken").value_or("");
  if (in.error()) return *in.error();
  if (auto e = parse_execution_arn(arn)) return *e;
  auto rec = store_->describe_execution(arn);
  if (!rec) return rec.code() == Code::kNotFound ? execution_missing(arn) : store_failure(rec.status());
  auto runs = store_->list_map_runs(arn, page);
  if (!runs) {
    return runs.code() == Code::kInvalidArgument ? invalid_token(page.next_token) : store_failure(runs.status());
  }
  json::array items;
  for (const auto& r : runs->items) {
    json::object o;
    o["executionArn"] = r.execution_arn;
    o["mapRunArn"] = r.arn;
    o["stateMachineArn"] = r.state_machine_arn;
    o["startDate"] = wire_date(r.start_date);
    if (r.stop_date) o["stopDate"] = wire_date(*r.stop_date);
    items.push_back(std::move(o));
  }
  json::object out;
  out["mapRuns"] = std::move(items);
  if (!runs->next_token.empty()) out["nextToken"] = runs->next_token;
  return out;
}

ServiceResult Service::redrive_execution(const json::object& request) {
  Reader in(request);
  const std::string arn = in.required("executionArn");
  (void)in.string("clientToken");  // accepted; a repeated redrive is refused by status anyway
  if (in.error()) return *in.error();
  if (auto e = parse_execution_arn(arn)) return *e;

  for (int attempt = 0; attempt < std::max(1, options_.stop_attempts); ++attempt) {
    auto rec = store_->describe_execution(arn);
    if (!rec) return rec.code() == Code::kNotFound ? execution_missing(arn) : store_failure(rec.status());
    const Nanos now = options_.clock->now();
    const RedriveStatus status = redrive_status(*rec, now);
    if (status.status != "REDRIVABLE") return ServiceError{"ExecutionNotRedrivable", status.reason};
    ServiceError def_error;
    auto def = definition(rec->state_machine_arn, rec->state_machine_version, &def_error);
    if (!def) return def_error;
    auto stored = parse_json(rec->state);
    if (!stored) return ServiceError{"ExecutionNotRedrivable", "The execution's recorded state cannot be read"};
    auto snapshot = snapshot_from_json(*stored);
    if (!snapshot) return ServiceError{"ExecutionNotRedrivable", snapshot.failure().cause};
    auto plan = prepare_redrive(*def, *snapshot, now);
    if (!plan) return ServiceError{"ExecutionNotRedrivable", plan.failure().cause};
    storage::Transition t;
    t.execution_arn = arn;
    t.expected_version = rec->version;
    t.redrive_date = now;
    t.state = to_json(snapshot_to_json(plan->snapshot));
    for (const auto& e : plan->events) t.events.push_back(to_event_record(e));
    auto committed = store_->commit_transition(t);
    if (committed) return json::object{{"redriveDate", wire_date(now)}};
    if (committed.code() != Code::kConflict) return store_failure(committed.status());
  }
  return ServiceError{"ServiceUnavailable", "Execution '" + arn + "' kept changing while it was being redriven; try again"};
}

}  // namespace stepwise

// ---- Callbacks and activities ---------------------------------------------------------

namespace stepwise {
namespace {

constexpr std::size_t kMaxTokenLength = 1024;

// The tokens the engine hands out are UUIDs ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx").
bool is_token_shaped(std::string_view token) {
  if (token.size() != 36) return false;
  for (std::size_t i = 0; i < token.size(); ++i) {
    const char c = token[i];
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

ServiceError task_missing() {
  return {"TaskDoesNotExist", "Task Does Not Exist: 'Provided task does not exist'"};
}

ServiceError task_timed_out() {
  return {"TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'"};
}

ServiceError bad_task_token() {
  return {"InvalidToken", "Invalid Token: 'Invalid token'"};
}

ServiceError activity_missing(std::string_view arn) {
  return {"ActivityDoesNotExist", "Activity Does Not Exist: '" + std::string(arn) + "'"};
}

// A token the SendTask* operations were given, checked as AWS checks it.
std::optional<ServiceError> check_task_token(Reader& in, std::string& token) {
  token = in.required("taskToken");
  in.check_length("taskToken", token, kMaxTokenLength, false);
  if (in.error()) return *in.error();
  if (token.empty()) {
    return validation(
        "Value at 'taskToken' failed to satisfy constraint: Member must have length greater than or "
        "equal to 1");
  }
  if (!is_token_shaped(token)) return bad_task_token();
  return std::nullopt;
}

// What the store said about a SendTask* call.
ServiceError token_refused(const storage::Status& s) {
  if (s.code() == Code::kNotFound) return task_missing();
  if (s.code() == Code::kConflict) return task_timed_out();
  return store_failure(s);
}

std::optional<ServiceError> parse_activity_arn(std::string_view text) {
  ArnParts p;
  if (auto e = parse_arn(text, &p)) return e;
  if (p.type != "activity" || p.resource.size() != 1) return wrong_type(p.type);
  return std::nullopt;
}

json::object activity_json(const storage::ActivityRecord& a) {
  return json::object{{"activityArn", a.arn}, {"name", a.name}, {"creationDate", wire_date(a.creation_date)}};
}

}  // namespace

std::string activity_arn(const ServiceOptions& options, std::string_view name) {
  return "arn:aws:states:" + options.region + ":" + options.account + ":activity:" + std::string(name);
}

ServiceResult Service::send_task_success(const json::object& request) {
  Reader in(request);
  std::string token;
  if (auto e = check_task_token(in, token)) return *e;
  const std::string output = in.required("output");
  in.check_length("output", output, kMaxInputBytes, false);
  if (in.error()) return *in.error();
  if (!parse_json(output)) return ServiceError{"InvalidOutput", "Invalid Output: '" + output + "'"};
  storage::TaskTokenResult result;
  result.success = true;
  result.output = output;
  result.date = options_.clock->now();
  auto closed = store_->close_task_token(token, result, result.date);
  if (!closed.ok()) return token_refused(closed.status());
  return json::object{};
}

ServiceResult Service::send_task_failure(const json::object& request) {
  Reader in(request);
  std::string token;
  if (auto e = check_task_token(in, token)) return *e;
  const auto error = in.string("error");
  const auto cause = in.string("cause");
  in.check_length("error", error, kMaxErrorLength, false);
  in.check_length("cause", cause, kMaxCauseLength, false);
  if (in.error()) return *in.error();
  storage::TaskTokenResult result;
  result.success = false;
  result.error = error;
  result.cause = cause;
  result.date = options_.clock->now();
  auto closed = store_->close_task_token(token, result, result.date);
  if (!closed.ok()) return token_refused(closed.status());
  return json::object{};
}

ServiceResult Service::send_task_heartbeat(const json::object& request) {
  Reader in(request);
  std::string token;
  if (auto e = check_task_token(in, token)) return *e;
  auto beat = store_->heartbeat_task_token(token, options_.clock->now());
  if (!beat.ok()) return token_refused(beat.status());
  return json::object{};
}

ServiceResult Service::create_activity(const json::object& request) {
  Reader in(request);
  const std::string name = in.required("name");
  in.check_length("name", name, kMaxNameLength);
  if (in.error()) return *in.error();
  if (name.empty()) {
    return validation(
        "Value '' at 'name' failed to satisfy constraint: Member must have length greater than or "
        "equal to 1");
  }
  if (!is_valid_resource_name(name)) return ServiceError{"InvalidName", "Invalid Name: '" + name + "'"};
  storage::ActivityRecord activity{activity_arn(options_, name), name, options_.clock->now()};
  auto created = store_->create_activity(activity);
  if (!created.ok()) return store_failure(created.status());
  return json::object{{"activityArn", created->arn}, {"creationDate", wire_date(created->creation_date)}};
}

ServiceResult Service::describe_activity(const json::object& request) {
  Reader in(request);
  const std::string arn = in.required("activityArn");
  if (in.error()) return *in.error();
  if (auto e = parse_activity_arn(arn)) return *e;
  auto activity = store_->describe_activity(arn);
  if (!activity.ok()) {
    return activity.code() == Code::kNotFound ? activity_missing(arn) : store_failure(activity.status());
  }
  return activity_json(*activity);
}

ServiceResult Service::list_activities(const json::object& request) {
  Reader in(request);
  storage::PageRequest page;
  page.max_results = in.max_results();
  page.next_token = in.string("nextToken").value_or("");
  if (in.error()) return *in.error();
  auto listed = store_->list_activities(page);
  if (!listed.ok()) {
    return listed.code() == Code::kInvalidArgument ? invalid_token(page.next_token) : store_failure(listed.status());
  }
  json::array activities;
  for (const auto& a : listed->items) activities.push_back(activity_json(a));
  json::object out;
  out["activities"] = std::move(activities);
  if (!listed->next_token.empty()) out["nextToken"] = listed->next_token;
  return out;
}

ServiceResult Service::delete_activity(const json::object& request) {
  Reader in(request);
  const std::string arn = in.required("activityArn");
  if (in.error()) return *in.error();
  if (auto e = parse_activity_arn(arn)) return *e;
  auto deleted = store_->delete_activity(arn);
  // As DeleteStateMachine: deleting what is not there (any more) succeeds.
  if (!deleted.ok() && deleted.code() != Code::kNotFound) return store_failure(deleted);
  return json::object{};
}

ServiceResult Service::get_activity_task(const json::object& request) {
  Reader in(request);
  const std::string arn = in.required("activityArn");
  const auto worker_name = in.string("workerName");
  in.check_length("workerName", worker_name, kMaxNameLength);
  if (in.error()) return *in.error();
  if (auto e = parse_activity_arn(arn)) return *e;
  auto activity = store_->describe_activity(arn);
  if (!activity.ok()) {
    return activity.code() == Code::kNotFound ? activity_missing(arn) : store_failure(activity.status());
  }
  // A long poll: real time, not the service's clock (which may be a test's
  // manual one); the store is asked again every activity_poll_interval.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(options_.activity_poll_timeout);
  for (;;) {
    auto taken = store_->take_activity_task(arn, worker_name.value_or(""), options_.clock->now());
    if (!taken.ok()) return store_failure(taken.status());
    if (*taken) return json::object{{"taskToken", (*taken)->token}, {"input", (*taken)->input}};
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    std::this_thread::sleep_for(
        std::min<std::chrono::nanoseconds>(deadline - now, std::chrono::nanoseconds(options_.activity_poll_interval)));
  }
  return json::object{{"taskToken", ""}};
}

}  // namespace stepwise
