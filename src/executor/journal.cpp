#include "executor/journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"

namespace pgr::executor {


namespace {

std::string header_line(const std::string& plan_id) {
  return fmt::format("PGRECOVER-JOURNAL {} {}\n", kJournalVersion, plan_id);
}

bool decode_record(std::string_view line, JournalRecord& out) {
  if (line.size() < 10 || line[8] != ' ') return false;
  std::string_view crc_hex = line.substr(0, 8);
  std::string_view body = line.substr(9);
  std::uint32_t crc = 0;
  for (char c : crc_hex) {
    crc <<= 4;
    if (c >= '0' && c <= '9') crc |= static_cast<std::uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f') crc |= static_cast<std::uint32_t>(c - 'a' + 10);
    else return false;
  }
  if (crc != crc32_of(body)) return false;
  try {
    auto j = nlohmann::json::parse(body);
    out.type = j.at("type").get<std::string>();
    out.step = j.value("step", "");
    out.time = j.value("time", "");
    out.run = j.value("run", 0);
    out.rows = j.value("rows", std::int64_t{0});
    out.bytes = j.value("bytes", std::int64_t{0});
    out.ms = j.value("ms", std::int64_t{0});
    out.note = j.value("note", "");
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace

std::string encode_record(const JournalRecord& r) {
  nlohmann::json j = {{"type", r.type}, {"time", r.time}, {"run", r.run}};
  if (!r.step.empty()) j["step"] = r.step;
  if (r.rows) j["rows"] = r.rows;
  if (r.bytes) j["bytes"] = r.bytes;
  if (r.ms) j["ms"] = r.ms;
  if (!r.note.empty()) j["note"] = r.note;
  std::string body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return fmt::format("{:08x} {}\n", crc32_of(body), body);
}

Journal Journal::open(const std::filesystem::path& dir, const std::string& plan_id) {
  create_private_dirs(dir);
  Journal j;
  j.path_ = dir / "journal";
  std::string expected_header = header_line(plan_id);
  bool exists = std::filesystem::exists(j.path_);
  j.fd_ = ::open(j.path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (j.fd_ < 0) {
    fail(ErrorKind::io, fmt::format("could not open the journal \"{}\": {}", j.path_.string(), errno_text(errno)));
  }
  std::string text = exists ? read_file(j.path_) : std::string();
  if (text.empty()) {
    std::string h = expected_header;
    if (::write(j.fd_, h.data(), h.size()) != static_cast<ssize_t>(h.size()) || ::fsync(j.fd_) != 0) {
      fail(ErrorKind::io, fmt::format("could not write the journal \"{}\": {}", j.path_.string(), errno_text(errno)));
    }
    fsync_dir(dir);
    return j;
  }
  if (text.compare(0, expected_header.size(), expected_header) != 0) {
    // A torn header (crash during creation) is only possible when nothing follows it.
    if (text.find('\n') == std::string::npos && expected_header.compare(0, text.size(), text) == 0) {
      if (::ftruncate(j.fd_, 0) != 0 ||
          ::write(j.fd_, expected_header.data(), expected_header.size()) != static_cast<ssize_t>(expected_header.size()) ||
          ::fsync(j.fd_) != 0) {
        fail(ErrorKind::io, fmt::format("could not repair the journal \"{}\": {}", j.path_.string(), errno_text(errno)));
      }
      return j;
    }
    std::string first = text.substr(0, text.find('\n'));
    fail(ErrorKind::input,
         fmt::format("\"{}\" is not the journal of plan {} (its header is \"{}\")", j.path_.string(), plan_id,
                     first.substr(0, 80)),
         "the state directory holds another run under this id; move it aside");
  }
  size_t pos = expected_header.size();
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    JournalRecord r;
    if (nl == std::string::npos || !decode_record(std::string_view(text).substr(pos, nl - pos), r)) {
      // Torn or corrupt tail: everything from here on is dropped, as if never written.
      j.truncated_ = static_cast<std::int64_t>(text.size() - pos);
      log::warn("journal {}: dropping a damaged tail of {} bytes at offset {} (an interrupted write)",
                j.path_.string(), j.truncated_, pos);
      if (::ftruncate(j.fd_, static_cast<off_t>(pos)) != 0 || ::fsync(j.fd_) != 0) {
        fail(ErrorKind::io, fmt::format("could not truncate the journal \"{}\": {}", j.path_.string(), errno_text(errno)));
      }
      break;
    }
    j.records_.push_back(std::move(r));
    pos = nl + 1;
  }
  return j;
}

Journal::Journal(Journal&& o) noexcept
    : path_(std::move(o.path_)), fd_(o.fd_), records_(std::move(o.records_)), truncated_(o.truncated_),
      mu_(std::move(o.mu_)) {
  o.fd_ = -1;
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

void Journal::append(const JournalRecord& r, bool sync) {
  std::string line = encode_record(r);
  std::lock_guard lock(*mu_);
  ssize_t n = ::write(fd_, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size())) {
    fail(ErrorKind::io, fmt::format("could not append to the journal \"{}\": {}", path_.string(),
                                    n < 0 ? errno_text(errno) : "short write"));
  }
  if (sync && ::fdatasync(fd_) != 0) {
    fail(ErrorKind::io, fmt::format("could not fsync the journal \"{}\": {}", path_.string(), errno_text(errno)));
  }
  records_.push_back(r);
}

void Journal::sync() {
  if (::fdatasync(fd_) != 0) {
    fail(ErrorKind::io, fmt::format("could not fsync the journal \"{}\": {}", path_.string(), errno_text(errno)));
  }
}

std::set<std::string> Journal::steps_whose_last_record_is(const std::string& type) const {
  std::map<std::string, std::string> last;
  for (const auto& r : records_)
    if (!r.step.empty() && r.type != "part" && r.type != "part-commit" && r.type != "parts-reset") last[r.step] = r.type;
  std::set<std::string> out;
  for (auto& [s, t] : last)
    if (t == type) out.insert(s);
  return out;
}

std::set<std::string> Journal::done_steps() const { return steps_whose_last_record_is("done"); }
std::set<std::string> Journal::in_flight_steps() const { return steps_whose_last_record_is("start"); }
std::set<std::string> Journal::failed_steps() const { return steps_whose_last_record_is("failed"); }

std::map<std::string, StepParts> Journal::parts() const {
  std::map<std::string, StepParts> out;
  for (const auto& r : records_) {
    if (r.type == "parts-reset") {
      out.erase(r.step);
      continue;
    }
    if (r.type != "part" && r.type != "part-commit") continue;
    int part = 0;
    char xid[32] = {0};
    if (std::sscanf(r.note.c_str(), "%d xid %31s", &part, xid) < 1) continue;
    auto& p = out[r.step];
    if (r.type == "part") {
      p.done[part] = r.rows;
      p.committing.erase(part);
    } else if (!p.done.count(part)) {
      p.committing[part] = {xid, r.rows};
    }
  }
  return out;
}

int Journal::last_run() const {
  int run = 0;
  for (const auto& r : records_) run = std::max(run, r.run);
  return run;
}

bool Journal::finished() const {
  return !records_.empty() && records_.back().type == "run-end" && records_.back().note == "ok";
}

}  // namespace pgr::executor
