// Function invocations' accounting: recording reports in a Store, and the
// figures `stepwise functions stats` shows.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/invoker.h"
#include "storage/store.h"

namespace stepwise {

storage::InvocationRecord to_invocation_record(const InvocationReport& report);

// Collects reports (from any thread) and writes them to the store in batches
// of `batch`, and on flush() / destruction. Up to a batch may be lost if the
// process dies; a store error is logged and the batch dropped (accounting
// never fails an invocation).
class InvocationRecorder {
 public:
  explicit InvocationRecorder(std::shared_ptr<storage::Store> store, std::size_t batch = 64);
  ~InvocationRecorder();
  InvocationRecorder(const InvocationRecorder&) = delete;
  InvocationRecorder& operator=(const InvocationRecorder&) = delete;

  void add(const InvocationReport& report);
  storage::Status flush();

 private:
  std::shared_ptr<storage::Store> store_;
  const std::size_t batch_;
  std::mutex mu_;
  std::vector<storage::InvocationRecord> pending_;
};

// Lambda's public x86 prices (USD): per GB-second of billed duration, per request.
inline constexpr double kPricePerGbSecond = 0.0000166667;
inline constexpr double kPricePerRequest = 0.0000002;

struct FunctionStats {
  std::string function_name;
  std::int64_t invocations = 0;  // that ran (throttled ones not included)
  std::int64_t errors = 0;       // that ran and failed
  std::int64_t throttles = 0;
  std::int64_t cold_starts = 0;
  double cold_start_rate = 0;  // cold_starts / invocations
  double p50_duration_ms = 0;  // nearest rank over the invocations that ran
  double p99_duration_ms = 0;
  double gb_seconds = 0;  // sum of billed duration x memory size
  double estimated_cost_usd = 0;
};

// One entry per function, by name.
std::vector<FunctionStats> summarize_invocations(const std::vector<storage::InvocationRecord>& records);

}  // namespace stepwise
