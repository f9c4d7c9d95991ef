#include "states/payload.h"

#include <utility>
#include <vector>

#include "states/intrinsics.h"
#include "states/jsonpath.h"

namespace stepwise::states {
namespace {

// One compiled node of a template. Subtrees without any ".$" key collapse
// into kConstant so that evaluating them is a plain copy.
struct Node {
  enum class Kind { kConstant, kPath, kCall, kObject, kArray };
  Kind kind = Kind::kConstant;
  json::value constant;
  std::optional<JsonPath> path;
  std::optional<Intrinsic> call;
  std::string field;                                  // kPath, kCall: the "k.$" key
  std::vector<std::pair<std::string, Node>> members;  // kObject: output key and value
  std::vector<Node> elements;                         // kArray
};

bool is_dynamic_key(std::string_view key) {
  return key.size() >= 2 && key.ends_with(".$");
}

// RFC 6901: "~" and "/" inside a pointer segment are escaped.
void append_pointer_segment(std::string& pointer, std::string_view segment) {
  pointer.push_back('/');
  for (char c : segment) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer.push_back(c);
    }
  }
}

std::string escape_key(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out.push_back(c);
  }
  return out;
}

// Compiles the value of a "k.$" key. AWS reports a bad one at the pointer of
// the object that holds it, with this exact wording.
std::optional<Node> compile_dynamic(std::string_view key, const json::value& value,
                                    const std::string& object_pointer, Diagnostics& diags) {
  Node node;
  node.field = std::string(key);
  if (value.is_string()) {
    std::string_view text = value.get_string();
    if (text.starts_with("$")) {
      if (auto path = JsonPath::parse(text)) {
        if (path->is_variable()) {  // read as "$" otherwise: reject until variables exist
          diags.push_back(Diagnostic{object_pointer + "/" + escape_key(key),
                                     "Workflow variables ('$" + path->variable() + "') are not supported yet", ""});
          return std::nullopt;
        }
        node.kind = Node::Kind::kPath;
        node.path = std::move(*path);
        return node;
      }
    } else if (Intrinsic::looks_like_call(text)) {
      std::string error;
      if (auto call = Intrinsic::parse(text, &error)) {
        node.kind = Node::Kind::kCall;
        node.call = std::move(*call);
        return node;
      }
      if (error.find("not supported yet") != std::string::npos) {  // a later feature, not a mistake
        diags.push_back(Diagnostic{object_pointer + "/" + escape_key(key), error, ""});
        return std::nullopt;
      }
    }
  }
  diags.push_back(Diagnostic{object_pointer, "The value for the field '" + std::string(key) +
                                                 "' must be a valid JSONPath or a valid intrinsic "
                                                 "function call"});
  return std::nullopt;
}

std::optional<Node> compile_node(const json::value& spec, const std::string& pointer,
                                 Diagnostics& diags);

std::optional<Node> compile_object(const json::object& spec, const std::string& pointer,
                                   Diagnostics& diags) {
  Node node;
  node.kind = Node::Kind::kObject;
  bool ok = true;
  bool all_constant = true;
  for (const auto& kv : spec) {
    std::string_view key = kv.key();
    std::optional<Node> member;
    if (is_dynamic_key(key)) {
      member = compile_dynamic(key, kv.value(), pointer, diags);
      key.remove_suffix(2);
    } else {
      std::string member_pointer = pointer;
      append_pointer_segment(member_pointer, key);
      member = compile_node(kv.value(), member_pointer, diags);
    }
    if (!member) {
      ok = false;
      continue;
    }
    all_constant = all_constant && member->kind == Node::Kind::kConstant;
    node.members.emplace_back(std::string(key), std::move(*member));
  }
  if (!ok) return std::nullopt;
  if (all_constant) {
    Node constant;
    constant.constant = spec;
    return constant;
  }
  return node;
}

std::optional<Node> compile_array(const json::array& spec, const std::string& pointer,
                                  Diagnostics& diags) {
  Node node;
  node.kind = Node::Kind::kArray;
  bool ok = true;
  bool all_constant = true;
  for (std::size_t i = 0; i < spec.size(); ++i) {
    std::string element_pointer = pointer;
    append_pointer_segment(element_pointer, std::to_string(i));
    auto element = compile_node(spec[i], element_pointer, diags);
    if (!element) {
      ok = false;
      continue;
    }
    all_constant = all_constant && element->kind == Node::Kind::kConstant;
    node.elements.push_back(std::move(*element));
  }
  if (!ok) return std::nullopt;
  if (all_constant) {
    Node constant;
    constant.constant = spec;
    return constant;
  }
  return node;
}

std::optional<Node> compile_node(const json::value& spec, const std::string& pointer,
                                 Diagnostics& diags) {
  if (spec.is_object()) return compile_object(spec.get_object(), pointer, diags);
  if (spec.is_array()) return compile_array(spec.get_array(), pointer, diags);
  Node node;
  node.constant = spec;
  return node;
}

Failure path_not_found(const Node& node, const json::value& input) {
  std::string cause = "The JSONPath '" + node.path->text() + "' specified for the field '" +
                      node.field + "' could not be found in the input '";
  append_json(cause, input);
  cause += "'";
  return runtime_failure(std::move(cause));
}

Result<json::value> evaluate_node(const Node& node, const Scope& scope) {
  switch (node.kind) {
    case Node::Kind::kConstant:
      return node.constant;
    case Node::Kind::kPath: {
      const JsonPath& path = *node.path;
      const json::value& root = path.is_context() ? scope.context : scope.input;
      if (path.is_definite()) {
        const json::value* found = path.find(root);
        if (found == nullptr) return path_not_found(node, scope.input);
        return *found;
      }
      // An indefinite path yields the array of its matches, possibly empty.
      auto selected = path.select(root);
      if (!selected) return path_not_found(node, scope.input);
      return std::move(*selected);
    }
    case Node::Kind::kCall:
      return node.call->evaluate(scope, node.field);
    case Node::Kind::kObject: {
      json::object out;
      out.reserve(node.members.size());
      for (const auto& [key, member] : node.members) {
        auto v = evaluate_node(member, scope);
        if (!v) return std::move(v.failure());
        out.insert_or_assign(key, std::move(*v));
      }
      return json::value(std::move(out));
    }
    case Node::Kind::kArray: {
      json::array out;
      out.reserve(node.elements.size());
      for (const auto& element : node.elements) {
        auto v = evaluate_node(element, scope);
        if (!v) return std::move(v.failure());
        out.push_back(std::move(*v));
      }
      return json::value(std::move(out));
    }
  }
  return json::value(nullptr);
}

}  // namespace

struct PayloadTemplate::Impl {
  Node root;
};

std::optional<PayloadTemplate> PayloadTemplate::compile(const json::value& spec,
                                                        const std::string& pointer,
                                                        Diagnostics& diags) {
  auto root = compile_node(spec, pointer, diags);
  if (!root) return std::nullopt;
  auto impl = std::make_shared<Impl>();
  impl->root = std::move(*root);
  return PayloadTemplate(std::move(impl));
}

Result<json::value> PayloadTemplate::evaluate(const Scope& scope) const {
  return evaluate_node(impl_->root, scope);
}

PayloadTemplate::PayloadTemplate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
PayloadTemplate::PayloadTemplate(const PayloadTemplate&) = default;
PayloadTemplate::PayloadTemplate(PayloadTemplate&&) noexcept = default;
PayloadTemplate& PayloadTemplate::operator=(const PayloadTemplate&) = default;
PayloadTemplate& PayloadTemplate::operator=(PayloadTemplate&&) noexcept = default;
PayloadTemplate::~PayloadTemplate() = default;

}  // namespace stepwise::states
