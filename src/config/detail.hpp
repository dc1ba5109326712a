// Internals of the spec layer shared by its .cpp files; not for other layers.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/documents.hpp"

namespace pgr::config::detail {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word` when it is close enough to be a likely typo; else nullopt.
std::optional<std::string> did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// A JSON pointer segment, escaped ("~" -> "~0", "/" -> "~1").
std::string pointer_segment(std::string_view name);

// One YAML document as JSON (YAML 1.2 core schema: only true/false are booleans, quoted scalars
// are strings), with the position of every value by JSON pointer ("" is the root).
struct NodePosition {
  Position key;    // the key of a map member (the value itself for sequence items and the root)
  Position value;  // the value
};
struct YamlDocument {
  nlohmann::json value;
  std::map<std::string, NodePosition> positions;
  Position start;
  // The position of the field at `pointer`, else of its nearest ancestor.
  Position field_position(const std::string& pointer) const;
  Position value_position(const std::string& pointer) const;
};

// Splits YAML text into documents (empty documents are skipped). A syntax error becomes a
// problem at its line and column, and the file yields no documents.
std::vector<YamlDocument> parse_yaml(std::string_view text, const std::string& file,
                                     std::vector<Problem>& problems);

// Schemas.
const std::vector<std::string>& document_kinds();  // BackupPolicy, Restore, PointInTimeRecovery
const nlohmann::json& schema_document(std::string_view file_name);  // parsed embedded schema
// The schema describing the value at `pointer` in a document of `kind` ($ref followed, oneOf
// alternatives searched); nullptr when none.
const nlohmann::json* schema_at(std::string_view kind, const std::string& pointer);
// Resolves a {"$ref": ...} (possibly chained) relative to the schema file it appears in.
const nlohmann::json& resolve_ref(const nlohmann::json& node, std::string& current_file);
// Validates the document against the kind's schema; every problem found is appended with its
// position and a message for people.
void check_against_schema(const YamlDocument& doc, std::string_view kind, std::vector<Problem>& problems);

}  // namespace pgr::config::detail

namespace pgr::config::detail {

// A document that passed its schema, typed, with every default applied. Checks that need only
// this document (compression levels, durations, patterns, fields that do not fit the method) are
// appended to `problems`; relative paths resolve against `base_dir`.
std::optional<Document> build_document(const YamlDocument& doc, std::string_view kind,
                                       const Settings& settings, const std::filesystem::path& base_dir,
                                       std::vector<Problem>& problems);

}  // namespace pgr::config::detail
