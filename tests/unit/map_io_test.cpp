// ItemReader, ItemBatcher and ResultWriter of a distributed Map over local
// files (engine/map_io.h), their validation, and a run end to end.
#include "engine/map_io.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "cli_process.h"
#include "engine_test_util.h"
#include "states/definition.h"

namespace stepwise {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;
using testing::slurp_file;

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << text;
}

states::ItemReaderSpec reader(states::ItemReaderSpec::InputType type) {
  states::ItemReaderSpec spec;
  spec.resource = "arn:aws:states:::s3:getObject";
  spec.input_type = type;
  return spec;
}

json::value object_args(const std::string& bucket, const std::string& key) {
  return json::object{{"Bucket", bucket}, {"Key", key}};
}

// Every item of a source, or the failure that stopped it.
struct Drained {
  std::vector<json::value> items;
  std::optional<Failure> failure;
};

Drained drain(mapio::ItemSource& source) {
  Drained d;
  while (true) {
    auto r = source.next();
    if (!r) {
      d.failure = r.failure();
      return d;
    }
    if (!*r) return d;
    d.items.push_back(std::move(**r));
  }
}

Drained read_all(const states::ItemReaderSpec& spec, const json::value& args, const mapio::ItemReadOptions& o) {
  auto src = mapio::open_item_source(spec, args, o);
  if (!src) return Drained{{}, src.failure()};
  return drain(**src);
}

std::string texts(const std::vector<json::value>& items) {
  json::array a(items.begin(), items.end());
  return to_json(a);
}

}  // namespace

TEST_CASE("map_io: JSONL reads one value per line, skips blank lines, stops at MaxItems") {
  ScratchDir dir("map-io");
  write_file(fs::path(dir.path) / "b/in/items.jsonl", "{\"a\":1}\n\n  \n[2]\r\n\"three\"\n4");
  mapio::ItemReadOptions o;
  o.data_dir = dir.path;
  auto spec = reader(states::ItemReaderSpec::InputType::Jsonl);
  Drained d = read_all(spec, object_args("b", "in/items.jsonl"), o);
  REQUIRE_FALSE(d.failure);
  CHECK(texts(d.items) == R"([{"a":1},[2],"three",4])");
  o.max_items = 2;
  d = read_all(spec, object_args("b", "in/items.jsonl"), o);
  CHECK(texts(d.items) == R"([{"a":1},[2]])");
}

TEST_CASE("map_io: a JSONL line that is not JSON fails naming the file and line") {
  ScratchDir dir("map-io");
  write_file(fs::path(dir.path) / "b/x.jsonl", "1\n{oops\n");
  mapio::ItemReadOptions o;
  o.data_dir = dir.path;
  Drained d = read_all(reader(states::ItemReaderSpec::InputType::Jsonl), object_args("b", "x.jsonl"), o);
  CHECK(d.items.size() == 1);
  REQUIRE(d.failure);
  CHECK(d.failure->error == "States.ItemReaderFailed");
  CHECK(d.failure->cause.find("s3://b/x.jsonl") != std::string::npos);
  CHECK(d.failure->cause.find("line 2") != std::string::npos);
}

TEST_CASE("map_io: a JSON file streams the array's elements, at ItemsPointer when given") {
  ScratchDir dir("map-io");
  write_file(fs::path(dir.path) / "b/arr.json", " [ {\"k\": \"v,]\\\"\"}, [1, [2]], 3.5, null, true ]");
  write_file(fs::path(dir.path) / "b/doc.json",
             R"({"skip": {"items": [9]}, "a~b": 1, "data": {"list": [0, {"items": ["x", "y"]}]}})");
  mapio::ItemReadOptions o;
  o.data_dir = dir.path;
  auto spec = reader(states::ItemReaderSpec::InputType::Json);
  Drained d = read_all(spec, object_args("b", "arr.json"), o);
  REQUIRE_FALSE(d.failure);
  CHECK(texts(d.items) == R"([{"k":"v,]\""},[1,[2]],3.5,null,true])");
  spec.items_pointer = "/data/list/1/items";
  d = read_all(spec, object_args("b", "doc.json"), o);
  REQUIRE_FALSE(d.failure);
  CHECK(texts(d.items) == R"(["x","y"])");
  spec.items_pointer = "/data/missing";
  d = read_all(spec, object_args("b", "doc.json"), o);
  REQUIRE(d.failure);
  CHECK(d.failure->cause.find("ItemsPointer '/data/missing'") != std::string::npos);
  spec.items_pointer = "/a~0b";  // a number, not an array
  d = read_all(spec, object_args("b", "doc.json"), o);
  REQUIRE(d.failure);
  CHECK(d.failure->cause.find("does not point to a JSON array") != std::string::npos);
  spec.items_pointer = "";
  write_file(fs::path(dir.path) / "b/obj.json", R"({"a": 1})");
  d = read_all(spec, object_args("b", "obj.json"), o);
  REQUIRE(d.failure);
  CHECK(d.failure->cause.find("does not hold a JSON array") != std::string::npos);
  write_file(fs::path(dir.path) / "b/empty.json", "[ ]");
  d = read_all(spec, object_args("b", "empty.json"), o);
  CHECK_FALSE(d.failure);
  CHECK(d.items.empty());
  write_file(fs::path(dir.path) / "b/cut.json", "[1,\n{\"a\": [2,");
  d = read_all(spec, object_args("b", "cut.json"), o);
  CHECK(d.items.size() == 1);
  REQUIRE(d.failure);
  CHECK(d.failure->cause == "Failed to read s3://b/cut.json: invalid JSON at line 2: unexpected end of the file");
}

TEST_CASE("map_io: CSV rows become objects of strings; headers from the first row or given") {
  ScratchDir dir("map-io");
  write_file(fs::path(dir.path) / "b/r.csv",
             "id,name,note\r\n1,\"Smith, J\",\"said \"\"hi\"\"\"\r\n\r\n2,Lee,\"two\nlines\"\n3,,\n");
  mapio::ItemReadOptions o;
  o.data_dir = dir.path;
  auto spec = reader(states::ItemReaderSpec::InputType::Csv);
  Drained d = read_all(spec, object_args("b", "r.csv"), o);
  REQUIRE_FALSE(d.failure);
  CHECK(texts(d.items) ==
        R"([{"id":"1","name":"Smith, J","note":"said \"hi\""},{"id":"2","name":"Lee","note":"two\nlines"},)"
        R"({"id":"3","name":"","note":""}])");

  write_file(fs::path(dir.path) / "b/p.csv", "1|a b|x\n2|c|y\n");
  spec.csv_delimiter = '|';
  spec.csv_header_location = states::ItemReaderSpec::CsvHeaderLocation::Given;
  spec.csv_headers = {"n", "s", "t"};
  o.max_items = 1;
  d = read_all(spec, object_args("b", "p.csv"), o);
  REQUIRE_FALSE(d.failure);
  CHECK(texts(d.items) == R"([{"n":"1","s":"a b","t":"x"}])");

  write_file(fs::path(dir.path) / "b/t.csv", "a\tb\n1\t2\n");
  spec = reader(states::ItemReaderSpec::InputType::Csv);
  spec.csv_delimiter = '\t';
  o.max_items.reset();
  d = read_all(spec, object_args("b", "t.csv"), o);
  CHECK(texts(d.items) == R"([{"a":"1","b":"2"}])");
}

TEST_CASE("map_io: a CSV row with the wrong number of fields fails naming the file and row") {
  ScratchDir dir("map-io");
  write_file(fs::path(dir.path) / "b/bad.csv", "a,b\n1,2\n3\n4,5\n");
  mapio::ItemReadOptions o;
  o.data_dir = dir.path;
  Drained d = read_all(reader(states::ItemReaderSpec::InputType::Csv), object_args("b", "bad.csv"), o);
  CHECK(d.items.size() == 1);
  REQUIRE(d.failure);
  CHECK(d.failure->error == "States.ItemReaderFailed");
  CHECK(d.failure->cause == "Failed to read s3://b/bad.csv: row 3 has 1 field, the header has 2");
  std::string wide(10241, 'h');
  wide.append("\n1\n");
  write_file(fs::path(dir.path) / "b/wide.csv", wide);
  d = read_all(reader(states::ItemReaderSpec::InputType::Csv), object_args("b", "wide.csv"), o);
  REQUIRE(d.failure);
  CHECK(d.failure->cause ==
        "Failed to read s3://b/wide.csv: the header row is 10241 bytes, over the limit of 10240 bytes");
}

TEST_CASE("map_io: a missing file, a bad Bucket/Key and an item over the payload limit fail clearly") {
  ScratchDir dir("map-io");
  mapio::ItemReadOptions o;
  o.data_dir = dir.path;
  auto spec = reader(states::ItemReaderSpec::InputType::Jsonl);
  Drained d = read_all(spec, object_args("b", "nope.jsonl"), o);
  REQUIRE(d.failure);
  CHECK(d.failure->error == "States.ItemReaderFailed");
  CHECK(d.failure->cause.find("s3://b/nope.jsonl") != std::string::npos);
  CHECK(d.failure->cause.find("does not exist") != std::string::npos);

  d = read_all(spec, json::object{{"Bucket", "b"}}, o);
  REQUIRE(d.failure);
  CHECK(d.failure->cause.find("'Key'") != std::string::npos);

  write_file(fs::path(dir.path) / "b/big.jsonl", "1\n\"" + std::string(100, 'x') + "\"\n");
  o.payload_limit = 50;
  d = read_all(spec, object_args("b", "big.jsonl"), o);
  CHECK(d.items.size() == 1);
  REQUIRE(d.failure);
  CHECK(d.failure->cause.find("Item 1 of s3://b/big.jsonl (line 2) is 102 bytes, over the payload limit of 50 bytes") !=
        std::string::npos);
}

TEST_CASE("map_io: paths that escape the data directory are refused") {
  ScratchDir dir("map-io");
  ScratchDir outside("map-io-out");
  write_file(fs::path(outside.path) / "secret.jsonl", "1\n");
  fs::create_directories(fs::path(dir.path) / "b");
  fs::create_symlink(outside.path, fs::path(dir.path) / "b/link");
  const fs::path root = dir.path;
  for (auto [bucket, key] : std::vector<std::pair<std::string, std::string>>{{"b", "../../etc/passwd"},
                                                                             {"b", "/etc/passwd"},
                                                                             {"..", "x"},
                                                                             {"a/b", "x"},
                                                                             {"", "x"},
                                                                             {"b", "link/secret.jsonl"},
                                                                             {"b", "x/../../y"}}) {
    CAPTURE(bucket);
    CAPTURE(key);
    auto p = mapio::resolve_object_path(root, bucket, key);
    REQUIRE_FALSE(p.ok());
    CHECK(p.failure().error == "States.ItemReaderFailed");
    CHECK(p.failure().cause.find("s3://") == 0 + std::string("The object ").size());
  }
  auto ok = mapio::resolve_object_path(root, "b", "dir/file.jsonl");
  REQUIRE(ok.ok());
  CHECK(*ok == fs::weakly_canonical(root) / "b/dir/file.jsonl");
  // Through the reader, a symlink out is refused too.
  mapio::ItemReadOptions o;
  o.data_dir = dir.path;
  Drained d = read_all(reader(states::ItemReaderSpec::InputType::Jsonl), object_args("b", "link/secret.jsonl"), o);
  REQUIRE(d.failure);
  CHECK(d.failure->cause.find("outside the data directory") != std::string::npos);
}

TEST_CASE("map_io: listObjectsV2 lists the files under a prefix as S3 objects") {
  ScratchDir dir("map-io");
  write_file(fs::path(dir.path) / "b/logs/2024/b.txt", "hello");
  write_file(fs::path(dir.path) / "b/logs/2024/a.txt", "");
  write_file(fs::path(dir.path) / "b/logs/2025/c.txt", "x");
  write_file(fs::path(dir.path) / "b/other.txt", "y");
  states::ItemReaderSpec spec;
  spec.source = states::ItemReaderSpec::Source::ListObjects;
  spec.resource = "arn:aws:states:::s3:listObjectsV2";
  mapio::ItemReadOptions o;
  o.data_dir = dir.path;
  Drained d = read_all(spec, json::object{{"Bucket", "b"}, {"Prefix", "logs/2024"}}, o);
  REQUIRE_FALSE(d.failure);
  REQUIRE(d.items.size() == 2);
  const json::object& a = d.items[0].as_object();
  CHECK(a.at("Key") == "logs/2024/a.txt");
  CHECK(a.at("Etag") == "\"d41d8cd98f00b204e9800998ecf8427e\"");  // MD5 of nothing
  CHECK(a.at("Size") == 0);
  CHECK(a.at("StorageClass") == "STANDARD");
  CHECK(a.at("LastModified").is_int64());
  const json::object& b = d.items[1].as_object();
  CHECK(b.at("Key") == "logs/2024/b.txt");
  CHECK(b.at("Etag") == "\"5d41402abc4b2a76b9719d911017c592\"");  // MD5 of "hello"
  CHECK(b.at("Size") == 5);
  // The keys of the object are AWS's, in its order.
  std::vector<std::string> keys;
  for (const auto& kv : a) keys.emplace_back(kv.key());
  CHECK(keys == std::vector<std::string>{"Etag", "Key", "LastModified", "Size", "StorageClass"});

  d = read_all(spec, json::object{{"Bucket", "b"}}, o);
  CHECK(d.items.size() == 4);
  o.max_items = 3;
  d = read_all(spec, json::object{{"Bucket", "b"}, {"Prefix", "lo"}}, o);
  CHECK(d.items.size() == 3);
  d = read_all(spec, json::object{{"Bucket", "nobucket"}}, o);
  REQUIRE(d.failure);
  CHECK(d.failure->cause.find("does not exist") != std::string::npos);
}

TEST_CASE("map_io: ItemBatcher groups items by count and by bytes, with BatchInput") {
  json::array items;
  for (int i = 0; i < 5; ++i) items.push_back(i * 11);  // 0, 11, 22, 33, 44
  mapio::BatchOptions by_count;
  by_count.max_items_per_batch = 2;
  by_count.batch_input = json::object{{"job", "j"}};
  mapio::ItemBatcher batcher(mapio::array_item_source(items), by_count);
  Drained d = drain(batcher);
  REQUIRE_FALSE(d.failure);
  CHECK(texts(d.items) == R"([{"BatchInput":{"job":"j"},"Items":[0,11]},{"BatchInput":{"job":"j"},"Items":[22,33]},)"
                          R"({"BatchInput":{"job":"j"},"Items":[44]}])");

  // {"Items":[0,11]} is 16 bytes; {"Items":[0,11,22]} 19.
  mapio::BatchOptions by_bytes;
  by_bytes.max_input_bytes_per_batch = 18;
  mapio::ItemBatcher b2(mapio::array_item_source(items), by_bytes);
  d = drain(b2);
  REQUIRE_FALSE(d.failure);
  CHECK(texts(d.items) == R"([{"Items":[0,11]},{"Items":[22,33]},{"Items":[44]}])");
  for (const auto& batch : d.items) CHECK(json_size(batch) <= 18);

  mapio::BatchOptions tiny;
  tiny.max_input_bytes_per_batch = 12;  // {"Items":[0]} is 13
  mapio::ItemBatcher b3(mapio::array_item_source(items), tiny);
  d = drain(b3);
  CHECK(d.items.empty());
  REQUIRE(d.failure);
  CHECK(d.failure->error == "States.ItemReaderFailed");
  CHECK(d.failure->cause.find("Item 0 is 1 bytes") != std::string::npos);

  CHECK(mapio::check_batch_options(tiny) == std::nullopt);
  mapio::BatchOptions bad;
  bad.max_input_bytes_per_batch = 300000;
  REQUIRE(mapio::check_batch_options(bad));
  bad = {};
  bad.max_items_per_batch = 0;
  REQUIRE(mapio::check_batch_options(bad));
}

namespace {

mapio::ChildOutcome outcome(int i, const std::string& status, json::value output = nullptr) {
  mapio::ChildOutcome o;
  o.execution_arn = "arn:aws:states:us-east-1:123456789012:execution:SM/Map:" + std::to_string(i);
  o.name = std::to_string(i);
  o.state_machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:SM/Map";
  o.status = status;
  o.input = json::object{{"i", i}};
  if (status == "SUCCEEDED") o.output = std::move(output);
  if (status == "FAILED") {
    o.error = "Boom";
    o.cause = "it broke";
  }
  o.start_ns = 1735689600LL * 1000000000LL;
  o.stop_ns = o.start_ns + 1500000000LL;
  return o;
}

}  // namespace

TEST_CASE("map_io: outcome records and the Map's result under each Transformation") {
  using T = states::ResultWriterSpec::Transformation;
  CHECK(
      to_json(mapio::outcome_record(outcome(1, "SUCCEEDED", json::array{1, 2}))) ==
      R"({"ExecutionArn":"arn:aws:states:us-east-1:123456789012:execution:SM/Map:1","Input":"{\"i\":1}",)"
      R"("InputDetails":{"Included":true},"Name":"1","Output":"[1,2]","OutputDetails":{"Included":true},)"
      R"("RedriveCount":0,"RedriveStatus":"NOT_REDRIVABLE","RedriveStatusReason":"Execution is SUCCEEDED and cannot be redriven",)"
      R"("StartDate":"2025-01-01T00:00:00.000Z","StateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:SM/Map",)"
      R"("Status":"SUCCEEDED","StopDate":"2025-01-01T00:00:01.500Z"})");
  const json::object failed = mapio::outcome_record(outcome(2, "FAILED"));
  CHECK(failed.at("Error") == "Boom");
  CHECK(failed.at("Cause") == "it broke");
  CHECK_FALSE(failed.contains("Output"));
  CHECK(failed.at("RedriveStatus") == "REDRIVABLE_BY_MAP_RUN");

  json::array compact, flat, none;
  for (auto* o : {&compact, &flat, &none}) {
    const T t = o == &compact ? T::Compact : o == &flat ? T::Flatten : T::None;
    mapio::append_result(*o, outcome(0, "SUCCEEDED", json::array{1, 2}), t);
    mapio::append_result(*o, outcome(1, "SUCCEEDED", "x"), t);
  }
  CHECK(to_json(compact) == R"([[1,2],"x"])");
  CHECK(to_json(flat) == R"([1,2,"x"])");
  REQUIRE(none.size() == 2);
  CHECK(none[1].as_object().at("Output") == "\"x\"");
  json::array with_failure;
  mapio::append_result(with_failure, outcome(3, "FAILED"), T::Compact);
  CHECK(with_failure[0].as_object().at("Status") == "FAILED");
}

TEST_CASE("map_io: ResultWriter writes results files and manifest.json, splitting by size") {
  ScratchDir dir("map-io");
  mapio::ResultWriterTarget target;
  target.bucket = "out";
  target.prefix = "runs";
  const std::string arn = "arn:aws:states:us-east-1:123456789012:mapRun:SM/Map:abc-123";
  auto sink = mapio::ResultWriterSink::open(dir.path, target, arn, 1200);
  REQUIRE(sink.ok());
  for (int i = 0; i < 4; ++i) REQUIRE_FALSE((*sink)->add(outcome(i, "SUCCEEDED", i)));
  REQUIRE_FALSE((*sink)->add(outcome(9, "FAILED")));
  REQUIRE_FALSE((*sink)->add(outcome(10, "TIMED_OUT")));
  REQUIRE_FALSE((*sink)->add(outcome(11, "PENDING")));
  const fs::path run_dir = fs::path(dir.path) / "out/runs/abc-123";
  CHECK_FALSE(fs::exists(run_dir / "manifest.json"));  // not before finish
  auto result = (*sink)->finish();
  REQUIRE(result.ok());
  CHECK(to_json(*result) ==
        R"({"MapRunArn":")" + arn + R"(","ResultWriterDetails":{"Bucket":"out","Key":"runs/abc-123/manifest.json"}})");
  auto manifest = parse_json(slurp_file((run_dir / "manifest.json").string()));
  REQUIRE(manifest);
  const json::object& m = manifest->as_object();
  CHECK(m.at("DestinationBucket") == "out");
  CHECK(m.at("MapRunArn").as_string() == arn);
  const json::object& files = m.at("ResultFiles").as_object();
  REQUIRE(files.at("PENDING").as_array().size() == 1);
  CHECK(files.at("PENDING").as_array()[0].as_object().at("Key").as_string() == "runs/abc-123/PENDING_0.json");
  REQUIRE(files.at("FAILED").as_array().size() == 1);
  const json::array& succeeded = files.at("SUCCEEDED").as_array();
  REQUIRE(succeeded.size() >= 2);  // ~500 bytes a record, 1200 bytes a file
  std::size_t records = 0;
  for (std::size_t i = 0; i < succeeded.size(); ++i) {
    const json::object& f = succeeded[i].as_object();
    CHECK(f.at("Key").as_string() == "runs/abc-123/SUCCEEDED_" + std::to_string(i) + ".json");
    const std::string text = slurp_file((run_dir / ("SUCCEEDED_" + std::to_string(i) + ".json")).string());
    CHECK(f.at("Size") == text.size());
    CHECK(text.size() <= 1200);
    auto arr = parse_json(text);
    REQUIRE(arr);
    records += arr->as_array().size();
    CHECK(arr->as_array()[0].as_object().at("Status") == "SUCCEEDED");
  }
  CHECK(records == 4);
  auto failed = parse_json(slurp_file((run_dir / "FAILED_0.json").string()));
  REQUIRE(failed);
  REQUIRE(failed->as_array().size() == 2);  // FAILED and TIMED_OUT
  CHECK(failed->as_array()[0].as_object().at("Error") == "Boom");
  CHECK(failed->as_array()[1].as_object().at("Status") == "TIMED_OUT");
  // No temporary files remain.
  for (const auto& e : fs::directory_iterator(run_dir)) CHECK(e.path().filename().string().front() != '.');
}

TEST_CASE("map_io: ResultWriter JSONL with COMPACT writes outputs one per line; an unfinished run leaves no file") {
  ScratchDir dir("map-io");
  mapio::ResultWriterTarget target;
  target.bucket = "out";
  target.transformation = states::ResultWriterSpec::Transformation::Flatten;
  target.output_type = states::ResultWriterSpec::OutputType::Jsonl;
  {
    auto sink = mapio::ResultWriterSink::open(dir.path, target, "arn:x:mapRun:SM/Map:r1");
    REQUIRE(sink.ok());
    REQUIRE_FALSE((*sink)->add(outcome(0, "SUCCEEDED", json::array{"a", "b"})));
    REQUIRE_FALSE((*sink)->add(outcome(1, "SUCCEEDED", json::object{{"k", 1}})));
    REQUIRE((*sink)->finish().ok());
  }
  CHECK(slurp_file((fs::path(dir.path) / "out/r1/SUCCEEDED_0.json").string()) == "\"a\"\n\"b\"\n{\"k\":1}\n");
  {
    auto sink = mapio::ResultWriterSink::open(dir.path, target, "arn:x:mapRun:SM/Map:r2");
    REQUIRE(sink.ok());
    REQUIRE_FALSE((*sink)->add(outcome(0, "SUCCEEDED", 1)));
    // destroyed without finish(): a crash or a stop
  }
  CHECK(fs::is_empty(fs::path(dir.path) / "out/r2"));
  // A bucket that escapes the data directory.
  target.bucket = "..";
  auto bad = mapio::ResultWriterSink::open(dir.path, target, "arn:x:mapRun:SM/Map:r3");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.failure().error == "States.ResultWriterFailed");
}

}  // namespace stepwise

namespace stepwise {
namespace {

// A definition with one distributed Map whose extra fields are `fields` (JSON members text).
std::string map_definition(const std::string& fields, const std::string& mode = "DISTRIBUTED",
                           const std::string& language = "JSONPath") {
  return R"({"QueryLanguage":")" + language + R"(","StartAt":"M","States":{"M":{"Type":"Map",)" + fields +
         R"("ItemProcessor":{"ProcessorConfig":{"Mode":")" + mode +
         R"("},"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}})";
}

// The diagnostics of a definition, as "pointer: message" lines.
std::vector<std::string> problems(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& d : states::parse_definition_text(text).diagnostics) out.push_back(d.pointer + ": " + d.message);
  return out;
}

bool has_problem(const std::vector<std::string>& ps, const std::string& text) {
  for (const auto& p : ps)
    if (p.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("map_io: ItemReader, ItemBatcher and ResultWriter parse into their specs") {
  auto r = states::parse_definition_text(map_definition(
      R"("ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"CSV",)"
      R"("CSVHeaderLocation":"GIVEN","CSVHeaders":["a","b"],"CSVDelimiter":"SEMICOLON","MaxItems":10},)"
      R"("Parameters":{"Bucket":"b","Key.$":"$.key"}},)"
      R"("ItemBatcher":{"MaxItemsPerBatchPath":"$.n","MaxInputBytesPerBatch":1000,"BatchInput":{"x.$":"$.x"}},)"
      R"("ResultWriter":{"Resource":"arn:aws:states:::s3:putObject","Parameters":{"Bucket":"out","Prefix":"p"},)"
      R"("WriterConfig":{"Transformation":"FLATTEN","OutputType":"JSONL"}},)"));
  for (const auto& d : r.diagnostics) MESSAGE(d.pointer << ": " << d.message);
  REQUIRE(r.diagnostics.empty());
  const auto& map = r.definition->top().states[0].as<states::MapSpec>();
  REQUIRE(map.item_reader);
  CHECK(map.item_reader->source == states::ItemReaderSpec::Source::GetObject);
  CHECK(map.item_reader->input_type == states::ItemReaderSpec::InputType::Csv);
  CHECK(map.item_reader->csv_header_location == states::ItemReaderSpec::CsvHeaderLocation::Given);
  CHECK(map.item_reader->csv_headers == std::vector<std::string>{"a", "b"});
  CHECK(map.item_reader->csv_delimiter == ';');
  CHECK(map.item_reader->max_items.literal == 10);
  CHECK(map.item_reader->parameters.has_value());
  REQUIRE(map.item_batcher);
  CHECK(map.item_batcher->max_items_per_batch.path.has_value());
  CHECK(map.item_batcher->max_input_bytes_per_batch.literal == 1000);
  CHECK(map.item_batcher->batch_input.has_value());
  REQUIRE(map.result_writer);
  CHECK(map.result_writer->writes_files());
  CHECK(map.result_writer->effective_transformation() == states::ResultWriterSpec::Transformation::Flatten);
  CHECK(map.result_writer->output_type == states::ResultWriterSpec::OutputType::Jsonl);

  // Defaults: NONE when writing files, COMPACT with WriterConfig alone.
  r = states::parse_definition_text(
      map_definition(R"("ResultWriter":{"Resource":"arn:aws:states:::s3:putObject","Parameters":{"Bucket":"o"}},)"));
  REQUIRE(r.diagnostics.empty());
  CHECK(r.definition->top().states[0].as<states::MapSpec>().result_writer->effective_transformation() ==
        states::ResultWriterSpec::Transformation::None);
  // JSONata: Arguments and expressions.
  r = states::parse_definition_text(map_definition(
      R"("ItemReader":{"Resource":"arn:aws:states:::s3:listObjectsV2","ReaderConfig":{"MaxItems":"{% 2 %}"},)"
      R"("Arguments":{"Bucket":"{% $states.input.b %}"}},)"
      R"("ItemBatcher":{"MaxItemsPerBatch":"{% 3 %}"},)",
      "DISTRIBUTED", "JSONata"));
  for (const auto& d : r.diagnostics) MESSAGE(d.pointer << ": " << d.message);
  REQUIRE(r.diagnostics.empty());
  const auto& jm = r.definition->top().states[0].as<states::MapSpec>();
  CHECK(jm.item_reader->source == states::ItemReaderSpec::Source::ListObjects);
  CHECK(jm.item_reader->max_items.expression.has_value());
  CHECK(jm.item_reader->arguments.has_value());
  CHECK(jm.item_batcher->max_items_per_batch.expression.has_value());
}

TEST_CASE("map_io: invalid ItemReader, ItemBatcher and ResultWriter fields are reported at their pointers") {
  auto ps = problems(
      map_definition(R"("ItemReader":{"Resource":"arn:aws:states:::s3:getObject","Parameters":{}},)", "INLINE"));
  CHECK(has_problem(ps,
                    "/States/M/ItemReader: The field 'ItemReader' is only supported when the ItemProcessor's "
                    "ProcessorConfig Mode is DISTRIBUTED"));
  ps = problems(map_definition(
      R"("ItemReader":{"Resource":"arn:aws:states:::s3:getObjectX","Parameters":{},"ReaderConfig":{"InputType":"XML",)"
      R"("CSVDelimiter":"COLON","MaxItems":0,"Extra":1}},)"));
  CHECK(has_problem(ps, "/States/M/ItemReader/Resource: The value of the field 'Resource' must be one of"));
  CHECK(has_problem(ps,
                    "/States/M/ItemReader/ReaderConfig/InputType: The value of the field 'InputType' must be one of "
                    "[CSV, JSON, JSONL, MANIFEST, PARQUET]"));
  CHECK(has_problem(ps,
                    "/States/M/ItemReader/ReaderConfig/CSVDelimiter: The value of the field 'CSVDelimiter' must be "
                    "one of [COMMA, PIPE, SEMICOLON, SPACE, TAB]"));
  CHECK(has_problem(
      ps, "/States/M/ItemReader/ReaderConfig/MaxItems: The value of the field 'MaxItems' must be a positive integer"));
  CHECK(
      has_problem(ps, "/States/M/ItemReader/ReaderConfig/Extra: The field 'Extra' is not supported in a ReaderConfig"));
  ps = problems(map_definition(
      R"("ItemReader":{"Resource":"arn:aws:states:::s3:getObject","Parameters":{"Bucket":"b","Key":"k"},)"
      R"("ReaderConfig":{"InputType":"JSONL","ItemsPointer":"/a","CSVHeaderLocation":"GIVEN"}},)"));
  CHECK(has_problem(ps,
                    "/States/M/ItemReader/ReaderConfig/ItemsPointer: The field 'ItemsPointer' is only supported when "
                    "the InputType is JSON"));
  CHECK(has_problem(ps,
                    "/States/M/ItemReader/ReaderConfig/CSVHeaderLocation: The field 'CSVHeaderLocation' is only "
                    "supported when the InputType is CSV"));
  ps = problems(
      map_definition(R"("ItemReader":{"Resource":"arn:aws:states:::s3:getObject","Parameters":{"Bucket":"b"}},)"));
  CHECK(has_problem(ps, "/States/M/ItemReader: The field 'ReaderConfig.InputType' is required"));
  ps = problems(map_definition(
      R"("ItemReader":{"Resource":"arn:aws:states:::s3:getObject","Parameters":{},"ReaderConfig":{"InputType":"CSV","CSVHeaderLocation":"GIVEN"}},)"));
  CHECK(has_problem(
      ps, "/States/M/ItemReader/ReaderConfig: The field 'CSVHeaders' is required when the CSVHeaderLocation is GIVEN"));
  ps = problems(map_definition(
      R"("ItemReader":{"Resource":"arn:aws:states:::s3:getObject","Parameters":{},"ReaderConfig":{"InputType":"MANIFEST"}},)"));
  CHECK(has_problem(
      ps, "/States/M/ItemReader/ReaderConfig/InputType: The InputType 'MANIFEST' is not supported by Stepwise"));

  ps = problems(map_definition(R"("ItemBatcher":{"BatchInput":{}},)"));
  CHECK(has_problem(ps, "/States/M/ItemBatcher: An ItemBatcher needs at least one of"));
  ps = problems(map_definition(
      R"("ItemBatcher":{"MaxInputBytesPerBatch":300000,"MaxItemsPerBatch":2,"MaxItemsPerBatchPath":"$.n"},)"));
  CHECK(has_problem(ps,
                    "/States/M/ItemBatcher/MaxInputBytesPerBatch: The value of the field 'MaxInputBytesPerBatch' must "
                    "be no greater than 262144"));
  CHECK(has_problem(
      ps, "/States/M/ItemBatcher: The fields 'MaxItemsPerBatch' and 'MaxItemsPerBatchPath' cannot both be set"));

  ps = problems(map_definition(R"("ResultWriter":{},)"));
  CHECK(has_problem(
      ps, "/States/M/ResultWriter: A ResultWriter needs 'WriterConfig', or 'Resource' and 'Parameters', or all three"));
  ps = problems(map_definition(R"("ResultWriter":{"Resource":"arn:aws:states:::s3:putObject"},)"));
  CHECK(has_problem(ps, "/States/M/ResultWriter: These fields are required: [Parameters]"));
  ps = problems(map_definition(
      R"("ResultWriter":{"Resource":"arn:aws:states:::s3:getObject","Parameters":{},"WriterConfig":{"Transformation":"SQUASH"}},)"));
  CHECK(has_problem(
      ps, "/States/M/ResultWriter/Resource: The value of the field 'Resource' must be arn:aws:states:::s3:putObject"));
  CHECK(has_problem(ps,
                    "/States/M/ResultWriter/WriterConfig/Transformation: The value of the field 'Transformation' must "
                    "be one of [NONE, COMPACT, FLATTEN]"));
}

}  // namespace stepwise

namespace stepwise {

TEST_CASE("map_io: an Engine run reads a JSONL file and writes its results with ResultWriter") {
  ScratchDir dir("map-io");
  write_file(fs::path(dir.path) / "in/data/items.jsonl", "{\"n\":1}\n{\"n\":2}\n\n{\"n\":3}\n");
  auto def = testing::parse_or_fail(R"({"StartAt":"M","States":{"M":{"Type":"Map",
    "ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"JSONL","MaxItemsPath":"$.max"},
                  "Parameters":{"Bucket":"in","Key.$":"$.key"}},
    "ItemSelector":{"value.$":"$$.Map.Item.Value.n","tag.$":"$.tag"},
    "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"P",
                     "States":{"P":{"Type":"Pass","End":true}}},
    "ResultWriter":{"Resource":"arn:aws:states:::s3:putObject","Parameters":{"Bucket":"out","Prefix":"results"},
                    "WriterConfig":{"Transformation":"COMPACT"}},
    "End":true}}})");
  EngineOptions o = testing::virtual_time_options();
  o.data_dir = dir.path;
  Engine engine(o);
  auto r = engine.run(def, json::object{{"key", "data/items.jsonl"}, {"max", 2}, {"tag", "t"}});
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  const json::object& out = r.output.as_object();
  const std::string run_arn(out.at("MapRunArn").as_string());
  CHECK(run_arn.find(":mapRun:StateMachine/M:") != std::string::npos);
  const std::string id = run_arn.substr(run_arn.rfind(':') + 1);
  CHECK(to_json(out.at("ResultWriterDetails")) == R"({"Bucket":"out","Key":"results/)" + id + R"(/manifest.json"})");
  const fs::path run_dir = fs::path(dir.path) / "out/results" / id;
  auto manifest = parse_json(slurp_file((run_dir / "manifest.json").string()));
  REQUIRE(manifest);
  CHECK(manifest->as_object().at("ResultFiles").as_object().at("SUCCEEDED").as_array().size() == 1);
  // COMPACT writes the outputs; MaxItemsPath kept two of the three items.
  CHECK(slurp_file((run_dir / "SUCCEEDED_0.json").string()) == R"([{"value":1,"tag":"t"},{"value":2,"tag":"t"}])");
}

TEST_CASE("map_io: an Engine run batches CSV rows and shapes results with WriterConfig alone") {
  ScratchDir dir("map-io");
  write_file(fs::path(dir.path) / "b/rows.csv", "id,v\n1,a\n2,b\n3,c\n");
  auto def = testing::parse_or_fail(R"({"StartAt":"M","States":{"M":{"Type":"Map",
    "ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"CSV"},
                  "Parameters":{"Bucket":"b","Key":"rows.csv"}},
    "ItemBatcher":{"MaxItemsPerBatch":2,"BatchInput":{"job.$":"$.job"}},
    "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"P",
                     "States":{"P":{"Type":"Pass","Parameters":{"ids.$":"$.Items[*].id","job.$":"$.BatchInput.job"},
                                    "OutputPath":"$.ids","End":true}}},
    "ResultWriter":{"WriterConfig":{"Transformation":"FLATTEN"}},
    "End":true}}})");
  EngineOptions o = testing::virtual_time_options();
  o.data_dir = dir.path;
  Engine engine(o);
  auto r = engine.run(def, json::object{{"job", "j1"}});
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  CHECK(to_json(r.output) == R"(["1","2","3"])");
}

TEST_CASE("map_io: an Engine run fails with States.ItemReaderFailed on a missing file or a bad CSV row") {
  ScratchDir dir("map-io");
  write_file(fs::path(dir.path) / "b/bad.csv", "a,b\n1,2\n3,4,5\n");
  auto def = testing::parse_or_fail(R"({"StartAt":"M","States":{"M":{"Type":"Map",
    "ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"CSV"},
                  "Parameters":{"Bucket":"b","Key.$":"$.key"}},
    "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},
    "Catch":[{"ErrorEquals":["States.ItemReaderFailed"],"Next":"Caught"}],
    "End":true},"Caught":{"Type":"Pass","End":true}}})");
  EngineOptions o = testing::virtual_time_options();
  o.data_dir = dir.path;
  Engine engine(o);
  auto r = engine.run(def, json::object{{"key", "bad.csv"}});
  REQUIRE(r.status == ExecutionStatus::Succeeded);  // caught
  CHECK(
      to_json(r.output) ==
      R"({"Error":"States.ItemReaderFailed","Cause":"Failed to read s3://b/bad.csv: row 3 has 3 fields, the header has 2"})");
  auto def2 = testing::parse_or_fail(R"({"StartAt":"M","States":{"M":{"Type":"Map",
    "ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"JSONL"},
                  "Parameters":{"Bucket":"b","Key":"../../etc/passwd"}},
    "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},
    "End":true}}})");
  r = engine.run(def2, json::object{});
  REQUIRE(r.status == ExecutionStatus::Failed);
  CHECK(r.error == "States.ItemReaderFailed");
  CHECK(r.cause.find("'..'") != std::string::npos);
}

}  // namespace stepwise

namespace stepwise {

TEST_CASE("map_io: stepwise run finds the data directory from --data-dir, STEPWISE_DATA_DIR or ./data") {
  ScratchDir dir("map-io-cli");
  const fs::path root = dir.path;
  write_file(root / "def.json", R"({"StartAt":"M","States":{"M":{"Type":"Map",
    "ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"JSONL"},
                  "Parameters":{"Bucket":"b","Key":"k.jsonl"}},
    "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},
    "End":true}}})");
  write_file(root / "flag/b/k.jsonl", "1\n");
  write_file(root / "env/b/k.jsonl", "2\n");
  write_file(root / "data/b/k.jsonl", "3\n");
  auto run = [&](std::vector<std::string> extra, std::map<std::string, std::string> env) {
    std::vector<std::string> args{"run", "def.json", "--no-store", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    testing::CliOptions o;
    o.out_path = dir.path + "/out.txt";
    o.err_path = dir.path + "/err.txt";
    o.cwd = dir.path;
    o.env = std::move(env);
    o.unset_env = {"STEPWISE_DATA_DIR"};
    const int code = testing::wait_cli(testing::spawn_cli(args, o));
    return std::to_string(code) + " " + slurp_file(o.out_path);  // stderr names the execution
  };
  CHECK(run({"--data-dir", "flag"}, {{"STEPWISE_DATA_DIR", "env"}}) == "0 {\"status\":\"SUCCEEDED\",\"output\":[1]}\n");
  CHECK(run({}, {{"STEPWISE_DATA_DIR", "env"}}) == "0 {\"status\":\"SUCCEEDED\",\"output\":[2]}\n");
  CHECK(run({}, {}) == "0 {\"status\":\"SUCCEEDED\",\"output\":[3]}\n");
  const std::string missing = run({"--data-dir", "nowhere"}, {});
  CHECK(missing.rfind("1 ", 0) == 0);
  CHECK(missing.find("States.ItemReaderFailed") != std::string::npos);
}

}  // namespace stepwise

namespace stepwise {

TEST_CASE("map_io: a JSONata Map lists a directory with Arguments and MaxItems as an expression") {
  ScratchDir dir("map-io");
  write_file(fs::path(dir.path) / "photos/2024/a.jpg", "aa");
  write_file(fs::path(dir.path) / "photos/2024/b.jpg", "bbb");
  write_file(fs::path(dir.path) / "photos/2024/c.jpg", "c");
  write_file(fs::path(dir.path) / "photos/2025/d.jpg", "d");
  auto def = testing::parse_or_fail(R"({"QueryLanguage":"JSONata","StartAt":"M","States":{"M":{"Type":"Map",
    "ItemReader":{"Resource":"arn:aws:states:::s3:listObjectsV2","ReaderConfig":{"MaxItems":"{% $states.input.max %}"},
                  "Arguments":{"Bucket":"photos","Prefix":"{% $states.input.year & '/' %}"}},
    "ItemSelector":{"key":"{% $states.context.Map.Item.Value.Key %}","size":"{% $states.context.Map.Item.Value.Size %}"},
    "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},
    "End":true}}})");
  EngineOptions o = testing::virtual_time_options();
  o.data_dir = dir.path;
  Engine engine(o);
  auto r = engine.run(def, json::object{{"year", "2024"}, {"max", 2}});
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  CHECK(to_json(r.output) == R"([{"key":"2024/a.jpg","size":2},{"key":"2024/b.jpg","size":3}])");
}

}  // namespace stepwise
