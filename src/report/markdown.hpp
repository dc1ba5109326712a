// Markdown reports for pull requests and change tickets, rendered with mustache templates from
// templates/ (compiled into the binary). Values are escaped for Markdown tables; secrets never
// reach a template (plans hold none).
#pragma once

#include <map>
#include <string>

#include "model/plan.hpp"

namespace pgr::report {

const std::map<std::string, std::string>& embedded_templates();  // generated at build time
const std::string& template_text(const std::string& name);     // throws for an unknown name

std::string render_plan_markdown(const model::Plan& plan, const std::string& plan_file = "plan.json");

// Escapes a value for a Markdown table cell: pipes and newlines.
std::string md_cell(const std::string& s);

}  // namespace pgr::report
