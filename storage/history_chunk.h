// How the SQLite backend keeps history: in chunks. One row of the `history`
// table holds consecutive events of one execution, those one commit appended,
// as a JSON array of [id, previous_id, timestamp, type, details] arrays.
// type is a JSON string; details is either a JSON string holding the details
// text (events given as EventRecord, whose details may be any text) or, since
// schema version 6, the details object itself (events given encoded,
// EncodedEvents: written once, never escaped again). Either way the details
// text comes back byte for byte. A row per event would cost a B-tree insert per event; a chunk shares
// one among up to kMaxChunkEvents events. The `events` view unpacks the
// chunks for plain SQL (docs/history-format.md). Not part of the storage API.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/records.h"

namespace stepwise::storage::internal {

// A chunk holds at most this many events, and no more than kChunkTextLimit
// bytes of text unless a single event is longer: a reader decodes whole
// chunks, so they stay small enough to read a page of history quickly.
// The limit also packs the rows into the database's 32 KiB pages: two chunks
// fill a page. A larger row spills into an overflow page and leaves most of
// its leaf page empty (a 50 KiB chunk took two pages, 64 KiB, in the WAL and
// in the database).
inline constexpr std::size_t kMaxChunkEvents = 256;
inline constexpr std::size_t kChunkTextLimit = 16 * 1024 - 64;

// Builds the text of one chunk. Reusable: begin() starts the next chunk in
// the same buffer, so a busy writer does not allocate.
class ChunkWriter {
 public:
  // Starts an empty chunk.
  void begin();
  // Appends one event: [id,previous_id,timestamp,"type","details"] (the
  // details text as a JSON string: it may be any text).
  void add(const EventRecord& e);
  // Appends one event already encoded: EncodedEvents::element(), whose
  // details are the JSON object itself.
  void add_encoded(std::string_view element);
  // Closes the chunk; the text stays valid until the next begin(). A NUL
  // follows it (the text itself holds none: escaping turns NUL into \u0000).
  std::string_view finish();

  std::size_t events() const { return events_; }
  std::size_t text_size() const { return size_; }

 private:
  // Room for n more bytes, returned as where to write them.
  char* reserve(std::size_t n);

  std::unique_ptr<char[]> buffer_;  // not zeroed when it grows, unlike std::string
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
  std::size_t events_ = 0;
};

// Decodes a chunk's text into `out` (appended, in chunk order). False when
// the text is not a well-formed chunk.
bool decode_chunk(std::string_view text, std::vector<EventRecord>& out);

}  // namespace stepwise::storage::internal
