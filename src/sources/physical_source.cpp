#include "sources/physical_source.hpp"

#include <fmt/format.h>

#include "sources/repositories.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

namespace pgr::sources {

PhysicalSource find_physical_backups(const config::Settings& settings, const std::vector<std::string>& names,
                                     const std::string& policy, const std::string& only_backup, const std::string& who) {
  PhysicalSource out;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& rs = settings.repository(names[i], who);
    bool last = i + 1 == names.size();
    out.backups.clear();
    try {
      out.repository.emplace(open_reachable_repository(rs));
      for (const auto& b : out.repository->list(policy)) {
        if (b.kind != "physical" || (!only_backup.empty() && b.id != only_backup)) continue;
        auto m = out.repository->read_manifest(b);
        out.backups.push_back({b, repository::physical_info(m), sha256_hex(repository::to_json(m).dump())});
      }
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::io || last) throw;
      out.skipped.push_back(fmt::format("repository \"{}\" unreachable ({})", rs.name, e.what()));
      continue;
    }
    out.settings = &rs;
    if (!out.backups.empty() || last) break;
    out.skipped.push_back(fmt::format("repository \"{}\" has no physical backup of policy \"{}\"", rs.name, policy));
  }
  return out;
}

}  // namespace pgr::sources
