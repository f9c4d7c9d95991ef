#include "cli/common.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace stepwise::cli {

std::optional<std::string> read_file(const std::string& path, std::string* error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    if (error) *error = "is a directory, not a file";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    if (error) *error = "cannot open file";
    return std::nullopt;
  }
  // One sized read: definitions can be hundreds of KiB.
  std::streamoff size = in.tellg();
  std::string text;
  if (size > 0) {
    text.resize(static_cast<std::size_t>(size));
    in.seekg(0);
    in.read(text.data(), size);
  }
  if (in.bad() || size < 0) {
    if (error) *error = size < 0 ? "cannot read file (is it a directory?)" : "cannot read file";
    return std::nullopt;
  }
  return text;
}

std::shared_ptr<const states::Definition> load_definition(const std::string& path, bool* syntax_error) {
  *syntax_error = false;
  std::string err;
  auto text = read_file(path, &err);
  if (!text) {
    std::cerr << path << ": " << err << "\n";
    *syntax_error = true;
    return nullptr;
  }
  auto parsed = states::parse_definition_text(*text);
  if (!parsed.diagnostics.empty()) {
    for (const auto& d : parsed.diagnostics) {
      if (d.code == "INVALID_JSON_DESCRIPTION") *syntax_error = true;  // not JSON at all
      std::cerr << path << ": " << (d.pointer.empty() ? "/" : d.pointer) << ": " << d.message << "\n";
    }
    return nullptr;
  }
  return parsed.definition;
}

std::optional<json::value> load_json_file(const std::string& path, const char* what) {
  std::string err;
  auto text = read_file(path, &err);
  if (!text) {
    std::cerr << "stepwise: " << what << " " << path << ": " << err << "\n";
    return std::nullopt;
  }
  JsonParseError perr;
  auto v = parse_json(*text, &perr);
  if (!v) {
    std::cerr << "stepwise: " << what << " " << path << ": invalid JSON at " << perr.describe() << "\n";
    return std::nullopt;
  }
  return v;
}

std::string definition_base_name(const std::string& path) {
  std::string base = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  for (const char* ext : {".asl.json", ".json"}) {
    std::string e(ext);
    if (base.size() > e.size() && base.compare(base.size() - e.size(), e.size(), e) == 0) {
      return base.substr(0, base.size() - e.size());
    }
  }
  return base;
}

std::string data_dir_path(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("STEPWISE_DATA_DIR"); env && *env) return env;
  return "data";
}

}  // namespace stepwise::cli
