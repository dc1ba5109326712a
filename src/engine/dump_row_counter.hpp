// Exact row counts of a directory-format dump, counted while pg_dump is still writing it.
//
// A backup's row counts come from its own archive: every data file is decompressed and its rows
// counted (which also proves each one decompresses). Done after pg_dump, that was a pass over the
// whole archive on the backup's critical path. pg_dump -Fd writes each table's data to its own
// file and closes it once, when the table is done; this watches the folder (inotify,
// IN_CLOSE_WRITE) and counts each data file as soon as it is closed, while pg_dump dumps the
// others. After pg_dump exits, finish() counts only what was not counted yet (on all cores), so
// the counts are exactly those of counting afterwards. The watching thread runs at the lowest CPU
// priority: it uses what pg_dump leaves idle and never slows the dump itself.
//
// When inotify is not available, nothing is counted early and finish() counts everything.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "archive/archive.hpp"
#include "util/progress.hpp"

namespace pgr::engine {

class DumpRowCounter {
 public:
  // `folder` must exist (pg_dump -Fd accepts an existing empty folder) and stay until finish().
  DumpRowCounter(std::filesystem::path folder, ProgressCounters* progress);
  ~DumpRowCounter();
  DumpRowCounter(const DumpRowCounter&) = delete;
  DumpRowCounter& operator=(const DumpRowCounter&) = delete;

  // Call once pg_dump has exited: stops watching, then returns the rows per "schema.table" of every
  // TABLE DATA entry of `archive` (opened on the folder), counting the files not counted yet.
  std::map<std::string, std::int64_t> finish(const archive::Archive& archive);

  // How many data files were counted while pg_dump ran (for the log and the tests).
  int counted_early() const;

 private:
  void watch();
  void stop();

  std::filesystem::path folder_;
  ProgressCounters* progress_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::map<std::string, std::int64_t> counted_;  // data file name -> rows
  std::string busy_;                              // the file the watcher is counting
  std::thread thread_;
};

}  // namespace pgr::engine
