// The SQLite schema, as a list of migrations from version 1 on. Each
// migration runs in the same transaction as the bump of meta.schema_version,
// so a database is always at exactly one version. Append new versions; never
// edit a released one. docs/history-format.md describes the tables.
#pragma once

#include <array>

namespace stepwise::storage::internal {

struct Migration {
  int version;      // the schema version this migration produces
  const char* sql;  // statements separated by ';'
};

inline constexpr std::array<Migration, 8> kMigrations{{
    {1, R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('magic', 'stepwise'), ('schema_version', '0');

CREATE TABLE state_machines (
  arn           TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  type          TEXT NOT NULL,              -- STANDARD | EXPRESS
  role_arn      TEXT NOT NULL,
  creation_date INTEGER NOT NULL,           -- ns since the Unix epoch
  version       INTEGER NOT NULL,           -- the current version
  deleted       INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX state_machines_live_name ON state_machines (name) WHERE deleted = 0;

CREATE TABLE state_machine_versions (
  state_machine_arn TEXT NOT NULL,
  version           INTEGER NOT NULL,
  definition        TEXT NOT NULL,
  creation_date     INTEGER NOT NULL,
  PRIMARY KEY (state_machine_arn, version)
);

CREATE TABLE executions (
  seq                   INTEGER PRIMARY KEY,  -- creation order
  arn                   TEXT NOT NULL UNIQUE,
  name                  TEXT NOT NULL,
  state_machine_arn     TEXT NOT NULL,
  state_machine_version INTEGER NOT NULL,
  status                TEXT NOT NULL,        -- RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
  input                 TEXT NOT NULL,
  output                TEXT,
  error                 TEXT,
  cause                 TEXT,
  start_date            INTEGER NOT NULL,
  stop_date             INTEGER,
  redrive_count         INTEGER NOT NULL DEFAULT 0,
  redrive_date          INTEGER,
  state                 TEXT NOT NULL,        -- the engine's resumable state
  version               INTEGER NOT NULL,     -- +1 per committed transition
  last_event_id         INTEGER NOT NULL,
  lease_owner           TEXT NOT NULL DEFAULT '',
  lease_expiry          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX executions_by_start ON executions (start_date);
CREATE INDEX executions_by_machine ON executions (state_machine_arn, start_date);
CREATE INDEX executions_by_machine_status ON executions (state_machine_arn, status, start_date);
CREATE INDEX executions_by_status ON executions (status, start_date);
CREATE INDEX executions_claimable ON executions (lease_expiry) WHERE status = 'RUNNING';

CREATE TABLE events (
  execution_seq INTEGER NOT NULL,           -- executions.seq
  id            INTEGER NOT NULL,
  previous_id   INTEGER NOT NULL,
  timestamp     INTEGER NOT NULL,
  type          TEXT NOT NULL,
  details       TEXT NOT NULL,              -- JSON: the ...EventDetails member(s)
  PRIMARY KEY (execution_seq, id)
);

CREATE TABLE timers (
  execution_seq INTEGER NOT NULL,
  key           TEXT NOT NULL,
  due           INTEGER NOT NULL,
  PRIMARY KEY (execution_seq, key)
) WITHOUT ROWID;
CREATE INDEX timers_by_due ON timers (due, execution_seq, key);

CREATE TABLE task_tokens (
  token         TEXT PRIMARY KEY,
  execution_seq INTEGER NOT NULL,
  frame_key     TEXT NOT NULL,
  status        TEXT NOT NULL               -- OPEN | CLOSED
) WITHOUT ROWID;
CREATE INDEX task_tokens_by_execution ON task_tokens (execution_seq);
)sql"},
    // Version 2, for speed at scale:
    // - History in chunks (storage/history_chunk.h). An SQLite row costs
    //   about as much CPU as a few hundred bytes of text, so one row per event
    //   could not keep up with hundreds of thousands of events per second; a
    //   chunk holds the events one commit appended to one execution. The
    //   `events` view unpacks the chunks, so SQL over events still works.
    //   Existing events become one-event chunks.
    // - The four list-executions indexes cover the summary columns, so a page
    //   reads only its index range, never the rows (wide with input, output
    //   and state, and scattered when the filter is selective). (start_date,
    //   seq) leads, the order and the page cursor.
    {2, R"sql(
DROP INDEX executions_by_start;
DROP INDEX executions_by_machine;
DROP INDEX executions_by_machine_status;
DROP INDEX executions_by_status;
CREATE INDEX executions_by_start ON executions (start_date, seq,
  arn, name, state_machine_arn, state_machine_version, status, stop_date, redrive_count);
CREATE INDEX executions_by_machine ON executions (state_machine_arn, start_date, seq,
  arn, name, state_machine_version, status, stop_date, redrive_count);
CREATE INDEX executions_by_status ON executions (status, start_date, seq,
  arn, name, state_machine_arn, state_machine_version, stop_date, redrive_count);
CREATE INDEX executions_by_machine_status ON executions (state_machine_arn, status, start_date, seq,
  arn, name, state_machine_version, stop_date, redrive_count);

CREATE TABLE history (
  execution_seq INTEGER NOT NULL,           -- executions.seq
  first_id      INTEGER NOT NULL,           -- id of the chunk's first event
  last_id       INTEGER NOT NULL,           -- id of its last event
  events        TEXT NOT NULL,              -- JSON: [[id, previous_id, timestamp, type, details], ...]
  PRIMARY KEY (execution_seq, first_id)
);
INSERT INTO history (execution_seq, first_id, last_id, events)
  SELECT execution_seq, id, id, json_array(json_array(id, previous_id, timestamp, type, details))
  FROM events;
DROP TABLE events;
CREATE VIEW events (execution_seq, id, previous_id, timestamp, type, details) AS
  SELECT h.execution_seq, json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]'),
         json_extract(e.value, '$[2]'), json_extract(e.value, '$[3]'), json_extract(e.value, '$[4]')
  FROM history h, json_each(h.events) e;
)sql"},
    // A worker renews or releases all its leases in one statement.
    {3, R"sql(
CREATE INDEX executions_by_lease_owner ON executions (lease_owner) WHERE status = 'RUNNING';
)sql"},
    // Function invocations' accounting (runtime/), for `stepwise functions stats`.
    {4, R"sql(
CREATE TABLE invocations (
  seq                INTEGER PRIMARY KEY,  -- order recorded
  function_name      TEXT NOT NULL,
  request_id         TEXT NOT NULL,
  start_time         INTEGER NOT NULL,     -- ns since the epoch
  duration_ms        REAL NOT NULL,
  billed_duration_ms INTEGER NOT NULL,
  memory_size_mb     INTEGER NOT NULL,
  max_memory_used_mb INTEGER NOT NULL,
  init_duration_ms   REAL,                 -- NULL unless a cold start
  cold               INTEGER NOT NULL,
  throttled          INTEGER NOT NULL,
  error              TEXT NOT NULL,        -- '' when it succeeded
  execution_arn      TEXT NOT NULL,        -- '' when invoked directly
  state_name         TEXT NOT NULL
);
CREATE INDEX invocations_by_function ON invocations (function_name, seq);
)sql"},
    // Callbacks and activities (SendTask*, GetActivityTask): a token keeps
    // its task's deadlines, what an activity worker needs, and the result
    // recorded in the same transaction that closes it.
    {5, R"sql(
ALTER TABLE task_tokens ADD COLUMN activity_arn TEXT NOT NULL DEFAULT '';  -- '' for a callback
ALTER TABLE task_tokens ADD COLUMN input TEXT NOT NULL DEFAULT '{}';
ALTER TABLE task_tokens ADD COLUMN created INTEGER NOT NULL DEFAULT 0;
ALTER TABLE task_tokens ADD COLUMN timeout_at INTEGER NOT NULL DEFAULT 0;         -- 0: none
ALTER TABLE task_tokens ADD COLUMN heartbeat_seconds INTEGER NOT NULL DEFAULT 0;  -- 0: none
ALTER TABLE task_tokens ADD COLUMN heartbeat_due INTEGER NOT NULL DEFAULT 0;      -- 0: none
ALTER TABLE task_tokens ADD COLUMN last_heartbeat INTEGER NOT NULL DEFAULT 0;
ALTER TABLE task_tokens ADD COLUMN worker_name TEXT;  -- NULL until an activity worker takes it
ALTER TABLE task_tokens ADD COLUMN result TEXT;       -- JSON {"date","output"} or {"date","error","cause"}; NULL: none
-- 1 once the execution's worker closed the token itself (it took the result
-- in): a park (Transition::park_until) never sleeps past a result not taken in.
ALTER TABLE task_tokens ADD COLUMN acknowledged INTEGER NOT NULL DEFAULT 0;
CREATE INDEX task_tokens_by_activity ON task_tokens (activity_arn, created, token)
  WHERE status = 'OPEN' AND worker_name IS NULL AND activity_arn <> '';

CREATE TABLE activities (
  arn           TEXT PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  creation_date INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},
    // Distributed Map runs: a map run's children are ordinary executions
    // linked to it (map_run_arn, item_index); the map run row counts them by
    // status, kept in the transaction that creates or ends each child.
    {6, R"sql(
ALTER TABLE executions ADD COLUMN map_run_arn TEXT;     -- NULL: not a map run's child
ALTER TABLE executions ADD COLUMN item_index INTEGER;   -- with map_run_arn: the item (or batch) index
CREATE INDEX executions_by_map_run ON executions (map_run_arn, item_index) WHERE map_run_arn IS NOT NULL;
CREATE INDEX executions_by_map_run_start ON executions (map_run_arn, start_date, seq,
  arn, name, state_machine_arn, state_machine_version, status, stop_date, redrive_count)
  WHERE map_run_arn IS NOT NULL;

CREATE TABLE map_runs (
  seq                          INTEGER PRIMARY KEY,  -- creation order
  arn                          TEXT NOT NULL UNIQUE,
  execution_arn                TEXT NOT NULL,        -- the parent execution
  state_name                   TEXT NOT NULL,
  state_machine_arn            TEXT NOT NULL,        -- the children's
  state_machine_version        INTEGER NOT NULL,
  definition                   TEXT NOT NULL,        -- the ItemProcessor as a definition
  status                       TEXT NOT NULL,        -- RUNNING | SUCCEEDED | FAILED | ABORTED
  max_concurrency              INTEGER NOT NULL,
  tolerated_failure_percentage REAL,
  tolerated_failure_count      INTEGER,
  start_date                   INTEGER NOT NULL,
  stop_date                    INTEGER,
  total                        INTEGER NOT NULL,
  launched                     INTEGER NOT NULL DEFAULT 0,
  running                      INTEGER NOT NULL DEFAULT 0,
  succeeded                    INTEGER NOT NULL DEFAULT 0,
  failed                       INTEGER NOT NULL DEFAULT 0,
  timed_out                    INTEGER NOT NULL DEFAULT 0,
  aborted                      INTEGER NOT NULL DEFAULT 0,
  redrive_count                INTEGER NOT NULL DEFAULT 0,
  redrive_date                 INTEGER
);
CREATE INDEX map_runs_by_execution ON map_runs (execution_arn, seq);
)sql"},
    // Events written encoded (Transition::encoded_events) keep their details
    // in the chunk as the JSON object itself, not as a JSON string of its
    // text: written once, never escaped a second time. A binary that reads
    // only strings must not open such a database, hence the version. Older
    // chunks stay as they are. The events view gives the details text
    // either way (json_extract of a string is its text, of an object its JSON).
    {7, R"sql(
DROP VIEW events;
CREATE VIEW events (execution_seq, id, previous_id, timestamp, type, details) AS
  SELECT h.execution_seq, json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]'),
         json_extract(e.value, '$[2]'), json_extract(e.value, '$[3]'), json_extract(e.value, '$[4]')
  FROM history h, json_each(h.events) e;
)sql"},
    // A map run's children are listed by their map run (ListExecutions with
    // mapRunArn, executions_by_map_run_start), not with the executions of
    // state machines: the four list-executions indexes leave them out, so a
    // million-item map run adds no entries to them, and its children do not
    // bury the state machines' executions in unfiltered listings.
    {8, R"sql(
DROP INDEX executions_by_start;
DROP INDEX executions_by_machine;
DROP INDEX executions_by_machine_status;
DROP INDEX executions_by_status;
CREATE INDEX executions_by_start ON executions (start_date, seq,
  arn, name, state_machine_arn, state_machine_version, status, stop_date, redrive_count)
  WHERE map_run_arn IS NULL;
CREATE INDEX executions_by_machine ON executions (state_machine_arn, start_date, seq,
  arn, name, state_machine_version, status, stop_date, redrive_count)
  WHERE map_run_arn IS NULL;
CREATE INDEX executions_by_status ON executions (status, start_date, seq,
  arn, name, state_machine_arn, state_machine_version, stop_date, redrive_count)
  WHERE map_run_arn IS NULL;
CREATE INDEX executions_by_machine_status ON executions (state_machine_arn, status, start_date, seq,
  arn, name, state_machine_version, stop_date, redrive_count)
  WHERE map_run_arn IS NULL;

-- With an ItemBatcher a child processes a batch: ListExecutions by map run
-- shows each child's itemCount, DescribeMapRun counts items.
ALTER TABLE executions ADD COLUMN item_count INTEGER;  -- a map run's child: its batch's items (NULL: one)
ALTER TABLE map_runs ADD COLUMN item_total INTEGER;     -- a batched map run: its items (NULL: one per child)
DROP INDEX executions_by_map_run_start;
CREATE INDEX executions_by_map_run_start ON executions (map_run_arn, start_date, seq,
  arn, name, state_machine_arn, state_machine_version, status, stop_date, redrive_count, item_count)
  WHERE map_run_arn IS NOT NULL;
)sql"},
}};

}  // namespace stepwise::storage::internal
