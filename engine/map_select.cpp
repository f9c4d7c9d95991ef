#include "engine/map_select.h"

#include <utility>

#include "states/payload.h"
#include "states/query.h"

namespace stepwise {
namespace {

// splitmix64: item i of a map run draws the same numbers wherever it is shaped.
class ItemRandom final : public states::RandomSource {
 public:
  explicit ItemRandom(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next_u64() override {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

class ObjectVariables final : public states::VariableLookup {
 public:
  explicit ObjectVariables(const json::object& vars) : vars_(vars) {}
  const json::value* find(std::string_view name) const override { return vars_.if_contains(name); }

 private:
  const json::object& vars_;
};

class SelectedItems final : public mapio::ItemSource {
 public:
  SelectedItems(std::unique_ptr<mapio::ItemSource> items, const states::MapSpec& spec,
                std::shared_ptr<const ItemSelectorScope> scope)
      : items_(std::move(items)), spec_(spec), scope_(std::move(scope)) {}

  Result<std::optional<json::value>> next() override {
    auto item = items_->next();
    if (!item) return item.failure();
    if (!*item) return std::optional<json::value>();
    auto selected = select_item(spec_, *scope_, std::move(**item), index_++);
    if (!selected) return selected.failure();
    return std::optional<json::value>(std::move(*selected));
  }

  // Skipped items are not shaped (nor their selector's failures raised).
  Result<std::uint64_t> skip(std::uint64_t n) override {
    auto skipped = items_->skip(n);
    if (skipped) index_ += static_cast<std::int64_t>(*skipped);
    return skipped;
  }

 private:
  std::unique_ptr<mapio::ItemSource> items_;
  const states::MapSpec& spec_;
  std::shared_ptr<const ItemSelectorScope> scope_;
  std::int64_t index_ = 0;
};

std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

json::value selector_scope_to_json(const ItemSelectorScope& scope) {
  return json::object{{"input", scope.input},
                      {"context", scope.context},
                      {"variables", scope.variables},
                      {"nowMillis", scope.now_millis},
                      {"seed", scope.seed}};
}

std::optional<ItemSelectorScope> selector_scope_from_json(const json::value& v) {
  const json::object* o = v.if_object();
  if (!o) return std::nullopt;
  const json::value* input = o->if_contains("input");
  const json::value* context = o->if_contains("context");
  const json::value* variables = o->if_contains("variables");
  const json::value* now = o->if_contains("nowMillis");
  const json::value* seed = o->if_contains("seed");
  if (!input || !context || !variables || !variables->is_object() || !now || !now->is_int64() || !seed ||
      !(seed->is_uint64() || seed->is_int64()))
    return std::nullopt;
  ItemSelectorScope scope;
  scope.input = *input;
  scope.context = *context;
  scope.variables = variables->get_object();
  scope.now_millis = now->get_int64();
  scope.seed = seed->is_uint64() ? seed->get_uint64() : static_cast<std::uint64_t>(seed->get_int64());
  return scope;
}

Result<json::value> select_item(const states::MapSpec& spec, const ItemSelectorScope& scope, json::value item,
                                std::int64_t index) {
  if (!spec.item_selector && !spec.item_selector_query) return item;
  json::value context = scope.context;
  if (json::object* c = context.if_object()) {
    (*c)["Map"] = json::object{{"Item", json::object{{"Index", index}, {"Value", std::move(item)}}}};
  }
  ItemRandom random(scope.seed ^ mix(static_cast<std::uint64_t>(index) + 1));
  ObjectVariables vars(scope.variables);
  if (spec.item_selector) return spec.item_selector->evaluate(states::Scope{scope.input, context, &random, &vars});
  states::QueryInputs q;
  q.input = &scope.input;
  q.context = &context;
  q.vars = &vars;
  q.random = &random;
  q.now_millis = scope.now_millis;
  return spec.item_selector_query->evaluate(q, "ItemSelector");
}

std::unique_ptr<mapio::ItemSource> selected_items(std::unique_ptr<mapio::ItemSource> items,
                                                  const states::MapSpec& spec,
                                                  std::shared_ptr<const ItemSelectorScope> scope) {
  return std::make_unique<SelectedItems>(std::move(items), spec, std::move(scope));
}

}  // namespace stepwise
