// Human renderings of plans and of an apply's end: the reviewable text diff and the summary.
#pragma once

#include <cstdint>
#include <string>

#include "executor/executor.hpp"
#include "model/plan.hpp"

namespace pgr::report {

const char* action_symbol(model::Action a);  // "+", "~", "-/+", "-", "*", " "

// "Plan: 182 to create, 3 to change, 0 to delete." (change = update, replace and run)
std::string summary_line(const model::Plan& plan);

// The diff: a header naming the document, source and target, steps grouped by phase with their
// symbol, object, sizes and reason (no-op steps only counted unless show_unchanged), warnings,
// and the summary line.
std::string render_plan_text(const model::Plan& plan, bool show_unchanged = false);

// The end of an apply: steps by kind, rows, bytes, time, slowest steps, failures.
std::string render_summary_text(const model::Plan& plan, const executor::Summary& s);
nlohmann::json summary_json(const model::Plan& plan, const executor::Summary& s);
// What apply prints for a plan it does not run: every step a no-op ("No changes", with the plan),
// or a plan whose run finished before ("already applied"); a JSON summary event with --json.
std::string render_nothing_to_apply(const model::Plan& plan, bool json, bool already_applied);

}  // namespace pgr::report
