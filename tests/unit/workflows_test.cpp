// Runs every example workflow in workflows/ through the engine, with the mocks
// it ships, and checks the exact result that workflows/README.md documents
// (structurally, as AWS compares JSON, and as text against the README).
// A workflow added to workflows/ without a row here fails the coverage test.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/clock.h"
#include "engine/engine.h"
#include "engine/mock.h"
#include "states/definition.h"
#include "states/json.h"

namespace {

namespace fs = std::filesystem;
using stepwise::json::value;

const fs::path kWorkflowDir = fs::path(STEPWISE_SOURCE_DIR) / "workflows";

// One documented run of one workflow.
struct WorkflowRun {
  const char* name;                // workflows/<name>.asl.json, also the state machine name
  const char* input_file;          // file in workflows/, or nullptr to use input_json
  const char* input_json;          // inline input when input_file is nullptr
  const char* test_case;           // test case of workflows/<name>.mocks.json, or nullptr
  const char* status;              // "SUCCEEDED" or "FAILED"
  const char* output;              // expected output (SUCCEEDED)
  const char* error;               // expected error (FAILED)
  const char* cause;               // expected cause (FAILED)
  double min_elapsed_seconds = 0;  // virtual time the run must at least take
};

const WorkflowRun kRuns[] = {
    {"hello_world", "hello_world.input.json", nullptr, nullptr, "SUCCEEDED",
     R"({"to":"ada@example.com","subject":"Welcome aboard, Ada",
         "body":"Hello, Ada! Welcome to London.","language":"en-GB"})",
     nullptr, nullptr},

    // choice_router: the documented input takes the Or branch (tier matches "gold*").
    {"choice_router", "choice_router.input.json", nullptr, nullptr, "SUCCEEDED",
     R"({"orderId":"ORD-10042","route":"express","carrier":"UPS Next Day Air"})", nullptr, nullptr},
    {"choice_router", nullptr, R"({"orderId":"ORD-1","type":"digital","amount":9.99})", nullptr,
     "SUCCEEDED", R"({"orderId":"ORD-1","route":"digital","carrier":"email"})", nullptr, nullptr},
    {"choice_router", nullptr,
     R"({"orderId":"ORD-2","type":"physical","amount":750,"customer":{"tier":"silver"},
         "shippingAddress":{"country":"DE"}})",
     nullptr, "SUCCEEDED", R"({"orderId":"ORD-2","route":"manual-review","carrier":"DHL Express"})",
     nullptr, nullptr},
    // IsPresent guards BooleanEquals; expedite=false and a silver tier fall through to Default.
    {"choice_router", nullptr,
     R"({"orderId":"ORD-3","type":"physical","amount":20,"expedite":false,"customer":{"tier":"silver"},
         "shippingAddress":{"country":"US"}})",
     nullptr, "SUCCEEDED", R"({"orderId":"ORD-3","route":"standard","carrier":"USPS Ground"})",
     nullptr, nullptr},
    {"choice_router", nullptr,
     R"({"orderId":"ORD-4","type":"physical","amount":-5,"customer":{"tier":"basic"},
         "shippingAddress":{"country":"US"}})",
     nullptr, "FAILED", nullptr, "InvalidOrder", "The order amount is negative."},

    {"retry_catch", "retry_catch.input.json", nullptr, "RecoversAfterRetries", "SUCCEEDED",
     R"({"orderId":"ORD-20931","status":"CONFIRMED","chargeId":"ch_3PqL9x2eZvKYlo2C"})", nullptr,
     nullptr},
    {"retry_catch", "retry_catch.input.json", nullptr, "GivesUp", "SUCCEEDED",
     R"({"orderId":"ORD-20931","status":"PAYMENT_FAILED","reason":"PaymentGateway.Timeout",
         "detail":"The payment gateway did not answer within 3000 ms.","inventoryReleased":true})",
     nullptr, nullptr},

    {"parallel_fanout", "parallel_fanout.input.json", nullptr, "HappyPath", "SUCCEEDED",
     R"({"customerId":"CUST-3107","displayName":"Grace Hopper",
         "recentOrders":[{"orderId":"ORD-9001","total":42.5,"status":"DELIVERED"},
                         {"orderId":"ORD-9017","total":17.25,"status":"SHIPPED"}],
         "orderCount":2,"loyaltyPoints":12840,"loyaltyTier":"GOLD"})",
     nullptr, nullptr},

    {"map_reduce", "map_reduce.input.json", nullptr, "HappyPath", "SUCCEEDED",
     R"({"corpus":"proverbs-2025","documentCount":4,"totalWords":29,
         "perDocument":[{"position":0,"documentId":"doc-1","wordCount":9},
                        {"position":1,"documentId":"doc-2","wordCount":6},
                        {"position":2,"documentId":"doc-3","wordCount":11},
                        {"position":3,"documentId":"doc-4","wordCount":3}]})",
     nullptr, nullptr},

    {"image_router", "image_router.input.json", nullptr, "Photo", "SUCCEEDED",
     R"({"bucket":"acme-media-uploads","key":"uploads/2025/06/beach-day.jpg","imageType":"photo",
         "format":"jpeg","width":4032,"height":3024,
         "analysis":{
           "thumbnail":{"key":"thumbnails/2025/06/beach-day-320.jpg","width":320,"height":240},
           "metadata":{"camera":"Pixel 8","takenAt":"2025-06-14T16:02:11Z",
                       "location":{"lat":36.9741,"lon":-122.0308}},
           "faces":{"count":2,"boundingBoxes":[
             {"left":0.21,"top":0.18,"width":0.09,"height":0.14},
             {"left":0.58,"top":0.22,"width":0.08,"height":0.13}]}},
         "saved":{"recordId":"img-beach-day-0614","table":"ImageResults"}})",
     nullptr, nullptr},
    {"image_router", "image_router.document.input.json", nullptr, "Document", "SUCCEEDED",
     R"({"bucket":"acme-media-uploads","key":"uploads/2025/06/invoice-7731.png","imageType":"document",
         "format":"png","width":2480,"height":3508,
         "analysis":{"pageCount":1,"text":"INVOICE 7731\nAcme Corp\nTotal due: $1,250.00","confidence":98.2},
         "saved":{"recordId":"img-invoice-7731","table":"ImageResults"}})",
     nullptr, nullptr},
    {"image_router", nullptr,
     R"({"bucket":"acme-media-uploads","key":"uploads/2025/06/party.gif"})", "Unsupported",
     "FAILED", nullptr, "UnsupportedImageType", "Cannot process images of type animation"},

    {"wait_timeout", "wait_timeout.input.json", nullptr, "Completes", "SUCCEEDED",
     R"({"reportDate":"2025-06-30","status":"READY",
         "location":"s3://acme-reports/sales/2025-06-30/eu-west-1.csv"})",
     nullptr, nullptr, 2.0},
    {"wait_timeout", "wait_timeout.input.json", nullptr, "TimesOut", "SUCCEEDED",
     R"({"reportDate":"2025-06-30","status":"RERUN_SCHEDULED","reason":"States.Timeout"})", nullptr,
     nullptr, 2.0},
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

value parse_or_fail(std::string_view text, const std::string& what) {
  stepwise::JsonParseError error;
  auto v = stepwise::parse_json(text, &error);
  REQUIRE_MESSAGE(v.has_value(), what << ": " << error.describe());
  return *v;
}

std::shared_ptr<const stepwise::states::Definition> load_definition(const std::string& name) {
  auto parsed =
      stepwise::states::parse_definition_text(read_text(kWorkflowDir / (name + ".asl.json")));
  for (const auto& d : parsed.diagnostics)
    MESSAGE(name << ": " << d.code << " " << d.message << " at " << d.pointer);
  REQUIRE(parsed.diagnostics.empty());
  REQUIRE(parsed.definition != nullptr);
  return parsed.definition;
}

stepwise::MockTable load_mocks(const std::string& name, const std::string& test_case) {
  const auto config =
      parse_or_fail(read_text(kWorkflowDir / (name + ".mocks.json")), name + ".mocks.json");
  stepwise::Diagnostics errors;
  auto table = stepwise::load_mock_config(config, name, test_case, errors);
  for (const auto& d : errors)
    MESSAGE(name << " " << test_case << ": " << d.message << " at " << d.pointer);
  REQUIRE(table.has_value());
  return *table;
}

std::string describe(const WorkflowRun& run) {
  std::string s = run.name;
  s += run.test_case ? std::string(" / ") + run.test_case : std::string(" (no mocks)");
  s += run.input_file ? std::string(" with ") + run.input_file
                      : std::string(" with ") + run.input_json;
  return s;
}

void check_run(const WorkflowRun& run) {
  INFO(describe(run));
  const std::string readme = read_text(kWorkflowDir / "README.md");
  const auto definition = load_definition(run.name);
  const value input = run.input_file
                          ? parse_or_fail(read_text(kWorkflowDir / run.input_file), run.input_file)
                          : parse_or_fail(run.input_json, "inline input");

  auto clock = std::make_shared<stepwise::ManualClock>();
  stepwise::EngineOptions options;
  options.clock = clock;
  options.virtual_time = true;
  stepwise::Engine engine(options);

  stepwise::RunOptions run_options;
  run_options.state_machine_name = run.name;
  run_options.execution_name = "workflows-test";
  // No fallback: a Task the test case does not mock fails the run loudly.
  run_options.invoker = std::make_shared<stepwise::MockInvoker>(
      run.test_case ? load_mocks(run.name, run.test_case) : stepwise::MockTable{}, nullptr);

  const stepwise::Nanos started = clock->now();
  const auto result = engine.run(definition, input, run_options);
  const double elapsed = static_cast<double>(clock->now() - started) / stepwise::kNanosPerSecond;

  INFO("error: " << result.error << " cause: " << result.cause);
  CHECK(std::string(stepwise::status_name(result.status)) == run.status);
  if (std::string(run.status) == "SUCCEEDED") {
    const value expected = parse_or_fail(run.output, "expected output");
    INFO("actual output:   " << stepwise::to_json(result.output));
    INFO("expected output: " << stepwise::to_json(expected));
    CHECK(result.output == expected);
    // The README shows what `stepwise run` prints: the compact output, keys in engine order.
    CHECK_MESSAGE(readme.find(stepwise::to_json(result.output)) != std::string::npos,
                  "workflows/README.md does not show this output");
  } else {
    CHECK(result.error == run.error);
    CHECK(result.cause == run.cause);
    CHECK_MESSAGE(readme.find(std::string("Cause: ") + run.cause) != std::string::npos,
                  "workflows/README.md does not show this failure");
  }
  CHECK(elapsed >= run.min_elapsed_seconds);
}

}  // namespace

TEST_CASE("workflows: every example runs to its documented result") {
  for (const auto& run : kRuns) {
    SUBCASE(describe(run).c_str()) {
      check_run(run);
    }
  }
}

TEST_CASE(
    "workflows: every definition, input and mock test case in workflows/ is covered and valid") {
  std::set<std::string> covered;
  std::set<std::pair<std::string, std::string>> covered_cases;
  for (const auto& run : kRuns) {
    covered.insert(run.name);
    if (run.test_case) covered_cases.insert({run.name, run.test_case});
  }

  const std::string readme = read_text(kWorkflowDir / "README.md");
  int definitions = 0;
  for (const auto& entry : fs::directory_iterator(kWorkflowDir)) {
    const std::string file = entry.path().filename().string();
    const std::string suffix = ".asl.json";
    if (file.size() <= suffix.size() ||
        file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    ++definitions;
    const std::string name = file.substr(0, file.size() - suffix.size());
    INFO(name);
    load_definition(name);
    CHECK_MESSAGE(covered.count(name) == 1, "no row in kRuns for workflows/" << file);
    CHECK_MESSAGE(fs::exists(kWorkflowDir / (name + ".input.json")),
                  "missing " << name << ".input.json");
    CHECK_MESSAGE(readme.find("workflows/" + file) != std::string::npos,
                  "README.md does not show how to run " << file);

    // Every test case the mock file defines must be exercised here.
    const fs::path mocks = kWorkflowDir / (name + ".mocks.json");
    if (!fs::exists(mocks)) continue;
    const auto config = parse_or_fail(read_text(mocks), name + ".mocks.json");
    const auto* machine = config.at("StateMachines").as_object().if_contains(name);
    REQUIRE_MESSAGE(machine != nullptr, name << ".mocks.json has no state machine named " << name);
    for (const auto& test_case : machine->at("TestCases").as_object()) {
      const std::string case_name(test_case.key());
      CHECK_MESSAGE(covered_cases.count({name, case_name}) == 1,
                    "test case " << case_name << " is never run");
      load_mocks(name, case_name);
    }
  }
  CHECK(definitions == static_cast<int>(covered.size()));
}
