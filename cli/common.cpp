#include "cli/common.h"

#include <fstream>
#include <iostream>
#include <sstream>

namespace stepwise::cli {

std::optional<std::string> read_file(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error) *error = "cannot open file";
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    if (error) *error = "cannot read file";
    return std::nullopt;
  }
  return ss.str();
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
  JsonParseError perr;
  auto doc = parse_json(*text, &perr);
  if (!doc) {
    std::cerr << path << ": invalid JSON at " << perr.describe() << "\n";
    *syntax_error = true;
    return nullptr;
  }
  auto parsed = states::parse_definition(*doc);
  if (!parsed.diagnostics.empty()) {
    for (const auto& d : parsed.diagnostics)
      std::cerr << path << ": " << (d.pointer.empty() ? "/" : d.pointer) << ": " << d.message << "\n";
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

}  // namespace stepwise::cli
