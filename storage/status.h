// Errors at the storage boundary, as values: a Status (a code and a message)
// and StatusOr<T> (a value or a non-OK Status). Nothing in storage/ throws.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace stepwise::storage {

enum class Code {
  kOk,
  kNotFound,         // no such state machine, execution, token, ...
  kAlreadyExists,    // a name, ARN or token already taken
  kConflict,         // a stale writer, a lease held by another owner, a wrong status
  kInvalidArgument,  // a malformed request (bad page token, event ids out of order, ...)
  kCorrupt,          // the database is damaged
  kNewerSchema,      // the database was written by a newer Stepwise
  kNotOurs,          // the file is not a Stepwise database (not SQLite, or another program's)
  kDiskFull,         // no space left (the write was rolled back; nothing stored was lost)
  kBusy,             // another process kept the database locked past the busy timeout
  kIoError,          // any other failure of the medium
};

// "NotFound", "AlreadyExists", ... ("OK" for kOk).
std::string_view code_name(Code code);

class [[nodiscard]] Status {
 public:
  // OK.
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NotFound: execution 'arn:...' does not exist"; "OK" when ok.
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// A value, or the Status that explains why there is none.
// REQUIRES: a StatusOr is never built from an OK Status.
template <class T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<1>(v_).ok());
  }

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  // OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<1>(v_); }
  Code code() const { return ok() ? Code::kOk : std::get<1>(v_).code(); }

  // REQUIRES: ok().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace stepwise::storage
