// Plans are values (mamba's Solution::Action is the model): plain structs with defaulted ==,
// serialisable to JSON, so a plan can be saved, reviewed, compared in a test and applied later
// exactly as reviewed. The planner makes them; the executor runs them; neither reaches into the
// other's state.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgr::model {

inline constexpr int kPlanFormatVersion = 1;

enum class Action { create, replace, update, remove, run, no_op };
const char* to_string(Action a) noexcept;
Action parse_action(const std::string& s);  // throws pgr::Error(input)

// How a step locks a table while it runs. Two steps that hold `exclusive` on the same table
// never run together; `share` steps (CREATE INDEX) on one table may run together, but not with
// an exclusive one.
enum class LockMode { none, share, exclusive };
const char* to_string(LockMode m) noexcept;

struct TableLock {
  std::string table;  // "schema"."name" as an identity key
  LockMode mode = LockMode::none;
  bool operator==(const TableLock&) const = default;
};

struct Estimate {
  std::int64_t rows = 0;
  std::int64_t bytes = 0;
  bool operator==(const Estimate&) const = default;
};

struct Step {
  std::string id;           // stable across re-plans of the same inputs
  std::string kind;         // "table-data", "index", "role", "analyze", ...
  std::string phase;        // "globals", "pre-data", "data", "post-data", "post-restore", "backup", ...
  std::string object;       // what it touches, for people: sales.orders, role "app", ...
  Action action = Action::create;
  std::string reason;       // why the step is there and why this action
  std::vector<std::string> depends_on;
  Estimate estimate;
  int toc_id = 0;           // the archive entry it restores (0: a synthetic step)
  std::vector<TableLock> locks;
  // Everything the runner needs that is not in the archive (SQL of synthetic steps, expected
  // row counts, ...). Never secrets.
  std::map<std::string, std::string> params;
  bool operator==(const Step&) const = default;
};

struct Target {
  std::string connection;   // a settings connection name, or empty
  std::string conninfo;     // an inline conninfo with any password removed, or empty
  std::string database;     // the database restored into
  bool operator==(const Target&) const = default;
};

struct Plan {
  int format_version = kPlanFormatVersion;
  std::string id;           // derived from the inputs: the same documents + archive + target give the same id
  std::string created_at;   // ISO-8601 UTC
  std::string kind;         // "restore", "backup", "pitr"
  std::string document;     // metadata.name of the document it was planned from
  std::map<std::string, std::string> annotations;
  std::map<std::string, std::string> fingerprints;  // "documents", "archive", "target", ...
  std::string source;       // archive path or backup id, for people and the executor
  Target target;
  std::vector<std::string> warnings;
  std::vector<Step> steps;  // in a topological order
  std::map<std::string, std::string> params;  // run-wide parameters (session settings, jobs, ...)
  bool operator==(const Plan&) const = default;

  const Step* find(const std::string& step_id) const;
  // Counts per action over all steps.
  std::map<Action, int> summary() const;
  bool has_changes() const;  // any step other than no-op
};

nlohmann::json to_json(const Plan& plan);
Plan plan_from_json(const nlohmann::json& j);  // throws pgr::Error(input) naming the field

// Reads/writes plan files. Writing is atomic (temp, fsync, rename), mode 0600.
void save_plan(const Plan& plan, const std::string& path);
Plan load_plan(const std::string& path);
// Is this file a saved plan (whatever its name)? A JSON object with format_version, id, kind and
// steps, as `plan --out` writes; YAML documents and anything else are not.
bool is_plan_file(const std::string& path);

}  // namespace pgr::model
