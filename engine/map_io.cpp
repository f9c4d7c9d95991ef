// Reading a distributed Map's items from local files, and batching them.
#include "engine/map_io.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <system_error>
#include <utility>
#include <vector>

namespace stepwise::mapio {
namespace fs = std::filesystem;

namespace {

Failure reader_failure(std::string cause) {
  return Failure{kItemReaderFailed, std::move(cause), false};
}

// "bucket/key" as messages name a file: relative to the data directory, so
// that a message does not depend on where the data directory is.
std::string object_name(std::string_view bucket, std::string_view key) {
  std::string s(bucket);
  if (!key.empty()) s.append("/").append(key);
  return s;
}

// Whether `p` (normalized, absolute) is `root` or lies under it.
bool is_within(const fs::path& root, const fs::path& p) {
  auto r = root.begin();
  auto q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (r->empty() && std::next(r) == root.end()) break;  // a trailing "/" in root
    if (q == p.end() || *r != *q) return false;
  }
  return true;
}

}  // namespace

Result<fs::path> resolve_object_path(const fs::path& data_dir, std::string_view bucket, std::string_view key,
                                     const char* error) {
  auto refuse = [&](const std::string& why) {
    return Failure{error, "The object s3://" + object_name(bucket, key) + " " + why, false};
  };
  if (bucket.empty()) return refuse("has an empty bucket name");
  if (bucket.find('/') != std::string_view::npos || bucket == "." || bucket == "..")
    return refuse("has a bucket name that is not a single directory name");
  if (bucket.find('\0') != std::string_view::npos || key.find('\0') != std::string_view::npos)
    return refuse("has a NUL character in its name");
  if (!key.empty() && key.front() == '/') return refuse("has an absolute key (a key must not start with '/')");
  // A ".." component would climb out of the bucket; S3 keys have no such meaning.
  for (std::size_t start = 0; start <= key.size();) {
    std::size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    if (key.substr(start, end - start) == "..") return refuse("has a '..' component in its key");
    start = end + 1;
  }
  std::error_code ec;
  fs::path root = fs::weakly_canonical(fs::absolute(data_dir, ec), ec);
  if (ec) return refuse("cannot be placed under the data directory " + data_dir.string() + ": " + ec.message());
  fs::path p = root / std::string(bucket);
  if (!key.empty()) p /= std::string(key);
  // Symbolic links in the part that exists are followed: the target must stay inside too.
  fs::path real = fs::weakly_canonical(p, ec);
  if (ec) return refuse("cannot be resolved: " + ec.message());
  if (!is_within(root, real)) return refuse("resolves outside the data directory (through a symbolic link)");
  // Keep a trailing '/' (a Prefix naming a directory) as given.
  if (!key.empty() && key.back() == '/') return p;
  return real;
}

Result<std::uint64_t> ItemSource::skip(std::uint64_t n) {
  std::uint64_t skipped = 0;
  while (skipped < n) {
    auto item = next();
    if (!item) return item.failure();
    if (!*item) break;
    ++skipped;
  }
  return skipped;
}

namespace {

// ---- Sources -------------------------------------------------------------------

// Buffered reading of a file, byte by byte, with the line number.
class ByteReader {
 public:
  bool open(const fs::path& p) {
    in_.open(p, std::ios::binary);
    return in_.is_open();
  }
  // -1 at the end.
  int get() {
    if (pos_ == len_) {
      if (!in_) return -1;
      in_.read(buf_, sizeof buf_);
      len_ = static_cast<std::size_t>(in_.gcount());
      pos_ = 0;
      if (len_ == 0) return -1;
    }
    const int c = static_cast<unsigned char>(buf_[pos_++]);
    if (c == '\n') ++line_;
    return c;
  }
  int peek() {
    const int c = get();
    if (c >= 0) {
      --pos_;
      if (c == '\n') --line_;
    }
    return c;
  }
  bool failed() const { return in_.bad(); }
  std::size_t line() const { return line_; }

 private:
  std::ifstream in_;
  char buf_[64 * 1024];
  std::size_t pos_ = 0, len_ = 0;
  std::size_t line_ = 1;
};

// Reads items off a file that limits them: MaxItems, the payload limit.
class FileSource : public ItemSource {
 public:
  FileSource(std::string name, const ItemReadOptions& o)
      : name_(std::move(name)),
        max_items_(o.max_items && *o.max_items > 0 ? static_cast<std::uint64_t>(*o.max_items) : 0),
        payload_limit_(o.payload_limit) {}

  Result<std::optional<json::value>> next() final {
    if (failed_) return reader_failure(*failed_);
    if (done_ || (max_items_ && count_ >= max_items_)) return std::optional<json::value>();
    auto item = read();
    if (!item) {
      failed_ = item.failure().cause;
      return item.failure();
    }
    if (!*item) {
      done_ = true;
      return item;
    }
    ++count_;
    if (json_size(**item) > payload_limit_) {
      failed_ = "Item " + std::to_string(count_ - 1) + " of " + name_ + " (" + where() + ") is " +
                std::to_string(json_size(**item)) + " bytes, over the payload limit of " +
                std::to_string(payload_limit_) + " bytes";
      return reader_failure(*failed_);
    }
    return item;
  }

 protected:
  // The next item of the file; nullopt at its end.
  virtual Result<std::optional<json::value>> read() = 0;
  // Where the last item read is ("line 3", "row 4"), for messages.
  virtual std::string where() const = 0;
  Failure fail(const std::string& what) const { return reader_failure("Failed to read " + name_ + ": " + what); }

  std::string name_;

 private:
  std::uint64_t max_items_;
  std::size_t payload_limit_;
  std::uint64_t count_ = 0;
  bool done_ = false;
  std::optional<std::string> failed_;
};

// JSONL: one JSON value per line.
class JsonlSource : public FileSource {
 public:
  JsonlSource(std::string name, const ItemReadOptions& o, std::ifstream in)
      : FileSource(std::move(name), o), in_(std::move(in)) {}

 protected:
  Result<std::optional<json::value>> read() override {
    std::string line;
    while (std::getline(in_, line)) {
      ++line_;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines carry no item
      JsonParseError err;
      auto v = parse_json(line, &err);
      if (!v) return fail("line " + std::to_string(line_) + " is not valid JSON (" + err.describe() + ")");
      return std::optional<json::value>(std::move(*v));
    }
    if (in_.bad()) return fail("read error after line " + std::to_string(line_));
    return std::optional<json::value>();
  }
  std::string where() const override { return "line " + std::to_string(line_); }

 private:
  std::ifstream in_;
  std::size_t line_ = 0;
};

// JSON: the elements of an array in a JSON document, read one at a time by
// scanning the text (never the whole document in memory): values before the
// array and beside it are skipped, each element's text is parsed alone.
class JsonArraySource : public FileSource {
 public:
  JsonArraySource(std::string name, const ItemReadOptions& o, std::unique_ptr<ByteReader> in, std::string pointer)
      : FileSource(std::move(name), o), in_(std::move(in)), pointer_(std::move(pointer)) {}

 protected:
  Result<std::optional<json::value>> read() override {
    if (!started_) {
      started_ = true;
      if (auto f = find_array()) return *f;
      first_ = true;
    }
    if (ended_) return std::optional<json::value>();
    skip_space();
    int c = in_->peek();
    if (first_) {
      first_ = false;
      if (c == ']') {
        in_->get();
        ended_ = true;
        return std::optional<json::value>();
      }
    } else {
      if (c == ']') {
        in_->get();
        ended_ = true;
        return std::optional<json::value>();
      }
      if (c != ',') return syntax("expected ',' or ']' after array element " + std::to_string(index_ - 1));
      in_->get();
      skip_space();
    }
    item_line_ = in_->line();
    std::string text;
    if (auto f = scan_value(&text)) return *f;
    JsonParseError err;
    auto v = parse_json(text, &err);
    if (!v) return syntax("array element " + std::to_string(index_) + " is not valid JSON (" + err.message + ")");
    ++index_;
    return std::optional<json::value>(std::move(*v));
  }
  std::string where() const override { return "line " + std::to_string(item_line_); }

 private:
  Failure syntax(const std::string& what) const {
    return fail("invalid JSON at line " + std::to_string(in_->line()) + ": " + what);
  }

  void skip_space() {
    for (int c = in_->peek(); c == ' ' || c == '\t' || c == '\n' || c == '\r'; c = in_->peek()) in_->get();
  }

  // Reads a string (the opening quote next) into *out (decoded) when out is set.
  std::optional<Failure> scan_string(std::string* raw, std::string* decoded) {
    int c = in_->get();  // '"'
    if (raw) raw->push_back('"');
    std::string enc;
    while (true) {
      c = in_->get();
      if (c < 0) return syntax("unterminated string");
      if (raw) raw->push_back(static_cast<char>(c));
      if (decoded) enc.push_back(static_cast<char>(c));
      if (c == '\\') {
        c = in_->get();
        if (c < 0) return syntax("unterminated string");
        if (raw) raw->push_back(static_cast<char>(c));
        if (decoded) enc.push_back(static_cast<char>(c));
      } else if (c == '"') {
        break;
      }
    }
    if (decoded) {
      auto v = parse_json("\"" + enc);
      if (!v || !v->is_string()) return syntax("invalid string");
      *decoded = std::string(v->get_string());
    }
    return std::nullopt;
  }

  // Reads one value (whitespace already skipped), copying its text into *raw when set.
  std::optional<Failure> scan_value(std::string* raw) {
    int depth = 0;
    while (true) {
      skip_space();
      int c = in_->peek();
      if (c < 0) return syntax("unexpected end of the file");
      if (c == '"') {
        if (auto f = scan_string(raw, nullptr)) return f;
      } else if (c == '{' || c == '[') {
        in_->get();
        if (raw) raw->push_back(static_cast<char>(c));
        ++depth;
        continue;
      } else if (c == '}' || c == ']') {
        if (depth == 0) return syntax(std::string("unexpected '") + static_cast<char>(c) + "'");
        in_->get();
        if (raw) raw->push_back(static_cast<char>(c));
        --depth;
      } else if (c == ',' || c == ':') {
        if (depth == 0) return syntax(std::string("unexpected '") + static_cast<char>(c) + "'");
        in_->get();
        if (raw) raw->push_back(static_cast<char>(c));
        continue;
      } else {
        // A literal: a number, true, false, null (checked by the parser).
        bool any = false;
        for (c = in_->peek();
             c >= 0 && c != ',' && c != ']' && c != '}' && c != ':' && c != ' ' && c != '\t' && c != '\n' && c != '\r';
             c = in_->peek()) {
          in_->get();
          any = true;
          if (raw) raw->push_back(static_cast<char>(c));
        }
        if (!any) return syntax("unexpected character");
      }
      if (depth == 0) return std::nullopt;
    }
  }

  // Moves to just after the '[' of the array that pointer_ names.
  std::optional<Failure> find_array() {
    std::vector<std::string> tokens;
    if (!pointer_.empty()) {
      if (pointer_.front() != '/') return fail("ItemsPointer '" + pointer_ + "' is not a JSON pointer");
      std::string token;
      for (std::size_t i = 1; i <= pointer_.size(); ++i) {
        if (i == pointer_.size() || pointer_[i] == '/') {
          tokens.push_back(token);
          token.clear();
        } else if (pointer_[i] == '~' && i + 1 < pointer_.size() &&
                   (pointer_[i + 1] == '0' || pointer_[i + 1] == '1')) {
          token.push_back(pointer_[++i] == '0' ? '~' : '/');
        } else {
          token.push_back(pointer_[i]);
        }
      }
    }
    for (const std::string& token : tokens) {
      skip_space();
      int c = in_->peek();
      if (c == '{') {
        in_->get();
        bool found = false;
        while (!found) {
          skip_space();
          c = in_->peek();
          if (c == '}') break;
          if (c != '"') return syntax("expected a member name");
          std::string key;
          if (auto f = scan_string(nullptr, &key)) return f;
          skip_space();
          if (in_->get() != ':') return syntax("expected ':'");
          skip_space();
          if (key == token) {
            found = true;
            break;
          }
          if (auto f = scan_value(nullptr)) return f;
          skip_space();
          c = in_->peek();
          if (c == ',') in_->get();
        }
        if (!found) return not_found();
      } else if (c == '[') {
        in_->get();
        char* end = nullptr;
        const unsigned long long index = std::strtoull(token.c_str(), &end, 10);
        if (token.empty() || *end != '\0') return not_found();
        skip_space();
        if (in_->peek() == ']') return not_found();
        for (unsigned long long i = 0; i < index; ++i) {
          if (auto f = scan_value(nullptr)) return f;
          skip_space();
          if (in_->get() != ',') return not_found();
          skip_space();
        }
      } else {
        return not_found();
      }
    }
    skip_space();
    if (in_->peek() != '[') {
      if (in_->peek() < 0) return fail("the file is empty, not a JSON array");
      return fail(pointer_.empty() ? "the file does not hold a JSON array"
                                   : "ItemsPointer '" + pointer_ + "' does not point to a JSON array");
    }
    in_->get();
    return std::nullopt;
  }

  Failure not_found() const { return fail("ItemsPointer '" + pointer_ + "' does not point to a value in the file"); }

  std::unique_ptr<ByteReader> in_;
  std::string pointer_;
  bool started_ = false, first_ = true, ended_ = false;
  std::size_t index_ = 0;
  std::size_t item_line_ = 0;
};

constexpr std::size_t kMaxCsvHeaderBytes = 10 * 1024;

// CSV (RFC 4180): rows of fields, each row an object of header -> string.
class CsvSource : public FileSource {
 public:
  CsvSource(std::string name, const ItemReadOptions& o, std::unique_ptr<ByteReader> in,
            const states::ItemReaderSpec& spec)
      : FileSource(std::move(name), o), in_(std::move(in)), delimiter_(spec.csv_delimiter) {
    if (spec.csv_header_location == states::ItemReaderSpec::CsvHeaderLocation::Given) headers_ = spec.csv_headers;
    given_ = spec.csv_header_location == states::ItemReaderSpec::CsvHeaderLocation::Given;
  }

 protected:
  Result<std::optional<json::value>> read() override {
    std::vector<std::string> fields;
    if (!given_ && !have_header_) {
      auto r = next_row(fields);
      if (!r) return r.failure();
      if (!*r) return std::optional<json::value>();  // an empty file: no items
      headers_ = std::move(fields);
      have_header_ = true;
      fields.clear();
      // AWS reads CSV headers of up to 10 KiB.
      std::size_t header_bytes = headers_.size() - 1;
      for (const auto& h : headers_) header_bytes += h.size();
      if (header_bytes > kMaxCsvHeaderBytes)
        return fail("the header row is " + std::to_string(header_bytes) + " bytes, over the limit of 10240 bytes");
    }
    auto r = next_row(fields);
    if (!r) return r.failure();
    if (!*r) return std::optional<json::value>();
    if (fields.size() != headers_.size()) {
      return fail("row " + std::to_string(row_) + " has " + std::to_string(fields.size()) + " field" +
                  (fields.size() == 1 ? "" : "s") + ", the header has " + std::to_string(headers_.size()));
    }
    json::object item;
    item.reserve(fields.size());
    for (std::size_t i = 0; i < fields.size(); ++i) item[headers_[i]] = std::move(fields[i]);
    return std::optional<json::value>(json::value(std::move(item)));
  }
  std::string where() const override { return "row " + std::to_string(row_); }

 private:
  // Reads the next non-empty row into `fields`; false at the end.
  Result<bool> next_row(std::vector<std::string>& fields) {
    while (true) {
      fields.clear();
      int c = in_->peek();
      if (c < 0) return false;
      ++row_;
      std::string field;
      bool quoted_field = false;
      bool any = false;  // the row has something besides its line break
      while (true) {
        c = in_->get();
        if (c < 0 || c == '\n' || c == '\r') {
          if (c == '\r' && in_->peek() == '\n') in_->get();
          break;
        }
        any = true;
        if (c == '"' && field.empty() && !quoted_field) {
          quoted_field = true;
          const std::size_t start_row = row_;
          while (true) {
            c = in_->get();
            if (c < 0) return fail("row " + std::to_string(start_row) + " has a quoted field that never ends");
            if (c == '"') {
              if (in_->peek() == '"') {
                in_->get();
                field.push_back('"');
                continue;
              }
              break;
            }
            field.push_back(static_cast<char>(c));
          }
          c = in_->peek();
          if (c >= 0 && c != delimiter_ && c != '\n' && c != '\r')
            return fail("row " + std::to_string(start_row) + " has characters after the closing quote of field " +
                        std::to_string(fields.size() + 1));
          continue;
        }
        if (c == delimiter_) {
          fields.push_back(std::move(field));
          field.clear();
          quoted_field = false;
          continue;
        }
        field.push_back(static_cast<char>(c));
      }
      if (!any) continue;  // an empty line
      fields.push_back(std::move(field));
      return true;
    }
  }

  std::unique_ptr<ByteReader> in_;
  char delimiter_;
  bool given_ = false;
  bool have_header_ = false;
  std::vector<std::string> headers_;
  std::size_t row_ = 0;
};

// listObjectsV2: the regular files under the bucket directory whose key
// starts with the prefix, in key order.
class ListingSource : public ItemSource {
 public:
  ListingSource(fs::path bucket_dir, std::vector<std::string> keys, const ItemReadOptions& o, std::string bucket)
      : bucket_dir_(std::move(bucket_dir)),
        keys_(std::move(keys)),
        max_items_(o.max_items && *o.max_items > 0 ? static_cast<std::uint64_t>(*o.max_items) : 0),
        bucket_(std::move(bucket)) {}

  Result<std::optional<json::value>> next() override {
    if (pos_ >= keys_.size() || (max_items_ && pos_ >= max_items_)) return std::optional<json::value>();
    const std::string& key = keys_[pos_++];
    const fs::path p = bucket_dir_ / key;
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0)
      return reader_failure("Failed to read s3://" + object_name(bucket_, key) +
                            ": the file disappeared while listing");
    auto etag = md5_hex(p);
    if (!etag) return reader_failure("Failed to read s3://" + object_name(bucket_, key) + ": cannot read the file");
    json::object item;
    item["Etag"] = "\"" + *etag + "\"";
    item["Key"] = key;
    item["LastModified"] = static_cast<std::int64_t>(st.st_mtime);
    item["Size"] = static_cast<std::int64_t>(st.st_size);
    item["StorageClass"] = "STANDARD";
    return std::optional<json::value>(json::value(std::move(item)));
  }

  Result<std::uint64_t> skip(std::uint64_t n) override {
    std::uint64_t left = keys_.size() - std::min<std::uint64_t>(pos_, keys_.size());
    if (max_items_) left = std::min<std::uint64_t>(left, max_items_ > pos_ ? max_items_ - pos_ : 0);
    const std::uint64_t k = std::min(n, left);
    pos_ += k;
    return k;
  }

 private:
  // S3's ETag of a single-part upload: the MD5 of the content.
  static std::optional<std::string> md5_hex(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return std::nullopt;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_md5(), nullptr);
    char buf[64 * 1024];
    while (in.read(buf, sizeof buf) || in.gcount() > 0)
      EVP_DigestUpdate(ctx, buf, static_cast<std::size_t>(in.gcount()));
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, digest, &len);
    EVP_MD_CTX_free(ctx);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
      out.push_back(hex[digest[i] >> 4]);
      out.push_back(hex[digest[i] & 15]);
    }
    return out;
  }

  fs::path bucket_dir_;
  std::vector<std::string> keys_;
  std::uint64_t max_items_;
  std::string bucket_;
  std::size_t pos_ = 0;
};

class ArraySource : public ItemSource {
 public:
  explicit ArraySource(json::array items) : items_(std::move(items)) {}
  Result<std::optional<json::value>> next() override {
    if (pos_ >= items_.size()) return std::optional<json::value>();
    return std::optional<json::value>(std::move(items_[pos_++]));
  }
  Result<std::uint64_t> skip(std::uint64_t n) override {
    const std::uint64_t k = std::min<std::uint64_t>(n, items_.size() - pos_);
    pos_ += k;
    return k;
  }

 private:
  json::array items_;
  std::size_t pos_ = 0;
};

// A string member of the evaluated Parameters/Arguments; Failure when absent or not a string.
Result<std::string> string_argument(const json::value& arguments, const char* field, bool required) {
  const json::object* o = arguments.if_object();
  const json::value* v = o ? o->if_contains(field) : nullptr;
  if (!v) {
    if (!required) return std::string();
    return reader_failure(std::string("The ItemReader's Parameters/Arguments have no '") + field + "' field (got " +
                          to_json(arguments) + ")");
  }
  if (!v->is_string())
    return reader_failure(std::string("The ItemReader's field '") + field + "' must be a string, not " +
                          json_type_name(*v));
  return std::string(v->get_string());
}

Result<std::unique_ptr<ItemSource>> open_listing(const std::string& bucket, const std::string& prefix,
                                                 const ItemReadOptions& options) {
  auto dir = resolve_object_path(options.data_dir, bucket, "");
  if (!dir) return dir.failure();
  std::error_code ec;
  if (!fs::is_directory(*dir, ec))
    return reader_failure("Failed to list s3://" + bucket + "/" + prefix + ": the bucket directory " + dir->string() +
                          " does not exist");
  // Only the directory the prefix reaches into needs walking.
  const std::size_t slash = prefix.rfind('/');
  const std::string base = slash == std::string::npos ? std::string() : prefix.substr(0, slash + 1);
  auto start = resolve_object_path(options.data_dir, bucket, base);
  if (!start) return start.failure();
  std::vector<std::string> keys;
  if (fs::is_directory(*start, ec)) {
    fs::recursive_directory_iterator it(*start, fs::directory_options::none, ec), end;
    if (ec) return reader_failure("Failed to list s3://" + bucket + "/" + prefix + ": " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) return reader_failure("Failed to list s3://" + bucket + "/" + prefix + ": " + ec.message());
      if (!it->is_regular_file(ec)) continue;  // directories are not objects
      std::string key = it->path().lexically_relative(*dir).generic_string();
      if (key.compare(0, prefix.size(), prefix) != 0) continue;
      // A file symlink must not lead outside the data directory.
      auto real = resolve_object_path(options.data_dir, bucket, key);
      if (!real) return real.failure();
      keys.push_back(std::move(key));
    }
  }
  std::sort(keys.begin(), keys.end());  // byte order, as S3 lists UTF-8 keys
  return std::unique_ptr<ItemSource>(std::make_unique<ListingSource>(*dir, std::move(keys), options, bucket));
}

}  // namespace

Result<std::unique_ptr<ItemSource>> open_item_source(const states::ItemReaderSpec& spec, const json::value& arguments,
                                                     const ItemReadOptions& options) {
  if (options.max_items && *options.max_items < 0)
    return Failure{"States.Runtime", "MaxItems must not be negative: " + std::to_string(*options.max_items), true};
  auto bucket = string_argument(arguments, "Bucket", true);
  if (!bucket) return bucket.failure();
  if (spec.source == states::ItemReaderSpec::Source::ListObjects) {
    auto prefix = string_argument(arguments, "Prefix", false);
    if (!prefix) return prefix.failure();
    return open_listing(*bucket, *prefix, options);
  }
  auto key = string_argument(arguments, "Key", true);
  if (!key) return key.failure();
  auto path = resolve_object_path(options.data_dir, *bucket, *key);
  if (!path) return path.failure();
  const std::string name = "s3://" + object_name(*bucket, *key);
  std::error_code ec;
  if (!fs::exists(*path, ec))
    return reader_failure("Failed to read " + name + ": the file " + path->string() + " does not exist");
  if (fs::is_directory(*path, ec))
    return reader_failure("Failed to read " + name + ": " + path->string() + " is a directory");
  switch (spec.input_type) {
    case states::ItemReaderSpec::InputType::Jsonl: {
      std::ifstream in(*path, std::ios::binary);
      if (!in) return reader_failure("Failed to read " + name + ": cannot open " + path->string());
      return std::unique_ptr<ItemSource>(std::make_unique<JsonlSource>(name, options, std::move(in)));
    }
    case states::ItemReaderSpec::InputType::Json:
    case states::ItemReaderSpec::InputType::Csv: {
      auto in = std::make_unique<ByteReader>();
      if (!in->open(*path)) return reader_failure("Failed to read " + name + ": cannot open " + path->string());
      if (spec.input_type == states::ItemReaderSpec::InputType::Json)
        return std::unique_ptr<ItemSource>(
            std::make_unique<JsonArraySource>(name, options, std::move(in), spec.items_pointer));
      return std::unique_ptr<ItemSource>(std::make_unique<CsvSource>(name, options, std::move(in), spec));
    }
    case states::ItemReaderSpec::InputType::None:
      break;
  }
  return reader_failure("The ItemReader of " + name + " has no ReaderConfig.InputType");
}

std::unique_ptr<ItemSource> array_item_source(json::array items) {
  return std::make_unique<ArraySource>(std::move(items));
}

// ---- Batching ----------------------------------------------------------------------

std::optional<Failure> check_batch_options(const BatchOptions& options) {
  if (options.max_items_per_batch && *options.max_items_per_batch <= 0)
    return runtime_failure("MaxItemsPerBatch must be a positive integer, not " +
                           std::to_string(*options.max_items_per_batch));
  if (options.max_input_bytes_per_batch) {
    const std::int64_t b = *options.max_input_bytes_per_batch;
    if (b <= 0 || b > 256 * 1024)
      return runtime_failure("MaxInputBytesPerBatch must be between 1 and 262144 bytes, not " + std::to_string(b));
  }
  return std::nullopt;
}

ItemBatcher::ItemBatcher(std::unique_ptr<ItemSource> items, BatchOptions options, std::size_t payload_limit)
    : items_(std::move(items)), options_(std::move(options)) {
  byte_limit_ = options_.max_input_bytes_per_batch ? static_cast<std::size_t>(*options_.max_input_bytes_per_batch)
                                                   : payload_limit;
}

Result<std::optional<json::value>> ItemBatcher::next() {
  if (done_ && !pending_) return std::optional<json::value>();
  json::object batch;
  // The batch's size as serialized: {"BatchInput":<x>,"Items":[a,b]}.
  std::size_t size = 2 + std::string_view("\"Items\":[]").size();
  if (options_.batch_input) {
    batch["BatchInput"] = *options_.batch_input;
    size += std::string_view("\"BatchInput\":,").size() + json_size(*options_.batch_input);
  }
  json::array items;
  const std::size_t max_items =
      options_.max_items_per_batch ? static_cast<std::size_t>(*options_.max_items_per_batch) : SIZE_MAX;
  while (items.size() < max_items) {
    json::value item;
    if (pending_) {
      item = std::move(*pending_);
      pending_.reset();
    } else {
      if (done_) break;
      auto r = items_->next();
      if (!r) {
        done_ = true;
        return r.failure();
      }
      if (!*r) {
        done_ = true;
        break;
      }
      item = std::move(**r);
      ++index_;
    }
    const std::size_t add = json_size(item) + (items.empty() ? 0 : 1);
    if (size + add > byte_limit_) {
      if (items.empty()) {
        done_ = true;
        return Failure{kItemReaderFailed,
                       "Item " + std::to_string(index_ - 1) + " is " + std::to_string(json_size(item)) +
                           " bytes: a batch holding it alone exceeds the limit of " + std::to_string(byte_limit_) +
                           " bytes (MaxInputBytesPerBatch)",
                       false};
      }
      pending_ = std::move(item);
      break;
    }
    size += add;
    items.push_back(std::move(item));
  }
  if (items.empty()) return std::optional<json::value>();
  batch["Items"] = std::move(items);
  return std::optional<json::value>(json::value(std::move(batch)));
}

json::value item_stream_to_json(const ItemStream& stream) {
  json::object o;
  o["arguments"] = stream.arguments;
  if (stream.max_items) o["maxItems"] = *stream.max_items;
  if (stream.batch) {
    json::object b;
    if (stream.batch->max_items_per_batch) b["maxItemsPerBatch"] = *stream.batch->max_items_per_batch;
    if (stream.batch->max_input_bytes_per_batch) b["maxInputBytesPerBatch"] = *stream.batch->max_input_bytes_per_batch;
    if (stream.batch->batch_input) b["batchInput"] = *stream.batch->batch_input;
    o["batch"] = std::move(b);
  }
  return o;
}

std::optional<ItemStream> item_stream_from_json(const json::value& v) {
  const json::object* o = v.if_object();
  if (!o || !o->contains("arguments")) return std::nullopt;
  auto integer = [](const json::object& from, const char* key) -> std::optional<std::int64_t> {
    const json::value* n = from.if_contains(key);
    if (n && n->is_int64()) return n->get_int64();
    if (n && n->is_uint64()) return static_cast<std::int64_t>(n->get_uint64());
    return std::nullopt;
  };
  ItemStream stream;
  stream.arguments = o->at("arguments");
  stream.max_items = integer(*o, "maxItems");
  if (const json::value* b = o->if_contains("batch"); b && b->is_object()) {
    BatchOptions batch;
    batch.max_items_per_batch = integer(b->get_object(), "maxItemsPerBatch");
    batch.max_input_bytes_per_batch = integer(b->get_object(), "maxInputBytesPerBatch");
    if (const json::value* in = b->get_object().if_contains("batchInput")) batch.batch_input = *in;
    stream.batch = std::move(batch);
  }
  return stream;
}

Result<std::unique_ptr<ItemSource>> open_item_stream(
    const states::ItemReaderSpec& spec, const ItemStream& stream, const fs::path& data_dir, std::size_t payload_limit,
    const std::function<std::unique_ptr<ItemSource>(std::unique_ptr<ItemSource>)>& shape) {
  ItemReadOptions options;
  options.data_dir = data_dir;
  options.max_items = stream.max_items;
  options.payload_limit = payload_limit;
  auto source = open_item_source(spec, stream.arguments, options);
  if (!source) return source.failure();
  std::unique_ptr<ItemSource> items = shape ? shape(std::move(*source)) : std::move(*source);
  if (!stream.batch) return items;
  return std::unique_ptr<ItemSource>(std::make_unique<ItemBatcher>(std::move(items), *stream.batch, payload_limit));
}

}  // namespace stepwise::mapio
