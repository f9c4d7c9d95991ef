#include "storage/history_chunk.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
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

bool decode_chunk(std::string_view text, std::vector<EventRecord>& out) {
  boost::json::monotonic_resource arena;
  boost::json::parse_options options;
  // Details are opaque text: whatever bytes were stored come back.
  options.allow_invalid_utf8 = true;
  boost::system::error_code ec;
  boost::json::value chunk = boost::json::parse(text, ec, &arena, options);
  if (ec || !chunk.is_array()) return false;
  for (const boost::json::value& element : chunk.get_array()) {
    const boost::json::array* fields = element.if_array();
    if (fields == nullptr || fields->size() != 5 || !(*fields)[0].is_int64() || !(*fields)[1].is_int64() ||
        !(*fields)[2].is_int64() || !(*fields)[3].is_string() || !(*fields)[4].is_string()) {
      return false;
    }
    const boost::json::string& type = (*fields)[3].get_string();
    const boost::json::string& details = (*fields)[4].get_string();
    out.push_back({(*fields)[0].get_int64(), (*fields)[1].get_int64(), (*fields)[2].get_int64(),
                   std::string(type.data(), type.size()), std::string(details.data(), details.size())});
  }
  return true;
}

}  // namespace stepwise::storage::internal
