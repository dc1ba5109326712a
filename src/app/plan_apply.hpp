// `pgrecover plan`, `apply` and `show`: documents -> plans -> runs.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace pgr::app {

struct PlanOptions {
  std::vector<std::string> paths;
  std::string config_path;
  std::string only;         // plan only the document with this name
  std::string out;          // write the plan as JSON here
  std::string out_dir;      // write one plan per document here: <kind>-<name>.json
  bool detailed_exitcode = false;
  bool json = false;
  bool show_unchanged = false;
};
int plan_command(const PlanOptions& o, std::ostream& out);

struct ApplyCommandOptions {
  std::vector<std::string> paths;  // one plan file, or documents with auto_approve
  std::string config_path;
  bool auto_approve = false;
  std::string only;
  int jobs = 0;
  bool json = false;
  bool terminal = false;
};
int apply_command(const ApplyCommandOptions& o, std::ostream& out);

struct ShowOptions {
  std::string plan_file;
  std::string format = "text";  // text | json | markdown
  bool show_unchanged = false;
};
int show_command(const ShowOptions& o, std::ostream& out);

}  // namespace pgr::app
