// Date/time and integer pictures (XPath F&O 3.1 as jsonata-js implements them):
// $fromMillis/$toMillis/$now pictures, $formatInteger/$parseInteger, ISO 8601.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>

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
      "^(\\d{4})(?:-([01]\\d))?(?:-([0-3]\\d))?(?:T([0-2]\\d):([0-5]\\d):([0-5]\\d))?(?:\\.(\\d+))?(Z|[+-][0-2]\\d:?[0-"
      "5]\\d)?$");
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

namespace {

using U32 = std::u32string;

U32 to_u32(const std::string& s) {
  auto cps = to_code_points(s);
  return U32(cps.begin(), cps.end());
}

std::string to_utf8(const U32& s) {
  std::string out;
  for (char32_t c : s) append_utf8(out, static_cast<std::uint32_t>(c));
  return out;
}

enum class Primary { kDecimal, kLetters, kRoman, kWords, kSequence };
enum class Case { kLower, kUpper, kTitle };

struct Separator {
  int position = 0;
  char32_t character = 0;
};

struct IntegerFormat {
  Primary primary = Primary::kDecimal;
  Case letter_case = Case::kLower;
  bool ordinal = false;
  char32_t zero = U'0';
  int mandatory = 0;
  int optional = 0;
  bool regular = false;
  std::vector<Separator> separators;  // when regular: one entry (interval, character)
  int n = -1;                         // fixed width when parsing a Y/M/D component
  std::string token;
};

const char32_t kDecimalGroups[] = {0x30,   0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6,
                                   0x0C66, 0x0CE6, 0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0,
                                   0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620,
                                   0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10};

int gcd(int a, int b) {
  return b == 0 ? a : gcd(b, a % b);
}

IntegerFormat analyse_integer_picture(const U32& picture) {
  IntegerFormat f;
  U32 primary = picture;
  auto semicolon = picture.rfind(U';');
  if (semicolon != U32::npos) {
    primary = picture.substr(0, semicolon);
    U32 modifier = picture.substr(semicolon + 1);
    if (!modifier.empty() && modifier[0] == U'o') f.ordinal = true;
  }
  if (primary == U"A") {
    f.letter_case = Case::kUpper;
    f.primary = Primary::kLetters;
  } else if (primary == U"a") {
    f.primary = Primary::kLetters;
  } else if (primary == U"I") {
    f.letter_case = Case::kUpper;
    f.primary = Primary::kRoman;
  } else if (primary == U"i") {
    f.primary = Primary::kRoman;
  } else if (primary == U"W") {
    f.letter_case = Case::kUpper;
    f.primary = Primary::kWords;
  } else if (primary == U"Ww") {
    f.letter_case = Case::kTitle;
    f.primary = Primary::kWords;
  } else if (primary == U"w") {
    f.primary = Primary::kWords;
  } else {
    std::optional<char32_t> zero;
    int separator_position = 0;
    std::vector<Separator> separators;
    for (auto it = primary.rbegin(); it != primary.rend(); ++it) {
      char32_t cp = *it;
      bool digit = false;
      for (char32_t group : kDecimalGroups) {
        if (cp >= group && cp <= group + 9) {
          digit = true;
          ++f.mandatory;
          ++separator_position;
          if (!zero) {
            zero = group;
          } else if (*zero != group) {
            fail("D3131");
          }
          break;
        }
      }
      if (!digit) {
        if (cp == U'#') {
          ++separator_position;
          ++f.optional;
        } else {
          separators.push_back(Separator{separator_position, cp});
        }
      }
    }
    if (f.mandatory > 0) {
      f.primary = Primary::kDecimal;
      f.zero = *zero;
      int regular = 0;
      if (!separators.empty()) {
        bool same = true;
        for (const auto& s : separators) same = same && s.character == separators[0].character;
        if (same) {
          int factor = separators[0].position;
          for (const auto& s : separators) factor = gcd(factor, s.position);
          regular = factor;
          for (std::size_t i = 1; i <= separators.size(); ++i) {
            bool found = false;
            for (const auto& s : separators) found = found || s.position == static_cast<int>(i) * factor;
            if (!found) regular = 0;
          }
        }
      }
      if (regular > 0) {
        f.regular = true;
        f.separators = {Separator{regular, separators[0].character}};
      } else {
        f.separators = separators;
      }
    } else {
      f.primary = Primary::kSequence;
      f.token = to_utf8(primary);
    }
  }
  return f;
}

const char* kFew[] = {"Zero",     "One",     "Two",     "Three",     "Four",     "Five",    "Six",
                      "Seven",    "Eight",   "Nine",    "Ten",       "Eleven",   "Twelve",  "Thirteen",
                      "Fourteen", "Fifteen", "Sixteen", "Seventeen", "Eighteen", "Nineteen"};
const char* kOrdinals[] = {"Zeroth",    "First",     "Second",      "Third",      "Fourth",
                           "Fifth",     "Sixth",     "Seventh",     "Eighth",     "Ninth",
                           "Tenth",     "Eleventh",  "Twelfth",     "Thirteenth", "Fourteenth",
                           "Fifteenth", "Sixteenth", "Seventeenth", "Eighteenth", "Nineteenth"};
const char* kDecades[] = {"Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety", "Hundred"};
const char* kMagnitudes[] = {"Thousand", "Million", "Billion", "Trillion"};
const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                         "July",    "August",   "September", "October", "November", "December"};
const char* kDays[] = {"", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

std::string words_lookup(double num, bool prev, bool ord) {
  std::string words;
  if (num <= 19) {
    words = std::string(prev ? " and " : "") + (ord ? kOrdinals[static_cast<int>(num)] : kFew[static_cast<int>(num)]);
  } else if (num < 100) {
    int tens = static_cast<int>(num / 10);
    int remainder = static_cast<int>(std::fmod(num, 10));
    words = std::string(prev ? " and " : "") + kDecades[tens - 2];
    if (remainder > 0) {
      words += "-" + words_lookup(remainder, false, ord);
    } else if (ord) {
      words = words.substr(0, words.size() - 1) + "ieth";
    }
  } else if (num < 1000) {
    int hundreds = static_cast<int>(num / 100);
    double remainder = std::fmod(num, 100);
    words = std::string(prev ? ", " : "") + kFew[hundreds] + " Hundred";
    if (remainder > 0) {
      words += words_lookup(remainder, true, ord);
    } else if (ord) {
      words += "th";
    }
  } else {
    int mag = static_cast<int>(std::floor(std::log10(num) / 3));
    if (mag > 4) mag = 4;
    double factor = std::pow(10, mag * 3);
    double mant = std::floor(num / factor);
    double remainder = num - mant * factor;
    words = std::string(prev ? ", " : "") + words_lookup(mant, false, false) + " " + kMagnitudes[mag - 1];
    if (remainder > 0) {
      words += words_lookup(remainder, true, ord);
    } else if (ord) {
      words += "th";
    }
  }
  return words;
}

std::string ascii_upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string ascii_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string to_roman(double value) {
  // Roman numerals grow linearly with the value; beyond this they are not a useful output.
  if (value > 1e7) fail("D3130", std::nullopt, std::nullopt, Value(value));
  static const std::pair<int, const char*> kTable[] = {{1000, "m"}, {900, "cm"}, {500, "d"}, {400, "cd"}, {100, "c"},
                                                       {90, "xc"},  {50, "l"},   {40, "xl"}, {10, "x"},   {9, "ix"},
                                                       {5, "v"},    {4, "iv"},   {1, "i"}};
  std::string out;
  long long v = static_cast<long long>(value);
  for (const auto& [n, s] : kTable) {
    while (v >= n) {
      out += s;
      v -= n;
    }
  }
  return out;
}

std::string to_letters(double value, char a) {
  std::string out;
  long long v = static_cast<long long>(value);
  while (v > 0) {
    out.insert(out.begin(), static_cast<char>((v - 1) % 26 + a));
    v = (v - 1) / 26;
  }
  return out;
}

std::string format_integer_with(double value, const IntegerFormat& f) {
  bool negative = value < 0;
  value = std::fabs(value);
  std::string out;
  switch (f.primary) {
    case Primary::kLetters:
      out = to_letters(value, f.letter_case == Case::kUpper ? 'A' : 'a');
      break;
    case Primary::kRoman:
      out = to_roman(value);
      if (f.letter_case == Case::kUpper) out = ascii_upper(out);
      break;
    case Primary::kWords:
      out = words_lookup(value, false, f.ordinal);
      if (f.letter_case == Case::kUpper) {
        out = ascii_upper(out);
      } else if (f.letter_case == Case::kLower) {
        out = ascii_lower(out);
      }
      break;
    case Primary::kDecimal: {
      std::string digits = number_to_js(value);
      U32 text(digits.begin(), digits.end());
      if (static_cast<int>(text.size()) < f.mandatory)
        text = U32(static_cast<std::size_t>(f.mandatory) - text.size(), U'0') + text;
      if (f.zero != U'0') {
        for (auto& c : text) c = c - U'0' + f.zero;
      }
      if (f.regular) {
        int interval = f.separators[0].position;
        int n = (static_cast<int>(text.size()) - 1) / interval;
        for (int i = n; i > 0; --i) {
          std::size_t pos = text.size() - static_cast<std::size_t>(i * interval);
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(pos), f.separators[0].character);
        }
      } else {
        for (auto it = f.separators.rbegin(); it != f.separators.rend(); ++it) {
          if (static_cast<std::size_t>(it->position) > text.size()) continue;
          std::size_t pos = text.size() - static_cast<std::size_t>(it->position);
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(pos), it->character);
        }
      }
      if (f.ordinal) {
        char32_t last = text.back();
        const char* suffix = last == U'1' ? "st" : last == U'2' ? "nd" : last == U'3' ? "rd" : "th";
        if (text.size() > 1 && text[text.size() - 2] == U'1') suffix = "th";
        text += U32(suffix, suffix + 2);
      }
      out = to_utf8(text);
      break;
    }
    case Primary::kSequence:
      fail("D3130", std::nullopt, std::nullopt, Value(f.token));
  }
  return negative ? "-" + out : out;
}

// ---- parsing integers ----

const std::vector<std::pair<std::string, double>>& word_values() {
  static const std::vector<std::pair<std::string, double>> kValues = [] {
    std::vector<std::pair<std::string, double>> v;
    for (int i = 0; i < 20; ++i) v.emplace_back(ascii_lower(kFew[i]), i);
    for (int i = 0; i < 20; ++i) v.emplace_back(ascii_lower(kOrdinals[i]), i);
    for (int i = 0; i < 9; ++i) {
      std::string w = ascii_lower(kDecades[i]);
      v.emplace_back(w, (i + 2) * 10);
      v.emplace_back(w.substr(0, w.size() - 1) + "ieth", (i + 2) * 10);
    }
    v.emplace_back("hundredth", 100);
    for (int i = 0; i < 4; ++i) {
      std::string w = ascii_lower(kMagnitudes[i]);
      v.emplace_back(w, std::pow(10, (i + 1) * 3));
      v.emplace_back(w + "th", std::pow(10, (i + 1) * 3));
    }
    return v;
  }();
  return kValues;
}

double words_to_number(const std::string& text) {
  const auto& kValues = word_values();
  static const std::regex kSplit(",\\s|\\sand\\s|[\\s\\-]");
  std::vector<double> segs{0};
  for (std::sregex_token_iterator it(text.begin(), text.end(), kSplit, -1), end; it != end; ++it) {
    std::string part = *it;
    double value = NAN;
    for (const auto& [w, v] : kValues) {
      if (w == part) value = v;
    }
    if (value < 100) {
      double top = segs.back();
      segs.pop_back();
      if (top >= 1000) {
        segs.push_back(top);
        top = 0;
      }
      segs.push_back(top + value);
    } else {
      double top = segs.back();
      segs.pop_back();
      segs.push_back(top * value);
    }
  }
  double total = 0;
  for (double s : segs) total += s;
  return total;
}

double roman_to_number(const std::string& roman) {
  auto value_of = [](char c) {
    switch (c) {
      case 'M':
        return 1000;
      case 'D':
        return 500;
      case 'C':
        return 100;
      case 'L':
        return 50;
      case 'X':
        return 10;
      case 'V':
        return 5;
      case 'I':
        return 1;
      default:
        return 0;
    }
  };
  double decimal = 0;
  int max = 1;
  for (auto it = roman.rbegin(); it != roman.rend(); ++it) {
    int v = value_of(*it);
    if (v < max) {
      decimal -= v;
    } else {
      max = v;
      decimal += v;
    }
  }
  return decimal;
}

double letters_to_number(const std::string& letters, char a) {
  double decimal = 0;
  for (std::size_t i = 0; i < letters.size(); ++i) {
    decimal += (letters[letters.size() - i - 1] - a + 1) * std::pow(26, static_cast<double>(i));
  }
  return decimal;
}

std::string regex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::strchr(".*+?^${}()|[]\\", c) && c != 0) out += '\\';
    out += c;
  }
  return out;
}

struct IntegerMatcher {
  std::string regex;
  std::function<double(const std::string&)> parse;
};

IntegerMatcher integer_matcher(const IntegerFormat& f) {
  IntegerMatcher m;
  bool upper = f.letter_case == Case::kUpper;
  switch (f.primary) {
    case Primary::kLetters:
      m.regex = upper ? "[A-Z]+" : "[a-z]+";
      m.parse = [upper](const std::string& v) { return letters_to_number(v, upper ? 'A' : 'a'); };
      break;
    case Primary::kRoman:
      m.regex = upper ? "[MDCLXVI]+" : "[mdclxvi]+";
      m.parse = [](const std::string& v) { return roman_to_number(ascii_upper(v)); };
      break;
    case Primary::kWords:
      m.regex = "(?:";
      for (const auto& [w, v] : word_values()) m.regex += w + "|";
      m.regex += "and|[\\-, ])+";
      m.parse = [](const std::string& v) { return words_to_number(ascii_lower(v)); };
      break;
    case Primary::kDecimal: {
      std::string occurrences = "+";
      if (f.n > 0) {
        occurrences = f.optional == 0 ? "{" + std::to_string(f.n) + "}"
                                      : "{" + std::to_string(f.n - f.optional) + "," + std::to_string(f.n) + "}";
      }
      m.regex = "[0-9]" + occurrences;
      if (f.ordinal) m.regex += "(?:th|st|nd|rd)";
      m.parse = [f](const std::string& value) {
        U32 digits = to_u32(value);
        if (f.ordinal && digits.size() >= 2) digits.resize(digits.size() - 2);
        U32 kept;
        for (char32_t c : digits) {
          bool separator = false;
          for (const auto& s : f.separators) separator = separator || s.character == c;
          if (!separator) kept += f.zero != U'0' ? static_cast<char32_t>(c - f.zero + U'0') : c;
        }
        std::string ascii = to_utf8(kept);
        std::size_t i = 0;
        while (i < ascii.size() && std::isdigit(static_cast<unsigned char>(ascii[i]))) ++i;
        if (i == 0) return static_cast<double>(NAN);
        return std::strtod(ascii.substr(0, i).c_str(), nullptr);
      };
      break;
    }
    case Primary::kSequence:
      fail("D3130", std::nullopt, std::nullopt, Value(f.token));
  }
  return m;
}

// ---- date/time pictures ----

struct Width {
  std::optional<int> min, max;
};

struct PicturePart {
  bool literal = false;
  std::string value;  // literal text
  char component = 0;
  std::string presentation1;
  char presentation2 = 0;
  std::optional<Case> names;
  std::optional<Width> width;
  std::optional<IntegerFormat> integer;
  int n = -1;
};

std::vector<PicturePart> analyse_datetime_picture(const std::string& picture) {
  static const std::pair<char, const char*> kDefaults[] = {
      {'Y', "1"}, {'M', "1"},     {'D', "1"},     {'d', "1"}, {'F', "n"}, {'W', "1"},  {'w', "1"},
      {'X', "1"}, {'x', "1"},     {'H', "1"},     {'h', "1"}, {'P', "n"}, {'m', "01"}, {'s', "01"},
      {'f', "1"}, {'Z', "01:01"}, {'z', "01:01"}, {'C', "n"}, {'E', "n"}};
  std::vector<PicturePart> spec;
  auto add_literal = [&](std::size_t start, std::size_t end) {
    if (end <= start) return;
    std::string lit = picture.substr(start, end - start);
    std::string out;
    for (std::size_t i = 0; i < lit.size(); ++i) {
      out += lit[i];
      if (lit[i] == ']' && i + 1 < lit.size() && lit[i + 1] == ']') ++i;
    }
    PicturePart p;
    p.literal = true;
    p.value = out;
    spec.push_back(p);
  };
  std::size_t start = 0, pos = 0;
  while (pos < picture.size()) {
    if (picture[pos] == '[') {
      if (pos + 1 < picture.size() && picture[pos + 1] == '[') {
        add_literal(start, pos);
        PicturePart p;
        p.literal = true;
        p.value = "[";
        spec.push_back(p);
        pos += 2;
        start = pos;
        continue;
      }
      add_literal(start, pos);
      start = pos;
      pos = picture.find(']', start);
      if (pos == std::string::npos) fail("D3135");
      std::string marker;
      for (char c : picture.substr(start + 1, pos - start - 1)) {
        if (!std::isspace(static_cast<unsigned char>(c))) marker += c;
      }
      PicturePart def;
      def.component = marker.empty() ? '\0' : marker[0];
      auto comma = marker.rfind(',');
      std::string pres;
      if (comma != std::string::npos) {
        std::string width_mod = marker.substr(comma + 1);
        auto dash = width_mod.find('-');
        auto parse_width = [](const std::string& w) -> std::optional<int> {
          if (w.empty() || w == "*") return std::nullopt;
          try {
            return std::stoi(w);
          } catch (...) {
            return std::nullopt;
          }
        };
        Width w;
        if (dash == std::string::npos) {
          w.min = parse_width(width_mod);
        } else {
          w.min = parse_width(width_mod.substr(0, dash));
          w.max = parse_width(width_mod.substr(dash + 1));
        }
        def.width = w;
        pres = marker.substr(1, comma - 1);
      } else {
        pres = marker.size() > 1 ? marker.substr(1) : "";
      }
      bool have_pres = true;
      if (to_u32(pres).size() == 1) {
        def.presentation1 = pres;
      } else if (pres.size() > 1) {
        char last = pres.back();
        if (std::strchr("atco", last) && last != 0) {
          def.presentation2 = last;
          def.presentation1 = pres.substr(0, pres.size() - 1);
        } else {
          def.presentation1 = pres;
        }
      } else {
        have_pres = false;
        for (const auto& [c, d] : kDefaults) {
          if (c == def.component) {
            def.presentation1 = d;
            have_pres = true;
          }
        }
        if (!have_pres) fail("D3132", std::nullopt, std::nullopt, Value(std::string(1, def.component)));
      }
      if (def.presentation1[0] == 'n') {
        def.names = Case::kLower;
      } else if (def.presentation1[0] == 'N') {
        def.names = def.presentation1.size() > 1 && def.presentation1[1] == 'n' ? Case::kTitle : Case::kUpper;
      } else if (std::strchr("YMDdFWwXxHhmsf", def.component) && def.component != 0) {
        std::string pattern = def.presentation1;
        if (def.presentation2) pattern += std::string(";") + def.presentation2;
        def.integer = analyse_integer_picture(to_u32(pattern));
        if (def.width && def.width->min && def.integer->mandatory < *def.width->min)
          def.integer->mandatory = *def.width->min;
        if (std::strchr("YMD", def.component)) {
          def.n = -1;
          if (def.width && def.width->max) {
            def.n = *def.width->max;
            def.integer->mandatory = def.n;
          } else {
            int w = def.integer->mandatory + def.integer->optional;
            if (w >= 2) def.n = w;
          }
          def.integer->n = def.n;
        }
      }
      if (def.component == 'Z' || def.component == 'z')
        def.integer = analyse_integer_picture(to_u32(def.presentation1));
      if (!std::strchr("YMDdFWwXxHhmsfZzPCE", def.component) || def.component == 0) {
        fail("D3132", std::nullopt, std::nullopt, Value(std::string(1, def.component)));
      }
      spec.push_back(def);
      start = pos + 1;
    }
    ++pos;
  }
  add_literal(start, pos);
  return spec;
}

constexpr double kDay = 86400000.0;

struct Civil {
  std::int64_t year;
  int month;  // 0-based
  int day;
  int hour, minute, second, millis;
  int weekday;  // 0 = Sunday
};

Civil civil_of(double millis) {
  std::int64_t ms = static_cast<std::int64_t>(std::floor(millis));
  std::int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
  std::int64_t rem = ms - days * 86400000;
  Civil c;
  unsigned m, d;
  civil_from_days(days, c.year, m, d);
  c.month = static_cast<int>(m) - 1;
  c.day = static_cast<int>(d);
  c.hour = static_cast<int>(rem / 3600000);
  c.minute = static_cast<int>(rem / 60000 % 60);
  c.second = static_cast<int>(rem / 1000 % 60);
  c.millis = static_cast<int>(rem % 1000);
  c.weekday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  return c;
}

double utc(std::int64_t year, std::int64_t month, double day = 1, double h = 0, double mi = 0, double s = 0,
           double ms = 0) {
  std::int64_t y = year + (month >= 0 ? month / 12 : -((-month + 11) / 12));
  std::int64_t mo = ((month % 12) + 12) % 12;
  double days = static_cast<double>(days_from_civil(y, static_cast<unsigned>(mo + 1), 1)) + day - 1;
  return days * kDay + h * 3600000.0 + mi * 60000.0 + s * 1000.0 + ms;
}

double start_of_first_week(std::int64_t year, std::int64_t month) {
  double jan1 = utc(year, month);
  int dow = civil_of(jan1).weekday;
  if (dow == 0) dow = 7;
  return dow > 4 ? jan1 + (8 - dow) * kDay : jan1 - (dow - 1) * kDay;
}

double delta_weeks(double start, double end) {
  return std::floor((end - start) / (kDay * 7)) + 1;
}

// One component of a date as jsonata-js computes it; names come back as strings.
Value fragment(double millis, char component) {
  Civil c = civil_of(millis);
  switch (component) {
    case 'Y':
      return Value(static_cast<double>(c.year));
    case 'M':
      return Value(c.month + 1);
    case 'D':
      return Value(c.day);
    case 'd':
      return Value((utc(c.year, c.month, c.day) - utc(c.year, 0)) / kDay + 1);
    case 'F':
      return Value(c.weekday == 0 ? 7 : c.weekday);
    case 'W':
    case 'X': {
      double start1 = start_of_first_week(c.year, 0);
      double next = start_of_first_week(c.year + 1, 0);
      if (millis < start1) {
        return component == 'W' ? Value(delta_weeks(start_of_first_week(c.year - 1, 0), millis))
                                : Value(static_cast<double>(c.year - 1));
      }
      if (millis >= next)
        return component == 'W' ? Value(delta_weeks(next, millis)) : Value(static_cast<double>(c.year + 1));
      return component == 'W' ? Value(delta_weeks(start1, millis)) : Value(static_cast<double>(c.year));
    }
    case 'w':
    case 'x': {
      double start1 = start_of_first_week(c.year, c.month);
      std::int64_t ny = c.month == 11 ? c.year + 1 : c.year;
      int nm = c.month == 11 ? 0 : c.month + 1;
      std::int64_t py = c.month == 0 ? c.year - 1 : c.year;
      int pm = c.month == 0 ? 11 : c.month - 1;
      double next = start_of_first_week(ny, nm);
      if (millis < start1) {
        return component == 'w' ? Value(delta_weeks(start_of_first_week(py, pm), millis)) : Value(pm + 1);
      }
      if (millis >= next) return component == 'w' ? Value(1) : Value(nm + 1);
      return component == 'w' ? Value(delta_weeks(start1, millis)) : Value(c.month + 1);
    }
    case 'H':
      return Value(c.hour);
    case 'h':
      return Value(c.hour % 12 == 0 ? 12 : c.hour % 12);
    case 'P':
      return Value(c.hour >= 12 ? "pm" : "am");
    case 'm':
      return Value(c.minute);
    case 's':
      return Value(c.second);
    case 'f':
      return Value(c.millis);
    case 'C':
    case 'E':
      return Value("ISO");
    default:
      return Value();
  }
}

const char* kIsoPicture = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]";

}  // namespace

std::optional<std::string> format_datetime(std::int64_t millis, const std::optional<std::string>& picture,
                                           const std::optional<std::string>& timezone) {
  int offset_hours = 0, offset_minutes = 0;
  if (timezone) {
    int offset = std::atoi(timezone->c_str());
    offset_hours = static_cast<int>(std::floor(offset / 100.0));
    offset_minutes = offset % 100;
  }
  auto spec = analyse_datetime_picture(picture ? *picture : kIsoPicture);
  double shifted = static_cast<double>(millis) + (60.0 * offset_hours + offset_minutes) * 60000.0;
  std::string out;
  for (const auto& part : spec) {
    if (part.literal) {
      out += part.value;
      continue;
    }
    Value v = fragment(shifted, part.component);
    std::string text;
    char c = part.component;
    if (std::strchr("YMDdFWwXxHhmsf", c)) {
      double number = v.number();
      if (c == 'Y' && part.n != -1) number = std::fmod(number, std::pow(10, part.n));
      if (part.names) {
        if (c == 'M' || c == 'x') {
          text = kMonths[static_cast<int>(number) - 1];
        } else if (c == 'F') {
          text = kDays[static_cast<int>(number)];
        } else {
          fail("D3133", std::nullopt, std::nullopt, Value(std::string(1, c)));
        }
        if (*part.names == Case::kUpper) text = ascii_upper(text);
        if (*part.names == Case::kLower) text = ascii_lower(text);
        if (part.width && part.width->max && static_cast<int>(text.size()) > *part.width->max) {
          text = text.substr(0, static_cast<std::size_t>(*part.width->max));
        }
      } else {
        text = format_integer_with(number, *part.integer);
      }
    } else if (c == 'Z' || c == 'z') {
      int offset = offset_hours * 100 + offset_minutes;
      const IntegerFormat& f = *part.integer;
      if (f.regular) {
        text = format_integer_with(offset, f);
      } else {
        int digits = f.mandatory;
        if (digits == 1 || digits == 2) {
          text = format_integer_with(offset_hours, f);
          if (offset_minutes != 0) {
            IntegerFormat two;
            two.mandatory = 2;
            text += ":" + format_integer_with(offset_minutes, two);
          }
        } else if (digits == 3 || digits == 4) {
          text = format_integer_with(offset, f);
        } else {
          fail("D3134", std::nullopt, std::nullopt, Value(digits));
        }
      }
      if (offset >= 0) text = "+" + text;
      if (c == 'z') text = "GMT" + text;
      if (offset == 0 && part.presentation2 == 't') text = "Z";
    } else if (c == 'P') {
      text = v.str();
      if (part.names && *part.names == Case::kUpper) text = ascii_upper(text);
    } else {
      text = v.is_string() ? v.str() : "";
    }
    out += text;
  }
  return out;
}

std::optional<double> parse_datetime(const std::string& timestamp, const std::string& picture, std::int64_t now) {
  auto spec = analyse_datetime_picture(picture);
  struct Matcher {
    char component = 0;
    std::function<double(const std::string&)> parse;
  };
  std::vector<Matcher> matchers;
  std::string full = "^";
  for (const auto& part : spec) {
    if (part.literal) {
      full += "(" + regex_escape(part.value) + ")";
      matchers.push_back(Matcher{});
      continue;
    }
    Matcher m;
    m.component = part.component;
    std::string re;
    if (part.component == 'Z' || part.component == 'z') {
      std::optional<char32_t> separator;
      if (part.integer->regular) separator = part.integer->separators[0].character;
      re = part.component == 'z' ? "GMT" : "";
      re += "[-+][0-9]+";
      std::string sep = separator ? to_utf8(U32(1, *separator)) : "";
      if (separator) re += regex_escape(sep) + "[0-9]+";
      char comp = part.component;
      m.parse = [comp, separator, sep](const std::string& raw) {
        std::string value = comp == 'z' ? raw.substr(3) : raw;
        int hours = 0, minutes = 0;
        if (separator) {
          auto at = value.find(sep);
          hours = std::atoi(value.substr(0, at).c_str());
          minutes = std::atoi(value.substr(at + sep.size()).c_str());
        } else if (value.size() - 1 <= 2) {
          hours = std::atoi(value.c_str());
        } else {
          hours = std::atoi(value.substr(0, 3).c_str());
          minutes = std::atoi(value.substr(3).c_str());
        }
        return static_cast<double>(hours * 60 + minutes);
      };
    } else if (part.integer) {
      auto im = integer_matcher(*part.integer);
      re = im.regex;
      m.parse = im.parse;
    } else {
      re = "[a-zA-Z]+";
      std::vector<std::pair<std::string, double>> lookup;
      std::optional<int> max;
      if (part.width) max = part.width->max;
      if (part.component == 'M' || part.component == 'x') {
        for (int i = 0; i < 12; ++i) {
          std::string name = kMonths[i];
          lookup.emplace_back(max ? name.substr(0, static_cast<std::size_t>(*max)) : name, i + 1);
        }
      } else if (part.component == 'F') {
        for (int i = 1; i < 8; ++i) {
          std::string name = kDays[i];
          lookup.emplace_back(max ? name.substr(0, static_cast<std::size_t>(*max)) : name, i);
        }
      } else if (part.component == 'P') {
        lookup = {{"am", 0}, {"AM", 0}, {"pm", 1}, {"PM", 1}};
      } else {
        fail("D3133", std::nullopt, std::nullopt, Value(std::string(1, part.component)));
      }
      m.parse = [lookup](const std::string& v) {
        for (const auto& [k, x] : lookup) {
          if (k == v) return x;
        }
        return static_cast<double>(NAN);
      };
    }
    full += "(" + re + ")";
    matchers.push_back(m);
  }
  full += "$";
  std::smatch info;
  std::regex matcher(full, std::regex::ECMAScript | std::regex::icase);
  if (!std::regex_match(timestamp, info, matcher)) return std::nullopt;
  std::map<char, double> components;
  for (std::size_t i = 1; i < info.size(); ++i) {
    const auto& m = matchers[i - 1];
    if (!m.component) continue;
    components[m.component] = m.parse(info[i].str());
  }
  if (components.empty()) return std::nullopt;
  auto has = [&](char c) { return components.count(c) > 0; };
  int mask = 0;
  auto shift = [&](bool bit) { mask = (mask << 1) + (bit ? 1 : 0); };
  auto is_type = [&](int type) { return !(~type & mask) && (type & mask); };
  for (char c : std::string("YXMxWwdD")) shift(has(c));
  bool date_a = is_type(161);
  bool date_b = !date_a && is_type(130);
  bool date_c = is_type(84);
  bool date_d = !date_c && is_type(72);
  mask = 0;
  for (char c : std::string("PHhmsf")) shift(has(c));
  bool time_a = is_type(23);
  bool time_b = !time_a && is_type(47);
  std::string comps = std::string(date_b   ? "Yd"
                                  : date_c ? "XxwF"
                                  : date_d ? "XWF"
                                           : "YMD") +
                      (time_b ? "Phmsf" : "Hmsf");
  bool start_specified = false, end_specified = false;
  for (char part : comps) {
    if (!has(part)) {
      if (start_specified) {
        components[part] = std::strchr("MDd", part) ? 1 : 0;
        end_specified = true;
      } else {
        Value f = fragment(static_cast<double>(now), part);
        components[part] = f.is_number() ? f.number() : (f.is_string() && f.str() == "pm" ? 1 : 0);
      }
    } else {
      start_specified = true;
      if (end_specified) fail("D3136");
    }
  }
  if (components['M'] > 0) {
    components['M'] -= 1;
  } else {
    components['M'] = 0;
  }
  if (date_b) {
    double first = utc(static_cast<std::int64_t>(components['Y']), 0);
    Civil c = civil_of(first + (components['d'] - 1) * kDay);
    components['M'] = c.month;
    components['D'] = c.day;
  }
  if (date_c || date_d) fail("D3136");
  if (time_b) {
    components['H'] = components['h'] == 12 ? 0 : components['h'];
    if (components['P'] == 1) components['H'] += 12;
  }
  for (const auto& [k, v] : components) {
    if (std::isnan(v)) return std::nullopt;
  }
  double millis = utc(static_cast<std::int64_t>(components['Y']), static_cast<std::int64_t>(components['M']),
                      components['D'], components['H'], components['m'], components['s'], components['f']);
  double tz = has('Z') ? components['Z'] : has('z') ? components['z'] : 0;
  millis -= tz * 60000.0;
  return millis;
}

std::string format_integer(double value, const std::string& picture) {
  return format_integer_with(std::floor(value), analyse_integer_picture(to_u32(picture)));
}

std::optional<double> parse_integer(const std::string& text, const std::string& picture) {
  auto f = analyse_integer_picture(to_u32(picture));
  double v = integer_matcher(f).parse(text);
  if (std::isnan(v)) return std::nullopt;
  return v;
}

}  // namespace stepwise::jsonata::detail
