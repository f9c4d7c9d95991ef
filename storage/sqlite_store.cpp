// The SQLite backend. One connection per store, guarded by a mutex; each call
// is one transaction (writes take the write lock up front with BEGIN
// IMMEDIATE, so two processes never deadlock upgrading a read lock).
// SQLiteCpp throws; every exception is caught here and becomes a Status.
#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <span>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

#include "storage/history_chunk.h"
#include "storage/internal.h"
#include "storage/sqlite_schema.h"
#include "storage/store.h"

namespace stepwise::storage {
namespace {

using internal::not_found_execution;
using internal::not_found_state_machine;

constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();
// A new database's page size, and the page cache of a connection (KiB).
constexpr int kPageSize = 32768;
constexpr int kCacheKiB = 32768;

// Copies the WAL into the database file (a checkpoint) on a thread and a
// connection of its own, so that no commit waits for that copy and its
// fsync: SQLite's automatic checkpoint runs inside the commit that takes the
// WAL past its threshold, and for pass_chain (about 45 MB of WAL per 100,000
// states) that was a tenth of the committer's time. The store's connection
// reports the WAL's length after each commit (sqlite3_wal_hook, which
// replaces the automatic checkpoint). A PASSIVE checkpoint runs beside the
// writer: it copies what was committed when it began and never blocks a
// commit; durability does not depend on it (a commit is durable once in the
// WAL). Should it fall behind, the store's connection checkpoints inline, as
// SQLite would have.
//
// A checkpoint beside a stream of commits slows them: both write and fsync
// the same disk (pass_chain's last commits took 60-85 ms instead of 15 with
// one running). So from kFrames on, the thread waits for a pause in the
// commits (kIdle without one) before it checkpoints; only from kBusyFrames
// on does it checkpoint during the stream. A burst of under kBusyFrames
// frames (64 MB: pass_chain writes 45) is copied after it; a longer stream
// pays for its checkpoints as before, once per kFrames or so.
class Checkpointer {
 public:
  // The WAL length (in frames) from which the thread checkpoints once the
  // commits pause (SQLite's default length); from which it checkpoints at
  // once; and from which the committing connection does it itself.
  static constexpr int kFrames = 1000;
  static constexpr int kBusyFrames = 2 * kFrames;
  static constexpr int kInlineFrames = 3 * kFrames;
  // A pause in the commits: longer than a worker goes without committing
  // while it has work (WorkerOptions::max_batch_delay).
  static constexpr std::chrono::milliseconds kIdle{50};

  // Null when its connection cannot be opened (the caller keeps SQLite's
  // automatic checkpoint then).
  static std::unique_ptr<Checkpointer> start(const std::string& path, bool full_sync) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      return nullptr;
    }
    const char* sync = full_sync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
    if (sqlite3_exec(db, sync, nullptr, nullptr, nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      return nullptr;
    }
    return std::unique_ptr<Checkpointer>(new Checkpointer(db));
  }
  ~Checkpointer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
    sqlite3_close(db_);
  }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // sqlite3_wal_hook's callback: called by the writing connection after
  // each commit, with the WAL's length.
  static int on_commit(void* self, sqlite3* writer, const char* schema, int frames) {
    if (frames >= kInlineFrames) {
      (void)sqlite3_wal_checkpoint_v2(writer, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (frames >= kFrames) {
      static_cast<Checkpointer*>(self)->wake(frames >= kBusyFrames);
    }
    return SQLITE_OK;
  }

 private:
  explicit Checkpointer(sqlite3* db) : db_(db), thread_([this] { loop(); }) {}

  // After a commit: a checkpoint is due, `now` or once the commits pause.
  void wake(bool now) {
    {
      std::lock_guard lock(mu_);
      due_ = true;
      now_ = now_ || now;
      last_commit_ = std::chrono::steady_clock::now();
    }
    cv_.notify_one();
  }
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || due_; });
      // Each commit moves last_commit_ on (and notifies): wait until kIdle
      // passes without one.
      while (!stopping_ && !now_ && std::chrono::steady_clock::now() - last_commit_ < kIdle) {
        cv_.wait_until(lock, last_commit_ + kIdle);
      }
      if (stopping_) return;
      due_ = false;
      now_ = false;
      lock.unlock();
      // Busy (another checkpoint runs) or an I/O error: the WAL keeps
      // everything; the next commit asks again.
      (void)sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      lock.lock();
    }
  }

  sqlite3* db_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool due_ = false;
  bool now_ = false;
  std::chrono::steady_clock::time_point last_commit_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest is ready
};

Status status_from(const SQLite::Exception& e) {
  const int code = e.getErrorCode() & 0xff;
  std::string message = e.what();
  switch (code) {
    case SQLITE_FULL:
      return {Code::kDiskFull, "the disk is full; the write was rolled back (" + message + ")"};
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return {Code::kCorrupt, "the database is damaged (" + message + ")"};
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return {Code::kBusy, "the database stayed locked by another writer (" + message + ")"};
    default:
      return {Code::kIoError, message};
  }
}

std::optional<std::string> optional_text(const SQLite::Statement& s, int column) {
  if (s.isColumnNull(column)) return std::nullopt;
  return s.getColumn(column).getString();
}

std::optional<std::int64_t> optional_int(const SQLite::Statement& s, int column) {
  if (s.isColumnNull(column)) return std::nullopt;
  return s.getColumn(column).getInt64();
}

void bind_optional(SQLite::Statement& s, int index, const std::optional<std::string>& v) {
  if (v) {
    s.bindNoCopy(index, *v);
  } else {
    s.bind(index);
  }
}

void bind_optional(SQLite::Statement& s, int index, const std::optional<std::int64_t>& v) {
  if (v) {
    s.bind(index, *v);
  } else {
    s.bind(index);
  }
}

// A cached statement in use: reset when the scope ends, so no read stays open.
class Use {
 public:
  explicit Use(SQLite::Statement& s) : s_(s) {}
  ~Use() { s_.tryReset(); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  SQLite::Statement* operator->() { return &s_; }
  SQLite::Statement& operator*() { return s_; }

 private:
  SQLite::Statement& s_;
};

// ---- Opening: look before writing -------------------------------------------

struct Inspection {
  bool fresh = false;  // no Stepwise schema yet: create it
  int schema_version = 0;
};

bool has_sqlite_header(const std::string& path) {
  static constexpr char kMagic[] = "SQLite format 3";  // 16 bytes with the NUL
  std::array<char, sizeof(kMagic)> head{};
  std::ifstream in(path, std::ios::binary);
  if (!in.read(head.data(), head.size())) return false;
  return std::memcmp(head.data(), kMagic, sizeof(kMagic)) == 0;
}

// Reads the schema version recorded in meta; Corrupt when it is missing.
StatusOr<int> read_schema_version(SQLite::Database& db, const std::string& path) {
  if (!db.tableExists("meta")) {
    return Status(Code::kCorrupt, "'" + path + "' has Stepwise's application id but no meta table");
  }
  SQLite::Statement q(db, "SELECT value FROM meta WHERE key = ?");
  q.bind(1, "magic");
  if (!q.executeStep() || q.getColumn(0).getString() != "stepwise") {
    return Status(Code::kCorrupt, "'" + path + "' has no Stepwise magic in its meta table");
  }
  q.reset();
  q.bind(1, "schema_version");
  if (!q.executeStep()) {
    return Status(Code::kCorrupt, "'" + path + "' records no schema version");
  }
  const std::string text = q.getColumn(0).getString();
  int version = 0;
  try {
    version = std::stoi(text);
  } catch (const std::exception&) {
    return Status(Code::kCorrupt, "'" + path + "' records schema version '" + text + "'");
  }
  if (version > kSchemaVersion) {
    return Status(Code::kNewerSchema, "'" + path +
                                          "' was written by a newer Stepwise (schema version " +
                                          std::to_string(version) + "; this build reads up to " +
                                          std::to_string(kSchemaVersion) + ")");
  }
  return version;
}

// What the file holds, for a connection of any kind: a fresh database, a
// Stepwise one (its version), or someone else's.
StatusOr<Inspection> classify(SQLite::Database& db, const std::string& path) {
  const int app_id = db.execAndGet("PRAGMA application_id").getInt();
  if (app_id != kApplicationId) {
    const int objects = db.execAndGet("SELECT count(*) FROM sqlite_master").getInt();
    if (app_id == 0 && objects == 0) return Inspection{true, 0};
    return Status(Code::kNotOurs, "'" + path + "' is a SQLite database of another program " +
                                      "(application_id " + std::to_string(app_id) + ")");
  }
  StatusOr<int> version = read_schema_version(db, path);
  if (!version.ok()) return version.status();
  return Inspection{false, *version};
}

// Looks at an existing file through a read-only connection, so that a file we
// must refuse is never written.
StatusOr<Inspection> inspect(const std::string& path, const SqliteOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (!options.create_if_missing) {
      return Status(Code::kNotFound, "database '" + path + "' does not exist");
    }
    return Inspection{true, 0};
  }
  if (std::filesystem::file_size(path, ec) == 0 && !ec) return Inspection{true, 0};
  if (!has_sqlite_header(path)) {
    return Status(Code::kNotOurs, "'" + path + "' is not a SQLite database");
  }
  try {
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    if (options.verify) {
      const std::string result = db.execAndGet("PRAGMA quick_check").getString();
      if (result != "ok") {
        return Status(Code::kCorrupt, "'" + path + "' is damaged: " + result);
      }
    }
    return classify(db, path);
  } catch (const SQLite::Exception& e) {
    Status s = status_from(e);
    return Status(s.code(), "cannot read '" + path + "': " + s.message());
  }
}

class SqliteStore final : public Store {
 public:
  SqliteStore(std::unique_ptr<SQLite::Database> db, std::string path)
      : db_(std::move(db)), path_(std::move(path)) {}
  ~SqliteStore() override {
    if (checkpointer_) sqlite3_wal_hook(db_->getHandle(), nullptr, nullptr);  // it stops first
  }
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // Creates or migrates the schema. Called once, before the store is shared.
  Status migrate();

  StatusOr<StateMachineRecord> create_state_machine(const NewStateMachine& m) override;
  StatusOr<StateMachineRecord> update_state_machine(const std::string& arn,
                                                    const StateMachineUpdate& u) override;
  StatusOr<StateMachineRecord> describe_state_machine(const std::string& arn) override;
  StatusOr<StateMachineVersion> get_state_machine_version(const std::string& arn,
                                                          std::int64_t version) override;
  StatusOr<std::vector<StateMachineVersion>> list_state_machine_versions(
      const std::string& arn) override;
  StatusOr<Page<StateMachineRecord>> list_state_machines(const PageRequest& page) override;
  Status delete_state_machine(const std::string& arn) override;
  StatusOr<CreatedExecution> create_execution(const NewExecution& e) override;
  StatusOr<ExecutionRecord> describe_execution(const std::string& arn) override;
  StatusOr<Page<ExecutionSummary>> list_executions(const ExecutionFilter& filter,
                                                   const PageRequest& page) override;
  StatusOr<std::int64_t> commit_transition(const Transition& t) override;
  StatusOr<std::vector<std::int64_t>> commit_transitions(const std::vector<Transition>& batch) override;
  StatusOr<Page<EventRecord>> get_history(const std::string& execution_arn,
                                          const HistoryRequest& request) override;
  StatusOr<std::vector<TimerRecord>> due_timers(UnixNanos until, int limit) override;
  StatusOr<std::vector<TimerRecord>> list_timers(const std::string& execution_arn) override;
  StatusOr<TaskTokenRecord> get_task_token(const std::string& token) override;
  StatusOr<TaskTokenRecord> close_task_token(const std::string& token, const TaskTokenResult& result,
                                             UnixNanos now) override;
  StatusOr<TaskTokenRecord> heartbeat_task_token(const std::string& token, UnixNanos now) override;
  StatusOr<ActivityRecord> create_activity(const ActivityRecord& activity) override;
  StatusOr<ActivityRecord> describe_activity(const std::string& arn) override;
  StatusOr<Page<ActivityRecord>> list_activities(const PageRequest& page) override;
  Status delete_activity(const std::string& arn) override;
  StatusOr<std::optional<TaskTokenRecord>> take_activity_task(const std::string& activity_arn,
                                                              const std::string& worker_name, UnixNanos now) override;
  Status acquire_lease(const std::string& execution_arn, const std::string& owner, UnixNanos now,
                       UnixNanos expiry) override;
  Status renew_lease(const std::string& execution_arn, const std::string& owner,
                     UnixNanos expiry) override;
  Status release_lease(const std::string& execution_arn, const std::string& owner) override;
  StatusOr<std::int64_t> renew_leases(const std::string& owner, UnixNanos expiry) override;
  StatusOr<std::int64_t> release_leases(const std::string& owner) override;
  StatusOr<std::vector<std::string>> list_lease_owners() override;
  StatusOr<std::vector<ExecutionRecord>> claim_executions(const std::string& owner, UnixNanos now, UnixNanos expiry,
                                                          int limit) override;
  StatusOr<std::vector<ExecutionSummary>> list_claimable_executions(UnixNanos now,
                                                                    int limit) override;
  Status record_invocations(const std::vector<InvocationRecord>& records) override;
  StatusOr<std::vector<InvocationRecord>> list_invocations(const std::string& function_name) override;
  StatusOr<MapRunRecord> create_map_run(const MapRunRecord& run) override;
  StatusOr<std::vector<ExecutionRecord>> create_map_run_children(const std::vector<NewExecution>& children,
                                                                 const std::string& lease_owner,
                                                                 UnixNanos lease_expiry) override;
  // create_execution inside a write transaction.
  StatusOr<CreatedExecution> create_in_transaction(const NewExecution& e);
  StatusOr<MapRunRecord> describe_map_run(const std::string& arn) override;
  StatusOr<Page<MapRunRecord>> list_map_runs(const std::string& execution_arn, const PageRequest& page) override;
  StatusOr<MapRunRecord> update_map_run(const std::string& arn, const MapRunUpdate& update) override;
  StatusOr<std::vector<ExecutionRecord>> list_map_run_children(const std::string& map_run_arn,
                                                               std::int64_t from_index, int limit) override;
  std::optional<MapRunRecord> load_map_run(const std::string& arn);
  // Moves execution `seq` (if a map run's child) from one status column of
  // its map run to another ("" from: newly created).
  void count_child(std::int64_t seq, std::string_view from, std::string_view to);

 private:
  // The execution fields a write checks before changing anything.
  struct ExecutionHead {
    std::int64_t seq = 0;
    ExecutionStatus status = ExecutionStatus::kRunning;
    std::int64_t version = 0;
    std::int64_t last_event_id = 0;
    std::string lease_owner;
    UnixNanos lease_expiry = 0;
  };

  SQLite::Statement& sql(const char* text);
  // Runs body in a write transaction: committed if it returns OK, rolled back
  // otherwise or if anything throws.
  template <class F>
  auto write(F&& body) -> decltype(body());
  // Runs body under the lock, turning exceptions into a Status.
  template <class F>
  auto read(F&& body) -> decltype(body());
  void rollback() noexcept;

  // The execution's head, from the cache or the table (and then cached).
  std::optional<ExecutionHead> head(const std::string& arn);
  // Forgets the cached heads if another connection has committed since this
  // one last looked. Called at the start of every write transaction.
  void check_head_cache();
  void remember_head(std::string_view arn, const ExecutionHead& h);
  std::optional<ExecutionRecord> load_execution(const std::string& arn);
  std::optional<StateMachineRecord> load_state_machine(const std::string& arn);
  // Appends the events to the execution's history, in chunks.
  // Events to append: one EventRecord, or all of a transition's encoded events.
  struct HistoryPiece {
    const EventRecord* record = nullptr;
    const EncodedEvents* encoded = nullptr;
  };
  void append_history(std::int64_t seq, std::span<const HistoryPiece> pieces);
  void set_timer(std::int64_t seq, const std::string& key, UnixNanos due);
  Status add_tokens(std::int64_t seq, const std::vector<TaskTokenRecord>& tokens);
  Status close_tokens(std::int64_t seq, const std::vector<std::string>& tokens);
  // A token with its execution's seq and status (nullopt: no such token).
  struct StoredToken {
    TaskTokenRecord record;
    std::int64_t execution_seq = 0;
    ExecutionStatus execution_status = ExecutionStatus::kRunning;
  };
  std::optional<StoredToken> load_token(const std::string& token);
  // A parked execution (no owner, claimable only later) becomes claimable now.
  void wake_if_parked(std::int64_t seq, const std::string& arn, UnixNanos now);

  // An execution's row as the transitions of a batch so far leave it. The
  // checks of its next transitions read `head`; the row itself is written
  // once, when the batch ends (flush_row).
  struct PendingRow {
    ExecutionHead head;
    ExecutionStatus original = ExecutionStatus::kRunning;  // the status before the batch
    const std::string* state = nullptr;      // the newest state given, if any
    std::vector<HistoryPiece> events;  // appended by the batch, in order
    // The newest change of status: an outcome ended the execution, or a
    // redrive made it RUNNING again (kNone: the status column stays).
    enum class StatusChange { kNone, kEnded, kRedriven } change = StatusChange::kNone;
    const ExecutionOutcome* outcome = nullptr;  // with kEnded
    std::int64_t redrives = 0;
    std::optional<UnixNanos> redrive_date;  // the newest
    bool lease_released = false;
    UnixNanos lease_expiry = 0;  // with lease_released: when it is claimable again
  };
  // Keyed by the ARNs of the batch's transitions, which outlive the map.
  using PendingRows = std::unordered_map<std::string_view, PendingRow>;

  StatusOr<std::vector<std::int64_t>> commit_batch(const Transition* batch, std::size_t size, bool numbered);
  Status apply_transition(const Transition& t, PendingRows& rows);
  void flush_row(const PendingRow& row);

  struct ArnHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view arn) const { return std::hash<std::string_view>{}(arn); }
  };
  // Bounds the cache's memory; when full it starts over.
  static constexpr std::size_t kHeadCacheLimit = 65536;

  std::mutex mu_;
  internal::ChunkWriter chunk_;  // the history chunk being written, reused
  // Heads as this connection last committed or read them. Valid while no
  // other connection commits (PRAGMA data_version unchanged): then a batch
  // needs no lookup for the executions it saw before. Cleared on rollback.
  std::unordered_map<std::string, ExecutionHead, ArnHash, std::equal_to<>> head_cache_;
  std::int64_t head_cache_data_version_ = -1;
  std::unique_ptr<SQLite::Database> db_;
  std::string path_;
  // Prepared statements by their (static) SQL text. Declared after db_ so
  // they are finalized before the connection closes.
  std::unordered_map<const char*, std::unique_ptr<SQLite::Statement>> cache_;
  // Declared last: stopped (its connection closed) first, so that db_, the
  // last connection, checkpoints and removes the WAL as it closes.
  std::unique_ptr<Checkpointer> checkpointer_;

 public:
  // Moves checkpoints to a Checkpointer thread (see there); without one,
  // SQLite's automatic checkpoint stays.
  void checkpoint_in_background(bool full_sync) {
    checkpointer_ = Checkpointer::start(path_, full_sync);
    if (checkpointer_) sqlite3_wal_hook(db_->getHandle(), &Checkpointer::on_commit, checkpointer_.get());
  }
};

SQLite::Statement& SqliteStore::sql(const char* text) {
  std::unique_ptr<SQLite::Statement>& slot = cache_[text];
  if (!slot) slot = std::make_unique<SQLite::Statement>(*db_, text);
  return *slot;
}

void SqliteStore::rollback() noexcept {
  head_cache_.clear();  // it may hold what the rolled-back transaction wrote
  if (sqlite3_get_autocommit(db_->getHandle()) != 0) return;
  try {
    db_->exec("ROLLBACK");
  } catch (const SQLite::Exception&) {
    // The connection already abandoned the transaction; nothing to undo.
  }
}

template <class F>
auto SqliteStore::write(F&& body) -> decltype(body()) {
  using R = decltype(body());
  std::lock_guard lock(mu_);
  try {
    Use(sql("BEGIN IMMEDIATE"))->exec();
    check_head_cache();
    R result = body();
    if (result.ok()) {
      Use(sql("COMMIT"))->exec();
    } else {
      rollback();
    }
    return result;
  } catch (const SQLite::Exception& e) {
    rollback();
    return R(status_from(e));
  } catch (const std::exception& e) {
    rollback();
    return R(Status(Code::kIoError, e.what()));
  }
}

template <class F>
auto SqliteStore::read(F&& body) -> decltype(body()) {
  using R = decltype(body());
  std::lock_guard lock(mu_);
  try {
    return body();
  } catch (const SQLite::Exception& e) {
    return R(status_from(e));
  } catch (const std::exception& e) {
    return R(Status(Code::kIoError, e.what()));
  }
}

Status SqliteStore::migrate() {
  return write([&]() -> Status {
    // Look again under the write lock: another process may have created or
    // migrated the schema since inspect().
    StatusOr<Inspection> seen = classify(*db_, path_);
    if (!seen.ok()) return seen.status();
    const int from = seen->fresh ? 0 : seen->schema_version;
    if (from == kSchemaVersion) return {};
    for (const internal::Migration& m : internal::kMigrations) {
      if (m.version > from) db_->exec(m.sql);
    }
    SQLite::Statement bump(*db_, "UPDATE meta SET value = ? WHERE key = 'schema_version'");
    bump.bind(1, std::to_string(kSchemaVersion));
    bump.exec();
    db_->exec("PRAGMA application_id = " + std::to_string(kApplicationId));
    db_->exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    return {};
  });
}

// ---- State machines ---------------------------------------------------------

constexpr const char* kSelectStateMachine =
    "SELECT m.arn, m.name, m.type, m.role_arn, m.creation_date, m.version, v.definition, "
    "v.creation_date FROM state_machines m JOIN state_machine_versions v "
    "ON v.state_machine_arn = m.arn AND v.version = m.version "
    "WHERE m.arn = ? AND m.deleted = 0";

StateMachineRecord state_machine_from(const SQLite::Statement& s) {
  StateMachineRecord r;
  r.arn = s.getColumn(0).getString();
  r.name = s.getColumn(1).getString();
  r.type = parse_machine_type(s.getColumn(2).getString()).value_or(MachineType::kStandard);
  r.role_arn = s.getColumn(3).getString();
  r.creation_date = s.getColumn(4).getInt64();
  r.version = s.getColumn(5).getInt64();
  r.definition = s.getColumn(6).getString();
  r.version_date = s.getColumn(7).getInt64();
  return r;
}

std::optional<StateMachineRecord> SqliteStore::load_state_machine(const std::string& arn) {
  Use q(sql(kSelectStateMachine));
  q->bind(1, arn);
  if (!q->executeStep()) return std::nullopt;
  return state_machine_from(*q);
}

StatusOr<StateMachineRecord> SqliteStore::create_state_machine(const NewStateMachine& m) {
  return write([&]() -> StatusOr<StateMachineRecord> {
    {
      Use q(sql("SELECT 1 FROM state_machines WHERE name = ? AND deleted = 0"));
      q->bind(1, m.name);
      if (q->executeStep()) {
        return Status(Code::kAlreadyExists, "state machine named '" + m.name + "' already exists");
      }
    }
    std::int64_t version = 1;
    {
      Use q(
          sql("SELECT deleted, (SELECT max(version) FROM state_machine_versions "
              "WHERE state_machine_arn = arn) FROM state_machines WHERE arn = ?"));
      q->bind(1, m.arn);
      if (q->executeStep()) {
        if (q->getColumn(0).getInt() == 0) {
          return Status(Code::kAlreadyExists, "state machine '" + m.arn + "' already exists");
        }
        version = q->getColumn(1).getInt64() + 1;
      }
    }
    {
      Use q(
          sql("INSERT OR REPLACE INTO state_machines "
              "(arn, name, type, role_arn, creation_date, version, deleted) "
              "VALUES (?, ?, ?, ?, ?, ?, 0)"));
      q->bind(1, m.arn);
      q->bind(2, m.name);
      q->bind(3, std::string(to_string(m.type)));
      q->bind(4, m.role_arn);
      q->bind(5, m.creation_date);
      q->bind(6, version);
      q->exec();
    }
    {
      Use q(
          sql("INSERT INTO state_machine_versions "
              "(state_machine_arn, version, definition, creation_date) VALUES (?, ?, ?, ?)"));
      q->bind(1, m.arn);
      q->bind(2, version);
      q->bindNoCopy(3, m.definition);
      q->bind(4, m.creation_date);
      q->exec();
    }
    return StateMachineRecord{m.arn,           m.name,  m.type,       m.role_arn,
                              m.creation_date, version, m.definition, m.creation_date};
  });
}

StatusOr<StateMachineRecord> SqliteStore::update_state_machine(const std::string& arn,
                                                               const StateMachineUpdate& u) {
  return write([&]() -> StatusOr<StateMachineRecord> {
    std::optional<StateMachineRecord> current = load_state_machine(arn);
    if (!current) return not_found_state_machine(arn);
    if (u.role_arn) {
      Use q(sql("UPDATE state_machines SET role_arn = ? WHERE arn = ?"));
      q->bind(1, *u.role_arn);
      q->bind(2, arn);
      q->exec();
    }
    if (u.definition) {
      const std::int64_t version = current->version + 1;
      {
        Use q(
            sql("INSERT INTO state_machine_versions "
                "(state_machine_arn, version, definition, creation_date) VALUES (?, ?, ?, ?)"));
        q->bind(1, arn);
        q->bind(2, version);
        q->bindNoCopy(3, *u.definition);
        q->bind(4, u.update_date);
        q->exec();
      }
      Use q(sql("UPDATE state_machines SET version = ? WHERE arn = ?"));
      q->bind(1, version);
      q->bind(2, arn);
      q->exec();
    }
    std::optional<StateMachineRecord> updated = load_state_machine(arn);
    if (!updated) return not_found_state_machine(arn);
    return *updated;
  });
}

StatusOr<StateMachineRecord> SqliteStore::describe_state_machine(const std::string& arn) {
  return read([&]() -> StatusOr<StateMachineRecord> {
    std::optional<StateMachineRecord> r = load_state_machine(arn);
    if (!r) return not_found_state_machine(arn);
    return *r;
  });
}

StatusOr<StateMachineVersion> SqliteStore::get_state_machine_version(const std::string& arn,
                                                                     std::int64_t version) {
  return read([&]() -> StatusOr<StateMachineVersion> {
    Use q(
        sql("SELECT definition, creation_date FROM state_machine_versions "
            "WHERE state_machine_arn = ? AND version = ?"));
    q->bind(1, arn);
    q->bind(2, version);
    if (!q->executeStep()) {
      return Status(Code::kNotFound,
                    "state machine '" + arn + "' has no version " + std::to_string(version));
    }
    return StateMachineVersion{version, q->getColumn(0).getString(), q->getColumn(1).getInt64()};
  });
}

StatusOr<std::vector<StateMachineVersion>> SqliteStore::list_state_machine_versions(
    const std::string& arn) {
  return read([&]() -> StatusOr<std::vector<StateMachineVersion>> {
    if (!load_state_machine(arn)) return not_found_state_machine(arn);
    Use q(
        sql("SELECT version, definition, creation_date FROM state_machine_versions "
            "WHERE state_machine_arn = ? ORDER BY version"));
    q->bind(1, arn);
    std::vector<StateMachineVersion> out;
    while (q->executeStep()) {
      out.push_back(
          {q->getColumn(0).getInt64(), q->getColumn(1).getString(), q->getColumn(2).getInt64()});
    }
    return out;
  });
}

StatusOr<Page<StateMachineRecord>> SqliteStore::list_state_machines(const PageRequest& page) {
  std::string after;
  if (!page.next_token.empty()) {
    auto decoded = internal::decode_name_cursor(page.next_token);
    if (!decoded) return Status(Code::kInvalidArgument, "invalid next token");
    after = std::move(*decoded);
  }
  return read([&]() -> StatusOr<Page<StateMachineRecord>> {
    const int size = internal::page_size(page);
    Use q(
        sql("SELECT m.arn, m.name, m.type, m.role_arn, m.creation_date, m.version, "
            "v.definition, v.creation_date FROM state_machines m "
            "JOIN state_machine_versions v "
            "ON v.state_machine_arn = m.arn AND v.version = m.version "
            "WHERE m.deleted = 0 AND m.name > ? ORDER BY m.name LIMIT ?"));
    q->bind(1, after);
    q->bind(2, size + 1);
    Page<StateMachineRecord> out;
    while (q->executeStep()) {
      if (static_cast<int>(out.items.size()) == size) {
        out.next_token = internal::encode_name_cursor(out.items.back().name);
        break;
      }
      out.items.push_back(state_machine_from(*q));
    }
    return out;
  });
}

Status SqliteStore::delete_state_machine(const std::string& arn) {
  return write([&]() -> Status {
    Use q(sql("UPDATE state_machines SET deleted = 1 WHERE arn = ? AND deleted = 0"));
    q->bind(1, arn);
    if (q->exec() == 0) return not_found_state_machine(arn);
    return {};
  });
}

// ---- Executions -------------------------------------------------------------

constexpr const char* kSelectExecution =
    "SELECT arn, name, state_machine_arn, state_machine_version, status, input, output, error, "
    "cause, start_date, stop_date, redrive_count, redrive_date, state, version, last_event_id, "
    "lease_owner, lease_expiry, map_run_arn, item_index, item_count FROM executions WHERE arn = ?";

#define SUMMARY_COLUMNS                                                                         \
  "SELECT arn, name, state_machine_arn, state_machine_version, status, start_date, stop_date, " \
  "redrive_count, seq FROM executions "

ExecutionStatus status_column(const SQLite::Statement& s, int column) {
  return parse_execution_status(s.getColumn(column).getString()).value_or(ExecutionStatus::kFailed);
}

ExecutionSummary summary_from(const SQLite::Statement& s) {
  ExecutionSummary r;
  r.arn = s.getColumn(0).getString();
  r.name = s.getColumn(1).getString();
  r.state_machine_arn = s.getColumn(2).getString();
  r.state_machine_version = s.getColumn(3).getInt64();
  r.status = status_column(s, 4);
  r.start_date = s.getColumn(5).getInt64();
  r.stop_date = optional_int(s, 6);
  r.redrive_count = s.getColumn(7).getInt64();
  return r;
}

ExecutionRecord execution_from(const SQLite::Statement& s) {
  ExecutionRecord r;
  r.arn = s.getColumn(0).getString();
  r.name = s.getColumn(1).getString();
  r.state_machine_arn = s.getColumn(2).getString();
  r.state_machine_version = s.getColumn(3).getInt64();
  r.status = status_column(s, 4);
  r.input = s.getColumn(5).getString();
  r.output = optional_text(s, 6);
  r.error = optional_text(s, 7);
  r.cause = optional_text(s, 8);
  r.start_date = s.getColumn(9).getInt64();
  r.stop_date = optional_int(s, 10);
  r.redrive_count = s.getColumn(11).getInt64();
  r.redrive_date = optional_int(s, 12);
  r.state = s.getColumn(13).getString();
  r.version = s.getColumn(14).getInt64();
  r.last_event_id = s.getColumn(15).getInt64();
  r.lease_owner = s.getColumn(16).getString();
  r.lease_expiry = s.getColumn(17).getInt64();
  r.map_run_arn = optional_text(s, 18).value_or("");
  r.item_index = optional_int(s, 19).value_or(-1);
  r.item_count = optional_int(s, 20).value_or(1);
  return r;
}

std::optional<ExecutionRecord> SqliteStore::load_execution(const std::string& arn) {
  Use q(sql(kSelectExecution));
  q->bind(1, arn);
  if (!q->executeStep()) return std::nullopt;
  return execution_from(*q);
}

std::optional<SqliteStore::ExecutionHead> SqliteStore::head(const std::string& arn) {
  if (auto cached = head_cache_.find(std::string_view(arn)); cached != head_cache_.end()) return cached->second;
  Use q(
      sql("SELECT seq, status, version, last_event_id, lease_owner, lease_expiry "
          "FROM executions WHERE arn = ?"));
  q->bind(1, arn);
  if (!q->executeStep()) return std::nullopt;
  ExecutionHead h{q->getColumn(0).getInt64(), status_column(*q, 1),        q->getColumn(2).getInt64(),
                  q->getColumn(3).getInt64(), q->getColumn(4).getString(), q->getColumn(5).getInt64()};
  remember_head(arn, h);
  return h;
}

void SqliteStore::check_head_cache() {
  Use q(sql("PRAGMA data_version"));
  q->executeStep();
  const std::int64_t version = q->getColumn(0).getInt64();
  if (version != head_cache_data_version_) {
    head_cache_.clear();
    head_cache_data_version_ = version;
  }
}

void SqliteStore::remember_head(std::string_view arn, const ExecutionHead& h) {
  auto found = head_cache_.find(arn);
  if (found != head_cache_.end()) {
    found->second = h;
    return;
  }
  if (head_cache_.size() >= kHeadCacheLimit) head_cache_.clear();
  head_cache_.emplace(std::string(arn), h);
}

void SqliteStore::append_history(std::int64_t seq, std::span<const HistoryPiece> pieces) {
  if (pieces.empty()) return;
  Use q(sql("INSERT INTO history (execution_seq, first_id, last_id, events) VALUES (?, ?, ?, ?)"));
  std::int64_t first_id = 0;
  std::int64_t last_id = 0;
  auto write_chunk = [&] {
    const std::string_view text = chunk_.finish();
    q->bind(1, seq);
    q->bind(2, first_id);
    q->bind(3, last_id);
    // NUL-terminated (neither escaping nor a JSON object leaves a NUL
    // inside), as SQLiteCpp's bindNoCopy(const char*) wants.
    q->bindNoCopy(4, text.data());
    q->exec();
    q->reset();
  };
  // Each event goes into the open chunk, unless it would take the chunk past
  // its limits (`size`: about the event's text): then the chunk is written
  // first and the event starts the next one.
  auto add = [&](std::int64_t id, std::size_t size, auto&& append) {
    if (chunk_.events() > 0 && (chunk_.events() >= internal::kMaxChunkEvents ||
                                chunk_.text_size() + size + 1 > internal::kChunkTextLimit)) {
      write_chunk();
      chunk_.begin();
    }
    if (chunk_.events() == 0) first_id = id;
    append();
    last_id = id;
  };
  chunk_.begin();
  for (const HistoryPiece& piece : pieces) {
    if (piece.record != nullptr) {
      const EventRecord& r = *piece.record;
      // Escaping may lengthen the details a little: close enough for a limit.
      add(r.id, r.type.size() + r.details.size() + 64, [&] { chunk_.add(r); });
      continue;
    }
    const EncodedEvents& encoded = *piece.encoded;
    for (std::size_t i = 0; i < encoded.size(); ++i) {
      const std::string_view element = encoded.element(i);
      add(encoded.id(i), element.size(), [&] { chunk_.add_encoded(element); });
    }
  }
  if (chunk_.events() > 0) write_chunk();
}

void SqliteStore::set_timer(std::int64_t seq, const std::string& key, UnixNanos due) {
  Use q(sql("INSERT OR REPLACE INTO timers (execution_seq, key, due) VALUES (?, ?, ?)"));
  q->bind(1, seq);
  q->bindNoCopy(2, key);
  q->bind(3, due);
  q->exec();
}

StatusOr<CreatedExecution> SqliteStore::create_execution(const NewExecution& e) {
  return write([&]() -> StatusOr<CreatedExecution> { return create_in_transaction(e); });
}

StatusOr<std::vector<ExecutionRecord>> SqliteStore::create_map_run_children(const std::vector<NewExecution>& children,
                                                                            const std::string& lease_owner,
                                                                            UnixNanos lease_expiry) {
  return write([&]() -> StatusOr<std::vector<ExecutionRecord>> {
    std::vector<ExecutionRecord> out;
    out.reserve(children.size());
    for (const NewExecution& e : children) {
      if (e.map_run_arn.empty()) return Status(Code::kNotFound, "map run '' does not exist");
      auto created = create_in_transaction(e);
      if (!created.ok()) return created.status();  // rolled back: none is created
      if (!created->created) return Status(Code::kAlreadyExists, "execution '" + e.arn + "' already exists");
      if (!lease_owner.empty()) {
        Use q(sql("UPDATE executions SET lease_owner = ?, lease_expiry = ? WHERE arn = ?"));
        q->bind(1, lease_owner);
        q->bind(2, lease_expiry);
        q->bind(3, e.arn);
        q->exec();
        created->execution.lease_owner = lease_owner;
        created->execution.lease_expiry = lease_expiry;
      }
      out.push_back(std::move(created->execution));
    }
    head_cache_.clear();  // the remembered heads do not hold the new leases
    return out;
  });
}

StatusOr<CreatedExecution> SqliteStore::create_in_transaction(const NewExecution& e) {
  {
    if (std::optional<ExecutionRecord> existing = load_execution(e.arn)) {
      if (existing->status == ExecutionStatus::kRunning &&
          internal::same_input(existing->input, e.input)) {
        return CreatedExecution{std::move(*existing), false};
      }
      return Status(Code::kAlreadyExists, "execution '" + e.arn + "' already exists");
    }
    if (!e.map_run_arn.empty()) {
      Use q(sql("SELECT 1 FROM map_runs WHERE arn = ?"));
      q->bind(1, e.map_run_arn);
      if (!q->executeStep()) return Status(Code::kNotFound, "map run '" + e.map_run_arn + "' does not exist");
    } else if (!load_state_machine(e.state_machine_arn)) {
      return not_found_state_machine(e.state_machine_arn);
    }
    if (e.map_run_arn.empty()) {
      Use q(
          sql("SELECT 1 FROM state_machine_versions WHERE state_machine_arn = ? AND version = ?"));
      q->bind(1, e.state_machine_arn);
      q->bind(2, e.state_machine_version);
      if (!q->executeStep()) {
        return Status(Code::kNotFound, "state machine '" + e.state_machine_arn +
                                           "' has no version " +
                                           std::to_string(e.state_machine_version));
      }
    }
    Transition shape;
    shape.events = e.events;
    if (Status s = internal::validate_transition_shape(shape); !s.ok()) return s;
    if (!e.events.empty() && e.events.front().id <= 0) {
      return Status(Code::kInvalidArgument, "event ids start at 1");
    }
    const std::int64_t last_event_id = e.events.empty() ? 0 : e.events.back().id;
    {
      Use q(
          sql("INSERT INTO executions (arn, name, state_machine_arn, state_machine_version, "
              "status, input, start_date, state, version, last_event_id, map_run_arn, item_index, item_count) "
              "VALUES (?, ?, ?, ?, 'RUNNING', ?, ?, ?, 1, ?, ?, ?, ?)"));
      q->bind(1, e.arn);
      q->bind(2, e.name);
      q->bind(3, e.state_machine_arn);
      q->bind(4, e.state_machine_version);
      q->bindNoCopy(5, e.input);
      q->bind(6, e.start_date);
      q->bindNoCopy(7, e.state);
      q->bind(8, last_event_id);
      if (e.map_run_arn.empty()) {
        q->bind(9);
        q->bind(10);
        q->bind(11);
      } else {
        q->bind(9, e.map_run_arn);
        q->bind(10, e.item_index);
        if (e.item_count != 1) {
          q->bind(11, e.item_count);
        } else {
          q->bind(11);  // one item: the usual case, kept as NULL
        }
      }
      q->exec();
    }
    const std::int64_t seq = db_->getLastInsertRowid();
    if (!e.map_run_arn.empty()) {
      Use q(sql("UPDATE map_runs SET launched = launched + 1 WHERE arn = ?"));
      q->bind(1, e.map_run_arn);
      q->exec();
      count_child(seq, "", "RUNNING");
    }
    std::vector<HistoryPiece> events;
    events.reserve(e.events.size());
    for (const EventRecord& event : e.events) events.push_back(HistoryPiece{&event, nullptr});
    append_history(seq, events);
    for (const TimerRecord& t : e.timers) set_timer(seq, t.key, t.due);
    CreatedExecution out;
    ExecutionRecord& r = out.execution;
    r.arn = e.arn;
    r.name = e.name;
    r.state_machine_arn = e.state_machine_arn;
    r.state_machine_version = e.state_machine_version;
    r.input = e.input;
    r.start_date = e.start_date;
    r.state = e.state;
    r.version = 1;
    r.last_event_id = last_event_id;
    r.map_run_arn = e.map_run_arn;
    r.item_index = e.item_index;
    r.item_count = e.item_count;
    return out;
  }
}

StatusOr<ExecutionRecord> SqliteStore::describe_execution(const std::string& arn) {
  return read([&]() -> StatusOr<ExecutionRecord> {
    std::optional<ExecutionRecord> r = load_execution(arn);
    if (!r) return not_found_execution(arn);
    return std::move(*r);
  });
}

StatusOr<Page<ExecutionSummary>> SqliteStore::list_executions(const ExecutionFilter& filter,
                                                              const PageRequest& page) {
  // One statement per filter combination, each served by its own covering
  // index (named, so that the planner, without statistics, cannot pick
  // another). "(start_date, seq) < (?, ?)" resumes after the last row of the
  // previous page: a seek in the index, however deep the page.
  static constexpr const char* kAll = SUMMARY_COLUMNS
      "INDEXED BY executions_by_start "
      "WHERE map_run_arn IS NULL AND (start_date, seq) < (?1, ?2) "
      "ORDER BY start_date DESC, seq DESC LIMIT ?3";
  static constexpr const char* kByMachine = SUMMARY_COLUMNS
      "INDEXED BY executions_by_machine "
      "WHERE map_run_arn IS NULL AND state_machine_arn = ?4 AND (start_date, seq) < (?1, ?2) "
      "ORDER BY start_date DESC, seq DESC LIMIT ?3";
  static constexpr const char* kByStatus = SUMMARY_COLUMNS
      "INDEXED BY executions_by_status "
      "WHERE map_run_arn IS NULL AND status = ?5 AND (start_date, seq) < (?1, ?2) "
      "ORDER BY start_date DESC, seq DESC LIMIT ?3";
  static constexpr const char* kByMachineAndStatus = SUMMARY_COLUMNS
      "INDEXED BY executions_by_machine_status "
      "WHERE map_run_arn IS NULL AND state_machine_arn = ?4 AND status = ?5 "
      "AND (start_date, seq) < (?1, ?2) "
      "ORDER BY start_date DESC, seq DESC LIMIT ?3";
  static constexpr const char* kByMapRun =
      "SELECT arn, name, state_machine_arn, state_machine_version, status, start_date, stop_date, "
      "redrive_count, seq, item_count FROM executions "
      "INDEXED BY executions_by_map_run_start "
      "WHERE map_run_arn = ?6 AND (?5 IS NULL OR status = ?5) AND (start_date, seq) < (?1, ?2) "
      "ORDER BY map_run_arn DESC, start_date DESC, seq DESC LIMIT ?3";
  return read([&]() -> StatusOr<Page<ExecutionSummary>> {
    internal::ExecutionCursor cursor{kMaxInt64, kMaxInt64};
    if (!page.next_token.empty()) {
      auto decoded = internal::decode_cursor(page.next_token);
      if (!decoded) return Status(Code::kInvalidArgument, "invalid next token");
      cursor = *decoded;
    }
    const bool by_machine = !filter.state_machine_arn.empty();
    const bool by_status = filter.status.has_value();
    const bool by_map_run = !filter.map_run_arn.empty();
    const char* text = by_map_run ? kByMapRun
                       : by_machine ? (by_status ? kByMachineAndStatus : kByMachine)
                                    : (by_status ? kByStatus : kAll);
    const int size = internal::page_size(page);
    Use q(sql(text));
    q->bind(1, cursor.start_date);
    q->bind(2, cursor.seq);
    q->bind(3, size + 1);
    if (by_machine && !by_map_run) q->bind(4, filter.state_machine_arn);
    if (by_status) {
      q->bind(5, std::string(to_string(*filter.status)));
    } else if (by_map_run) {
      q->bind(5);
    }
    if (by_map_run) q->bind(6, filter.map_run_arn);
    Page<ExecutionSummary> out;
    internal::ExecutionCursor last;
    while (q->executeStep()) {
      if (static_cast<int>(out.items.size()) == size) {
        out.next_token = internal::encode_cursor(last);
        break;
      }
      out.items.push_back(summary_from(*q));
      if (by_map_run) out.items.back().item_count = optional_int(*q, 9).value_or(1);
      last = {out.items.back().start_date, q->getColumn(8).getInt64()};
    }
    return out;
  });
}

Status SqliteStore::add_tokens(std::int64_t seq, const std::vector<TaskTokenRecord>& tokens) {
  for (const TaskTokenRecord& token : tokens) {
    Use q(
        sql("INSERT INTO task_tokens (token, execution_seq, frame_key, status, activity_arn, input, created, "
            "timeout_at, heartbeat_seconds, heartbeat_due) VALUES (?, ?, ?, 'OPEN', ?, ?, ?, ?, ?, ?)"));
    q->bind(1, token.token);
    q->bind(2, seq);
    q->bind(3, token.frame_key);
    q->bind(4, token.activity_arn);
    q->bind(5, token.input);
    q->bind(6, token.created);
    q->bind(7, token.timeout_at);
    q->bind(8, token.heartbeat_seconds);
    q->bind(9, token.heartbeat_due);
    try {
      q->exec();
    } catch (const SQLite::Exception& e) {
      if ((e.getErrorCode() & 0xff) != SQLITE_CONSTRAINT) throw;
      return {Code::kAlreadyExists, "task token '" + token.token + "' already exists"};
    }
  }
  return {};
}

Status SqliteStore::close_tokens(std::int64_t seq, const std::vector<std::string>& tokens) {
  for (const std::string& token : tokens) {
    Use q(sql("SELECT execution_seq FROM task_tokens WHERE token = ?"));
    q->bind(1, token);
    if (!q->executeStep()) {
      return {Code::kNotFound, "task token '" + token + "' does not exist"};
    }
    if (q->getColumn(0).getInt64() != seq) {
      return {Code::kInvalidArgument, "task token '" + token + "' belongs to another execution"};
    }
    Use close(sql("UPDATE task_tokens SET status = 'CLOSED', acknowledged = 1 WHERE token = ?"));
    close->bind(1, token);
    close->exec();
  }
  return {};
}

Status SqliteStore::apply_transition(const Transition& t, PendingRows& rows) {
  auto found = rows.find(t.execution_arn);
  if (found == rows.end()) {
    std::optional<ExecutionHead> h = head(t.execution_arn);
    if (!h) return not_found_execution(t.execution_arn);
    const ExecutionStatus original = h->status;
    found = rows.emplace(t.execution_arn, PendingRow{std::move(*h)}).first;
    found->second.original = original;
  }
  PendingRow& row = found->second;
  ExecutionHead& h = row.head;
  if (Status s = internal::check_transition_against(t, h.status, h.version, h.last_event_id, h.lease_owner); !s.ok()) {
    return s;
  }
  // Written with the row, when the batch ends: the batch's events of one
  // execution share chunks.
  for (const EventRecord& e : t.events) row.events.push_back(HistoryPiece{&e, nullptr});
  if (!t.encoded_events.empty()) row.events.push_back(HistoryPiece{nullptr, &t.encoded_events});
  if (!t.timers_to_clear.empty()) {
    Use q(sql("DELETE FROM timers WHERE execution_seq = ? AND key = ?"));
    for (const std::string& key : t.timers_to_clear) {
      q->bind(1, h.seq);
      q->bindNoCopy(2, key);
      q->exec();
      q->reset();
    }
  }
  for (const TimerRecord& timer : t.timers_to_set) set_timer(h.seq, timer.key, timer.due);
  if (Status s = add_tokens(h.seq, t.tokens_to_add); !s.ok()) return s;
  if (Status s = close_tokens(h.seq, t.tokens_to_close); !s.ok()) return s;
  if (t.outcome) {
    // Now, not at the end of the batch: a redrive later in the batch may set
    // new timers and tokens, which must stay.
    {
      Use q(sql("DELETE FROM timers WHERE execution_seq = ?"));
      q->bind(1, h.seq);
      q->exec();
    }
    Use q(
        sql("UPDATE task_tokens SET status = 'CLOSED', acknowledged = 1 "
            "WHERE execution_seq = ? AND (status = 'OPEN' OR acknowledged = 0)"));
    q->bind(1, h.seq);
    q->exec();
  }

  h.version += 1;
  if (const auto last = internal::last_event_id(t)) h.last_event_id = *last;
  if (t.state) row.state = &*t.state;
  if (t.redrive_date) {
    h.status = ExecutionStatus::kRunning;
    row.change = PendingRow::StatusChange::kRedriven;
    row.outcome = nullptr;
    row.redrives += 1;
    row.redrive_date = t.redrive_date;
  }
  if (t.outcome) {
    h.status = t.outcome->status;
    h.lease_owner.clear();
    h.lease_expiry = 0;
    row.change = PendingRow::StatusChange::kEnded;
    row.outcome = &*t.outcome;
    row.lease_released = true;
    row.lease_expiry = 0;
  }
  if (t.park_until) {
    // A result recorded (SendTaskSuccess/Failure) that the worker has not
    // taken in yet: the execution must not sleep past it.
    UnixNanos until = *t.park_until;
    Use q(sql("SELECT 1 FROM task_tokens WHERE execution_seq = ? AND result IS NOT NULL AND acknowledged = 0"));
    q->bind(1, h.seq);
    if (q->executeStep()) until = 0;
    h.lease_owner.clear();
    h.lease_expiry = until;
    row.lease_released = true;
    row.lease_expiry = until;
  }
  return {};
}

// ?1 seq, ?2 version, ?3 the new state (NULL: keep the stored one), ?4 the
// last event id: what both UPDATEs of a committed row bind first.
template <class Row, class Head>
void bind_row_head(SQLite::Statement& q, const Head& h, const Row& row) {
  q.bind(1, h.seq);
  q.bind(2, h.version);
  if (row.state != nullptr) {
    q.bindNoCopy(3, *row.state);
  } else {
    q.bind(3);
  }
  q.bind(4, h.last_event_id);
}

void SqliteStore::flush_row(const PendingRow& row) {
  const ExecutionHead& h = row.head;
  append_history(h.seq, row.events);
  if (row.change == PendingRow::StatusChange::kNone && row.lease_released) {
    // Parked: the lease goes, until the time it may be claimed again.
    Use q(
        sql("UPDATE executions SET version = ?2, state = coalesce(?3, state), last_event_id = ?4, "
            "lease_owner = '', lease_expiry = ?5 WHERE seq = ?1"));
    bind_row_head(*q, h, row);
    q->bind(5, row.lease_expiry);
    q->exec();
    return;
  }
  if (row.change == PendingRow::StatusChange::kNone) {
    // The common case: the execution runs on. No indexed column changes, so
    // no index is touched.
    Use q(
        sql("UPDATE executions SET version = ?2, state = coalesce(?3, state), last_event_id = ?4 "
            "WHERE seq = ?1"));
    bind_row_head(*q, h, row);
    q->exec();
    return;
  }
  // The status changed (and with an outcome the lease went). A NULL ?3 keeps
  // the stored state; ?10 adds the redrives; a NULL ?11 keeps the redrive date.
  Use q(
      sql("UPDATE executions SET "
          "version = ?2, state = coalesce(?3, state), last_event_id = ?4, "
          "status = ?5, output = ?6, error = ?7, cause = ?8, stop_date = ?9, "
          "redrive_count = redrive_count + ?10, redrive_date = coalesce(?11, redrive_date), "
          "lease_owner = CASE WHEN ?12 THEN '' ELSE lease_owner END, "
          "lease_expiry = CASE WHEN ?12 THEN ?13 ELSE lease_expiry END "
          "WHERE seq = ?1"));
  bind_row_head(*q, h, row);
  q->bind(5, std::string(to_string(h.status)));
  if (row.change == PendingRow::StatusChange::kEnded) {
    bind_optional(*q, 6, row.outcome->output);
    bind_optional(*q, 7, row.outcome->error);
    bind_optional(*q, 8, row.outcome->cause);
    q->bind(9, row.outcome->stop_date);
  } else {
    // Redriven last: RUNNING again, and a running execution has no outcome.
    for (int column = 6; column <= 9; ++column) q->bind(column);
  }
  q->bind(10, row.redrives);
  bind_optional(*q, 11, row.redrive_date);
  q->bind(12, row.lease_released ? 1 : 0);
  q->bind(13, row.lease_expiry);
  q->exec();
  if (row.original != h.status) count_child(h.seq, to_string(row.original), to_string(h.status));
}

StatusOr<std::vector<std::int64_t>> SqliteStore::commit_batch(const Transition* batch, std::size_t size,
                                                              bool numbered) {
  auto failure = [&](const Status& s, std::size_t i) {
    return numbered ? internal::in_batch(s, i, batch[i].execution_arn) : s;
  };
  for (std::size_t i = 0; i < size; ++i) {
    if (Status s = internal::validate_transition_shape(batch[i]); !s.ok()) return failure(s, i);
  }
  return write([&]() -> StatusOr<std::vector<std::int64_t>> {
    PendingRows rows;
    std::vector<std::int64_t> versions;
    versions.reserve(size);
    for (std::size_t i = 0; i < size; ++i) {
      if (Status s = apply_transition(batch[i], rows); !s.ok()) return failure(s, i);
      versions.push_back(rows.find(batch[i].execution_arn)->second.head.version);
    }
    for (const auto& [arn, row] : rows) {
      flush_row(row);
      // Should the COMMIT fail, the rollback clears the cache again.
      remember_head(arn, row.head);
    }
    return versions;
  });
}

StatusOr<std::int64_t> SqliteStore::commit_transition(const Transition& t) {
  StatusOr<std::vector<std::int64_t>> versions = commit_batch(&t, 1, false);
  if (!versions.ok()) return versions.status();
  return versions->front();
}

StatusOr<std::vector<std::int64_t>> SqliteStore::commit_transitions(const std::vector<Transition>& batch) {
  return commit_batch(batch.data(), batch.size(), true);
}

StatusOr<Page<EventRecord>> SqliteStore::get_history(const std::string& execution_arn,
                                                     const HistoryRequest& request) {
  return read([&]() -> StatusOr<Page<EventRecord>> {
    std::optional<std::int64_t> after;
    if (!request.page.next_token.empty()) {
      after = internal::decode_event_cursor(request.page.next_token);
      if (!after) return Status(Code::kInvalidArgument, "invalid next token");
    }
    std::int64_t seq = 0;
    {
      Use q(sql("SELECT seq FROM executions WHERE arn = ?"));
      q->bind(1, execution_arn);
      if (!q->executeStep()) return not_found_execution(execution_arn);
      seq = q->getColumn(0).getInt64();
    }
    const int size = internal::page_size(request.page);
    const bool reverse = request.reverse_order;
    // The page continues after (or, in reverse, before) the cursor's id.
    const std::int64_t bound = after.value_or(reverse ? kMaxInt64 : 0);
    // Forward: from the chunk holding the first wanted id (the last chunk
    // starting at or before it) on. Reverse: the chunks starting before the
    // bound, newest first.
    Use q(sql(reverse ? "SELECT events FROM history WHERE execution_seq = ?1 AND first_id < ?2 "
                        "ORDER BY first_id DESC"
                      : "SELECT events FROM history WHERE execution_seq = ?1 AND first_id >= "
                        "coalesce((SELECT max(first_id) FROM history "
                        "WHERE execution_seq = ?1 AND first_id <= ?2 + 1), 0) "
                        "ORDER BY first_id"));
    q->bind(1, seq);
    q->bind(2, bound);
    Page<EventRecord> out;
    std::vector<EventRecord> chunk;
    bool more = false;
    while (!more && q->executeStep()) {
      chunk.clear();
      const SQLite::Column text = q->getColumn(0);
      if (!internal::decode_chunk(std::string_view(text.getText(), static_cast<std::size_t>(text.getBytes())), chunk)) {
        return Status(Code::kCorrupt, "the history of execution '" + execution_arn + "' is damaged");
      }
      if (reverse) std::reverse(chunk.begin(), chunk.end());
      for (EventRecord& e : chunk) {
        if (reverse ? e.id >= bound : e.id <= bound) continue;
        if (static_cast<int>(out.items.size()) == size) {
          more = true;
          break;
        }
        out.items.push_back(std::move(e));
      }
    }
    if (more) out.next_token = internal::encode_event_cursor(out.items.back().id);
    return out;
  });
}

// ---- Timers and tokens ------------------------------------------------------

StatusOr<std::vector<TimerRecord>> SqliteStore::due_timers(UnixNanos until, int limit) {
  return read([&]() -> StatusOr<std::vector<TimerRecord>> {
    Use q(
        sql("SELECT e.arn, t.key, t.due FROM timers t JOIN executions e ON e.seq = "
            "t.execution_seq WHERE t.due <= ? ORDER BY t.due, t.execution_seq, t.key LIMIT ?"));
    q->bind(1, until);
    q->bind(2, limit);
    std::vector<TimerRecord> out;
    while (q->executeStep()) {
      out.push_back(
          {q->getColumn(0).getString(), q->getColumn(1).getString(), q->getColumn(2).getInt64()});
    }
    return out;
  });
}

StatusOr<std::vector<TimerRecord>> SqliteStore::list_timers(const std::string& execution_arn) {
  return read([&]() -> StatusOr<std::vector<TimerRecord>> {
    Use q(
        sql("SELECT t.key, t.due FROM timers t JOIN executions e ON e.seq = t.execution_seq "
            "WHERE e.arn = ? ORDER BY t.due, t.key"));
    q->bind(1, execution_arn);
    std::vector<TimerRecord> out;
    while (q->executeStep()) {
      out.push_back({execution_arn, q->getColumn(0).getString(), q->getColumn(1).getInt64()});
    }
    return out;
  });
}

std::optional<SqliteStore::StoredToken> SqliteStore::load_token(const std::string& token) {
  Use q(
      sql("SELECT e.arn, t.frame_key, t.status, t.activity_arn, t.input, t.created, t.timeout_at, "
          "t.heartbeat_seconds, t.heartbeat_due, t.last_heartbeat, t.worker_name, t.result, e.seq, e.status, "
          "t.acknowledged FROM task_tokens t JOIN executions e ON e.seq = t.execution_seq WHERE t.token = ?"));
  q->bind(1, token);
  if (!q->executeStep()) return std::nullopt;
  StoredToken out;
  TaskTokenRecord& r = out.record;
  r.token = token;
  r.execution_arn = q->getColumn(0).getString();
  r.frame_key = q->getColumn(1).getString();
  r.status = parse_token_status(q->getColumn(2).getString()).value_or(TokenStatus::kClosed);
  r.activity_arn = q->getColumn(3).getString();
  r.input = q->getColumn(4).getString();
  r.created = q->getColumn(5).getInt64();
  r.timeout_at = q->getColumn(6).getInt64();
  r.heartbeat_seconds = q->getColumn(7).getInt64();
  r.heartbeat_due = q->getColumn(8).getInt64();
  r.last_heartbeat = q->getColumn(9).getInt64();
  if (!q->getColumn(10).isNull()) r.worker_name = q->getColumn(10).getString();
  if (!q->getColumn(11).isNull()) r.result = internal::decode_token_result(q->getColumn(11).getString());
  out.execution_seq = q->getColumn(12).getInt64();
  out.execution_status = parse_execution_status(q->getColumn(13).getString()).value_or(ExecutionStatus::kFailed);
  r.acknowledged = q->getColumn(14).getInt() != 0;
  return out;
}

void SqliteStore::wake_if_parked(std::int64_t seq, const std::string& arn, UnixNanos now) {
  Use q(sql("UPDATE executions SET lease_expiry = ? WHERE seq = ? AND lease_owner = '' AND lease_expiry > ?"));
  q->bind(1, now);
  q->bind(2, seq);
  q->bind(3, now);
  q->exec();
  head_cache_.erase(arn);
}

StatusOr<TaskTokenRecord> SqliteStore::get_task_token(const std::string& token) {
  return read([&]() -> StatusOr<TaskTokenRecord> {
    std::optional<StoredToken> t = load_token(token);
    if (!t) return internal::not_found_token(token);
    return std::move(t->record);
  });
}

StatusOr<TaskTokenRecord> SqliteStore::close_task_token(const std::string& token, const TaskTokenResult& result,
                                                        UnixNanos now) {
  return write([&]() -> StatusOr<TaskTokenRecord> {
    std::optional<StoredToken> t = load_token(token);
    if (!t) return internal::not_found_token(token);
    if (Status s = internal::check_token_open(t->record, t->execution_status, now); !s.ok()) return s;
    const std::string text = internal::encode_token_result(result);
    Use q(sql("UPDATE task_tokens SET status = 'CLOSED', result = ? WHERE token = ?"));
    q->bind(1, text);
    q->bind(2, token);
    q->exec();
    wake_if_parked(t->execution_seq, t->record.execution_arn, now);
    t->record.status = TokenStatus::kClosed;
    t->record.result = result;
    return std::move(t->record);
  });
}

StatusOr<TaskTokenRecord> SqliteStore::heartbeat_task_token(const std::string& token, UnixNanos now) {
  return write([&]() -> StatusOr<TaskTokenRecord> {
    std::optional<StoredToken> t = load_token(token);
    if (!t) return internal::not_found_token(token);
    if (Status s = internal::check_token_open(t->record, t->execution_status, now); !s.ok()) return s;
    internal::apply_heartbeat(t->record, now);
    Use q(sql("UPDATE task_tokens SET last_heartbeat = ?, heartbeat_due = ? WHERE token = ?"));
    q->bind(1, t->record.last_heartbeat);
    q->bind(2, t->record.heartbeat_due);
    q->bind(3, token);
    q->exec();
    return std::move(t->record);
  });
}

// ---- Activities -------------------------------------------------------------

namespace {
ActivityRecord activity_from(SQLite::Statement& q) {
  return {q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getInt64()};
}
}  // namespace

StatusOr<ActivityRecord> SqliteStore::create_activity(const ActivityRecord& activity) {
  return write([&]() -> StatusOr<ActivityRecord> {
    {
      Use q(sql("SELECT arn, name, creation_date FROM activities WHERE name = ?"));
      q->bind(1, activity.name);
      if (q->executeStep()) return activity_from(*q);
    }
    Use q(sql("INSERT INTO activities (arn, name, creation_date) VALUES (?, ?, ?)"));
    q->bind(1, activity.arn);
    q->bind(2, activity.name);
    q->bind(3, activity.creation_date);
    q->exec();
    return activity;
  });
}

StatusOr<ActivityRecord> SqliteStore::describe_activity(const std::string& arn) {
  return read([&]() -> StatusOr<ActivityRecord> {
    Use q(sql("SELECT arn, name, creation_date FROM activities WHERE arn = ?"));
    q->bind(1, arn);
    if (!q->executeStep()) return internal::not_found_activity(arn);
    return activity_from(*q);
  });
}

StatusOr<Page<ActivityRecord>> SqliteStore::list_activities(const PageRequest& page) {
  std::optional<std::string> after;
  if (!page.next_token.empty()) {
    after = internal::decode_name_cursor(page.next_token);
    if (!after) return Status(Code::kInvalidArgument, "invalid next_token '" + page.next_token + "'");
  }
  const int size = internal::page_size(page);
  return read([&]() -> StatusOr<Page<ActivityRecord>> {
    Use q(sql("SELECT arn, name, creation_date FROM activities WHERE name > ? ORDER BY name LIMIT ?"));
    q->bind(1, after.value_or(""));
    q->bind(2, size + 1);
    Page<ActivityRecord> out;
    while (q->executeStep()) {
      if (static_cast<int>(out.items.size()) == size) {
        out.next_token = internal::encode_name_cursor(out.items.back().name);
        break;
      }
      out.items.push_back(activity_from(*q));
    }
    return out;
  });
}

Status SqliteStore::delete_activity(const std::string& arn) {
  return write([&]() -> Status {
    Use q(sql("DELETE FROM activities WHERE arn = ?"));
    q->bind(1, arn);
    q->exec();
    if (db_->getChanges() == 0) return internal::not_found_activity(arn);
    return {};
  });
}

StatusOr<std::optional<TaskTokenRecord>> SqliteStore::take_activity_task(const std::string& activity_arn,
                                                                         const std::string& worker_name,
                                                                         UnixNanos now) {
  return write([&]() -> StatusOr<std::optional<TaskTokenRecord>> {
    // The oldest task still open whose deadlines have not passed.
    Use q(
        sql("SELECT token FROM task_tokens WHERE activity_arn = ? AND status = 'OPEN' AND worker_name IS NULL "
            "AND (timeout_at = 0 OR timeout_at >= ?) AND (heartbeat_due = 0 OR heartbeat_due >= ?) "
            "ORDER BY created, token"));
    q->bind(1, activity_arn);
    q->bind(2, now);
    q->bind(3, now);
    std::vector<std::string> candidates;
    while (q->executeStep()) candidates.push_back(q->getColumn(0).getString());
    q->reset();
    for (const std::string& token : candidates) {
      std::optional<StoredToken> t = load_token(token);
      if (!t || t->execution_status != ExecutionStatus::kRunning) continue;
      Use take(sql("UPDATE task_tokens SET worker_name = ? WHERE token = ?"));
      take->bind(1, worker_name);
      take->bind(2, token);
      take->exec();
      wake_if_parked(t->execution_seq, t->record.execution_arn, now);
      t->record.worker_name = worker_name;
      return std::optional<TaskTokenRecord>(std::move(t->record));
    }
    return std::optional<TaskTokenRecord>();
  });
}

// ---- Leases -----------------------------------------------------------------

Status SqliteStore::acquire_lease(const std::string& execution_arn, const std::string& owner,
                                  UnixNanos now, UnixNanos expiry) {
  if (owner.empty()) return {Code::kInvalidArgument, "a lease needs an owner"};
  return write([&]() -> Status {
    std::optional<ExecutionHead> h = head(execution_arn);
    if (!h) return not_found_execution(execution_arn);
    if (h->status != ExecutionStatus::kRunning) {
      return {Code::kConflict, "execution '" + execution_arn + "' is not RUNNING"};
    }
    if (!h->lease_owner.empty() && h->lease_owner != owner && h->lease_expiry > now) {
      return {Code::kConflict,
              "execution '" + execution_arn + "' is leased by '" + h->lease_owner + "'"};
    }
    Use q(sql("UPDATE executions SET lease_owner = ?, lease_expiry = ? WHERE seq = ?"));
    q->bind(1, owner);
    q->bind(2, expiry);
    q->bind(3, h->seq);
    q->exec();
    h->lease_owner = owner;
    h->lease_expiry = expiry;
    remember_head(execution_arn, *h);
    return {};
  });
}

Status SqliteStore::renew_lease(const std::string& execution_arn, const std::string& owner,
                                UnixNanos expiry) {
  return write([&]() -> Status {
    std::optional<ExecutionHead> h = head(execution_arn);
    if (!h) return not_found_execution(execution_arn);
    if (owner.empty() || h->lease_owner != owner) {
      return {Code::kConflict,
              "'" + owner + "' does not hold the lease of execution '" + execution_arn + "'"};
    }
    Use q(sql("UPDATE executions SET lease_expiry = ? WHERE seq = ?"));
    q->bind(1, expiry);
    q->bind(2, h->seq);
    q->exec();
    h->lease_expiry = expiry;
    remember_head(execution_arn, *h);
    return {};
  });
}

Status SqliteStore::release_lease(const std::string& execution_arn, const std::string& owner) {
  return write([&]() -> Status {
    std::optional<ExecutionHead> h = head(execution_arn);
    if (!h) return not_found_execution(execution_arn);
    if (owner.empty() || h->lease_owner != owner) {
      return {Code::kConflict,
              "'" + owner + "' does not hold the lease of execution '" + execution_arn + "'"};
    }
    Use q(sql("UPDATE executions SET lease_owner = '', lease_expiry = 0 WHERE seq = ?"));
    q->bind(1, h->seq);
    q->exec();
    h->lease_owner.clear();
    h->lease_expiry = 0;
    remember_head(execution_arn, *h);
    return {};
  });
}

StatusOr<std::int64_t> SqliteStore::renew_leases(const std::string& owner, UnixNanos expiry) {
  if (owner.empty()) return Status(Code::kInvalidArgument, "a lease needs an owner");
  return write([&]() -> StatusOr<std::int64_t> {
    Use q(sql("UPDATE executions INDEXED BY executions_by_lease_owner SET lease_expiry = ? "
              "WHERE lease_owner = ? AND status = 'RUNNING'"));
    q->bind(1, expiry);
    q->bind(2, owner);
    head_cache_.clear();  // the remembered heads hold the old expiries
    return static_cast<std::int64_t>(q->exec());
  });
}

StatusOr<std::int64_t> SqliteStore::release_leases(const std::string& owner) {
  if (owner.empty()) return Status(Code::kInvalidArgument, "a lease needs an owner");
  return write([&]() -> StatusOr<std::int64_t> {
    // Only RUNNING executions hold leases: ending one releases its lease.
    Use q(sql("UPDATE executions INDEXED BY executions_by_lease_owner SET lease_owner = '', lease_expiry = 0 "
              "WHERE lease_owner = ? AND status = 'RUNNING'"));
    q->bind(1, owner);
    head_cache_.clear();  // the remembered heads hold the old owners
    return static_cast<std::int64_t>(q->exec());
  });
}

// ---- Function invocations ------------------------------------------------------

Status SqliteStore::record_invocations(const std::vector<InvocationRecord>& records) {
  if (records.empty()) return {};
  return write([&]() -> Status {
    Use q(sql("INSERT INTO invocations (function_name, request_id, start_time, duration_ms, billed_duration_ms, "
              "memory_size_mb, max_memory_used_mb, init_duration_ms, cold, throttled, error, execution_arn, "
              "state_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    for (const InvocationRecord& r : records) {
      q->reset();
      q->bind(1, r.function_name);
      q->bind(2, r.request_id);
      q->bind(3, r.start_time);
      q->bind(4, r.duration_ms);
      q->bind(5, r.billed_duration_ms);
      q->bind(6, r.memory_size_mb);
      q->bind(7, r.max_memory_used_mb);
      if (r.init_duration_ms) {
        q->bind(8, *r.init_duration_ms);
      } else {
        q->bind(8);
      }
      q->bind(9, r.cold ? 1 : 0);
      q->bind(10, r.throttled ? 1 : 0);
      q->bind(11, r.error);
      q->bind(12, r.execution_arn);
      q->bind(13, r.state_name);
      q->exec();
    }
    return {};
  });
}

StatusOr<std::vector<InvocationRecord>> SqliteStore::list_invocations(const std::string& function_name) {
  return read([&]() -> StatusOr<std::vector<InvocationRecord>> {
    Use q(sql("SELECT function_name, request_id, start_time, duration_ms, billed_duration_ms, memory_size_mb, "
              "max_memory_used_mb, init_duration_ms, cold, throttled, error, execution_arn, state_name "
              "FROM invocations WHERE ? = '' OR function_name = ? ORDER BY seq"));
    q->bind(1, function_name);
    q->bind(2, function_name);
    std::vector<InvocationRecord> out;
    while (q->executeStep()) {
      InvocationRecord r;
      r.function_name = q->getColumn(0).getString();
      r.request_id = q->getColumn(1).getString();
      r.start_time = q->getColumn(2).getInt64();
      r.duration_ms = q->getColumn(3).getDouble();
      r.billed_duration_ms = q->getColumn(4).getInt64();
      r.memory_size_mb = q->getColumn(5).getInt();
      r.max_memory_used_mb = q->getColumn(6).getInt();
      if (!q->getColumn(7).isNull()) r.init_duration_ms = q->getColumn(7).getDouble();
      r.cold = q->getColumn(8).getInt() != 0;
      r.throttled = q->getColumn(9).getInt() != 0;
      r.error = q->getColumn(10).getString();
      r.execution_arn = q->getColumn(11).getString();
      r.state_name = q->getColumn(12).getString();
      out.push_back(std::move(r));
    }
    return out;
  });
}

StatusOr<std::vector<std::string>> SqliteStore::list_lease_owners() {
  return read([&]() -> StatusOr<std::vector<std::string>> {
    Use q(sql("SELECT DISTINCT lease_owner FROM executions INDEXED BY executions_by_lease_owner "
              "WHERE status = 'RUNNING' AND lease_owner != '' ORDER BY lease_owner"));
    std::vector<std::string> out;
    while (q->executeStep()) out.push_back(q->getColumn(0).getString());
    return out;
  });
}

StatusOr<std::vector<ExecutionSummary>> SqliteStore::list_claimable_executions(UnixNanos now,
                                                                               int limit) {
  return read([&]() -> StatusOr<std::vector<ExecutionSummary>> {
    // Without statistics the planner prefers executions_by_status and sorts
    // every RUNNING row; the partial index gives the order directly.
    Use q(sql(SUMMARY_COLUMNS "INDEXED BY executions_claimable "
                              "WHERE status = 'RUNNING' AND lease_expiry <= ? "
                              "ORDER BY lease_expiry, seq LIMIT ?"));
    q->bind(1, now);
    q->bind(2, limit);
    std::vector<ExecutionSummary> out;
    while (q->executeStep()) out.push_back(summary_from(*q));
    return out;
  });
}

StatusOr<std::vector<ExecutionRecord>> SqliteStore::claim_executions(const std::string& owner, UnixNanos now,
                                                                     UnixNanos expiry, int limit) {
  if (owner.empty()) return Status(Code::kInvalidArgument, "a lease needs an owner");
  return write([&]() -> StatusOr<std::vector<ExecutionRecord>> {
    std::vector<std::string> arns;
    {
      Use q(sql("SELECT arn FROM executions INDEXED BY executions_claimable "
                "WHERE status = 'RUNNING' AND lease_expiry <= ? ORDER BY lease_expiry, seq LIMIT ?"));
      q->bind(1, now);
      q->bind(2, limit);
      while (q->executeStep()) arns.push_back(q->getColumn(0).getString());
    }
    std::vector<ExecutionRecord> out;
    out.reserve(arns.size());
    for (const auto& arn : arns) {
      Use u(sql("UPDATE executions SET lease_owner = ?, lease_expiry = ? WHERE arn = ?"));
      u->bind(1, owner);
      u->bind(2, expiry);
      u->bind(3, arn);
      u->exec();
      if (auto r = load_execution(arn)) out.push_back(std::move(*r));
    }
    head_cache_.clear();  // the remembered heads hold the old leases
    return out;
  });
}

// ---- Map runs ---------------------------------------------------------------

constexpr const char* kSelectMapRun =
    "SELECT arn, execution_arn, state_name, state_machine_arn, state_machine_version, definition, status, "
    "max_concurrency, tolerated_failure_percentage, tolerated_failure_count, start_date, stop_date, total, "
    "launched, running, succeeded, failed, timed_out, aborted, redrive_count, redrive_date, seq, item_total "
    "FROM map_runs ";

MapRunRecord map_run_from(const SQLite::Statement& s) {
  MapRunRecord r;
  r.arn = s.getColumn(0).getString();
  r.execution_arn = s.getColumn(1).getString();
  r.state_name = s.getColumn(2).getString();
  r.state_machine_arn = s.getColumn(3).getString();
  r.state_machine_version = s.getColumn(4).getInt64();
  r.definition = s.getColumn(5).getString();
  r.status = parse_map_run_status(s.getColumn(6).getString()).value_or(MapRunStatus::kFailed);
  r.max_concurrency = s.getColumn(7).getInt64();
  if (!s.isColumnNull(8)) r.tolerated_failure_percentage = s.getColumn(8).getDouble();
  r.tolerated_failure_count = optional_int(s, 9);
  r.start_date = s.getColumn(10).getInt64();
  r.stop_date = optional_int(s, 11);
  r.total = s.getColumn(12).getInt64();
  r.launched = s.getColumn(13).getInt64();
  r.running = s.getColumn(14).getInt64();
  r.succeeded = s.getColumn(15).getInt64();
  r.failed = s.getColumn(16).getInt64();
  r.timed_out = s.getColumn(17).getInt64();
  r.aborted = s.getColumn(18).getInt64();
  r.redrive_count = s.getColumn(19).getInt64();
  r.redrive_date = optional_int(s, 20);
  r.item_total = optional_int(s, 22);
  return r;
}

std::optional<MapRunRecord> SqliteStore::load_map_run(const std::string& arn) {
  static const std::string text = std::string(kSelectMapRun) + "WHERE arn = ?";
  Use q(sql(text.c_str()));
  q->bind(1, arn);
  if (!q->executeStep()) return std::nullopt;
  return map_run_from(*q);
}

void SqliteStore::count_child(std::int64_t seq, std::string_view from, std::string_view to) {
  // One statement whatever the statuses; nothing for an execution of no map run.
  Use q(
      sql("UPDATE map_runs SET "
          "running = running + (?2 = 'RUNNING') - (?1 = 'RUNNING'), "
          "succeeded = succeeded + (?2 = 'SUCCEEDED') - (?1 = 'SUCCEEDED'), "
          "failed = failed + (?2 = 'FAILED') - (?1 = 'FAILED'), "
          "timed_out = timed_out + (?2 = 'TIMED_OUT') - (?1 = 'TIMED_OUT'), "
          "aborted = aborted + (?2 = 'ABORTED') - (?1 = 'ABORTED') "
          "WHERE arn = (SELECT map_run_arn FROM executions WHERE seq = ?3)"));
  q->bind(1, std::string(from));
  q->bind(2, std::string(to));
  q->bind(3, seq);
  q->exec();
}

StatusOr<MapRunRecord> SqliteStore::create_map_run(const MapRunRecord& run) {
  return write([&]() -> StatusOr<MapRunRecord> {
    if (auto existing = load_map_run(run.arn)) return std::move(*existing);
    if (!head(run.execution_arn)) return not_found_execution(run.execution_arn);
    Use q(
        sql("INSERT INTO map_runs (arn, execution_arn, state_name, state_machine_arn, state_machine_version, "
            "definition, status, max_concurrency, tolerated_failure_percentage, tolerated_failure_count, "
            "start_date, stop_date, total, item_total) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    q->bind(1, run.arn);
    q->bind(2, run.execution_arn);
    q->bind(3, run.state_name);
    q->bind(4, run.state_machine_arn);
    q->bind(5, run.state_machine_version);
    q->bind(6, run.definition);
    q->bind(7, std::string(to_string(run.status)));
    q->bind(8, run.max_concurrency);
    if (run.tolerated_failure_percentage) {
      q->bind(9, *run.tolerated_failure_percentage);
    } else {
      q->bind(9);
    }
    bind_optional(*q, 10, run.tolerated_failure_count);
    q->bind(11, run.start_date);
    bind_optional(*q, 12, run.stop_date);
    q->bind(13, run.total);
    bind_optional(*q, 14, run.item_total);
    q->exec();
    return *load_map_run(run.arn);
  });
}

StatusOr<MapRunRecord> SqliteStore::describe_map_run(const std::string& arn) {
  return read([&]() -> StatusOr<MapRunRecord> {
    auto r = load_map_run(arn);
    if (!r) return Status(Code::kNotFound, "map run '" + arn + "' does not exist");
    if (r->item_total) {
      // A batched run's children by status, with their items: one pass over
      // the map run's children (a batched run has few).
      Use q(sql("SELECT status, count(*), sum(coalesce(item_count, 1)) FROM executions "
                "INDEXED BY executions_by_map_run WHERE map_run_arn = ? GROUP BY status"));
      q->bind(1, arn);
      MapRunRecord::ItemCounts items;
      while (q->executeStep()) {
        const std::int64_t n = q->getColumn(2).getInt64();
        items.launched += n;
        switch (status_column(*q, 0)) {
          case ExecutionStatus::kRunning: items.running += n; break;
          case ExecutionStatus::kSucceeded: items.succeeded += n; break;
          case ExecutionStatus::kFailed: items.failed += n; break;
          case ExecutionStatus::kTimedOut: items.timed_out += n; break;
          case ExecutionStatus::kAborted: items.aborted += n; break;
        }
      }
      r->items = items;
    }
    return std::move(*r);
  });
}

StatusOr<Page<MapRunRecord>> SqliteStore::list_map_runs(const std::string& execution_arn, const PageRequest& page) {
  static const std::string text =
      std::string(kSelectMapRun) + "WHERE execution_arn = ? AND seq > ? ORDER BY seq LIMIT ?";
  return read([&]() -> StatusOr<Page<MapRunRecord>> {
    std::int64_t after = 0;
    if (!page.next_token.empty()) {
      auto cursor = internal::decode_cursor(page.next_token);
      if (!cursor) return Status(Code::kInvalidArgument, "invalid next token");
      after = cursor->seq;
    }
    const int size = internal::page_size(page);
    Use q(sql(text.c_str()));
    q->bind(1, execution_arn);
    q->bind(2, after);
    q->bind(3, size + 1);
    Page<MapRunRecord> out;
    std::int64_t last = 0;
    while (q->executeStep()) {
      if (static_cast<int>(out.items.size()) == size) {
        out.next_token = internal::encode_cursor({0, last});
        break;
      }
      out.items.push_back(map_run_from(*q));
      last = q->getColumn(21).getInt64();
    }
    return out;
  });
}

StatusOr<MapRunRecord> SqliteStore::update_map_run(const std::string& arn, const MapRunUpdate& update) {
  return write([&]() -> StatusOr<MapRunRecord> {
    if (!load_map_run(arn)) return Status(Code::kNotFound, "map run '" + arn + "' does not exist");
    Use q(
        sql("UPDATE map_runs SET status = coalesce(?2, status), "
            "stop_date = CASE WHEN ?3 THEN NULL ELSE coalesce(?4, stop_date) END, "
            "total = coalesce(?5, total), "
            "redrive_count = redrive_count + (?6 IS NOT NULL), redrive_date = coalesce(?6, redrive_date), "
            "max_concurrency = coalesce(?7, max_concurrency), "
            "tolerated_failure_percentage = coalesce(?8, tolerated_failure_percentage), "
            "tolerated_failure_count = coalesce(?9, tolerated_failure_count) "
            "WHERE arn = ?1"));
    q->bind(1, arn);
    if (update.status) {
      q->bind(2, std::string(to_string(*update.status)));
    } else {
      q->bind(2);
    }
    q->bind(3, update.clear_stop_date ? 1 : 0);
    bind_optional(*q, 4, update.stop_date);
    bind_optional(*q, 5, update.total);
    bind_optional(*q, 6, update.redrive_date);
    bind_optional(*q, 7, update.max_concurrency);
    if (update.tolerated_failure_percentage) {
      q->bind(8, *update.tolerated_failure_percentage);
    } else {
      q->bind(8);
    }
    bind_optional(*q, 9, update.tolerated_failure_count);
    q->exec();
    return *load_map_run(arn);
  });
}

StatusOr<std::vector<ExecutionRecord>> SqliteStore::list_map_run_children(const std::string& map_run_arn,
                                                                          std::int64_t from_index, int limit) {
  return read([&]() -> StatusOr<std::vector<ExecutionRecord>> {
    if (!load_map_run(map_run_arn)) return Status(Code::kNotFound, "map run '" + map_run_arn + "' does not exist");
    Use q(
        sql("SELECT arn, name, state_machine_arn, state_machine_version, status, input, output, error, "
            "cause, start_date, stop_date, redrive_count, redrive_date, '', version, last_event_id, "
            "lease_owner, lease_expiry, map_run_arn, item_index, item_count FROM executions INDEXED BY executions_by_map_run "
            "WHERE map_run_arn = ? AND item_index >= ? ORDER BY item_index LIMIT ?"));
    q->bind(1, map_run_arn);
    q->bind(2, from_index);
    q->bind(3, limit);
    std::vector<ExecutionRecord> out;
    while (q->executeStep()) out.push_back(execution_from(*q));
    return out;
  });
}

#undef SUMMARY_COLUMNS

}  // namespace

StatusOr<std::unique_ptr<Store>> open_sqlite(const std::string& path,
                                             const SqliteOptions& options) {
  StatusOr<Inspection> seen = inspect(path, options);
  if (!seen.ok()) return seen.status();
  try {
    // The store's own mutex serializes every use of the connection.
    int flags = SQLite::OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (options.create_if_missing) flags |= SQLite::OPEN_CREATE;
    auto db = std::make_unique<SQLite::Database>(path, flags, options.busy_timeout_ms);
    // Only a database not yet written takes a page size: larger pages mean
    // fewer B-tree pages and WAL frames per byte of history.
    if (seen->fresh) db->exec("PRAGMA page_size = " + std::to_string(kPageSize));
    db->exec("PRAGMA cache_size = -" + std::to_string(kCacheKiB));
    const std::string mode = db->execAndGet("PRAGMA journal_mode = WAL").getString();
    if (mode != "wal") {
      return Status(Code::kIoError, "'" + path + "' cannot use WAL (journal mode " + mode + ")");
    }
    db->exec(options.sync == SyncMode::kFull ? "PRAGMA synchronous = FULL"
                                             : "PRAGMA synchronous = NORMAL");
    if (options.max_page_count > 0) {
      db->exec("PRAGMA max_page_count = " + std::to_string(options.max_page_count));
    }
    auto store = std::make_unique<SqliteStore>(std::move(db), path);
    if (Status s = store->migrate(); !s.ok()) return s;
    store->checkpoint_in_background(options.sync == SyncMode::kFull);
    return std::unique_ptr<Store>(std::move(store));
  } catch (const SQLite::Exception& e) {
    Status s = status_from(e);
    return Status(s.code(), "cannot open '" + path + "': " + s.message());
  }
}

}  // namespace stepwise::storage
