// Schema and table patterns in pg_dump's syntax, and what a Selection includes.
//
// Pattern rules (as pg_dump -n / -t): * matches any characters and ? one character; unquoted
// letters are folded to lower case; inside double quotes everything is literal and "" is a quote;
// an unquoted dot separates schema from table. A table pattern without a schema matches tables
// of that name in every schema.
//
// Selection rules: with no `schemas` and no `tables`, everything is included. Otherwise an object
// is included when its schema matches a `schemas` pattern OR the table matches a `tables` pattern
// (a union: pg_dump instead ignores -n when -t is given). `exclude_schemas` and `exclude_tables`
// then remove objects, and win over inclusions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/documents.hpp"

namespace pgr::config {

class NamePattern {
 public:
  // Throws pgr::Error(input) for an empty pattern, an unterminated quote, more than one dot
  // (database.schema.table is not supported), or a dot in a schema pattern.
  static NamePattern parse_table(std::string_view text);
  static NamePattern parse_schema(std::string_view text);

  bool matches_schema(std::string_view schema) const;                   // schema patterns
  bool matches_table(std::string_view schema, std::string_view table) const;  // table patterns
  bool has_schema() const { return has_schema_; }
  const std::string& text() const { return text_; }

 private:
  struct Token {
    enum class Kind { literal, any_one, any_many } kind;
    char c = 0;
  };
  static bool match(const std::vector<Token>& pattern, std::string_view s);
  std::string text_;
  bool has_schema_ = false;
  std::vector<Token> schema_, name_;
};

bool selects_schema(const Selection& selection, std::string_view schema);
bool selects_table(const Selection& selection, std::string_view schema, std::string_view table);

}  // namespace pgr::config
