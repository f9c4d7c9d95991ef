#include "runtime/functions_file.h"

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

namespace stepwise {
namespace {

namespace fs = std::filesystem;

// A JSON pointer token: '~' and '/' escaped as RFC 6901 says.
std::string pointer_token(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

class Parser {
 public:
  Parser(const std::string& base_dir, Diagnostics& errors) : base_dir_(base_dir), errors_(errors) {}

  std::optional<FunctionsFile> parse(const json::value& doc) {
    const auto* root = doc.if_object();
    if (!root) return fail("", "a functions file must be a JSON object with a \"Functions\" object");
    for (const auto& [key, v] : *root) {
      (void)v;
      if (key != "Functions" && key != "Globals")
        error("/" + pointer_token(key),
              "unknown top-level property (expected \"Functions\" and optionally \"Globals\")");
    }
    json::object globals;
    if (const auto* g = root->if_contains("Globals")) {
      const auto* go = g->if_object();
      const auto* fn = go ? go->if_contains("Function") : nullptr;
      if (!go || (fn && !fn->is_object())) {
        error("/Globals", "must be an object of the form {\"Function\": {...defaults...}}");
      } else if (fn) {
        globals = fn->get_object();
        // Checked like a function's properties, except that none is required.
        FunctionConfig ignored;
        read_properties(globals, "/Globals/Function", ignored, /*is_global=*/true);
      }
    }
    const auto* fns = root->if_contains("Functions");
    if (!fns || !fns->is_object()) return fail("/Functions", "required: an object of functions by name");
    FunctionsFile file;
    for (const auto& [name, props] : fns->get_object()) {
      const std::string at = "/Functions/" + pointer_token(name);
      if (!valid_name(name)) {
        error(at, "a function name has 1 to 64 letters, digits, '-' and '_'");
        continue;
      }
      if (!props.is_object()) {
        error(at, "must be an object of properties");
        continue;
      }
      json::object merged = globals;
      for (const auto& [k, v] : props.get_object()) merged[k] = v;
      FunctionConfig cfg;
      cfg.name = std::string(name);
      const std::size_t before = errors_.size();
      read_properties(merged, at, cfg, /*is_global=*/false);
      if (errors_.size() == before) file.functions.emplace(cfg.name, std::move(cfg));
    }
    if (!errors_.empty()) return std::nullopt;
    return file;
  }

 private:
  static bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
    return true;
  }

  std::optional<FunctionsFile> fail(std::string pointer, std::string message) {
    error(std::move(pointer), std::move(message));
    return std::nullopt;
  }
  void error(std::string pointer, std::string message) {
    errors_.push_back(Diagnostic{std::move(pointer), std::move(message), ""});
  }

  // A whole number within [lo, hi]; nullopt (and an error) otherwise.
  std::optional<long long> integer(const json::value& v, const std::string& at, long long lo, long long hi) {
    long long n = 0;
    if (v.is_int64()) {
      n = v.get_int64();
    } else if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(hi)) {
      n = static_cast<long long>(v.get_uint64());
    } else if (v.is_double() && std::floor(v.get_double()) == v.get_double() && std::fabs(v.get_double()) < 1e15) {
      n = static_cast<long long>(v.get_double());
    } else {
      error(at, "must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
      return std::nullopt;
    }
    if (n < lo || n > hi) {
      error(at,
            "must be from " + std::to_string(lo) + " to " + std::to_string(hi) + " (got " + std::to_string(n) + ")");
      return std::nullopt;
    }
    return n;
  }

  std::optional<double> seconds(const json::value& v, const std::string& at, double lo, double hi) {
    if (!v.is_number() || v.to_number<double>() < lo || v.to_number<double>() > hi) {
      error(at, "must be a number of seconds from " + json::serialize(json::value(lo)) + " to " +
                    json::serialize(json::value(hi)));
      return std::nullopt;
    }
    return v.to_number<double>();
  }

  std::optional<std::string> string(const json::value& v, const std::string& at) {
    if (!v.is_string() || v.get_string().empty()) {
      error(at, "must be a non-empty string");
      return std::nullopt;
    }
    return std::string(v.get_string());
  }

  void read_runtime(const json::value& v, const std::string& at, FunctionConfig& cfg) {
    auto s = string(v, at);
    if (!s) return;
    cfg.runtime_name = *s;
    // SAM's versioned names are accepted too: the machine's python3 / node runs them.
    if (*s == "python3" || s->rfind("python3.", 0) == 0) {
      cfg.runtime = RuntimeKind::kPython3;
    } else if (*s == "node" || *s == "nodejs" || s->rfind("nodejs", 0) == 0) {
      cfg.runtime = RuntimeKind::kNode;
    } else if (*s == "exec") {
      cfg.runtime = RuntimeKind::kExec;
    } else {
      error(at, "unknown runtime \"" + *s + "\" (expected \"python3\", \"node\" or \"exec\")");
    }
  }

  void read_environment(const json::value& v, const std::string& at, FunctionConfig& cfg) {
    const auto* o = v.if_object();
    const auto* vars = o ? o->if_contains("Variables") : nullptr;
    if (!o || (o->size() != (vars ? 1u : 0u))) {
      error(at, "must be {\"Variables\": {\"NAME\": \"value\", ...}}");
      return;
    }
    if (!vars) return;
    if (!vars->is_object()) {
      error(at + "/Variables", "must be an object of strings by variable name");
      return;
    }
    for (const auto& [k, val] : vars->get_object()) {
      const std::string vat = at + "/Variables/" + pointer_token(k);
      bool ok_name = !k.empty() && !std::isdigit(static_cast<unsigned char>(k[0]));
      for (char c : k) ok_name = ok_name && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
      if (!ok_name) {
        error(vat, "a variable name has letters, digits and '_' and does not start with a digit");
      } else if (!val.is_string()) {
        error(vat, "must be a string");
      } else {
        cfg.environment[std::string(k)] = std::string(val.get_string());
      }
    }
  }

  void read_properties(const json::object& props, const std::string& at, FunctionConfig& cfg, bool is_global) {
    bool has_runtime = false, has_handler = false, has_reserved = false;
    for (const auto& [key, v] : props) {
      const std::string pat = at + "/" + pointer_token(key);
      if (key == "Runtime") {
        has_runtime = true;
        read_runtime(v, pat, cfg);
      } else if (key == "Handler") {
        has_handler = true;
        if (auto s = string(v, pat)) cfg.handler = *s;
      } else if (key == "CodeUri") {
        if (auto s = string(v, pat)) cfg.code_dir = (fs::path(base_dir_) / *s).lexically_normal().string();
      } else if (key == "MemorySize") {
        if (auto n = integer(v, pat, 128, 10240)) cfg.memory_mb = static_cast<int>(*n);
      } else if (key == "Timeout") {
        if (auto s = seconds(v, pat, 0.001, 900)) cfg.timeout_seconds = *s;
      } else if (key == "Environment") {
        read_environment(v, pat, cfg);
      } else if (key == "ReservedConcurrentExecutions") {
        has_reserved = true;
        if (auto n = integer(v, pat, 0, 1000)) cfg.reserved_concurrency = static_cast<int>(*n);
      } else if (key == "ProvisionedConcurrency") {
        if (auto n = integer(v, pat, 0, 1000)) cfg.provisioned_concurrency = static_cast<int>(*n);
      } else if (key == "ProvisionedConcurrencyConfig") {
        const auto* o = v.if_object();
        const auto* n = o ? o->if_contains("ProvisionedConcurrentExecutions") : nullptr;
        if (!n || o->size() != 1) {
          error(pat, "must be {\"ProvisionedConcurrentExecutions\": N}");
        } else if (auto c = integer(*n, pat + "/ProvisionedConcurrentExecutions", 0, 1000)) {
          cfg.provisioned_concurrency = static_cast<int>(*c);
        }
      } else if (key == "IdleTimeout") {
        if (auto s = seconds(v, pat, 0, 86400)) cfg.idle_seconds = *s;
      } else if (key == "ConcurrencyOverflow") {
        if (v == json::value("Queue")) {
          cfg.overflow = OverflowPolicy::kQueue;
        } else if (v == json::value("Throttle")) {
          cfg.overflow = OverflowPolicy::kThrottle;
        } else {
          error(pat, "must be \"Queue\" or \"Throttle\"");
        }
      } else if (key == "Description") {
        if (!v.is_string()) error(pat, "must be a string");
      } else {
        error(pat, "unknown property (see docs/functions.md for the supported ones)");
      }
    }
    if (is_global) return;
    if (!has_runtime) error(at + "/Runtime", "required: \"python3\", \"node\" or \"exec\"");
    if (!has_handler) error(at + "/Handler", "required: \"module.function\", or the command line for exec");
    if (cfg.code_dir.empty()) cfg.code_dir = fs::path(base_dir_).lexically_normal().string();
    if (cfg.code_dir.empty()) cfg.code_dir = ".";
    if (has_handler && !cfg.handler.empty()) check_handler(at + "/Handler", cfg);
    if (has_reserved && cfg.provisioned_concurrency > cfg.reserved_concurrency) {
      error(
          at + (props.contains("ProvisionedConcurrency") ? "/ProvisionedConcurrency" : "/ProvisionedConcurrencyConfig"),
          "cannot exceed ReservedConcurrentExecutions (" + std::to_string(cfg.reserved_concurrency) + ")");
    } else if (!has_reserved && cfg.provisioned_concurrency > cfg.reserved_concurrency) {
      cfg.reserved_concurrency = cfg.provisioned_concurrency;  // the default limit makes room
    }
  }

  void check_handler(const std::string& at, FunctionConfig& cfg) {
    if (cfg.runtime == RuntimeKind::kExec) {
      auto argv = split_command_line(cfg.handler);
      if (!argv) {
        error(at, "not a command line: an unclosed quote, or no program");
      } else {
        cfg.command = std::move(*argv);
      }
      return;
    }
    const auto dot = cfg.handler.rfind('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == cfg.handler.size()) {
      error(at, "must be \"FILE.FUNCTION\" (e.g. \"app.handler\")");
    }
  }

  const std::string& base_dir_;
  Diagnostics& errors_;
};

}  // namespace

std::optional<std::vector<std::string>> split_command_line(const std::string& text) {
  std::vector<std::string> args;
  std::string cur;
  bool in_arg = false;
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < text.size()) {
        cur += text[++i];
      } else {
        cur += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_arg = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      cur += text[++i];
      in_arg = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_arg) args.push_back(std::move(cur));
      cur.clear();
      in_arg = false;
    } else {
      cur += c;
      in_arg = true;
    }
  }
  if (quote) return std::nullopt;
  if (in_arg) args.push_back(std::move(cur));
  if (args.empty()) return std::nullopt;
  return args;
}

std::optional<FunctionsFile> parse_functions(const json::value& doc, const std::string& base_dir, Diagnostics& errors) {
  return Parser(base_dir, errors).parse(doc);
}

std::optional<FunctionsFile> load_functions_file(const std::string& path, Diagnostics& errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.push_back(Diagnostic{"", "cannot read the functions file", ""});
    return std::nullopt;
  }
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  JsonParseError perr;
  auto doc = parse_json(text, &perr);
  if (!doc) {
    errors.push_back(Diagnostic{"", "invalid JSON at " + perr.describe(), ""});
    return std::nullopt;
  }
  std::string base = fs::path(path).parent_path().string();
  if (base.empty()) base = ".";
  auto file = parse_functions(*doc, base, errors);
  if (!file) return std::nullopt;
  file->path = path;
  for (const auto& [name, cfg] : file->functions) {
    std::error_code ec;
    if (!fs::is_directory(cfg.code_dir, ec)) {
      errors.push_back(
          Diagnostic{"/Functions/" + pointer_token(name) + "/CodeUri", "no such directory: " + cfg.code_dir, ""});
    }
  }
  if (!errors.empty()) return std::nullopt;
  return file;
}

}  // namespace stepwise
