// The one place that turns a repository's settings into its storage driver: every command opens
// repositories through here, and nothing else knows which driver a repository uses.
#pragma once

#include <string>
#include <string_view>

#include "config/settings.hpp"
#include "repository/repository.hpp"

namespace pgr::sources {

repository::Repository open_repository(const config::RepositorySettings& r, bool create = false);
// settings.repository(name, who) opened; `who` names the asker in errors.
repository::Repository open_repository(const config::Settings& settings, std::string_view name, const std::string& who,
                                       bool create = false);

// For reading a policy's backups with fallback to its other copies: opened, and a POSIX repository
// whose folder is missing is unreachable (Error(io)) rather than empty. An S3 repository is
// unreachable when its first listing fails (Error(io) too).
repository::Repository open_reachable_repository(const config::RepositorySettings& r);

}  // namespace pgr::sources
