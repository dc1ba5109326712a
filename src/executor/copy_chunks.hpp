// Cuts a table's COPY text stream into chunks of whole rows, for a load split across sessions.
// COPY text format escapes newlines inside values (\n), so a raw '\n' always ends a row; a row
// may still arrive split across two reads of the archive, which the chunker joins.
//
// Chunk boundaries depend only on the stream and the chunk size, never on how the archive's
// reads happen to fall: chunk k starts where chunk k-1 ended and ends with the first row that
// brings it to at least `chunk_bytes`. So a resumed apply, reading the same archive with the
// same plan, numbers the chunks exactly as the interrupted one did, and can skip those done.
#pragma once

#include <cstdint>
#include <string>

#include "archive/archive.hpp"

namespace pgr::executor {

struct CopyChunk {
  int index = 0;             // 0, 1, 2, ... in stream order
  std::int64_t offset = 0;   // of its first byte in the decompressed stream
  std::string data;          // whole rows, each ending in '\n' (a final row may lack it)
  std::int64_t rows = 0;
};

class CopyChunker {
 public:
  CopyChunker(archive::RowReader& reader, std::int64_t chunk_bytes, std::size_t read_size = 1 << 20);
  // The next chunk; false at the end of the stream.
  bool next(CopyChunk& out);

 private:
  bool fill();  // reads once more into buf_; false at the end

  archive::RowReader& reader_;
  std::size_t chunk_bytes_, read_size_;
  std::string buf_;            // bytes read but not yet handed out (starts at a row start)
  std::size_t scanned_ = 0;    // buf_[0, scanned_) holds no '\n' at or past the boundary
  std::int64_t offset_ = 0;
  int index_ = 0;
  bool eof_ = false;
};

}  // namespace pgr::executor
