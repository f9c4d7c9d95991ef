// Writing a distributed Map's results: the Map's output array under
// WriterConfig, and ResultWriter's files (manifest.json, SUCCEEDED_n.json...).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <system_error>
#include <utility>
#include <vector>

#include "engine/map_io.h"
#include "states/timestamp.h"

namespace stepwise::mapio {
namespace fs = std::filesystem;
using Transformation = states::ResultWriterSpec::Transformation;
using OutputType = states::ResultWriterSpec::OutputType;

json::object outcome_record(const ChildOutcome& o) {
  json::object r;
  r["ExecutionArn"] = o.execution_arn;
  r["Input"] = to_json(o.input);
  r["InputDetails"] = json::object{{"Included", true}};
  r["Name"] = o.name;
  const bool succeeded = o.status == "SUCCEEDED";
  if (succeeded) {
    r["Output"] = to_json(o.output ? *o.output : json::value());
    r["OutputDetails"] = json::object{{"Included", true}};
  } else {
    if (o.error) r["Error"] = *o.error;
    if (o.cause) r["Cause"] = *o.cause;
  }
  r["RedriveCount"] = o.redrive_count;
  if (succeeded) {
    r["RedriveStatus"] = "NOT_REDRIVABLE";
    r["RedriveStatusReason"] = "Execution is SUCCEEDED and cannot be redriven";
  } else {
    r["RedriveStatus"] = "REDRIVABLE_BY_MAP_RUN";
  }
  r["StartDate"] = states::format_timestamp(o.start_ns);
  r["StateMachineArn"] = o.state_machine_arn;
  r["Status"] = o.status;
  if (o.stop_ns) r["StopDate"] = states::format_timestamp(o.stop_ns);
  return r;
}

void append_result(json::array& results, const ChildOutcome& o, Transformation t) {
  if (t == Transformation::None || o.status != "SUCCEEDED") {
    // AWS returns a failed child's record unchanged whatever the transformation.
    results.push_back(outcome_record(o));
    return;
  }
  const json::value& out = o.output ? *o.output : json::value();
  if (t == Transformation::Flatten && out.is_array()) {
    for (const auto& e : out.get_array()) results.push_back(e);
    return;
  }
  results.push_back(out);
}

namespace {

Failure writer_failure(std::string cause) {
  return Failure{kResultWriterFailed, std::move(cause), false};
}

// One status's series of files: STATUS_0.json, STATUS_1.json, ...
class ResultFiles {
 public:
  ResultFiles(std::string status, fs::path dir, std::string key_prefix, OutputType type, std::uint64_t max_bytes)
      : status_(std::move(status)),
        dir_(std::move(dir)),
        key_prefix_(std::move(key_prefix)),
        type_(type),
        max_bytes_(max_bytes) {}

  ~ResultFiles() {
    // Not finished (an error, or the run stopped): no half file stays behind.
    if (out_.is_open()) {
      out_.close();
      std::error_code ec;
      fs::remove(temp_path(), ec);
    }
  }

  std::optional<Failure> add(const std::string& text) {
    const std::uint64_t extra = text.size() + 1;  // a separator or a line break
    if (out_.is_open() && written_ + extra + 1 > max_bytes_ && entries_ > 0) {
      if (auto f = close()) return f;
    }
    if (!out_.is_open()) {
      out_.open(temp_path(), std::ios::binary | std::ios::trunc);
      if (!out_) return writer_failure("Cannot write " + temp_path().string());
      written_ = 0;
      entries_ = 0;
      if (type_ == OutputType::Json) write("[");
    }
    if (type_ == OutputType::Json) {
      if (entries_ > 0) write(",");
      write(text);
    } else {
      write(text);
      write("\n");
    }
    ++entries_;
    if (!out_) return writer_failure("Cannot write " + temp_path().string());
    return std::nullopt;
  }

  // Closes the file being written (renaming it to its final name).
  std::optional<Failure> close() {
    if (!out_.is_open()) return std::nullopt;
    if (type_ == OutputType::Json) write("]");
    out_.flush();
    const bool ok = static_cast<bool>(out_);
    out_.close();
    if (!ok) return writer_failure("Cannot write " + temp_path().string());
    const std::string name = file_name();
    std::error_code ec;
    fs::rename(temp_path(), dir_ / name, ec);
    if (ec) return writer_failure("Cannot rename " + temp_path().string() + " to " + name + ": " + ec.message());
    files_.push_back(json::object{{"Key", key_prefix_ + name}, {"Size", written_}});
    ++index_;
    return std::nullopt;
  }

  json::array& files() { return files_; }

 private:
  std::string file_name() const { return status_ + "_" + std::to_string(index_) + ".json"; }
  fs::path temp_path() const { return dir_ / ("." + file_name() + ".tmp"); }
  void write(std::string_view s) {
    out_.write(s.data(), static_cast<std::streamsize>(s.size()));
    written_ += s.size();
  }

  std::string status_;
  fs::path dir_;
  std::string key_prefix_;
  OutputType type_;
  std::uint64_t max_bytes_;
  std::ofstream out_;
  std::uint64_t written_ = 0;
  std::uint64_t entries_ = 0;
  std::uint64_t index_ = 0;
  json::array files_;
};

class FileSink : public ResultWriterSink {
 public:
  FileSink(ResultWriterTarget target, std::string map_run_arn, fs::path dir, std::string key_prefix,
           std::uint64_t max_bytes)
      : target_(std::move(target)),
        map_run_arn_(std::move(map_run_arn)),
        dir_(std::move(dir)),
        key_prefix_(std::move(key_prefix)),
        succeeded_("SUCCEEDED", dir_, key_prefix_, target_.output_type, max_bytes),
        failed_("FAILED", dir_, key_prefix_, target_.output_type, max_bytes),
        pending_("PENDING", dir_, key_prefix_, target_.output_type, max_bytes) {}

  std::optional<Failure> add(const ChildOutcome& o) override {
    if (finished_) return writer_failure("The results of " + map_run_arn_ + " were already written");
    ResultFiles& files = o.status == "SUCCEEDED" ? succeeded_ : o.status == "PENDING" ? pending_ : failed_;
    if (o.status == "SUCCEEDED" && target_.transformation != Transformation::None) {
      json::array values;
      append_result(values, o, target_.transformation);
      for (const auto& v : values)
        if (auto f = files.add(to_json(v))) return f;
      return std::nullopt;
    }
    return files.add(to_json(outcome_record(o)));
  }

  Result<json::value> finish() override {
    if (finished_) return writer_failure("The results of " + map_run_arn_ + " were already written");
    finished_ = true;
    for (ResultFiles* f : {&failed_, &pending_, &succeeded_})
      if (auto failure = f->close()) return *failure;
    json::object manifest;
    manifest["DestinationBucket"] = target_.bucket;
    manifest["MapRunArn"] = map_run_arn_;
    manifest["ResultFiles"] = json::object{{"FAILED", std::move(failed_.files())},
                                           {"PENDING", std::move(pending_.files())},
                                           {"SUCCEEDED", std::move(succeeded_.files())}};
    const fs::path temp = dir_ / ".manifest.json.tmp";
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      const std::string text = to_json(manifest);
      out.write(text.data(), static_cast<std::streamsize>(text.size()));
      out.flush();
      if (!out) return writer_failure("Cannot write " + temp.string());
    }
    std::error_code ec;
    fs::rename(temp, dir_ / "manifest.json", ec);
    if (ec) return writer_failure("Cannot write " + (dir_ / "manifest.json").string() + ": " + ec.message());
    json::object details{{"Bucket", target_.bucket}, {"Key", key_prefix_ + "manifest.json"}};
    return json::value(json::object{{"MapRunArn", map_run_arn_}, {"ResultWriterDetails", std::move(details)}});
  }

 private:
  ResultWriterTarget target_;
  std::string map_run_arn_;
  fs::path dir_;
  std::string key_prefix_;
  ResultFiles succeeded_, failed_, pending_;
  bool finished_ = false;
};

}  // namespace

Result<ResultWriterTarget> result_writer_target(const states::ResultWriterSpec& spec, const json::value& arguments) {
  ResultWriterTarget t;
  t.transformation = spec.effective_transformation();
  t.output_type = spec.output_type;
  const json::object* o = arguments.if_object();
  const json::value* bucket = o ? o->if_contains("Bucket") : nullptr;
  if (!bucket || !bucket->is_string())
    return writer_failure("The ResultWriter's Parameters/Arguments need 'Bucket' as a string (got " +
                          to_json(arguments) + ")");
  t.bucket = std::string(bucket->get_string());
  if (const json::value* prefix = o->if_contains("Prefix")) {
    if (!prefix->is_string())
      return writer_failure(std::string("The ResultWriter's field 'Prefix' must be a string, not ") +
                            json_type_name(*prefix));
    t.prefix = std::string(prefix->get_string());
  }
  return t;
}

Result<std::unique_ptr<ResultWriterSink>> ResultWriterSink::open(const fs::path& data_dir, ResultWriterTarget target,
                                                                 std::string map_run_arn,
                                                                 std::uint64_t max_file_bytes) {
  const std::size_t colon = map_run_arn.rfind(':');
  const std::string id = colon == std::string::npos ? map_run_arn : map_run_arn.substr(colon + 1);
  std::string key_prefix = target.prefix;
  if (!key_prefix.empty() && key_prefix.back() != '/') key_prefix += '/';
  key_prefix += id + "/";
  auto dir = resolve_object_path(data_dir, target.bucket, key_prefix, kResultWriterFailed);
  if (!dir) return dir.failure();
  std::error_code ec;
  fs::create_directories(*dir, ec);
  if (ec) return writer_failure("Cannot create the directory " + dir->string() + ": " + ec.message());
  return std::unique_ptr<ResultWriterSink>(std::make_unique<FileSink>(std::move(target), std::move(map_run_arn), *dir,
                                                                      std::move(key_prefix), max_file_bytes));
}

}  // namespace stepwise::mapio
