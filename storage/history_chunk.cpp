#include "storage/history_chunk.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace stepwise::storage::internal {
namespace {

// How each byte appears inside a JSON string: 0 as itself, else the letter
// after the backslash ('u' for \u00XX).
constexpr std::array<char, 256> kEscapes = [] {
  std::array<char, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[c] = 'u';
  table['"'] = '"';
  table['\\'] = '\\';
  table['\n'] = 'n';
  table['\r'] = 'r';
  table['\t'] = 't';
  return table;
}();

// The most an int64 takes in decimal, sign included.
constexpr std::size_t kMaxIntChars = 20;

char* write_int(char* p, std::int64_t value) {
  return std::to_chars(p, p + kMaxIntChars, value).ptr;
}

// True if any of the 8 bytes in `w` must be escaped: below 0x20, '"' or
// '\\' (the "has a byte less than / equal to" bit tricks; exact for "any").
bool any_to_escape(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  const std::uint64_t quote = w ^ (kOnes * '"');
  const std::uint64_t backslash = w ^ (kOnes * '\\');
  const std::uint64_t below_space = (w - kOnes * 0x20) & ~w;
  const std::uint64_t is_quote = (quote - kOnes) & ~quote;
  const std::uint64_t is_backslash = (backslash - kOnes) & ~backslash;
  return ((below_space | is_quote | is_backslash) & kHighs) != 0;
}

char* write_escaped(char* p, char ch) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto c = static_cast<unsigned char>(ch);
  const char escape = kEscapes[c];
  if (escape == 0) {
    *p++ = ch;
  } else if (escape != 'u') {
    *p++ = '\\';
    *p++ = escape;
  } else {
    std::memcpy(p, "\\u00", 4);
    p[4] = kHex[c >> 4];
    p[5] = kHex[c & 0xf];
    p += 6;
  }
  return p;
}

// Writes `text` as a JSON string. REQUIRES: room for 6 * size + 2 bytes.
char* write_json_string(char* p, std::string_view text) {
  *p++ = '"';
  const char* in = text.data();
  const char* const end = in + text.size();
  // Eight bytes at a time while none needs escaping: most of a text.
  while (end - in >= 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, in, 8);
    if (!any_to_escape(w)) {
      std::memcpy(p, in, 8);
      p += 8;
      in += 8;
      continue;
    }
    for (const char* stop = in + 8; in < stop; ++in) p = write_escaped(p, *in);
  }
  for (; in < end; ++in) p = write_escaped(p, *in);
  *p++ = '"';
  return p;
}

}  // namespace

void ChunkWriter::begin() {
  size_ = 0;
  events_ = 0;
  *reserve(1) = '[';
  size_ = 1;
}

void ChunkWriter::add(const EventRecord& e) {
  // The worst case: every byte of type and details escaped as \u00XX.
  char* const start = reserve(3 * kMaxIntChars + 6 * (e.type.size() + e.details.size()) + 16);
  char* p = start;
  if (events_ > 0) *p++ = ',';
  *p++ = '[';
  p = write_int(p, e.id);
  *p++ = ',';
  p = write_int(p, e.previous_id);
  *p++ = ',';
  p = write_int(p, e.timestamp);
  *p++ = ',';
  p = write_json_string(p, e.type);
  *p++ = ',';
  p = write_json_string(p, e.details);
  *p++ = ']';
  size_ += static_cast<std::size_t>(p - start);
  ++events_;
}

void ChunkWriter::add_encoded(std::string_view element) {
  char* p = reserve(element.size() + 1);
  if (events_ > 0) *p++ = ',';
  std::memcpy(p, element.data(), element.size());
  size_ += element.size() + (events_ > 0 ? 1 : 0);
  ++events_;
}

std::string_view ChunkWriter::finish() {
  char* p = reserve(2);
  p[0] = ']';
  p[1] = '\0';  // not part of the text: for APIs that take a C string
  ++size_;
  return {buffer_.get(), size_};
}

char* ChunkWriter::reserve(std::size_t n) {
  if (size_ + n > capacity_) {
    const std::size_t capacity = std::max(2 * capacity_, size_ + n);
    auto grown = std::make_unique_for_overwrite<char[]>(capacity);
    if (size_ > 0) std::memcpy(grown.get(), buffer_.get(), size_);
    buffer_ = std::move(grown);
    capacity_ = capacity;
  }
  return buffer_.get() + size_;
}

namespace {

// Reads a chunk's JSON. Not a general JSON parser: it accepts what chunks
// hold (arrays, integers, strings with any JSON escape, whitespace), which is
// what this file and SQLite's json_array() write. A page of history decodes
// about 1,000 events, so this is several times faster than building a DOM.
class ChunkReader {
 public:
  explicit ChunkReader(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool events(std::vector<EventRecord>& out) {
    if (!take('[')) return false;
    if (take(']')) return at_end();
    do {
      EventRecord e{0, 0, 0, {}, {}};
      if (!take('[') || !integer(e.id) || !take(',') || !integer(e.previous_id) || !take(',') ||
          !integer(e.timestamp) || !take(',') || !string(e.type) || !take(',') || !details(e.details) ||
          !take(']')) {
        return false;
      }
      out.push_back(std::move(e));
    } while (take(','));
    return take(']') && at_end();
  }

 private:
  void skip_space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool take(char c) {
    skip_space();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  bool at_end() {
    skip_space();
    return p_ == end_;
  }

  bool integer(std::int64_t& value) {
    skip_space();
    auto [next, ec] = std::from_chars(p_, end_, value);
    if (ec != std::errc()) return false;
    p_ = next;
    return true;
  }

  bool hex4(std::uint32_t& value) {
    if (end_ - p_ < 4) return false;
    value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = *p_++;
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }

  static char* write_utf8(char* w, std::uint32_t cp) {
    if (cp < 0x80) {
      *w++ = static_cast<char>(cp);
    } else if (cp < 0x800) {
      *w++ = static_cast<char>(0xc0 | (cp >> 6));
      *w++ = static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      *w++ = static_cast<char>(0xe0 | (cp >> 12));
      *w++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      *w++ = static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      *w++ = static_cast<char>(0xf0 | (cp >> 18));
      *w++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      *w++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      *w++ = static_cast<char>(0x80 | (cp & 0x3f));
    }
    return w;
  }

  // After the backslash: decodes one escape to w. Null if malformed. An
  // escape never decodes to more bytes than it is written with.
  char* escape(char* w) {
    if (p_ == end_) return nullptr;
    const char c = *p_++;
    switch (c) {
      case '"':
      case '\\':
      case '/':
        *w++ = c;
        return w;
      case 'b':
        *w++ = '\b';
        return w;
      case 'f':
        *w++ = '\f';
        return w;
      case 'n':
        *w++ = '\n';
        return w;
      case 'r':
        *w++ = '\r';
        return w;
      case 't':
        *w++ = '\t';
        return w;
      case 'u': {
        std::uint32_t cp = 0;
        if (!hex4(cp)) return nullptr;
        // A surrogate pair is one code point; a lone surrogate is kept as is.
        if (cp >= 0xd800 && cp < 0xdc00 && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
          const char* const pair = p_;
          p_ += 2;
          std::uint32_t low = 0;
          if (hex4(low) && low >= 0xdc00 && low < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          } else {
            p_ = pair;
          }
        }
        return write_utf8(w, cp);
      }
      default:
        return nullptr;
    }
  }

  bool string(std::string& out) {
    if (!take('"')) return false;
    // The closing quote first: the written length bounds the decoded one,
    // so the string is sized once and filled through a pointer.
    const char* close = p_;
    while (close < end_ && *close != '"') {
      if (*close == '\\') {
        if (end_ - close < 2) return false;
        ++close;
      }
      ++close;
    }
    if (close == end_) return false;
    out.resize(static_cast<std::size_t>(close - p_));
    char* w = out.data();
    while (p_ < close) {
      const char c = *p_++;
      if (c != '\\') {
        *w++ = c;
      } else if ((w = escape(w)) == nullptr) {
        return false;
      }
    }
    p_ = close + 1;
    out.resize(static_cast<std::size_t>(w - out.data()));
    return true;
  }

  // The details: a JSON string holding their text, or the object itself,
  // taken as it is written.
  bool details(std::string& out) {
    skip_space();
    if (p_ < end_ && *p_ == '{') return object_text(out);
    return string(out);
  }

  // The text of the JSON object at p_, from its '{' to its matching '}'.
  // Only brackets and strings are followed: the store wrote it from a JSON
  // object (EncodedEvents), so the rest needs no checking here.
  bool object_text(std::string& out) {
    const char* const start = p_;
    int depth = 0;
    while (p_ < end_) {
      const char c = *p_++;
      if (c == '"') {
        while (p_ < end_ && *p_ != '"') {
          if (*p_ == '\\' && end_ - p_ < 2) return false;
          p_ += *p_ == '\\' ? 2 : 1;
        }
        if (p_ >= end_) return false;
        ++p_;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) {
          if (c != '}') return false;
          out.assign(start, p_);
          return true;
        }
      }
    }
    return false;
  }

  const char* p_;
  const char* const end_;
};

}  // namespace

bool decode_chunk(std::string_view text, std::vector<EventRecord>& out) {
  const std::size_t before = out.size();
  if (ChunkReader(text).events(out)) return true;
  out.resize(before);
  return false;
}

}  // namespace stepwise::storage::internal
