// The eight state types: which fields each allows and what each field must be.
#include <span>
#include <string>

#include "states/http_task.h"
#include "states/intrinsics.h"
#include "states/parse_internal.h"
#include "states/timestamp.h"

namespace stepwise::states::parse_detail {
namespace {

using Fields = std::span<const std::string_view>;

bool contains(Fields fields, std::string_view key) {
  for (std::string_view f : fields)
    if (f == key) return true;
  return false;
}

// Fields per state type (besides Type, Comment, QueryLanguage), from the ASL
// specification and AWS's JSONata variant of it.
constexpr std::string_view kTaskPath[] = {"Resource",
                                          "Parameters",
                                          "ResultSelector",
                                          "ResultPath",
                                          "InputPath",
                                          "OutputPath",
                                          "TimeoutSeconds",
                                          "TimeoutSecondsPath",
                                          "HeartbeatSeconds",
                                          "HeartbeatSecondsPath",
                                          "Retry",
                                          "Catch",
                                          "Credentials",
                                          "Assign",
                                          "Compensate",
                                          "Next",
                                          "End"};
constexpr std::string_view kPassPath[] = {"Result",     "ResultPath", "Parameters", "InputPath",
                                          "OutputPath", "Assign",     "Next",       "End"};
constexpr std::string_view kChoicePath[] = {"Choices", "Default", "InputPath", "OutputPath", "Assign"};
constexpr std::string_view kWaitPath[] = {"Seconds",   "Timestamp",  "SecondsPath", "TimestampPath",
                                          "InputPath", "OutputPath", "Assign",      "Next",
                                          "End"};
constexpr std::string_view kSucceedPath[] = {"InputPath", "OutputPath"};
constexpr std::string_view kFailPath[] = {"Error", "Cause", "ErrorPath", "CausePath"};
constexpr std::string_view kParallelPath[] = {
    "Branches",   "Parameters", "ResultSelector", "ResultPath", "InputPath",
    "OutputPath", "Retry",      "Catch",          "Assign",     "Compensate", "Next",
    "End"};
constexpr std::string_view kMapPath[] = {"ItemProcessor",
                                         "Iterator",
                                         "ItemsPath",
                                         "ItemSelector",
                                         "Parameters",
                                         "MaxConcurrency",
                                         "MaxConcurrencyPath",
                                         "ToleratedFailurePercentage",
                                         "ToleratedFailurePercentagePath",
                                         "ToleratedFailureCount",
                                         "ToleratedFailureCountPath",
                                         "Label",
                                         "ItemReader",
                                         "ItemBatcher",
                                         "ResultWriter",
                                         "ResultSelector",
                                         "ResultPath",
                                         "InputPath",
                                         "OutputPath",
                                         "Retry",
                                         "Catch",
                                         "Assign",
                                         "Compensate",
                                         "Next",
                                         "End"};
// The Compensate state (Stepwise extension, docs/sagas.md).
constexpr std::string_view kCompensatePath[] = {"ResultPath", "Next", "End"};
constexpr std::string_view kCompensateJsonata[] = {"Next", "End"};

constexpr std::string_view kTaskJsonata[] = {
    "Resource", "Arguments",   "Output", "Assign", "TimeoutSeconds", "HeartbeatSeconds", "Retry",
    "Catch",    "Credentials", "Next",   "End"};
constexpr std::string_view kPassJsonata[] = {"Output", "Assign", "Next", "End"};
constexpr std::string_view kChoiceJsonata[] = {"Choices", "Default", "Output", "Assign"};
constexpr std::string_view kWaitJsonata[] = {"Seconds", "Timestamp", "Output",
                                             "Assign",  "Next",      "End"};
constexpr std::string_view kSucceedJsonata[] = {"Output"};
constexpr std::string_view kFailJsonata[] = {"Error", "Cause"};
constexpr std::string_view kParallelJsonata[] = {"Branches", "Arguments", "Output", "Assign",
                                                 "Retry",    "Catch",     "Next",   "End"};
constexpr std::string_view kMapJsonata[] = {"ItemProcessor",
                                            "Iterator",
                                            "Items",
                                            "ItemSelector",
                                            "MaxConcurrency",
                                            "ToleratedFailurePercentage",
                                            "ToleratedFailureCount",
                                            "Label",
                                            "ItemReader",
                                            "ItemBatcher",
                                            "ResultWriter",
                                            "Output",
                                            "Assign",
                                            "Retry",
                                            "Catch",
                                            "Next",
                                            "End"};

Fields json_path_fields(StateType t) {
  switch (t) {
    case StateType::Task:
      return kTaskPath;
    case StateType::Pass:
      return kPassPath;
    case StateType::Choice:
      return kChoicePath;
    case StateType::Wait:
      return kWaitPath;
    case StateType::Succeed:
      return kSucceedPath;
    case StateType::Fail:
      return kFailPath;
    case StateType::Parallel:
      return kParallelPath;
    case StateType::Map:
      return kMapPath;
    case StateType::Compensate:
      return kCompensatePath;
  }
  return {};
}

Fields jsonata_fields(StateType t) {
  switch (t) {
    case StateType::Task:
      return kTaskJsonata;
    case StateType::Pass:
      return kPassJsonata;
    case StateType::Choice:
      return kChoiceJsonata;
    case StateType::Wait:
      return kWaitJsonata;
    case StateType::Succeed:
      return kSucceedJsonata;
    case StateType::Fail:
      return kFailJsonata;
    case StateType::Parallel:
      return kParallelJsonata;
    case StateType::Map:
      return kMapJsonata;
    case StateType::Compensate:
      return kCompensateJsonata;
  }
  return {};
}

// Optimized integrations ("arn:aws:states:::service:action[.pattern]") whose
// actions AWS lists exhaustively; services not listed here are not checked.
enum Pattern : unsigned { kRequestResponse = 1, kSync = 2, kWaitForTaskToken = 4 };
struct Integration {
  std::string_view service;
  std::string_view action;
  unsigned patterns;
};
constexpr Integration kIntegrations[] = {
    {"lambda", "invoke", kRequestResponse | kWaitForTaskToken},
    {"dynamodb", "getItem", kRequestResponse},
    {"dynamodb", "putItem", kRequestResponse},
    {"dynamodb", "updateItem", kRequestResponse},
    {"dynamodb", "deleteItem", kRequestResponse},
    {"sns", "publish", kRequestResponse | kWaitForTaskToken},
    {"sqs", "sendMessage", kRequestResponse | kWaitForTaskToken},
    {"states", "startExecution", kRequestResponse | kSync | kWaitForTaskToken},
    {"events", "putEvents", kRequestResponse | kWaitForTaskToken},
    {"apigateway", "invoke", kRequestResponse | kWaitForTaskToken},
    {"batch", "submitJob", kRequestResponse | kSync},
    {"glue", "startJobRun", kRequestResponse | kSync},
    {"ecs", "runTask", kRequestResponse | kSync | kWaitForTaskToken},
    {"http", "invoke", kRequestResponse},
};

bool service_is_listed(std::string_view service) {
  for (const Integration& i : kIntegrations)
    if (i.service == service) return true;
  return false;
}

bool integration_known(std::string_view service, std::string_view action, unsigned pattern) {
  for (const Integration& i : kIntegrations)
    if (i.service == service && i.action == action) return (i.patterns & pattern) != 0;
  return false;
}

// Splits on ':' into at most `max` parts; the last part keeps the rest.
std::vector<std::string_view> split_arn(std::string_view s, std::size_t max) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max) {
    auto colon = s.find(':');
    if (colon == std::string_view::npos) break;
    parts.push_back(s.substr(0, colon));
    s.remove_prefix(colon + 1);
  }
  parts.push_back(s);
  return parts;
}

}  // namespace

bool state_allows(StateType type, Language lang, std::string_view field) {
  return contains(lang == Language::JsonPath ? json_path_fields(type) : jsonata_fields(type),
                  field);
}

// --- fields several state types share ----------------------------------------

void Parser::parse_data_flow(State& s, const json::object& obj, const std::string& ptr,
                             Language lang, std::vector<Target>& targets) {
  if (lang != Language::JsonPath) {
    // JSONata states have no paths or templates; Retry and Catch still apply.
    if (const json::value* v = obj.if_contains("Retry"); v && state_allows(s.type, lang, "Retry"))
      s.retry = parse_retry(*v, ptr);
    if (const json::value* v = obj.if_contains("Catch"); v && state_allows(s.type, lang, "Catch"))
      s.catches = parse_catch(*v, ptr, lang, s.index, targets);
    return;
  }
  auto field = [&](std::string_view key) -> const json::value* {
    const json::value* v = obj.if_contains(key);
    return v && state_allows(s.type, lang, key) ? v : nullptr;
  };
  if (const json::value* v = field("InputPath")) s.input_path = path_spec(*v, ptr, "InputPath");
  if (const json::value* v = field("OutputPath")) s.output_path = path_spec(*v, ptr, "OutputPath");
  if (const json::value* v = field("ResultPath")) s.result_path = result_path_spec(*v, ptr);
  // Map's Parameters is the legacy ItemSelector: parse_map reads it.
  if (s.type != StateType::Map) {
    if (const json::value* v = field("Parameters")) s.parameters = payload(*v, ptr, "Parameters");
  }
  if (const json::value* v = field("ResultSelector")) {
    s.result_selector = payload(*v, ptr, "ResultSelector");
  }
  if (const json::value* v = field("Retry")) s.retry = parse_retry(*v, ptr);
  if (const json::value* v = field("Catch"))
    s.catches = parse_catch(*v, ptr, lang, s.index, targets);
}

// --- Task --------------------------------------------------------------------

void Parser::check_resource(std::string_view resource, const std::string& ptr) {
  const std::string resource_ptr = child(ptr, "Resource");
  auto not_recognized = [&] {
    // AWS prints the ARN with its partition masked.
    std::vector<std::string_view> parts = split_arn(resource, 3);
    std::string shown(resource);
    if (parts.size() == 3) {
      shown = std::string(parts[0]) + ":<partition>:" + std::string(parts[2]);
    }
    error(resource_ptr, "The resource provided " + shown +
                            " is not recognized. The value is not a valid resource ARN, or the "
                            "resource is not available in this region.");
  };
  // arn:partition:service:region:account:resource
  std::vector<std::string_view> parts = split_arn(resource, 6);
  if (parts.size() < 6 || parts[0] != "arn" || parts[1].empty() || parts[2].empty()) {
    not_recognized();
    return;
  }
  if (parts[2] != "states") return;  // Lambda functions and the like: nothing more to check
  std::string_view rest = parts[5];
  if (!parts[3].empty() || !parts[4].empty()) {
    if (rest.substr(0, 9) == "activity:") {
      if (options_.express) {
        error(resource_ptr, "Express state machine does not support Activity ARN");
      }
    }
    return;
  }
  // An integration: service:action[.sync|.sync:2|.waitForTaskToken], or aws-sdk:service:action.
  unsigned pattern = kRequestResponse;
  std::string_view base = rest;
  if (auto dot = rest.find('.'); dot != std::string_view::npos) {
    std::string_view suffix = rest.substr(dot + 1);
    base = rest.substr(0, dot);
    if (suffix == "sync" || suffix == "sync:2") {
      pattern = kSync;
    } else if (suffix == "waitForTaskToken") {
      pattern = kWaitForTaskToken;
    } else {
      not_recognized();
      return;
    }
  }
  if (options_.express && pattern == kSync) {
    error(resource_ptr, "Express state machine does not support '.sync' service integration");
  } else if (options_.express && pattern == kWaitForTaskToken) {
    // AWS's text ends with a space.
    error(resource_ptr,
          "Express state machine does not support '.waitForTaskToken' service integration ");
  }
  auto colon = base.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == base.size()) {
    not_recognized();
    return;
  }
  std::string_view service = base.substr(0, colon);
  std::string_view action = base.substr(colon + 1);
  if (service_is_listed(service) && !integration_known(service, action, pattern)) {
    not_recognized();
  }
}

void Parser::check_credentials(const json::value& v, const std::string& ptr, Language lang) {
  if (!v.is_object()) {
    type_error(ptr, "Credentials", "an object", v);
    return;
  }
  const json::object& obj = v.get_object();
  const std::string cred_ptr = child(ptr, "Credentials");
  const json::value* role = obj.if_contains("RoleArn");
  const json::value* role_path =
      lang == Language::JsonPath ? obj.if_contains("RoleArn.$") : nullptr;
  if (!role && !role_path) {
    error(cred_ptr, "The field 'RoleArn' is required but was missing");
    return;
  }
  if (role && !role->is_string()) type_error(cred_ptr, "RoleArn", "a string", *role);
  if (role_path) {
    if (!role_path->is_string()) {
      type_error(cred_ptr, "RoleArn.$", "a string", *role_path);
    } else if (!Intrinsic::looks_like_call(role_path->get_string())) {
      path(*role_path, cred_ptr, "RoleArn.$");
    } else if (!cache_.intrinsic(role_path->get_string())) {
      error(child(cred_ptr, "RoleArn.$"),
            "The value for the field 'RoleArn.$' must be a valid JSONPath or a valid intrinsic "
            "function call");
    }
  }
}

// The HTTP Task's literal fields are checked here, as AWS checks them when a
// state machine is created; values computed at run time are checked then.
void Parser::check_http_task(const json::object& obj, const std::string& ptr, Language lang) {
  const bool jsonata = lang != Language::JsonPath;
  const char* key = jsonata ? "Arguments" : "Parameters";
  const json::value* params = obj.if_contains(key);
  if (!params) {
    error(ptr, std::string("The field '") + key + "' is required but was missing");
    return;
  }
  check_http_parameters(*params, child(ptr, key), jsonata, diags_);
}

void Parser::parse_task(State& s, const json::object& obj, const std::string& ptr, Language lang) {
  TaskSpec task;
  if (const json::value* r = obj.if_contains("Resource")) {
    if (r->is_string()) {
      task.resource = std::string(r->get_string());
      check_resource(task.resource, ptr);
      if (is_http_invoke(task.resource)) check_http_task(obj, ptr, lang);
    } else {
      type_error(ptr, "Resource", "a string", *r);
    }
  } else {
    required(ptr, "Resource");
  }
  task.timeout_seconds = number_source(obj, ptr, "TimeoutSeconds", "TimeoutSecondsPath",
                                       NumberRule::PositiveInteger, lang);
  task.heartbeat_seconds = number_source(obj, ptr, "HeartbeatSeconds", "HeartbeatSecondsPath",
                                         NumberRule::PositiveInteger, lang);
  if (task.timeout_seconds.literal && task.heartbeat_seconds.literal &&
      *task.heartbeat_seconds.literal >= *task.timeout_seconds.literal) {
    error(child(ptr, "HeartbeatSeconds"),
          "The value of the field 'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'");
  }
  if (const json::value* c = obj.if_contains("Credentials")) {
    check_credentials(*c, ptr, lang);
    task.credentials = *c;
  }
  s.spec = std::move(task);
}

// --- Pass, Wait, Fail ----------------------------------------------------------

void Parser::parse_pass(State& s, const json::object& obj, const std::string&, Language lang) {
  PassSpec pass;
  if (lang == Language::JsonPath) {
    if (const json::value* r = obj.if_contains("Result")) pass.result = *r;
  }
  s.spec = std::move(pass);
}

void Parser::parse_wait(State& s, const json::object& obj, const std::string& ptr, Language lang) {
  WaitSpec wait;
  static constexpr std::string_view kKeys[] = {"Seconds", "Timestamp", "SecondsPath",
                                               "TimestampPath"};
  int given = 0;
  for (std::string_view k : kKeys)
    if (obj.contains(k) && state_allows(StateType::Wait, lang, k)) ++given;
  if (given != 1) {
    error(ptr, lang == Language::JsonPath
                   ? "Exactly one of the fields 'Seconds', 'Timestamp', 'SecondsPath' or "
                     "'TimestampPath' is required in a Wait state"
                   : "Exactly one of the fields 'Seconds' or 'Timestamp' is required in a Wait "
                     "state");
  }
  if (const json::value* v = obj.if_contains("Seconds")) {
    if (lang == Language::Jsonata && is_jsonata_expression(*v)) {
      wait.seconds_expression = query_expression(*v, ptr, "Seconds");
    } else {
      wait.seconds = number(*v, ptr, "Seconds", NumberRule::NonNegativeInteger);
    }
  }
  if (const json::value* v = obj.if_contains("Timestamp")) {
    if (!v->is_string()) {
      type_error(ptr, "Timestamp", "a string", *v);
    } else if (lang == Language::Jsonata && is_jsonata_expression(*v)) {
      wait.timestamp_expression = query_expression(*v, ptr, "Timestamp");
    } else if (!parse_instant(v->get_string())) {
      error(child(ptr, "Timestamp"), "String does not match RFC3339 timestamp");
    } else {
      wait.timestamp = std::string(v->get_string());
    }
  }
  if (lang == Language::JsonPath) {
    if (const json::value* v = obj.if_contains("SecondsPath")) {
      wait.seconds_path = path(*v, ptr, "SecondsPath");
    }
    if (const json::value* v = obj.if_contains("TimestampPath")) {
      wait.timestamp_path = path(*v, ptr, "TimestampPath");
    }
  }
  s.spec = std::move(wait);
}

void Parser::parse_fail(State& s, const json::object& obj, const std::string& ptr, Language lang) {
  FailSpec fail;
  auto text_or_expression = [&](std::string_view key, std::optional<std::string>& text,
                                std::optional<QueryExpression>& expression) {
    const json::value* v = obj.if_contains(key);
    if (v && lang == Language::Jsonata && is_jsonata_expression(*v)) {
      expression = query_expression(*v, ptr, key);
    } else {
      text = optional_string(obj, key, ptr);
    }
  };
  text_or_expression("Error", fail.error, fail.error_expression);
  text_or_expression("Cause", fail.cause, fail.cause_expression);
  if (lang == Language::JsonPath) {
    // ErrorPath and CausePath take a path or an intrinsic function.
    auto path_or_intrinsic = [&](std::string_view key, std::optional<JsonPath>& p,
                                 std::optional<Intrinsic>& f) {
      const json::value* v = obj.if_contains(key);
      if (!v) return;
      if (obj.contains(key.substr(0, key.size() - 4))) {
        error(ptr, "The fields '" + std::string(key.substr(0, key.size() - 4)) + "' and '" +
                       std::string(key) + "' cannot both be set");
      }
      if (v->is_string() && Intrinsic::looks_like_call(v->get_string())) {
        std::string why;
        f = cache_.intrinsic(v->get_string(), &why);
        if (!f) {
          error(child(ptr, key), "The value for the field '" + std::string(key) +
                                     "' must be a valid JSONPath or a valid intrinsic function "
                                     "call" +
                                     (why.empty() ? "" : ": " + why));
        }
      } else {
        p = path(*v, ptr, key);
      }
    };
    path_or_intrinsic("ErrorPath", fail.error_path, fail.error_intrinsic);
    path_or_intrinsic("CausePath", fail.cause_path, fail.cause_intrinsic);
  }
  s.spec = std::move(fail);
}

// --- Choice --------------------------------------------------------------------

void Parser::check_jsonata_rule(const json::object& rule, const std::string& ptr) {
  if (!rule.contains("Condition")) required(ptr, "Condition");
  for (const auto& kv : rule) {
    std::string_view key = kv.key();
    if (key != "Condition" && key != "Next" && key != "Assign" && key != "Output" &&
        key != "Comment") {
      error(child(ptr, key),
            "The field '" + std::string(key) + "' is not supported in a JSONata choice rule");
    }
  }
}

void Parser::parse_choice(State& s, const json::object& obj, const std::string& ptr, Language lang,
                          std::vector<Target>& targets) {
  s.spec = ChoiceSpec{};
  ChoiceSpec& choice = std::get<ChoiceSpec>(s.spec);
  const json::value* choices = obj.if_contains("Choices");
  if (!choices) {
    required(ptr, "Choices");
  } else if (!choices->is_array()) {
    type_error(ptr, "Choices", "an array", *choices);
  } else if (choices->get_array().empty()) {
    error(child(ptr, "Choices"), "The field 'Choices' must contain at least one rule");
  } else {
    const json::array& rules = choices->get_array();
    const std::string list_ptr = child(ptr, "Choices");
    // Targets keep pointers to ChoiceBranch::next: no reallocation after this.
    choice.choices.reserve(rules.size());
    for (std::size_t i = 0; i < rules.size(); ++i) {
      std::string rule_ptr = child(list_ptr, i);
      if (!rules[i].is_object()) {
        error(rule_ptr,
              std::string("A choice rule must be an object, not ") + json_type_name(rules[i]));
        ++unknown_transitions_;
        continue;
      }
      const json::object& rule = rules[i].get_object();
      StateIndex* slot = nullptr;
      if (lang == Language::JsonPath) {
        if (auto compiled = ChoiceRule::compile(rules[i], rule_ptr, true, diags_, &cache_)) {
          ChoiceBranch& b = choice.choices.emplace_back();
          b.rule = std::move(compiled);
          slot = &b.next;
        }
      } else {
        check_jsonata_rule(rule, rule_ptr);
        if (const json::value* c = rule.if_contains("Condition")) {
          // A literal true or false is a constant condition.
          auto condition = c->is_bool() ? QueryExpression::compile(c->get_bool() ? "true" : "false")
                                        : query_expression(*c, rule_ptr, "Condition");
          if (condition) {
            ChoiceBranch& b = choice.choices.emplace_back();
            b.condition = std::move(condition);
            if (const json::value* o = rule.if_contains("Output")) b.output = query(*o, rule_ptr, "Output");
            slot = &b.next;
          }
        }
      }
      if (slot) {
        if (const json::value* a = rule.if_contains("Assign"))
          choice.choices.back().assign = parse_assign(*a, rule_ptr, lang);
      }
      const json::value* next = rule.if_contains("Next");
      if (!next) {
        required(rule_ptr, "Next");
      } else if (!next->is_string()) {
        type_error(rule_ptr, "Next", "a string", *next);
        ++unknown_transitions_;
      } else {
        if (slot) choice.choices.back().next_name = std::string(next->get_string());
        targets.push_back(
            Target{s.index, slot, next->get_string(), child(rule_ptr, "Next"), "Next"});
      }
    }
  }
  if (const json::value* d = obj.if_contains("Default")) {
    if (d->is_string()) {
      choice.default_name = std::string(d->get_string());
      targets.push_back(
          Target{s.index, &choice.default_next, d->get_string(), child(ptr, "Default"), "Default"});
    } else {
      type_error(ptr, "Default", "a string", *d);
      ++unknown_transitions_;
    }
  }
}

// --- Parallel and Map ------------------------------------------------------------

void Parser::parse_parallel(State& s, const json::object& obj, const std::string& ptr,
                            Language lang) {
  ParallelSpec parallel;
  const json::value* branches = obj.if_contains("Branches");
  if (!branches) {
    required(ptr, "Branches");
  } else if (!branches->is_array()) {
    type_error(ptr, "Branches", "an array", *branches);
  } else if (branches->get_array().empty()) {
    error(child(ptr, "Branches"), "The field 'Branches' must contain at least one branch");
  } else {
    const std::string list_ptr = child(ptr, "Branches");
    const json::array& list = branches->get_array();
    for (std::size_t i = 0; i < list.size(); ++i) {
      std::string branch_ptr = child(list_ptr, i);
      if (!list[i].is_object()) {
        error(branch_ptr,
              std::string("A branch must be an object, not ") + json_type_name(list[i]));
        continue;
      }
      parallel.branches.push_back(
          parse_machine(list[i].get_object(), branch_ptr, lang, MachineKind::Branch));
    }
  }
  s.spec = std::move(parallel);
}

std::optional<std::string> Parser::parse_processor_config(const json::object& processor,
                                                          const std::string& ptr) {
  const json::value* config = processor.if_contains("ProcessorConfig");
  if (!config) return std::nullopt;
  if (!config->is_object()) {
    type_error(ptr, "ProcessorConfig", "an object", *config);
    return std::nullopt;
  }
  const std::string config_ptr = child(ptr, "ProcessorConfig");
  std::optional<std::string> mode;
  for (const auto& kv : config->get_object()) {
    if (kv.key() == "Mode") {
      if (kv.value().is_string() &&
          (kv.value().get_string() == "INLINE" || kv.value().get_string() == "DISTRIBUTED")) {
        mode = std::string(kv.value().get_string());
      } else {
        error(child(config_ptr, "Mode"),
              "The value of the field 'Mode' must be one of [INLINE, DISTRIBUTED]");
      }
    } else if (kv.key() == "ExecutionType") {
      if (!kv.value().is_string() ||
          (kv.value().get_string() != "STANDARD" && kv.value().get_string() != "EXPRESS")) {
        error(child(config_ptr, "ExecutionType"),
              "The value of the field 'ExecutionType' must be one of [STANDARD, EXPRESS]");
      }
    } else {
      error(child(config_ptr, kv.key()),
            "The field '" + std::string(kv.key()) + "' is not supported in a ProcessorConfig");
    }
  }
  return mode;
}

void Parser::parse_map(State& s, const json::object& obj, const std::string& ptr, Language lang) {
  MapSpec map;
  const json::value* processor = obj.if_contains("ItemProcessor");
  const json::value* iterator = obj.if_contains("Iterator");
  if (processor && iterator) {
    error(ptr, "Only one of the fields 'ItemProcessor' and 'Iterator' may be set");
  }
  if (!processor && !iterator) required(ptr, "ItemProcessor");
  if (const json::value* p = processor ? processor : iterator) {
    const char* key = processor ? "ItemProcessor" : "Iterator";
    if (!p->is_object()) {
      type_error(ptr, key, "an object", *p);
    } else {
      std::string processor_ptr = child(ptr, key);
      if (auto mode = parse_processor_config(p->get_object(), processor_ptr)) map.mode = *mode;
      map.processor = parse_machine(p->get_object(), processor_ptr, lang,
                                    processor ? MachineKind::ItemProcessor : MachineKind::Iterator);
    }
  }

  if (lang == Language::JsonPath) {
    if (const json::value* v = obj.if_contains("ItemsPath"))
      map.items_path = path(*v, ptr, "ItemsPath");
    const json::value* selector = obj.if_contains("ItemSelector");
    const json::value* parameters = obj.if_contains("Parameters");
    if (selector && parameters) {
      error(ptr, "Only one of the fields 'ItemSelector' and 'Parameters' may be set");
    }
    if (selector) {
      map.item_selector = payload(*selector, ptr, "ItemSelector");
    } else if (parameters) {
      map.item_selector = payload(*parameters, ptr, "Parameters");
    }
  } else {
    if (const json::value* v = obj.if_contains("Items")) {
      if (!v->is_array() && !is_jsonata_expression(*v)) {
        error(child(ptr, "Items"), "The value of the field 'Items' must be an array or a JSONata expression");
      } else {
        map.items = query(*v, ptr, "Items");
      }
    }
    if (const json::value* v = obj.if_contains("ItemSelector")) map.item_selector_query = query(*v, ptr, "ItemSelector");
  }
  map.max_concurrency = number_source(obj, ptr, "MaxConcurrency", "MaxConcurrencyPath",
                                      NumberRule::NonNegativeInteger, lang);
  map.tolerated_failure_percentage =
      number_source(obj, ptr, "ToleratedFailurePercentage", "ToleratedFailurePercentagePath",
                    NumberRule::Percentage, lang);
  map.tolerated_failure_count =
      number_source(obj, ptr, "ToleratedFailureCount", "ToleratedFailureCountPath",
                    NumberRule::NonNegativeInteger, lang);
  map.label = optional_string(obj, "Label", ptr);
  parse_map_io(map, obj, ptr, lang);
  s.spec = std::move(map);
}

}  // namespace stepwise::states::parse_detail
