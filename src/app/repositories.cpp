#include "app/repositories.hpp"

namespace pgr::app {

repository::Repository open_repository(const config::RepositorySettings& r, bool create) {
  storage::Location where;
  where.type = "posix";
  where.path = r.path;
  return repository::Repository(storage::open(where, r.name, create), r.name);
}

repository::Repository open_repository(const config::Settings& settings, std::string_view name, const std::string& who,
                                       bool create) {
  return open_repository(settings.repository(name, who), create);
}

}  // namespace pgr::app
