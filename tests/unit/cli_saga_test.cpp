// The trip-booking saga example (workflows/trip_booking, docs/sagas.md)
// through the real `stepwise` binary and its python3 functions.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "states/json.h"
#include "tests/unit/cli_process.h"

namespace {

namespace fs = std::filesystem;

const std::string kExample = std::string(STEPWISE_SOURCE_DIR) + "/workflows/trip_booking";

// Each test's own directory, removed afterwards.
struct Scratch : stepwise::testing::ScratchDir {
  Scratch() : ScratchDir("stepwise-cli-saga") {}
};
using Ran = stepwise::testing::CliRun;

Ran stepwise_in(const Scratch& dir, const std::vector<std::string>& args) {
  return stepwise::testing::run_cli_in(dir, args);
}

bool have_python3() {
  return std::system("command -v python3 >/dev/null 2>&1") == 0;
}

// The names of the trace lines of one event type, in order.
std::vector<std::string> traced(const std::string& err, const std::string& type) {
  std::vector<std::string> names;
  const std::string key = " " + type + " ";
  for (std::size_t at = err.find(key); at != std::string::npos; at = err.find(key, at + 1)) {
    const std::size_t start = at + key.size();
    names.push_back(err.substr(start, err.find(' ', start) - start));
  }
  return names;
}

}  // namespace

TEST_CASE("cli run: the trip-booking saga releases the car, the hotel and the flight when the payment fails") {
  if (!have_python3()) {
    MESSAGE("python3 is not available: skipped");
    return;
  }
  Scratch dir;
  SUBCASE("in memory, traced") {
    auto r = stepwise_in(dir, {"run", kExample + "/trip_booking.asl.json", "--input-file",
                               kExample + "/trip_booking.input.json", "--no-store", "--trace"});
    INFO(r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find("Error: PaymentDeclined") != std::string::npos);
    CHECK(traced(r.err, "CompensationStepStarted") ==
          std::vector<std::string>{"ReserveCar", "ReserveHotel", "ReserveFlight"});
    CHECK(traced(r.err, "CompensationStepSucceeded") ==
          std::vector<std::string>{"ReserveCar", "ReserveHotel", "ReserveFlight"});
    CHECK(r.err.find("CompensationSucceeded") != std::string::npos);
    CHECK(r.err.find("CompensationSucceeded") < r.err.find("ExecutionFailed"));
    // The release got the reservation id from the step's result.
    CHECK(r.err.find(R"(output={"reservationId":"car-T-1001","status":"RELEASED"})") != std::string::npos);
  }
  SUBCASE("recorded: describe-execution reports the roll-back beside the original error") {
    auto r = stepwise_in(dir, {"run", kExample + "/trip_booking.asl.json", "--input-file",
                               kExample + "/trip_booking.input.json", "--name", "t1"});
    INFO(r.err);
    CHECK(r.code == 1);
    auto described = stepwise_in(dir, {"describe-execution", "trip_booking:t1"});
    INFO(described.err);
    REQUIRE(described.code == 0);
    auto doc = stepwise::parse_json(described.out);
    REQUIRE(doc);
    CHECK(doc->at("status") == stepwise::json::value("FAILED"));
    CHECK(doc->at("error") == stepwise::json::value("PaymentDeclined"));
    CHECK(doc->at("compensation").at("status") == stepwise::json::value("SUCCEEDED"));
    CHECK(doc->at("compensation").at("compensated") == stepwise::json::value(3));
    CHECK(doc->at("redriveStatus") == stepwise::json::value("NOT_REDRIVABLE"));
    // timeline lists the roll-back after the states, newest step first.
    auto timeline = stepwise_in(dir, {"timeline", "trip_booking:t1"});
    INFO(timeline.out);
    REQUIRE(timeline.code == 0);
    const auto rollback = timeline.out.find("Roll-back (uncaught error)  SUCCEEDED");
    REQUIRE(rollback != std::string::npos);
    const auto car = timeline.out.find("ReserveCar     compensated", rollback);
    const auto hotel = timeline.out.find("ReserveHotel   compensated", rollback);
    const auto flight = timeline.out.find("ReserveFlight  compensated", rollback);
    CHECK(car != std::string::npos);
    CHECK(car < hotel);
    CHECK(hotel < flight);
    CHECK(flight != std::string::npos);
    CHECK(timeline.out.find("errors: PaymentDeclined") != std::string::npos);
  }
  SUBCASE("a trip the card pays for rolls nothing back") {
    auto r = stepwise_in(dir, {"run", kExample + "/trip_booking.asl.json", "--input-file",
                               kExample + "/trip_booking.ok.input.json", "--no-store", "--trace"});
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(r.err.find("Compensation") == std::string::npos);
    auto out = stepwise::parse_json(r.out);
    REQUIRE(out);
    CHECK(out->at("payment").at("chargeId") == stepwise::json::value("payment-T-1002"));
  }
}
