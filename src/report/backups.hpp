// `pgrecover backups list | show` as text: the repository's backups, one backup's manifest.
#pragma once

#include <string>
#include <vector>

#include "repository/repository.hpp"

namespace pgr::report {

std::string render_backups_list(const repository::Repository& repo, const std::vector<repository::BackupInfo>& backups);
std::string render_backup_text(const repository::BackupInfo& b, const repository::Manifest& m,
                               const repository::Verification& v);

}  // namespace pgr::report
