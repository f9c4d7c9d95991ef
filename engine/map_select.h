// A Distributed Map's ItemSelector, evaluated away from the execution that
// runs the Map: a worker's map run reads its items from the ItemReader's file
// as it launches children (engine/map_io.h, Worker::drive) and shapes each
// one here with what the parent's scope held when the Map started.
//
// The parent builds an ItemSelectorScope when the Map starts (its effective
// input, its context object, the variables it sees, its entry time) and
// sends it in the map run's request; both the parent (counting the items or
// batches for MapStateStarted) and the map run (launching children) shape
// items through select_item, so both see the same inputs: randomness
// (States.UUID, $random) is seeded per item from the scope's seed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "engine/map_io.h"
#include "states/definition.h"
#include "states/failure.h"
#include "states/json.h"

namespace stepwise {

struct ItemSelectorScope {
  json::value input;       // the Map state's effective input ($ in JSONPath, $states.input)
  json::value context;     // its context object ($$), without Map.Item
  json::object variables;  // the workflow variables visible to the Map state
  std::int64_t now_millis = 0;  // $now() / $millis(): the Map state's entry time
  std::uint64_t seed = 0;       // item i's randomness is seeded from (seed, i)
};

// As JSON in the map run's request: {"input", "context", "variables", "nowMillis", "seed"}.
json::value selector_scope_to_json(const ItemSelectorScope& scope);
// The inverse; nullopt when `v` is not such an object.
std::optional<ItemSelectorScope> selector_scope_from_json(const json::value& v);

// Item `index`'s input: spec's ItemSelector (JSONPath) or JSONata
// ItemSelector applied with $$.Map.Item.Index/Value (or
// $states.context.Map.Item...) set; the item itself when the Map has none.
// Failures are the template's (States.Runtime, States.QueryEvaluationError...).
Result<json::value> select_item(const states::MapSpec& spec, const ItemSelectorScope& scope, json::value item,
                                std::int64_t index);

// The items of `items` shaped by select_item, in order (index 0 first).
// `spec` must outlive the source.
std::unique_ptr<mapio::ItemSource> selected_items(std::unique_ptr<mapio::ItemSource> items,
                                                  const states::MapSpec& spec,
                                                  std::shared_ptr<const ItemSelectorScope> scope);

}  // namespace stepwise
