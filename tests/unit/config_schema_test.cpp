// The schemas in schemas/ are the contract: the binary's embedded copies and docs/documents.md
// must not drift from them.
#include <catch2/catch.hpp>

#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "config/detail.hpp"
#include "config/schemas_embedded.hpp"
#include "util/fs.hpp"

using namespace pgr;

namespace {

const std::filesystem::path kSource = PGRECOVER_SOURCE_DIR;

// Every field path of a kind ("spec.from.archive"), following $ref across schema files.
void collect(const nlohmann::json& node, std::string file, const std::string& prefix, std::set<std::string>& out) {
  const nlohmann::json& n = config::detail::resolve_ref(node, file);
  if (n.contains("properties")) {
    for (const auto& [name, child] : n["properties"].items()) {
      const std::string path = prefix.empty() ? name : prefix + "." + name;
      out.insert(path);
      collect(child, file, path, out);
    }
  }
  for (const char* combinator : {"oneOf", "anyOf"}) {
    if (!n.contains(combinator)) continue;
    for (const auto& alt : n[combinator]) collect(alt, file, prefix, out);
  }
}

}  // namespace

TEST_CASE("config: embedded schemas are byte-identical to schemas/ (run python3 schemas/embed.py)", "[config]") {
  std::set<std::string> on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(kSource / "schemas")) {
    const auto name = entry.path().filename().string();
    if (name.size() > 12 && name.substr(name.size() - 12) == ".schema.json") on_disk.insert(name);
  }
  std::set<std::string> embedded;
  for (const auto& [name, text] : config::detail::embedded_schemas()) {
    embedded.insert(std::string(name));
    INFO(name);
    CHECK(read_file(kSource / "schemas" / std::string(name)) == text);
    CHECK_NOTHROW(nlohmann::json::parse(text));
  }
  CHECK(embedded == on_disk);
  CHECK(on_disk.count("Restore.schema.json") == 1);
}

TEST_CASE("config: docs/documents.md lists exactly the fields of the schemas", "[config]") {
  const std::string doc = read_file(kSource / "docs" / "documents.md");
  for (const auto& kind : config::detail::document_kinds()) {
    INFO(kind);
    std::set<std::string> fields;
    std::string file = kind + ".schema.json";
    collect(config::detail::schema_document(file), file, "", fields);
    REQUIRE(fields.count("spec") == 1);
    // The kind's section: from "## Kind" to the next "## ".
    const auto start = doc.find("\n## " + kind + "\n");
    REQUIRE(start != std::string::npos);
    const auto end = doc.find("\n## ", start + 4);
    const std::string section = doc.substr(start, end == std::string::npos ? std::string::npos : end - start);
    // Table rows start with | `field.path` |
    std::set<std::string> documented;
    static const std::regex row(R"(\n\| `([A-Za-z_.]+)` \|)");
    for (std::sregex_iterator it(section.begin(), section.end(), row), e; it != e; ++it) documented.insert((*it)[1]);
    for (const auto& f : fields) {
      INFO("in the schema, not in docs/documents.md: " << f);
      CHECK(documented.count(f) == 1);
    }
    for (const auto& f : documented) {
      INFO("in docs/documents.md, not in the schema: " << f);
      CHECK(fields.count(f) == 1);
    }
  }
}

TEST_CASE("config: every schema property has a type or reference and a description", "[config]") {
  for (const auto& kind : config::detail::document_kinds()) {
    std::set<std::string> fields;
    std::string file = kind + ".schema.json";
    collect(config::detail::schema_document(file), file, "", fields);
    for (const auto& f : fields) {
      std::string pointer;
      std::string rest = f;
      while (!rest.empty()) {
        const auto dot = rest.find('.');
        pointer += "/" + rest.substr(0, dot);
        rest = dot == std::string::npos ? "" : rest.substr(dot + 1);
      }
      const nlohmann::json* s = config::detail::schema_at(kind, pointer);
      INFO(kind << " " << f);
      REQUIRE(s != nullptr);
      CHECK((s->contains("type") || s->contains("oneOf") || s->contains("const")));
      CHECK(s->contains("description"));
    }
  }
}
