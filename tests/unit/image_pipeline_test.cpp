// The image pipeline example (workflows/image_pipeline) through the real
// `stepwise` binary, with its real python3, node and exec functions and no
// mocks: each sample image's format, dimensions and SHA-256, the record written
// to the output folder, and a file that is not an image rejected.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "states/digest.h"
#include "states/json.h"
#include "tests/unit/cli_process.h"

namespace {

namespace fs = std::filesystem;
namespace json = stepwise::json;

const std::string kPipeline = std::string(STEPWISE_SOURCE_DIR) + "/workflows/image_pipeline";

// Each test's own directory, removed afterwards.
struct Scratch : stepwise::testing::ScratchDir {
  Scratch() : ScratchDir("stepwise-image") {}
};
using Ran = stepwise::testing::CliRun;

// `stepwise run` of the pipeline on one sample, its output folder in dir.
Ran run_pipeline(const Scratch& dir, const std::string& sample, const std::vector<std::string>& extra = {}) {
  const std::string input = R"({"file": "samples/)" + sample + R"(", "outputDir": ")" + dir.path + R"(/results"})";
  std::vector<std::string> args = {"run", kPipeline + "/image_pipeline.asl.json", "--input", input};
  args.insert(args.end(), extra.begin(), extra.end());
  return stepwise::testing::run_cli_in(dir, args);
}

std::string sha256_of(const std::string& path) {
  return stepwise::states::hex_digest(stepwise::states::DigestAlgorithm::kSha256,
                                      stepwise::testing::slurp_file(path));
}

}  // namespace

TEST_CASE("image pipeline: real functions read each sample's format, dimensions and hash, and write a record") {
  struct Sample {
    const char* file;
    const char* format;
    const char* media_type;
    int width, height;
  };
  const Sample samples[] = {
      {"sunset.jpg", "jpeg", "image/jpeg", 64, 48},
      {"diagram.png", "png", "image/png", 40, 30},
      {"icon.gif", "gif", "image/gif", 16, 16},
  };
  Scratch dir;
  for (const Sample& s : samples) {
    CAPTURE(s.file);
    const Ran r = run_pipeline(dir, s.file, {"--no-store"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    auto out = stepwise::parse_json(r.out);
    REQUIRE(out);
    const std::string sample_path = kPipeline + "/samples/" + s.file;
    const std::string record_path = dir.path + "/results/" + s.file + ".json";
    const json::object& o = out->as_object();
    CHECK(o.at("file") == json::value(std::string("samples/") + s.file));
    CHECK(o.at("format") == json::value(s.format));
    CHECK(o.at("mediaType") == json::value(s.media_type));
    CHECK(o.at("width") == json::value(s.width));
    CHECK(o.at("height") == json::value(s.height));
    CHECK(o.at("bytes") == json::value(static_cast<std::int64_t>(fs::file_size(sample_path))));
    CHECK(o.at("sha256") == json::value(sha256_of(sample_path)));
    CHECK(o.at("resultFile") == json::value(record_path));

    // The exec function wrote the record whole (no temporary left behind).
    auto record = stepwise::parse_json(stepwise::testing::slurp_file(record_path));
    REQUIRE(record);
    CHECK(record->at("status") == json::value("processed"));
    CHECK(record->at("sha256") == o.at("sha256"));
    CHECK(record->at("width") == json::value(s.width));
    CHECK_FALSE(fs::exists(record_path + ".tmp"));
  }
}

TEST_CASE("image pipeline: a file that is not an image is recorded as rejected and fails the execution") {
  Scratch dir;
  const Ran r = run_pipeline(dir, "notes.txt", {"--json"});
  INFO(r.err);
  CHECK(r.code == 1);
  auto out = stepwise::parse_json(r.out);
  REQUIRE(out);
  CHECK(out->at("status") == json::value("FAILED"));
  CHECK(out->at("error") == json::value("UnsupportedFileType"));
  CHECK(out->at("cause").as_string().starts_with("samples/notes.txt is not a PNG, JPEG, GIF, WebP or BMP image"));
  auto record = stepwise::parse_json(stepwise::testing::slurp_file(dir.path + "/results/notes.txt.json"));
  REQUIRE(record);
  CHECK(record->at("status") == json::value("rejected"));
  CHECK(record->at("reason") == out->at("cause"));
}

TEST_CASE("image pipeline: recorded in the database, every invocation accounted for") {
  Scratch dir;
  const Ran r = run_pipeline(dir, "sunset.jpg");
  INFO(r.err);
  REQUIRE(r.code == 0);
  stepwise::testing::CliOptions o;
  o.out_path = dir.path + "/stats.txt";
  o.err_path = dir.path + "/stats.err";
  o.cwd = dir.path;
  REQUIRE(stepwise::testing::wait_cli(stepwise::testing::spawn_cli({"functions", "stats"}, o)) == 0);
  auto stats = stepwise::parse_json(stepwise::testing::slurp_file(o.out_path));
  REQUIRE(stats);
  std::vector<std::string> names;
  for (const json::value& f : stats->at("Functions").as_array()) {
    names.emplace_back(f.at("FunctionName").as_string());
    CHECK(f.at("Invocations") == json::value(1));
    CHECK(f.at("Errors") == json::value(0));
  }
  CHECK(names == std::vector<std::string>{"HashFile", "ReadDimensions", "ValidateFile", "WriteResults"});
}
