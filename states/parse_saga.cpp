// The saga extension (docs/sagas.md): a step's Compensate block and the
// Compensate state. Plain ASL never reaches this file's checks.
#include <string>

#include "states/parse_internal.h"

namespace stepwise::states::parse_detail {
namespace {

constexpr std::string_view kBlockFields[] = {"Resource", "Parameters", "Retry", "TimeoutSeconds", "Comment"};

bool block_allows(std::string_view key) {
  for (std::string_view f : kBlockFields)
    if (f == key) return true;
  return false;
}

}  // namespace

void Parser::parse_compensation(State& s, const json::value& v, const std::string& ptr) {
  def_.has_compensation = true;
  if (!v.is_object()) {
    type_error(ptr, "Compensate", "an object", v);
    return;
  }
  const json::object& obj = v.get_object();
  const std::string block = child(ptr, "Compensate");
  auto spec = std::make_shared<CompensationSpec>();
  for (const auto& kv : obj) {
    if (!block_allows(kv.key())) {
      error(child(block, kv.key()), "The field '" + std::string(kv.key()) + "' is not supported in a Compensate block");
    }
  }
  if (const json::value* r = obj.if_contains("Resource")) {
    if (!r->is_string()) {
      type_error(block, "Resource", "a string", *r);
    } else {
      spec->resource = std::string(r->get_string());
      check_resource(spec->resource, block);
      // The roll-back waits for each compensation's answer; a callback or a
      // job would need a token the roll-back does not hand out.
      if (spec->resource.find(".waitForTaskToken") != std::string::npos ||
          spec->resource.find(".sync") != std::string::npos) {
        error(child(block, "Resource"),
              "A compensation must be a request-response call: '.sync' and '.waitForTaskToken' "
              "are not supported in a Compensate block");
      }
    }
  } else {
    required(block, "Resource");
  }
  if (const json::value* p = obj.if_contains("Parameters")) spec->parameters = payload(*p, block, "Parameters");
  if (const json::value* r = obj.if_contains("Retry")) spec->retry = parse_retry(*r, block);
  if (const json::value* t = obj.if_contains("TimeoutSeconds")) {
    spec->timeout_seconds = number(*t, block, "TimeoutSeconds", NumberRule::PositiveInteger);
  }
  if (obj.contains("Comment")) optional_string(obj, "Comment", block);
  s.compensate = std::move(spec);
}

void Parser::parse_compensate_state(State& s, const json::object& obj) {
  def_.has_compensation = true;
  s.spec = CompensateStateSpec{};
  // The roll-back's report is placed only where asked: without ResultPath the
  // state's input (typically a caught error) passes through.
  if (!obj.contains("ResultPath")) s.result_path.kind = ResultPathSpec::Kind::Discard;
}

}  // namespace stepwise::states::parse_detail
