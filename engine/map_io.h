// The data plane of a DISTRIBUTED Map over local files (docs/distributed-map.md):
// reading items where AWS reads S3 (ItemReader), grouping them into batches
// (ItemBatcher), and writing the children's results (ResultWriter) or
// shaping them into the Map's output array (WriterConfig without a Resource).
//
// Nothing here evaluates ASL: the interpreter evaluates the templates and
// ...Path fields (ItemReader Parameters/Arguments, MaxItemsPath, BatchInput,
// MaxItemsPerBatchPath, ResultWriter Parameters/Arguments) against the
// state's input and hands the values in. Everything here streams: a
// 1,000,000-line JSONL file is never held in memory, nor are the outcomes of
// a million children.
//
// Errors are values: every failure is a Failure whose error is
// "States.ItemReaderFailed" (reading), "States.ResultWriterFailed" (writing)
// or "States.Runtime" (a bad evaluated value such as a negative MaxItems),
// with a cause that names the file (its path relative to the data
// directory, as "bucket/key") and where in it (line, row, item).
//
// Thread safety: none; one object is used by one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "states/definition.h"
#include "states/failure.h"
#include "states/json.h"

namespace stepwise::mapio {

inline constexpr const char* kItemReaderFailed = "States.ItemReaderFailed";
inline constexpr const char* kResultWriterFailed = "States.ResultWriterFailed";

// ---- The data directory -------------------------------------------------------

// Where S3 objects live on this machine: <data_dir>/<bucket>/<key>.
// Refuses (Failure States.ItemReaderFailed unless `error` says otherwise) an
// empty bucket, a bucket with '/', a bucket or key that is absolute or has a
// ".." component, a NUL character, and a path whose existing part resolves,
// through symbolic links, outside data_dir. The file need not exist. An empty
// key gives the bucket directory itself (a listing with no Prefix).
Result<std::filesystem::path> resolve_object_path(const std::filesystem::path& data_dir, std::string_view bucket,
                                                  std::string_view key, const char* error = kItemReaderFailed);

// The default data directory when neither EngineOptions::data_dir, --data-dir
// nor STEPWISE_DATA_DIR says otherwise: "./data" (relative to the working
// directory of the process).
inline constexpr const char* kDefaultDataDir = "data";

// ---- Reading items (ItemReader) ----------------------------------------------

// A stream of items, one at a time.
class ItemSource {
 public:
  virtual ~ItemSource() = default;
  // The next item; nullopt at the end. After a Failure the source is done
  // (further calls return the same kind of failure or nullopt).
  virtual Result<std::optional<json::value>> next() = 0;
  // Skips n items (e.g. those a map run finished before a restart); returns
  // how many were skipped (fewer at the end). Default: calls next() n times.
  virtual Result<std::uint64_t> skip(std::uint64_t n);
};

// What open_item_source needs besides the spec.
struct ItemReadOptions {
  std::filesystem::path data_dir = kDefaultDataDir;
  // MaxItems (or MaxItemsPath's value): at most this many items; nullopt or 0: all.
  std::optional<std::int64_t> max_items;
  // An item larger than this (bytes of its JSON text) fails the read with
  // States.ItemReaderFailed naming the item (EngineOptions::payload_limit).
  std::size_t payload_limit = 256 * 1024;
};

// Opens the ItemReader's source. `arguments` is its Parameters/Arguments
// already evaluated against the state's input:
//  - s3:getObject: {"Bucket": string, "Key": string, ...} (VersionId etc. ignored):
//      JSON  — the file is a JSON document; the items are the elements of the
//              array at spec.items_pointer ("" = the document itself).
//              Not an array there: States.ItemReaderFailed.
//      JSONL — one JSON value per line; blank lines (only whitespace) are skipped;
//              a line that is not JSON fails naming its line number.
//      CSV   — RFC 4180 (quoted fields may hold the delimiter, "" and line
//              breaks; CRLF or LF rows); each row becomes an object of header ->
//              value, every value a string. Headers from the first row
//              (FIRST_ROW) or spec.csv_headers (GIVEN: the first row is data).
//              A row with a different number of fields than the header fails
//              naming the file and row number (1-based, the header row is 1).
//              Empty lines are skipped. A header row over 10 KiB fails (AWS's limit).
//  - s3:listObjectsV2: {"Bucket": string, "Prefix"?: string}: every regular
//    file under <data_dir>/<Bucket> whose key (its path relative to the bucket
//    directory, '/'-separated) starts with Prefix, in key order (S3 lists in
//    UTF-8 binary order), each item
//      {"Etag": "\"<md5 hex>\"", "Key": key, "LastModified": <epoch seconds>,
//       "Size": bytes, "StorageClass": "STANDARD"}.
//    Directories themselves are not items. A missing bucket directory fails.
// A missing or unreadable file, a Bucket/Key that is not a string, or a path
// that escapes the data directory: Failure States.ItemReaderFailed whose cause
// names the path. The file is opened here (so a missing one fails at once) and
// read lazily by next().
Result<std::unique_ptr<ItemSource>> open_item_source(const states::ItemReaderSpec& spec, const json::value& arguments,
                                                     const ItemReadOptions& options);

// The items of an in-memory array (a Map without ItemReader, e.g. after
// ItemsPath), as an ItemSource, so that batching works the same either way.
std::unique_ptr<ItemSource> array_item_source(json::array items);

// ---- Batching (ItemBatcher) ----------------------------------------------------

// The evaluated ItemBatcher.
struct BatchOptions {
  std::optional<std::int64_t> max_items_per_batch;        // nullopt: no item count limit
  std::optional<std::int64_t> max_input_bytes_per_batch;  // nullopt: the payload limit (256 KiB)
  std::optional<json::value> batch_input;                 // BatchInput evaluated; nullopt: no "BatchInput" key
};

// Checks evaluated batcher numbers as AWS does (a ...Path value that is not a
// positive integer, MaxInputBytesPerBatch over 256 KiB): Failure
// States.Runtime with AWS's message, or nullopt when fine.
std::optional<Failure> check_batch_options(const BatchOptions& options);

// Groups the items of a source into batch inputs
//   {"BatchInput": <batch_input>, "Items": [item, ...]}   ("BatchInput" only when given)
// Each batch holds at most max_items_per_batch items and, serialized, at most
// max_input_bytes_per_batch bytes (the whole batch object, BatchInput
// included); a batch ends at the first item that would break either limit,
// which starts the next batch. An item that alone (with BatchInput) exceeds
// the byte limit fails with States.ItemReaderFailed naming the item's index.
// An ItemBatcher is itself an ItemSource of batches (items in, batches out).
class ItemBatcher : public ItemSource {
 public:
  ItemBatcher(std::unique_ptr<ItemSource> items, BatchOptions options, std::size_t payload_limit = 256 * 1024);
  Result<std::optional<json::value>> next() override;

 private:
  std::unique_ptr<ItemSource> items_;
  BatchOptions options_;
  std::size_t byte_limit_;
  std::optional<json::value> pending_;  // read but not yet placed: starts the next batch
  std::uint64_t index_ = 0;             // items read so far (for messages)
  bool done_ = false;
};

// ---- A map run's items, read again where the map run is driven --------------

// What it takes to read a Map's items (or batches) again in another place or
// process, in the same order: the ItemReader's Parameters/Arguments and
// MaxItems and the ItemBatcher's fields, all already evaluated. A worker's
// map run reads its items through this, a few at a time as it launches
// children, instead of receiving them all in its request (so a map run of a
// million items never holds them in memory).
struct ItemStream {
  json::value arguments;                // ItemReader Parameters/Arguments, evaluated
  std::optional<std::int64_t> max_items;  // MaxItems / MaxItemsPath
  std::optional<BatchOptions> batch;    // the ItemBatcher, evaluated; nullopt: one item per child
};

// As JSON, to travel in a map run request and its stored snapshot:
//   {"arguments": ..., "maxItems"?: n, "batch"?: {"maxItemsPerBatch"?, "maxInputBytesPerBatch"?, "batchInput"?}}
json::value item_stream_to_json(const ItemStream& stream);
// The inverse; nullopt when `v` is not such an object.
std::optional<ItemStream> item_stream_from_json(const json::value& v);

// Opens the items (or batches, with stream.batch) of `stream` from the start.
// Items over `payload_limit` fail as in open_item_source. `shape`, when
// given, wraps the items as read before they are batched (ItemSelector,
// engine/map_select.h).
Result<std::unique_ptr<ItemSource>> open_item_stream(
    const states::ItemReaderSpec& spec, const ItemStream& stream, const std::filesystem::path& data_dir,
    std::size_t payload_limit,
    const std::function<std::unique_ptr<ItemSource>(std::unique_ptr<ItemSource>)>& shape = {});

// ---- Results (ResultWriter) ----------------------------------------------------

// One child execution's outcome, as ResultWriter records it.
struct ChildOutcome {
  std::string execution_arn;
  std::string name;
  std::string state_machine_arn;  // the child's, e.g. arn:...:stateMachine:SM/Label
  // SUCCEEDED, FAILED, TIMED_OUT, ABORTED (written to FAILED_n files) or
  // PENDING (never ran; PENDING_n files).
  std::string status;
  json::value input;
  std::optional<json::value> output;  // SUCCEEDED only
  std::optional<std::string> error;   // FAILED / TIMED_OUT / ABORTED, when the child named one
  std::optional<std::string> cause;
  std::int64_t start_ns = 0;  // epoch nanoseconds (Clock), written as "2025-01-01T00:00:00.000Z"
  std::int64_t stop_ns = 0;   // 0: not stopped (no StopDate)
  int redrive_count = 0;
};

// The record of one outcome as ResultWriter files and Transformation NONE show it:
//   {"ExecutionArn", "Input": "<json text>", "InputDetails": {"Included": true},
//    "Name", "Output": "<json text>", "OutputDetails": {"Included": true}      (SUCCEEDED)
//    | "Error", "Cause"                                                         (others, when set)
//    "RedriveCount", "RedriveStatus", "RedriveStatusReason"?, "StartDate",
//    "StateMachineArn", "Status", "StopDate"}
// RedriveStatus: NOT_REDRIVABLE for SUCCEEDED ("Execution is SUCCEEDED and
// cannot be redriven"), REDRIVABLE_BY_MAP_RUN otherwise.
json::object outcome_record(const ChildOutcome& outcome);

// The Map's result without a ResultWriter Resource: appends the element(s)
// for one outcome to `results` under Transformation
//   COMPACT — the output (a failed child: its NONE record, as AWS does),
//   FLATTEN — as COMPACT, but an output that is an array adds its elements,
//   NONE    — the outcome_record.
// Call in item order.
void append_result(json::array& results, const ChildOutcome& outcome, states::ResultWriterSpec::Transformation t);

// The evaluated ResultWriter Resource target.
struct ResultWriterTarget {
  std::string bucket;  // Parameters/Arguments Bucket
  std::string prefix;  // Parameters/Arguments Prefix ("" when absent)
  states::ResultWriterSpec::Transformation transformation = states::ResultWriterSpec::Transformation::None;
  states::ResultWriterSpec::OutputType output_type = states::ResultWriterSpec::OutputType::Json;
};

// Reads {"Bucket": string, "Prefix"?: string} (evaluated Parameters/Arguments)
// and the spec's WriterConfig; Failure States.ResultWriterFailed when Bucket
// is missing or not a string.
Result<ResultWriterTarget> result_writer_target(const states::ResultWriterSpec& spec, const json::value& arguments);

// AWS starts a new results file when one would exceed this size.
inline constexpr std::uint64_t kResultFileBytes = 5ULL * 1024 * 1024 * 1024;

// Writes a map run's results under <data_dir>/<bucket>/<prefix>/<map run id>/
// (the id is the last ':'-separated part of the map run ARN; a prefix that
// does not end with '/' gets one):
//   SUCCEEDED_0.json, SUCCEEDED_1.json, ...   (status SUCCEEDED)
//   FAILED_0.json, ...                        (FAILED, TIMED_OUT, ABORTED)
//   PENDING_0.json, ...                       (PENDING)
//   manifest.json  {"DestinationBucket", "MapRunArn",
//                   "ResultFiles": {"FAILED": [{"Key","Size"}], "PENDING": [...], "SUCCEEDED": [...]}}
// Each results file is a JSON array of records (OutputType JSON) or one record
// per line (JSONL), a record being outcome_record() with Transformation NONE,
// and with COMPACT/FLATTEN the Output of succeeded children as a JSON value
// (FLATTEN splices arrays) in SUCCEEDED files. A file is started when the
// first outcome of its status arrives and closed when it reaches
// max_file_bytes. Files are written under a temporary name and renamed when
// complete; manifest.json is written last, by finish(), so a crash leaves no
// manifest (and no complete-looking results file). A sink lives in one
// process: after a restart, open a new one and add every outcome again (its
// files replace the unfinished ones). Failures: States.ResultWriterFailed
// naming the path.
class ResultWriterSink {
 public:
  static Result<std::unique_ptr<ResultWriterSink>> open(const std::filesystem::path& data_dir,
                                                        ResultWriterTarget target, std::string map_run_arn,
                                                        std::uint64_t max_file_bytes = kResultFileBytes);
  virtual ~ResultWriterSink() = default;
  // Records one outcome (any order). nullopt on success.
  virtual std::optional<Failure> add(const ChildOutcome& outcome) = 0;
  // Closes the files, writes manifest.json and returns the Map state's result:
  //   {"MapRunArn": ..., "ResultWriterDetails": {"Bucket": ..., "Key": "<prefix>/<id>/manifest.json"}}
  virtual Result<json::value> finish() = 0;
};

}  // namespace stepwise::mapio
