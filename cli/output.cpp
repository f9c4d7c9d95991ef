#include "cli/output.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "states/json.h"
#include "states/timestamp.h"

namespace stepwise::cli {
namespace {

bool is_date_member(std::string_view key) {
  return key == "creationDate" || key == "updateDate" || key == "startDate" || key == "stopDate" ||
         key == "redriveDate" || key == "timestamp";
}

// Display width of UTF-8 text: one column per code point.
std::size_t width(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// A cell holds one line: line breaks and tabs become spaces.
std::string one_line(std::string s) {
  for (auto& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return s;
}

std::string cell_text(const json::value& v) {
  if (v.is_string()) return one_line(std::string(v.get_string()));
  if (v.is_null()) return "";
  return one_line(to_json(v));
}

std::string shorten(std::string s, std::size_t max) {
  if (width(s) <= max) return s;
  std::size_t cut = 0, seen = 0;
  while (cut < s.size() && seen < max - 1) {
    ++cut;
    while (cut < s.size() && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) ++cut;
    ++seen;
  }
  return s.substr(0, cut) + "…";
}

// The columns a list shows, by the array's member name; other arrays show
// every scalar member their items have.
std::vector<std::string> columns_for(std::string_view array, const json::array& items) {
  if (array == "stateMachines") return {"name", "type", "creationDate", "stateMachineArn"};
  if (array == "executions") return {"name", "status", "startDate", "stopDate", "executionArn"};
  if (array == "events") return {"id", "previousEventId", "timestamp", "type", "details"};
  std::vector<std::string> cols;
  for (const auto& item : items) {
    if (!item.is_object()) continue;
    for (const auto& kv : item.get_object()) {
      std::string key(kv.key());
      if (std::find(cols.begin(), cols.end(), key) == cols.end()) cols.push_back(key);
    }
  }
  return cols;
}

// An event's details in a few words: its state or resource name, error and
// cause, and its payload, shortened.
std::string event_summary(const json::object& event) {
  std::string text;
  for (const auto& kv : event) {
    if (!kv.value().is_object()) continue;
    const auto& det = kv.value().get_object();
    for (const char* field :
         {"name", "resourceType", "resource", "workerName", "error", "cause", "input", "output", "index"}) {
      const auto* v = det.if_contains(field);
      if (!v) continue;
      if (!text.empty()) text += "  ";
      text += std::string(field) + "=" + cell_text(*v);
    }
  }
  return shorten(text, 80);
}

}  // namespace

std::string aws_cli_date(double epoch_seconds) {
  const auto micros = static_cast<std::int64_t>(std::llround(epoch_seconds * 1e6));
  return aws_cli_date_nanos(micros * 1000);
}

std::string aws_cli_date_nanos(Nanos t) {
  // format_timestamp gives "YYYY-MM-DDTHH:MM:SS.mmmZ"; keep the seconds, add microseconds.
  std::string text = states::format_timestamp(t).substr(0, 19);
  std::int64_t micros = (t / 1000) % 1000000;
  if (micros < 0) micros += 1000000;
  if (micros != 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(micros));
    text += buf;
  }
  return text + "+00:00";
}

json::value with_cli_dates(const json::value& v) {
  if (v.is_object()) {
    json::object out;
    for (const auto& kv : v.get_object()) {
      if (is_date_member(kv.key()) && kv.value().is_number()) {
        out[kv.key()] = aws_cli_date(kv.value().to_number<double>());
      } else {
        out[kv.key()] = with_cli_dates(kv.value());
      }
    }
    return out;
  }
  if (v.is_array()) {
    json::array out;
    for (const auto& e : v.get_array()) out.push_back(with_cli_dates(e));
    return out;
  }
  return v;
}

std::string aws_cli_json(const json::value& v) {
  std::string out;
  // The AWS CLI prints with Python's json.dumps(ensure_ascii=False), whose
  // string escapes are exactly JSON's (append_json_string).
  append_indented(out, v, 4, 0, append_json_string);
  return out;
}

std::string Table::render() const {
  const std::size_t ncols = headers.empty() ? (rows.empty() ? 0 : rows.front().size()) : headers.size();
  std::vector<std::size_t> w(ncols, 0);
  auto widen = [&](const std::vector<std::string>& r) {
    for (std::size_t i = 0; i < ncols && i < r.size(); ++i) w[i] = std::max(w[i], width(r[i]));
  };
  widen(headers);
  for (const auto& r : rows) widen(r);
  std::size_t inner = 0;
  for (auto x : w) inner += x + 5;  // "|  " + cell + "  "
  inner = ncols == 0 ? width(title) + 4 : inner - 1;
  if (width(title) + 4 > inner) {  // widen the last column to fit the title
    if (ncols > 0) w.back() += width(title) + 4 - inner;
    inner = width(title) + 4;
  }
  std::string out;
  out += std::string(inner + 2, '-') + "\n";
  const std::size_t left = (inner - width(title)) / 2;
  out += "|" + std::string(left, ' ') + title + std::string(inner - width(title) - left, ' ') + "|\n";
  auto rule = [&] {
    std::string line = "+";
    for (auto x : w) line += std::string(x + 4, '-') + "+";
    out += line + "\n";
  };
  auto row = [&](const std::vector<std::string>& r) {
    std::string line = "|";
    for (std::size_t i = 0; i < ncols; ++i) {
      const std::string& c = i < r.size() ? r[i] : std::string();
      line += "  " + c + std::string(w[i] - width(c), ' ') + "  |";
    }
    out += line + "\n";
  };
  if (ncols == 0) return out;
  rule();
  if (!headers.empty()) {
    row(headers);
    rule();
  }
  for (const auto& r : rows) row(r);
  rule();
  return out;
}

std::string render_table(std::string_view operation, const json::object& response) {
  std::string out;
  Table scalars{std::string(operation), {}, {}};
  std::vector<std::pair<std::string, const json::array*>> lists;
  for (const auto& kv : response) {
    if (kv.value().is_array()) {
      lists.emplace_back(std::string(kv.key()), &kv.value().get_array());
    } else if (kv.value().is_object()) {
      for (const auto& sub : kv.value().get_object()) {
        scalars.rows.push_back({std::string(kv.key()) + "." + std::string(sub.key()), cell_text(sub.value())});
      }
    } else {
      scalars.rows.push_back({std::string(kv.key()), cell_text(kv.value())});
    }
  }
  if (!scalars.rows.empty() || lists.empty()) out += scalars.render();
  for (const auto& [name, items] : lists) {
    Table t{lists.size() == 1 && scalars.rows.empty() ? std::string(operation) : name, {}, {}};
    t.headers = columns_for(name, *items);
    for (const auto& item : *items) {
      if (!item.is_object()) {
        t.rows.push_back({cell_text(item)});
        continue;
      }
      const auto& o = item.get_object();
      std::vector<std::string> r;
      for (const auto& col : t.headers) {
        if (name == "events" && col == "details") {
          r.push_back(event_summary(o));
        } else {
          const auto* v = o.if_contains(col);
          r.push_back(v ? cell_text(*v) : "");
        }
      }
      t.rows.push_back(std::move(r));
    }
    if (t.rows.empty()) t.rows.push_back(std::vector<std::string>(t.headers.size()));
    out += t.render();
  }
  return out;
}

void print_service_error(std::string_view operation, const ServiceError& error) {
  std::cerr << "\nAn error occurred (" << error.code << ") when calling the " << operation
            << " operation: " << error.message << "\n";
}

}  // namespace stepwise::cli
