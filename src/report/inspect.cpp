#include "report/inspect.hpp"

#include <algorithm>
#include <array>
#include <map>

#include <fmt/format.h>

#include "report/format.hpp"

namespace pgr::report {

namespace {

using archive::DataLocation;
using archive::TocEntry;

std::string version_of(const archive::Header& h) {
  return fmt::format("{}.{}.{}", h.version_major, h.version_minor, h.version_rev);
}

nlohmann::json data_json(const DataLocation& d) {
  if (d.kind == DataLocation::Kind::none) return nullptr;
  nlohmann::json j = nlohmann::json::object();
  if (d.kind == DataLocation::Kind::file) {
    j["file"] = d.file;
  } else {
    j["offset"] = d.offset >= 0 ? nlohmann::json(d.offset) : nlohmann::json(nullptr);
  }
  j["bytes"] = d.bytes >= 0 ? nlohmann::json(d.bytes) : nlohmann::json(nullptr);
  return j;
}

std::string join_ids(const std::vector<int>& ids) {
  std::string s;
  for (int id : ids) {
    if (!s.empty()) s += ',';
    s += std::to_string(id);
  }
  return s.empty() ? "-" : s;
}

// One line per entry: newlines in names would break the table (pg_restore -l does the same).
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  return s;
}

struct Totals {
  std::map<std::string, int> per_kind;
  std::int64_t data_bytes = 0;
  bool unknown = false;
};

Totals totals(const archive::Archive& a) {
  Totals t;
  for (const auto& e : a.toc().entries) {
    if (!archive::listed_by_pg_restore(e)) continue;
    ++t.per_kind[e.desc];
    if (e.data.kind != DataLocation::Kind::none) {
      if (e.data.bytes >= 0) t.data_bytes += e.data.bytes; else t.unknown = true;
    }
  }
  return t;
}

}  // namespace

nlohmann::json inspect_json(const archive::Archive& a) {
  const auto& h = a.toc().header;
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& e : a.toc().entries) {
    if (!archive::listed_by_pg_restore(e)) continue;
    entries.push_back({{"id", e.id},
                       {"desc", e.desc},
                       {"section", archive::to_string(e.section)},
                       {"namespace", e.namespace_},
                       {"tag", e.tag},
                       {"owner", e.owner},
                       {"dependencies", e.dependencies},
                       {"data", data_json(e.data)}});
  }
  Totals t = totals(a);
  nlohmann::json kinds = nlohmann::json::object();
  for (const auto& [k, n] : t.per_kind) kinds[k] = n;
  return {{"format", archive::to_string(h.format)},
          {"archive_version", version_of(h)},
          {"database", h.database},
          {"server_version", h.server_version},
          {"dump_version", h.dump_version},
          {"created_at", h.created_at},
          {"compression", archive::to_string(h.compression)},
          {"toc_checksum", a.toc().checksum},
          {"entries", std::move(entries)},
          {"summary", {{"entries_per_kind", std::move(kinds)},
                       {"data_bytes", t.data_bytes},
                       {"data_bytes_complete", !t.unknown}}}};
}

std::string inspect_text(const archive::Archive& a) {
  const auto& h = a.toc().header;
  std::string out = fmt::format(
      "archive:   {}\nformat:    {} (archive version {}, compression {})\ndatabase:  {}\nserver:    {} (pg_dump {})\n"
      "created:   {}\n\n",
      a.path().string(), archive::to_string(h.format), version_of(h), archive::to_string(h.compression), h.database,
      h.server_version, h.dump_version, h.created_at.empty() ? "?" : h.created_at);
  std::vector<std::array<std::string, 8>> rows;
  rows.push_back({"ID", "KIND", "SCHEMA", "NAME", "OWNER", "SECTION", "DEPENDS ON", "DATA"});
  for (const auto& e : a.toc().entries) {
    if (!archive::listed_by_pg_restore(e)) continue;
    rows.push_back({std::to_string(e.id), e.desc, one_line(e.namespace_.empty() ? "-" : e.namespace_), one_line(e.tag),
                    one_line(e.owner.empty() ? "-" : e.owner), archive::to_string(e.section),
                    join_ids(e.dependencies),
                    e.data.kind == DataLocation::Kind::none ? "-" : human_bytes(e.data.bytes)});
  }
  std::array<std::size_t, 8> width{};
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], std::min<std::size_t>(r[i].size(), 48));
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += i + 1 < r.size() ? fmt::format("{:<{}}  ", r[i], width[i]) : r[i];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  Totals t = totals(a);
  out += fmt::format("\n{} entries", rows.size() - 1);
  for (const auto& [k, n] : t.per_kind) out += fmt::format("; {} {}", n, k);
  out += fmt::format("\ndata: {} ({} bytes){}\n", human_bytes(t.data_bytes), t.data_bytes,
                     t.unknown ? ", some sizes unknown" : "");
  return out;
}

}  // namespace pgr::report
