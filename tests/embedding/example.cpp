// A program that embeds Stepwise: it registers two functions (one synchronous,
// one asynchronous), runs a state machine with them and prints the result.
// docs/embedding.md walks through it; CTest builds and runs it.
#include <iostream>
#include <thread>

#include "engine/engine.h"

int main() {
  namespace json = stepwise::json;

  // 1. Parse and validate a definition (from a file, a string, or JSON built in code).
  auto parsed = stepwise::states::parse_definition_text(R"({
    "StartAt": "Quote",
    "States": {
      "Quote": {
        "Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:PriceQuote",
        "ResultPath": "$.quote",
        "Next": "Ship"
      },
      "Ship": {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "Shipping", "Payload": {"weight.$": "$.weight"}},
        "ResultSelector": {"days.$": "$.Payload.days"},
        "ResultPath": "$.shipping",
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}],
        "End": true
      }
    }
  })");
  if (!parsed.definition) {
    for (const auto& d : parsed.diagnostics) std::cerr << d.pointer << ": " << d.message << "\n";
    return 2;
  }

  // 2. Create an engine and register functions by name.
  stepwise::Engine engine;
  engine.functions().add("PriceQuote", [](const json::value& event, const stepwise::InvocationContext&) {
    double price = event.at("weight").to_number<double>() * 2.5;
    return json::value{{"price", price}, {"currency", "EUR"}};
  });
  engine.functions().add_async("Shipping", [](const json::value& event, const stepwise::InvocationContext&,
                                              stepwise::TaskCompletion done) {
    // Work on another thread; the engine keeps running other states meanwhile.
    std::thread([event, done] {
      auto weight = event.at("weight").to_number<double>();
      done(stepwise::TaskOutcome::success(json::value{{"days", weight > 10 ? 5 : 2}}));
    }).detach();
  });

  // 3. Run it and read the result.
  auto result = engine.run(parsed.definition, json::value{{"weight", 4}});
  if (result.status != stepwise::ExecutionStatus::Succeeded) {
    std::cerr << stepwise::status_name(result.status) << ": " << result.error << ": " << result.cause << "\n";
    return 1;
  }
  std::cout << stepwise::to_json(result.output) << "\n";
  const std::string expected = R"({"weight":4,"quote":{"price":10.0,"currency":"EUR"},"shipping":{"days":2}})";
  return stepwise::to_json(result.output) == expected ? 0 : 1;
}
