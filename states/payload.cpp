#include "states/payload.h"

#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <utility>
#include <vector>

#include "states/intrinsics.h"
#include "states/jsonpath.h"

namespace stepwise::states {
namespace {

bool is_dynamic_key(std::string_view key) {
  return key.size() >= 2 && key.ends_with(".$");
}


// Where a node of the template is, as a chain of segments up to the
// template's own pointer. The JSON pointer text is only built when a
// diagnostic needs it, so that compiling a valid template builds no strings.
struct Where {
  const std::string* base = nullptr;  // set on the root only
  const Where* parent = nullptr;
  std::string_view name;  // a member key, or
  std::size_t index = 0;  // an array index when name is empty and !base

  std::string pointer() const {
    if (base) return *base;
    std::string out = parent->pointer();
    if (name.data() != nullptr) {
      append_pointer_token(out, name);
    } else {
      append_pointer_token(out, std::to_string(index));
    }
    return out;
  }
};

}  // namespace

// A template compiled into one flat, pre-order array of small nodes, so that
// evaluating it reads a few contiguous cache lines instead of chasing one
// heap block per node (a definition may hold thousands of templates, and a
// run touches each of them in turn). Subtrees without any ".$" key collapse
// into one kConstant node, so evaluating them is a plain copy.
struct PayloadTemplate::Impl {
  enum class Kind : std::uint8_t { kConstant, kPath, kCall, kObject, kArray };
  struct Node {
    Kind kind = Kind::kConstant;
    // kPath, copied from the path at compile time so that evaluation does
    // not have to look inside it to choose the root.
    bool context = false;
    bool definite = false;
    // Object members only: the output key, keys[key_offset, +key_length).
    // For a "k.$" member the pool holds "k.$" (named in messages) and
    // key_length leaves out the ".$".
    std::uint32_t key_offset = 0;
    std::uint32_t key_length = 0;
    // kConstant: index into constants; kPath: paths; kCall: calls;
    // kObject, kArray: number of children, which follow this node.
    std::uint32_t index = 0;
    // One past the last node of this subtree: where the next sibling starts.
    std::uint32_t end = 0;
  };

  // Inline room for a typical template (a small object with a path or
  // two), so that most templates are a single allocation.
  boost::container::small_vector<Node, 4> nodes;  // nodes[0] is the root
  std::string keys;
  boost::container::small_vector<json::value, 2> constants;
  boost::container::small_vector<JsonPath, 2> paths;
  boost::container::small_vector<Intrinsic, 1> calls;
  CompileCache* cache = nullptr;  // while compiling only

  std::string_view key(const Node& n) const { return {keys.data() + n.key_offset, n.key_length}; }
  std::string_view field(const Node& n) const {
    return {keys.data() + n.key_offset, n.key_length + 2};
  }

  // --- Compilation. Each returns false when it added a diagnostic.
  bool compile_node(const json::value& spec, const Where& where, Diagnostics& diags);
  bool compile_object(const json::object& spec, const Where& where, Diagnostics& diags);
  bool compile_array(const json::array& spec, const Where& where, Diagnostics& diags);
  bool compile_dynamic(std::string_view key, const json::value& value, const Where& object,
                       Diagnostics& diags);
  std::uint32_t add_key(std::string_view key);
  struct Mark {
    std::size_t node, constant, key;
  };
  Mark begin_composite(Kind kind);
  template <class Spec>  // json::object or json::array, copied only when collapsed
  void finish_composite(const Mark& mark, bool all_constant, const Spec& spec);
  void collapse_to_constant(std::size_t first_node, std::size_t first_constant,
                            std::size_t first_key, const json::value& spec);

  // --- Evaluation into `out`. Returns false and sets *failure on a miss.
  bool evaluate(std::uint32_t i, const Scope& scope, json::value& out, Failure& failure) const;
  Failure path_not_found(const Node& n, const json::value& input) const;
};

namespace {
using Impl = PayloadTemplate::Impl;
using Node = Impl::Node;
using Kind = Impl::Kind;
}  // namespace

std::uint32_t Impl::add_key(std::string_view key) {
  auto offset = static_cast<std::uint32_t>(keys.size());
  keys.append(key);
  return offset;
}

// Compiles the value of a "k.$" key. AWS reports a bad one at the pointer of
// the object that holds it, with this exact wording.
bool Impl::compile_dynamic(std::string_view key, const json::value& value, const Where& object,
                           Diagnostics& diags) {
  Node node;
  if (value.is_string()) {
    std::string_view text = value.get_string();
    if (text.starts_with("$")) {
      if (auto path = cache ? cache->path(text) : JsonPath::parse(text)) {
        node.kind = Kind::kPath;
        node.context = path->is_context();
        node.definite = path->is_definite();
        node.index = static_cast<std::uint32_t>(paths.size());
        paths.push_back(std::move(*path));
      }
    } else if (Intrinsic::looks_like_call(text)) {
      std::string error;
      if (auto call = cache ? cache->intrinsic(text, &error) : Intrinsic::parse(text, &error)) {
        node.kind = Kind::kCall;
        node.index = static_cast<std::uint32_t>(calls.size());
        calls.push_back(std::move(*call));
      } else if (error.find("not supported yet") != std::string::npos) {  // a later feature, not a mistake
        std::string ptr = object.pointer();
        append_pointer_token(ptr, key);
        diags.push_back(Diagnostic{ptr, error, ""});
        return false;
      }
    }
  }
  if (node.kind == Kind::kConstant) {
    diags.push_back(Diagnostic{object.pointer(), "The value for the field '" + std::string(key) +
                                                     "' must be a valid JSONPath or a valid "
                                                     "intrinsic function call"});
    return false;
  }
  node.key_offset = add_key(key);
  node.key_length = static_cast<std::uint32_t>(key.size() - 2);
  node.end = static_cast<std::uint32_t>(nodes.size() + 1);
  nodes.push_back(node);
  return true;
}

// Replaces the nodes compiled for spec (from first_node on) by one constant.
void Impl::collapse_to_constant(std::size_t first_node, std::size_t first_constant,
                                std::size_t first_key, const json::value& spec) {
  nodes.resize(first_node);
  constants.resize(first_constant);
  keys.resize(first_key);
  Node node;
  node.index = static_cast<std::uint32_t>(constants.size());
  node.end = static_cast<std::uint32_t>(first_node + 1);
  constants.push_back(spec);
  nodes.push_back(node);
}

// Opens an object or array node; finish_composite closes it, collapsing it
// into one constant when none of its members reads anything.
Impl::Mark Impl::begin_composite(Kind kind) {
  Mark mark{nodes.size(), constants.size(), keys.size()};
  nodes.push_back(Node{kind});
  return mark;
}

template <class Spec>
void Impl::finish_composite(const Mark& mark, bool all_constant, const Spec& spec) {
  if (all_constant) {
    collapse_to_constant(mark.node, mark.constant, mark.key, json::value(spec));
  } else {
    nodes[mark.node].end = static_cast<std::uint32_t>(nodes.size());
  }
}

bool Impl::compile_object(const json::object& spec, const Where& where, Diagnostics& diags) {
  const Mark mark = begin_composite(Kind::kObject);
  const std::size_t first = mark.node;
  bool ok = true;
  bool all_constant = true;
  for (const auto& kv : spec) {
    std::string_view key = kv.key();
    const std::size_t member = nodes.size();
    bool member_ok;
    if (is_dynamic_key(key)) {
      member_ok = compile_dynamic(key, kv.value(), where, diags);
    } else {
      member_ok = compile_node(kv.value(), Where{nullptr, &where, key}, diags);
      if (member_ok) {
        nodes[member].key_offset = add_key(key);
        nodes[member].key_length = static_cast<std::uint32_t>(key.size());
      }
    }
    if (!member_ok) {
      ok = false;
      continue;
    }
    all_constant = all_constant && nodes[member].kind == Kind::kConstant;
    ++nodes[first].index;
  }
  if (!ok) return false;
  finish_composite(mark, all_constant, spec);
  return true;
}

bool Impl::compile_array(const json::array& spec, const Where& where, Diagnostics& diags) {
  const Mark mark = begin_composite(Kind::kArray);
  const std::size_t first = mark.node;
  bool ok = true;
  bool all_constant = true;
  for (std::size_t i = 0; i < spec.size(); ++i) {
    const std::size_t element = nodes.size();
    if (!compile_node(spec[i], Where{nullptr, &where, {}, i}, diags)) {
      ok = false;
      continue;
    }
    all_constant = all_constant && nodes[element].kind == Kind::kConstant;
    ++nodes[first].index;
  }
  if (!ok) return false;
  finish_composite(mark, all_constant, spec);
  return true;
}

bool Impl::compile_node(const json::value& spec, const Where& where, Diagnostics& diags) {
  if (spec.is_object()) return compile_object(spec.get_object(), where, diags);
  if (spec.is_array()) return compile_array(spec.get_array(), where, diags);
  collapse_to_constant(nodes.size(), constants.size(), keys.size(), spec);
  return true;
}

Failure Impl::path_not_found(const Node& n, const json::value& input) const {
  std::string cause = "The JSONPath '" + paths[n.index].text() + "' specified for the field '";
  cause += field(n);
  cause += "' could not be found in the input '";
  append_json(cause, input);
  cause += "'";
  return runtime_failure(std::move(cause));
}

bool Impl::evaluate(std::uint32_t i, const Scope& scope, json::value& out, Failure& failure) const {
  const Node& n = nodes[i];
  switch (n.kind) {
    case Kind::kConstant:
      out = constants[n.index];
      return true;
    case Kind::kPath: {
      const JsonPath& path = paths[n.index];
      const json::value* root_p = path_root(n.context, path.is_variable(), path.variable(), scope);
      if (!root_p) {
        failure = path_not_found(n, scope.input);
        return false;
      }
      const json::value& root = *root_p;
      if (n.definite) {
        const json::value* found = path.find(root);
        if (found == nullptr) {
          failure = path_not_found(n, scope.input);
          return false;
        }
        out = *found;
        return true;
      }
      // An indefinite path yields the array of its matches, possibly empty.
      auto selected = path.select(root);
      if (!selected) {
        failure = path_not_found(n, scope.input);
        return false;
      }
      out = std::move(*selected);
      return true;
    }
    case Kind::kCall: {
      auto v = calls[n.index].evaluate(scope, field(n));
      if (!v) {
        failure = std::move(v.failure());
        return false;
      }
      out = std::move(*v);
      return true;
    }
    case Kind::kObject: {
      json::object& obj = out.emplace_object();
      obj.reserve(n.index);
      // A later member replaces an earlier one of the same key in place
      // ("a" and "a.$"), as insert_or_assign would.
      for (std::uint32_t child = i + 1; child < n.end; child = nodes[child].end) {
        if (!evaluate(child, scope, obj[key(nodes[child])], failure)) return false;
      }
      return true;
    }
    case Kind::kArray: {
      json::array& arr = out.emplace_array();
      arr.reserve(n.index);
      for (std::uint32_t child = i + 1; child < n.end; child = nodes[child].end) {
        if (!evaluate(child, scope, arr.emplace_back(nullptr), failure)) return false;
      }
      return true;
    }
  }
  return true;
}

std::optional<PayloadTemplate> PayloadTemplate::compile(const json::value& spec,
                                                        const std::string& pointer,
                                                        Diagnostics& diags, CompileCache* cache) {
  auto impl = std::make_shared<Impl>();
  impl->cache = cache;
  // Most templates are one flat object: room for it and its members.
  impl->nodes.reserve(1 + (spec.is_object() ? spec.get_object().size() : 0));
  if (!impl->compile_node(spec, Where{&pointer}, diags)) return std::nullopt;
  impl->cache = nullptr;
  impl->keys.shrink_to_fit();
  return PayloadTemplate(std::move(impl));
}

Result<json::value> PayloadTemplate::evaluate(const Scope& scope) const {
  json::value out;
  Failure failure;
  if (!impl_->evaluate(0, scope, out, failure)) return failure;
  return out;
}

PayloadTemplate::PayloadTemplate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
PayloadTemplate::PayloadTemplate(const PayloadTemplate&) = default;
PayloadTemplate::PayloadTemplate(PayloadTemplate&&) noexcept = default;
PayloadTemplate& PayloadTemplate::operator=(const PayloadTemplate&) = default;
PayloadTemplate& PayloadTemplate::operator=(PayloadTemplate&&) noexcept = default;
PayloadTemplate::~PayloadTemplate() = default;

}  // namespace stepwise::states
