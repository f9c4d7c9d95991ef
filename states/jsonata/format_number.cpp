// $formatNumber: XPath F&O 3.1 format-number (sections 4.7.3-4.7.5) with the
// decimal format properties jsonata-js uses, overridable by the options object.
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>

#include "states/jsonata/internal.h"

namespace stepwise::jsonata::detail {
namespace {

using U32 = std::u32string;

U32 u32(const std::string& s) {
  auto cps = to_code_points(s);
  return U32(cps.begin(), cps.end());
}

std::string utf8(const U32& s) {
  std::string out;
  for (char32_t c : s) append_utf8(out, static_cast<std::uint32_t>(c));
  return out;
}

struct Properties {
  char32_t decimal = U'.', grouping = U',', exponent = U'e', minus = U'-', percent = U'%', per_mille = 0x2030,
           zero = U'0', digit = U'#', pattern = U';';
  U32 percent_text = U"%", per_mille_text = U"\u2030";
};

struct Parts {
  U32 prefix, suffix, active, mantissa, integer, fractional, subpicture;
  std::optional<U32> exponent;
};

struct Picture {
  std::vector<int> integer_grouping;
  int regular = 0;
  int min_integer = 0;
  int scaling = 0;
  U32 prefix, suffix;
  std::vector<int> fractional_grouping;
  int min_fraction = 0;
  int max_fraction = 0;
  int min_exponent = 0;
  U32 picture;
};

bool contains(const U32& s, const U32& what) {
  return !what.empty() && s.find(what) != U32::npos;
}

class Formatter {
 public:
  explicit Formatter(const Properties& p) : p_(p) {
    for (int i = 0; i < 10; ++i) family_ += static_cast<char32_t>(p.zero + static_cast<char32_t>(i));
    active_ = family_;
    active_ += p.decimal;
    active_ += p.exponent;
    active_ += p.grouping;
    active_ += p.digit;
    active_ += p.pattern;
  }

  bool is_digit(char32_t c) const { return family_.find(c) != U32::npos; }
  bool is_active(char32_t c) const { return active_.find(c) != U32::npos; }

  Parts split(const U32& sub) const {
    Parts parts;
    parts.subpicture = sub;
    std::size_t prefix_len = sub.size(), suffix_start = 0;
    for (std::size_t i = 0; i < sub.size(); ++i) {
      if (is_active(sub[i]) && sub[i] != p_.exponent) {
        prefix_len = i;
        break;
      }
    }
    bool found = false;
    for (std::size_t i = sub.size(); i-- > 0;) {
      if (is_active(sub[i]) && sub[i] != p_.exponent) {
        suffix_start = i + 1;
        found = true;
        break;
      }
    }
    parts.prefix = sub.substr(0, prefix_len);
    parts.suffix = found ? sub.substr(suffix_start) : U32();
    if (prefix_len + parts.suffix.size() <= sub.size()) {
      parts.active = sub.substr(prefix_len, sub.size() - prefix_len - parts.suffix.size());
    }
    auto exp_pos = sub.find(p_.exponent, prefix_len);
    if (exp_pos == U32::npos || exp_pos > sub.size() - parts.suffix.size()) {
      parts.mantissa = parts.active;
    } else {
      parts.mantissa = parts.active.substr(0, std::min(exp_pos, parts.active.size()));
      parts.exponent = exp_pos + 1 <= parts.active.size() ? parts.active.substr(exp_pos + 1) : U32();
    }
    auto dec = parts.mantissa.find(p_.decimal);
    if (dec == U32::npos) {
      parts.integer = parts.mantissa;
      parts.fractional = parts.suffix;
    } else {
      parts.integer = parts.mantissa.substr(0, dec);
      parts.fractional = parts.mantissa.substr(dec + 1);
    }
    return parts;
  }

  void validate(const Parts& parts) const {
    const char* error = nullptr;
    const U32& sub = parts.subpicture;
    auto dec = sub.find(p_.decimal);
    if (dec != sub.rfind(p_.decimal)) error = "D3081";
    if (sub.find(p_.percent_text) != sub.rfind(p_.percent_text)) error = "D3082";
    if (sub.find(p_.per_mille_text) != sub.rfind(p_.per_mille_text)) error = "D3083";
    if (contains(sub, p_.percent_text) && contains(sub, p_.per_mille_text)) error = "D3084";
    bool valid = false;
    for (char32_t c : parts.mantissa) valid = valid || is_digit(c) || c == p_.digit;
    if (!valid) error = "D3085";
    for (char32_t c : parts.active) {
      if (!is_active(c)) error = "D3086";
    }
    if (dec != U32::npos) {
      if ((dec > 0 && sub[dec - 1] == p_.grouping) || (dec + 1 < sub.size() && sub[dec + 1] == p_.grouping))
        error = "D3087";
    } else if (!parts.integer.empty() && parts.integer.back() == p_.grouping) {
      error = "D3088";
    }
    if (sub.find(U32{p_.grouping, p_.grouping}) != U32::npos) error = "D3089";
    auto opt = parts.integer.find(p_.digit);
    if (opt != U32::npos) {
      for (std::size_t i = 0; i < opt; ++i) {
        if (is_digit(parts.integer[i])) error = "D3090";
      }
    }
    opt = parts.fractional.rfind(p_.digit);
    if (opt != U32::npos) {
      for (std::size_t i = opt; i < parts.fractional.size(); ++i) {
        if (is_digit(parts.fractional[i])) error = "D3091";
      }
    }
    if (parts.exponent && !parts.exponent->empty() &&
        (contains(sub, p_.percent_text) || contains(sub, p_.per_mille_text))) {
      error = "D3092";
    }
    if (parts.exponent) {
      bool bad = parts.exponent->empty();
      for (char32_t c : *parts.exponent) bad = bad || !is_digit(c);
      if (bad) error = "D3093";
    }
    if (error) fail(error);
  }

  std::vector<int> grouping_positions(const Parts& parts, const U32& part, bool to_left) const {
    std::vector<int> positions;
    auto pos = part.find(p_.grouping);
    while (pos != U32::npos) {
      U32 side = to_left ? part.substr(0, pos) : part.substr(pos);
      int count = 0;
      for (char32_t c : side) count += (is_digit(c) || c == p_.digit) ? 1 : 0;
      positions.push_back(count);
      pos = parts.integer.find(p_.grouping, pos + 1);
    }
    return positions;
  }

  Picture analyse(const Parts& parts) const {
    Picture pic;
    pic.integer_grouping = grouping_positions(parts, parts.integer, false);
    if (!pic.integer_grouping.empty()) {
      int factor = pic.integer_grouping[0];
      for (int x : pic.integer_grouping) factor = std::gcd(factor, x);
      pic.regular = factor;
      for (std::size_t i = 1; i <= pic.integer_grouping.size(); ++i) {
        bool found = false;
        for (int x : pic.integer_grouping) found = found || x == static_cast<int>(i) * factor;
        if (!found) pic.regular = 0;
      }
    }
    pic.fractional_grouping = grouping_positions(parts, parts.fractional, true);
    for (char32_t c : parts.integer) pic.min_integer += is_digit(c) ? 1 : 0;
    pic.scaling = pic.min_integer;
    for (char32_t c : parts.fractional) {
      pic.min_fraction += is_digit(c) ? 1 : 0;
      pic.max_fraction += (is_digit(c) || c == p_.digit) ? 1 : 0;
    }
    bool exponent = parts.exponent.has_value();
    if (pic.min_integer == 0 && pic.max_fraction == 0) {
      if (exponent) {
        pic.min_fraction = 1;
        pic.max_fraction = 1;
      } else {
        pic.min_integer = 1;
      }
    }
    if (exponent && pic.min_integer == 0 && parts.integer.find(p_.digit) != U32::npos) pic.min_integer = 1;
    if (pic.min_integer == 0 && pic.min_fraction == 0) pic.min_fraction = 1;
    if (exponent) {
      for (char32_t c : *parts.exponent) pic.min_exponent += is_digit(c) ? 1 : 0;
    }
    pic.prefix = parts.prefix;
    pic.suffix = parts.suffix;
    pic.picture = parts.subpicture;
    return pic;
  }

  U32 make_string(double value, int dp) const {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", dp, std::fabs(value));
    U32 out;
    for (const char* c = buf; *c; ++c) {
      out += (*c >= '0' && *c <= '9') ? static_cast<char32_t>(p_.zero + static_cast<char32_t>(*c - '0'))
                                      : static_cast<char32_t>(*c);
    }
    return out;
  }

  std::string format(double value, const U32& picture) const {
    std::vector<U32> subs;
    U32 current;
    for (char32_t c : picture) {
      if (c == p_.pattern) {
        subs.push_back(current);
        current.clear();
      } else {
        current += c;
      }
    }
    subs.push_back(current);
    if (subs.size() > 2) fail("D3080");
    std::vector<Parts> parts;
    for (const auto& s : subs) parts.push_back(split(s));
    for (const auto& pt : parts) validate(pt);
    std::vector<Picture> pics;
    for (const auto& pt : parts) pics.push_back(analyse(pt));
    if (pics.size() == 1) {
      pics.push_back(pics[0]);
      pics[1].prefix = U32(1, p_.minus) + pics[1].prefix;
    }
    const Picture& pic = value >= 0 ? pics[0] : pics[1];
    double adjusted = value;
    if (contains(pic.picture, p_.percent_text)) {
      adjusted = value * 100;
    } else if (contains(pic.picture, p_.per_mille_text)) {
      adjusted = value * 1000;
    }
    double mantissa = adjusted;
    std::optional<int> exponent;
    if (pic.min_exponent != 0) {
      double max_m = std::pow(10, pic.scaling);
      double min_m = std::pow(10, pic.scaling - 1);
      int e = 0;
      while (mantissa < min_m) {
        mantissa *= 10;
        e -= 1;
      }
      while (mantissa > max_m) {
        mantissa /= 10;
        e += 1;
      }
      exponent = e;
    }
    double rounded = js_round_half_even(mantissa, static_cast<double>(pic.max_fraction));
    U32 text = make_string(rounded, pic.max_fraction);
    auto dot = text.find(U'.');
    if (dot == U32::npos) {
      text += p_.decimal;
    } else {
      text[dot] = p_.decimal;
    }
    while (!text.empty() && text.front() == p_.zero) text.erase(0, 1);
    while (!text.empty() && text.back() == p_.zero) text.pop_back();
    auto dec = static_cast<long>(text.find(p_.decimal));
    long pad_left = pic.min_integer - dec;
    long pad_right = pic.min_fraction - (static_cast<long>(text.size()) - dec - 1);
    if (pad_left > 0) text = U32(static_cast<std::size_t>(pad_left), p_.zero) + text;
    if (pad_right > 0) text += U32(static_cast<std::size_t>(pad_right), p_.zero);
    dec = static_cast<long>(text.find(p_.decimal));
    if (pic.regular > 0) {
      long groups = (dec - 1) / pic.regular;
      for (long g = 1; g <= groups; ++g) {
        text.insert(static_cast<std::size_t>(dec - g * pic.regular), 1, p_.grouping);
      }
    } else {
      for (int pos : pic.integer_grouping) {
        if (dec - pos < 0) continue;
        text.insert(static_cast<std::size_t>(dec - pos), 1, p_.grouping);
        ++dec;
      }
    }
    dec = static_cast<long>(text.find(p_.decimal));
    for (int pos : pic.fractional_grouping) {
      std::size_t at = static_cast<std::size_t>(pos + dec + 1);
      if (at <= text.size()) text.insert(at, 1, p_.grouping);
    }
    dec = static_cast<long>(text.find(p_.decimal));
    if (pic.max_fraction == 0 || dec == static_cast<long>(text.size()) - 1)
      text.erase(static_cast<std::size_t>(dec), 1);
    if (exponent) {
      U32 exp_text = make_string(*exponent, 0);
      long pad = pic.min_exponent - static_cast<long>(exp_text.size());
      if (pad > 0) exp_text = U32(static_cast<std::size_t>(pad), p_.zero) + exp_text;
      text += p_.exponent;
      if (*exponent < 0) text += p_.minus;
      text += exp_text;
    }
    return utf8(pic.prefix + text + pic.suffix);
  }

 private:
  Properties p_;
  U32 family_;
  U32 active_;
};

}  // namespace

Value fn_format_number(Evaluator&, std::vector<Value>& a, const Value&, const FramePtr&) {
  if (a.empty() || a[0].undefined()) return Value();
  Properties props;
  if (a.size() > 2 && a[2].is_object()) {
    for (const auto& [k, v] : a[2].obj()->members) {
      if (!v.is_string()) continue;
      U32 text = u32(v.str());
      char32_t c = text.empty() ? 0 : text[0];
      if (k == "decimal-separator") props.decimal = c;
      if (k == "grouping-separator") props.grouping = c;
      if (k == "exponent-separator") props.exponent = c;
      if (k == "minus-sign") props.minus = c;
      if (k == "percent") {
        props.percent = c;
        props.percent_text = text;
      }
      if (k == "per-mille") {
        props.per_mille = c;
        props.per_mille_text = text;
      }
      if (k == "zero-digit") props.zero = c;
      if (k == "digit") props.digit = c;
      if (k == "pattern-separator") props.pattern = c;
    }
  }
  Formatter formatter(props);
  return Value(formatter.format(a[0].number(), u32(a[1].str())));
}

}  // namespace stepwise::jsonata::detail
