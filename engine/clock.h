// The one seam for time: the engine reads "now" and arms timers only through a
// Clock, so tests control time and never sleep.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace stepwise {

using Nanos = std::int64_t;  // nanoseconds since the Unix epoch (UTC)

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time now.
  virtual Nanos now() const = 0;
};

// The system clock.
class SystemClock final : public Clock {
 public:
  Nanos now() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told to. The engine, when it has nothing to do
// but wait, advances a ManualClock straight to the next timer (see
// EngineOptions::virtual_time), so waits and backoffs cost no real time.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Nanos start = 1735689600LL * 1000000000LL)  // 2025-01-01T00:00:00Z
      : now_(start) {}
  Nanos now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void set(Nanos t) {
    std::lock_guard lock(mu_);
    if (t > now_) now_ = t;
  }
  void advance(Nanos d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  Nanos now_;
};

inline constexpr Nanos kNanosPerSecond = 1000000000LL;
inline constexpr Nanos kNanosPerMilli = 1000000LL;
inline Nanos seconds_to_nanos(double s) { return static_cast<Nanos>(s * 1e9); }

}  // namespace stepwise
