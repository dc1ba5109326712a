#include "app/validate.hpp"

#include <fmt/format.h>

#include "config/documents.hpp"
#include "config/settings.hpp"
#include "report/validation.hpp"
#include "util/error.hpp"

namespace pgr::app {

int validate(const ValidateOptions& options, std::ostream& out) {
  config::Settings settings;
  config::ValidationReport report;
  try {
    settings = config::load_settings(options.config_path);
  } catch (const config::ValidationFailed& e) {
    report.problems = e.problems();  // a broken settings file is reported like a broken document
  }
  if (report.problems.empty()) {
    std::vector<std::filesystem::path> paths(options.paths.begin(), options.paths.end());
    report = config::check_documents(paths, settings);
  }

  out << report::render_validation(report, settings, options.json);
  return report.ok() ? kExitOk : kExitError;
}

}  // namespace pgr::app
