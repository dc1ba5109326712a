// Passwords never reach a log line, a plan or a report. These functions remove them from libpq
// connection strings in both forms (key=value and postgresql:// URIs) and from free text that
// may contain such strings (error messages, command lines).
#pragma once

#include <string>
#include <string_view>

namespace pgr {

inline constexpr std::string_view kRedacted = "********";

// "host=db password='s3 cret' user=x" -> "host=db password=******** user=x"
// "postgresql://u:secret@h/db"        -> "postgresql://u:********@h/db"
// also ?password=... in URI query strings. Any text around them is kept.
std::string redact_secrets(std::string_view text);

}  // namespace pgr
