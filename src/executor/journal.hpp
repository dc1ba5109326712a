// The run journal: <state_dir>/runs/<plan id>/journal. Append-only, a versioned header line, one
// record per line as "<crc32 hex> <json>\n". A record is written with one write(2); records that
// end a step are fsynced before the step counts as done. On open, a torn or corrupt tail (a
// crash mid-write) is truncated away with a warning and the run carries on (ninja's build log).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace pgr::executor {

inline constexpr int kJournalVersion = 1;

struct JournalRecord {
  // "run-start", "start", "done", "failed", "run-end"; and for a step loaded in parts (a split
  // table): "part-commit" (fsynced just before a part's COMMIT; note "<part> xid <xid>") and
  // "part" (after it committed; note "<part>"); "parts-reset" forgets the parts journaled before it
  // (a live source read again from a new snapshot: its old chunks are not the new rows).
  // Part records never end a step.
  std::string type;
  std::string step;   // step id (empty for run records)
  std::string time;   // ISO-8601 UTC
  int run = 0;        // 1 for the first apply of a plan, 2 for the first resume, ...
  std::int64_t rows = 0;
  std::int64_t bytes = 0;
  std::int64_t ms = 0;
  std::string note;   // error text (redacted) or outcome ("no-op", "already present")
  bool operator==(const JournalRecord&) const = default;
};

std::string encode_record(const JournalRecord& r);  // one line, with its checksum and newline

// What the journal says about the parts of one step (chunks of a split table), over all runs.
struct StepParts {
  std::map<int, std::int64_t> done;        // part -> rows: committed ("part" record)
  struct Committing {
    std::string xid;
    std::int64_t rows = 0;
    bool operator==(const Committing&) const = default;
  };
  std::map<int, Committing> committing;    // COMMIT sent, outcome unknown (a crash in between)
  bool operator==(const StepParts&) const = default;
};

class Journal {
 public:
  // Opens (creating 0700 folders / a 0600 file) the journal of plan_id in dir. Reads the existing
  // records, truncating a torn tail. Throws pgr::Error(io/input) for an unreadable file or a
  // header of another plan or version.
  static Journal open(const std::filesystem::path& dir, const std::string& plan_id);

  Journal(Journal&&) noexcept;
  Journal& operator=(Journal&&) = delete;
  ~Journal();

  const std::vector<JournalRecord>& records() const { return records_; }
  std::set<std::string> done_steps() const;       // the last record of the step is "done"
  std::set<std::string> in_flight_steps() const;  // started, never finished (a crash)
  std::set<std::string> failed_steps() const;     // the last record of the step is "failed"
  std::map<std::string, StepParts> parts() const;  // by step id, for steps loaded in parts
  int last_run() const;                           // highest run number seen, 0 when new
  bool finished() const;                          // the last record is a successful run-end
  std::int64_t truncated_bytes() const { return truncated_; }
  const std::filesystem::path& path() const { return path_; }

  // Appends one record; fsyncs when sync is true. Safe to call from several threads.
  void append(const JournalRecord& r, bool sync);
  // fdatasync of everything appended so far.
  void sync();

 private:
  Journal() = default;
  std::set<std::string> steps_whose_last_record_is(const std::string& type) const;
  std::filesystem::path path_;
  int fd_ = -1;
  std::vector<JournalRecord> records_;
  std::int64_t truncated_ = 0;
  std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();  // appends from several threads
};

}  // namespace pgr::executor
