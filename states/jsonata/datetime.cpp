// Date/time and integer pictures (XPath F&O 3.1 as jsonata-js implements them):
// $fromMillis/$toMillis/$now pictures, $formatInteger/$parseInteger, ISO 8601.
#include <cmath>
#include <cstdio>
#include <ctime>

#include "states/jsonata/internal.h"

namespace stepwise::jsonata::detail {

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

}  // namespace

std::string millis_to_iso(double millis) {
  std::int64_t ms = static_cast<std::int64_t>(millis);
  std::int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
  std::int64_t rem = ms - days * 86400000;
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", static_cast<long long>(y), m, d,
                static_cast<long long>(rem / 3600000), static_cast<long long>(rem / 60000 % 60),
                static_cast<long long>(rem / 1000 % 60), static_cast<long long>(rem % 1000));
  return buf;
}

std::optional<double> iso_to_millis(const std::string& s) {
  static const std::regex kIso(
      "^(\\d{4})(?:-(\\d{2})(?:-(\\d{2})(?:T(\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d+))?)?(Z|[+-]\\d{2}:?\\d{2})?)?)?)?$");
  std::smatch m;
  if (!std::regex_match(s, m, kIso)) return std::nullopt;
  auto n = [&](int i, int def) { return m[i].matched ? std::stoi(m[i].str()) : def; };
  std::int64_t days = days_from_civil(n(1, 1970), static_cast<unsigned>(n(2, 1)), static_cast<unsigned>(n(3, 1)));
  double ms = static_cast<double>(days) * 86400000.0 + n(4, 0) * 3600000.0 + n(5, 0) * 60000.0 + n(6, 0) * 1000.0;
  if (m[7].matched) {
    std::string frac = (m[7].str() + "000").substr(0, 3);
    ms += std::stoi(frac);
  }
  if (m[8].matched && m[8].str() != "Z") {
    std::string tz = m[8].str();
    int sign = tz[0] == '-' ? -1 : 1;
    std::string digits;
    for (char c : tz.substr(1)) {
      if (c != ':') digits += c;
    }
    int offset = std::stoi(digits.substr(0, 2)) * 60 + std::stoi(digits.substr(2, 2));
    ms -= sign * offset * 60000.0;
  }
  return ms;
}

std::optional<std::string> format_datetime(std::int64_t, const std::string&, const std::string&) {
  fail("D3132", std::nullopt, std::nullopt, Value("not implemented"));
}

std::optional<double> parse_datetime(const std::string&, const std::string&) {
  fail("D3132", std::nullopt, std::nullopt, Value("not implemented"));
}

std::string format_integer(double, const std::string&) { fail("D3130", std::nullopt, std::nullopt, Value("not implemented")); }

std::optional<double> parse_integer(const std::string&, const std::string&) {
  fail("D3130", std::nullopt, std::nullopt, Value("not implemented"));
}

}  // namespace stepwise::jsonata::detail
