#include "instance/drill_folder.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "instance/instance.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace pgr::instance {

DrillFolder::DrillFolder(const std::filesystem::path& bin_dir, const std::string& run_as)
    : tmp_("pgrecover-drill-"), bin_dir_(bin_dir) {
  if (running_as_root()) user_ = lookup_user(run_as.empty() ? "postgres" : run_as);
  write_file_atomic(tmp_.path() / kMarkerFile, "pgrecover restore drill\n", 0644);
  // The socket sits in the data directory (0700, the server user's): trust is safe there, and the
  // drill does not depend on the source's pg_hba.conf letting this user in.
  write_file_atomic(hba(), "# pgrecover restore drill\nlocal all all trust\n", 0600);
  give(tmp_.path());
  give(hba());
}

DrillFolder::~DrillFolder() {
  try {
    destroy_folder(tmp_.path(), bin_dir_);  // stops the server, removes the folder
  } catch (const std::exception& e) {
    log::warn("could not remove the drill's folder \"{}\": {}", tmp_.path().string(), e.what());
  }
}

void DrillFolder::give(const std::filesystem::path& p) const {
  if (user_ && ::chown(p.c_str(), user_->uid, user_->gid) != 0) {
    fail(ErrorKind::io, fmt::format("could not give \"{}\" to user {}: {}", p.string(), user_->name, errno_text(errno)));
  }
}

}  // namespace pgr::instance
