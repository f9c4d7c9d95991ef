// Fault injection for stores: a StoreWrapper that fails the N-th write.
// Used by tests of the store and of the engine's crash safety (every N in
// turn, the engine must recover from the failed write).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "storage/store.h"

namespace stepwise::storage {

// Counts the calls that write (create/update/delete state machine, create
// execution, commit transition, commit transitions (a whole batch is one
// write), the lease calls) and fails the N-th
// one (1-based), and only that one, with `code`.
//   kBeforeWrite: the write is not forwarded, so nothing is stored (a write
//                 that failed).
//   kAfterWrite:  the write is forwarded and stored, then reported as failed
//                 (a crash between the commit and its acknowledgement).
// Reads are always forwarded. Thread-safe.
class FailNthWrite : public StoreWrapper {
 public:
  enum class Mode { kBeforeWrite, kAfterWrite };

  FailNthWrite(std::shared_ptr<Store> target, std::int64_t n, Mode mode = Mode::kBeforeWrite,
               Code code = Code::kIoError)
      : StoreWrapper(std::move(target)), n_(n), mode_(mode), code_(code) {}

  // Writes seen so far, failed one included.
  std::int64_t writes() const { return writes_.load(); }
  // True once the N-th write has been failed.
  bool fired() const { return writes_.load() >= n_; }

  StatusOr<StateMachineRecord> create_state_machine(const NewStateMachine& m) override {
    return guard([&] { return target_->create_state_machine(m); });
  }
  StatusOr<StateMachineRecord> update_state_machine(const std::string& arn,
                                                    const StateMachineUpdate& u) override {
    return guard([&] { return target_->update_state_machine(arn, u); });
  }
  Status delete_state_machine(const std::string& arn) override {
    return guard([&] { return target_->delete_state_machine(arn); });
  }
  StatusOr<CreatedExecution> create_execution(const NewExecution& e) override {
    return guard([&] { return target_->create_execution(e); });
  }
  StatusOr<std::int64_t> commit_transition(const Transition& t) override {
    return guard([&] { return target_->commit_transition(t); });
  }
  // A batch is one write, whatever its size.
  StatusOr<std::vector<std::int64_t>> commit_transitions(const std::vector<Transition>& batch) override {
    return guard([&] { return target_->commit_transitions(batch); });
  }
  Status acquire_lease(const std::string& arn, const std::string& owner, UnixNanos now,
                       UnixNanos expiry) override {
    return guard([&] { return target_->acquire_lease(arn, owner, now, expiry); });
  }
  Status renew_lease(const std::string& arn, const std::string& owner, UnixNanos expiry) override {
    return guard([&] { return target_->renew_lease(arn, owner, expiry); });
  }
  Status release_lease(const std::string& arn, const std::string& owner) override {
    return guard([&] { return target_->release_lease(arn, owner); });
  }
  StatusOr<std::int64_t> renew_leases(const std::string& owner, UnixNanos expiry) override {
    return guard([&] { return target_->renew_leases(owner, expiry); });
  }
  StatusOr<std::int64_t> release_leases(const std::string& owner) override {
    return guard([&] { return target_->release_leases(owner); });
  }
  StatusOr<std::vector<ExecutionRecord>> claim_executions(const std::string& owner, UnixNanos now,
                                                          UnixNanos expiry, int limit) override {
    return guard([&] { return target_->claim_executions(owner, now, expiry, limit); });
  }

 private:
  template <class F>
  auto guard(F&& forward) -> decltype(forward()) {
    if (++writes_ != n_) return forward();
    Status injected(code_, "injected failure of write #" + std::to_string(n_));
    if (mode_ == Mode::kAfterWrite) (void)forward();
    return injected;
  }

  const std::int64_t n_;
  const Mode mode_;
  const Code code_;
  std::atomic<std::int64_t> writes_{0};
};

}  // namespace stepwise::storage
