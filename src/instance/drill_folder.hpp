// A restore drill's throwaway folder: <tmp>/pgrecover-drill-XXXXXX with data/ (the recovered
// cluster), its own pg_hba.conf and the server log. Removed, the server stopped first, however
// the drill ends.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "util/fs.hpp"
#include "util/process.hpp"

namespace pgr::instance {

class DrillFolder {
 public:
  // run_as: the OS user servers run as when pgrecover runs as root (empty: postgres).
  DrillFolder(const std::filesystem::path& bin_dir, const std::string& run_as);
  ~DrillFolder();
  DrillFolder(const DrillFolder&) = delete;
  DrillFolder& operator=(const DrillFolder&) = delete;

  const std::filesystem::path& path() const { return tmp_.path(); }
  std::filesystem::path data() const { return tmp_.path() / "data"; }
  std::filesystem::path hba() const { return tmp_.path() / "pg_hba.conf"; }
  // Where the backup's tablespace `oid` is recovered (never its original location).
  std::filesystem::path tablespace(const std::string& oid) const { return tmp_.path() / "tablespaces" / oid; }
  // Gives a file or folder under path() to the server's OS user (when running as root).
  void give(const std::filesystem::path& p) const;

 private:
  TempDir tmp_;
  std::filesystem::path bin_dir_;
  std::optional<UserIdentity> user_;
};

}  // namespace pgr::instance
