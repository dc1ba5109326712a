#include "config/selection.hpp"

#include <fmt/format.h>

#include <cctype>

namespace pgr::config {

NamePattern NamePattern::parse_table(std::string_view text) {
  NamePattern p;
  p.text_ = std::string(text);
  if (text.empty()) fail(ErrorKind::input, "an empty name pattern");
  std::vector<std::vector<Token>> parts(1);
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          parts.back().push_back({Token::Kind::literal, '"'});
          ++i;
        } else {
          quoted = false;
        }
      } else {
        parts.back().push_back({Token::Kind::literal, c});
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '*') {
      parts.back().push_back({Token::Kind::any_many, 0});
    } else if (c == '?') {
      parts.back().push_back({Token::Kind::any_one, 0});
    } else if (c == '.') {
      parts.emplace_back();
    } else {
      parts.back().push_back({Token::Kind::literal, static_cast<char>(std::tolower(static_cast<unsigned char>(c)))});
    }
  }
  if (quoted) fail(ErrorKind::input, fmt::format("name pattern \"{}\" has an unterminated double quote", text));
  if (parts.size() > 2) {
    fail(ErrorKind::input, fmt::format("name pattern \"{}\" has more than one dot", text),
         "write table or schema.table; database names are not part of patterns");
  }
  for (const auto& part : parts) {
    if (part.empty()) fail(ErrorKind::input, fmt::format("name pattern \"{}\" has an empty part", text));
  }
  if (parts.size() == 2) {
    p.has_schema_ = true;
    p.schema_ = parts[0];
    p.name_ = parts[1];
  } else {
    p.name_ = parts[0];
  }
  return p;
}

NamePattern NamePattern::parse_schema(std::string_view text) {
  NamePattern p = parse_table(text);
  if (p.has_schema_) {
    fail(ErrorKind::input, fmt::format("schema pattern \"{}\" contains a dot", text),
         "list schema.table patterns under tables, or quote a schema name that contains a dot");
  }
  return p;
}

bool NamePattern::match(const std::vector<Token>& pattern, std::string_view s) {
  // Iterative glob matching with one backtrack point (the last *).
  std::size_t pi = 0, si = 0, star = std::string::npos, mark = 0;
  while (si < s.size()) {
    if (pi < pattern.size() && (pattern[pi].kind == Token::Kind::any_one ||
                                (pattern[pi].kind == Token::Kind::literal && pattern[pi].c == s[si]))) {
      ++pi;
      ++si;
    } else if (pi < pattern.size() && pattern[pi].kind == Token::Kind::any_many) {
      star = pi++;
      mark = si;
    } else if (star != std::string::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < pattern.size() && pattern[pi].kind == Token::Kind::any_many) ++pi;
  return pi == pattern.size();
}

bool NamePattern::matches_schema(std::string_view schema) const { return match(name_, schema); }

bool NamePattern::matches_table(std::string_view schema, std::string_view table) const {
  if (has_schema_ && !match(schema_, schema)) return false;
  return match(name_, table);
}

namespace {

bool any_schema(const std::vector<std::string>& patterns, std::string_view schema) {
  for (const auto& p : patterns) {
    if (NamePattern::parse_schema(p).matches_schema(schema)) return true;
  }
  return false;
}

bool any_table(const std::vector<std::string>& patterns, std::string_view schema, std::string_view table) {
  for (const auto& p : patterns) {
    if (NamePattern::parse_table(p).matches_table(schema, table)) return true;
  }
  return false;
}

}  // namespace

bool selects_schema(const Selection& selection, std::string_view schema) {
  if (any_schema(selection.exclude_schemas, schema)) return false;
  if (selection.schemas.empty() && selection.tables.empty()) return true;
  return any_schema(selection.schemas, schema);
}

bool selects_table(const Selection& selection, std::string_view schema, std::string_view table) {
  if (any_schema(selection.exclude_schemas, schema)) return false;
  if (any_table(selection.exclude_tables, schema, table)) return false;
  if (selection.schemas.empty() && selection.tables.empty()) return true;
  return any_schema(selection.schemas, schema) || any_table(selection.tables, schema, table);
}

}  // namespace pgr::config
