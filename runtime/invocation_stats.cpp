#include "runtime/invocation_stats.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace stepwise {
namespace {

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

storage::InvocationRecord to_invocation_record(const InvocationReport& r) {
  storage::InvocationRecord out;
  out.function_name = r.function_name;
  out.request_id = r.request_id;
  out.start_time = r.start_time;
  out.duration_ms = r.duration_ms;
  out.billed_duration_ms = r.billed_duration_ms;
  out.memory_size_mb = r.memory_size_mb;
  out.max_memory_used_mb = r.max_memory_used_mb;
  out.init_duration_ms = r.init_duration_ms;
  out.cold = r.cold;
  out.throttled = r.throttled;
  out.error = r.error;
  out.execution_arn = r.execution_arn;
  out.state_name = r.state_name;
  return out;
}

InvocationRecorder::InvocationRecorder(std::shared_ptr<storage::Store> store, std::size_t batch)
    : store_(std::move(store)), batch_(std::max<std::size_t>(1, batch)) {}

InvocationRecorder::~InvocationRecorder() {
  (void)flush();
}

void InvocationRecorder::add(const InvocationReport& report) {
  bool full;
  {
    std::lock_guard lock(mu_);
    pending_.push_back(to_invocation_record(report));
    full = pending_.size() >= batch_;
  }
  if (full) (void)flush();
}

storage::Status InvocationRecorder::flush() {
  std::vector<storage::InvocationRecord> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
  }
  if (batch.empty() || !store_) return {};
  storage::Status s = store_->record_invocations(batch);
  if (!s.ok()) spdlog::warn("{} invocation record(s) not stored: {}", batch.size(), s.to_string());
  return s;
}

std::vector<FunctionStats> summarize_invocations(const std::vector<storage::InvocationRecord>& records) {
  std::map<std::string, std::vector<const storage::InvocationRecord*>> by_name;
  for (const auto& r : records) by_name[r.function_name].push_back(&r);
  std::vector<FunctionStats> out;
  for (const auto& [name, list] : by_name) {
    FunctionStats s;
    s.function_name = name;
    std::vector<double> durations;
    for (const auto* r : list) {
      if (r->throttled) {
        ++s.throttles;
        continue;
      }
      ++s.invocations;
      if (!r->error.empty()) ++s.errors;
      if (r->cold) ++s.cold_starts;
      durations.push_back(r->duration_ms);
      s.gb_seconds += static_cast<double>(r->billed_duration_ms) / 1000.0 * r->memory_size_mb / 1024.0;
    }
    std::sort(durations.begin(), durations.end());
    s.p50_duration_ms = percentile(durations, 50);
    s.p99_duration_ms = percentile(durations, 99);
    s.cold_start_rate = s.invocations ? static_cast<double>(s.cold_starts) / static_cast<double>(s.invocations) : 0;
    s.estimated_cost_usd = s.gb_seconds * kPricePerGbSecond + static_cast<double>(s.invocations) * kPricePerRequest;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace stepwise
