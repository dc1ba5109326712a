#include "planner/toc_index.hpp"

#include "pg/pg.hpp"

#include <algorithm>
#include <cctype>
#include <regex>

namespace pgr::planner {

std::string step_kind(const std::string& desc) {
  std::string out;
  for (char c : desc) out += c == ' ' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_session_entry(const archive::TocEntry& e) {
  return e.desc == "ENCODING" || e.desc == "STDSTRINGS" || e.desc == "SEARCHPATH" || e.desc == "DATABASE" ||
         e.desc == "DATABASE PROPERTIES";
}

bool is_relation_entry(const archive::TocEntry& e) {
  return e.desc == "TABLE" || e.desc == "VIEW" || e.desc == "MATERIALIZED VIEW" || e.desc == "SEQUENCE" ||
         e.desc == "FOREIGN TABLE";
}

bool is_acl_entry(const archive::TocEntry& e) { return e.desc == "ACL" || e.desc == "DEFAULT ACL"; }

bool is_database_entry(const archive::TocEntry& e) {
  return (e.desc == "COMMENT" || e.desc == "ACL" || e.desc == "SECURITY LABEL") && e.namespace_.empty() &&
         e.tag.rfind("DATABASE ", 0) == 0;
}

bool is_attached_entry(const archive::TocEntry& e) {
  static const std::set<std::string> kinds = {
      "TABLE DATA", "INDEX", "CONSTRAINT", "CHECK CONSTRAINT", "FK CONSTRAINT", "TRIGGER", "POLICY",
      "ROW SECURITY", "RULE", "DEFAULT", "COMMENT", "ACL", "SECURITY LABEL", "SEQUENCE OWNED BY",
      "SEQUENCE SET", "MATERIALIZED VIEW DATA", "INDEX ATTACH", "STATISTICS", "TABLE ATTACH",
      "SEQUENCE", "EVENT TRIGGER"};
  return kinds.count(e.desc) > 0;
}

std::string qualified_key(const std::string& schema, const std::string& name) { return schema + "." + name; }

std::string display_name(const archive::TocEntry& e) {
  return e.namespace_.empty() ? e.tag : e.namespace_ + "." + e.tag;
}

std::optional<std::pair<std::string, std::string>> split_tag(const std::string& tag,
                                                             const std::set<std::string>& tables) {
  for (size_t pos = tag.find(' '); pos != std::string::npos; pos = tag.find(' ', pos + 1)) {
    std::string t = tag.substr(0, pos);
    if (tables.count(t)) return std::make_pair(t, tag.substr(pos + 1));
  }
  return std::nullopt;
}


namespace {

// Role names after TO / FROM / FOR ROLE / SESSION AUTHORIZATION in GRANT, REVOKE, ALTER DEFAULT
// PRIVILEGES, SET SESSION AUTHORIZATION and CREATE POLICY text.
void roles_in(const std::string& d, std::set<std::string>& out) {
  static const std::regex kw(R"((?:\bTO\b|\bFROM\b|\bFOR ROLE\b|\bSESSION AUTHORIZATION\b)\s+)",
                             std::regex::icase);
  for (auto it = std::sregex_iterator(d.begin(), d.end(), kw); it != std::sregex_iterator(); ++it) {
    size_t pos = static_cast<size_t>(it->position(0) + it->length(0));
    for (;;) {
      auto id = pg::parse_identifier(d, pos);
      if (!id) break;
      std::string upper = *id;
      std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
      // unquoted keywords that can follow TO/FROM in other contexts
      if (upper != "PUBLIC" && d[pos - 1] != '"' && (upper == "DEFAULT" || upper == "SCHEMA")) break;
      // a policy TO CURRENT_USER / SESSION_USER / CURRENT_ROLE names no role of its own
      bool special = d[pos - 1] != '"' && (upper == "CURRENT_USER" || upper == "SESSION_USER" || upper == "CURRENT_ROLE");
      if ((upper != "PUBLIC" || (pos > 0 && d[pos - 1] == '"')) && !special) out.insert(*id);
      while (pos < d.size() && d[pos] == ' ') ++pos;
      if (pos < d.size() && d[pos] == ',') {
        ++pos;
        while (pos < d.size() && d[pos] == ' ') ++pos;
        continue;
      }
      break;
    }
  }
}

}  // namespace

std::set<std::string> roles_of(const archive::TocEntry& e) {
  std::set<std::string> out;
  if (!e.owner.empty()) out.insert(e.owner);
  if (is_acl_entry(e)) roles_in(e.defn, out);
  if (e.desc == "POLICY") {
    // CREATE POLICY p ON t [AS ...] [FOR ...] [TO role, ...] [USING (...)] [WITH CHECK (...)]:
    // only the text before the expressions names roles.
    std::string head = e.defn;
    for (const char* cut : {" USING ", " WITH CHECK ", ";"}) {
      size_t at = head.find(cut);
      if (at != std::string::npos) head.resize(at);
    }
    roles_in(head, out);
  }
  return out;
}

TocIndex::TocIndex(const archive::Toc& toc) : toc_(toc) {
  for (const auto& e : toc.entries) {
    by_id_[e.id] = &e;
    if (is_relation_entry(e)) {
      relations_[qualified_key(e.namespace_, e.tag)] = &e;
      table_names_[e.namespace_].insert(e.tag);
    }
    for (int d : e.dependencies) dependents_[d].push_back(e.id);
    if (e.desc == "ENCODING") {
      static const std::regex enc(R"(client_encoding\s*=\s*'([^']+)')");
      std::smatch m;
      if (std::regex_search(e.defn, m, enc)) encoding_ = m[1];
    }
  }
  for (const auto& e : toc.entries) {
    if (e.desc == "TABLE DATA" || e.desc == "MATERIALIZED VIEW DATA") {
      if (const auto* rel = relation(e.namespace_, e.tag)) data_[rel->id] = &e;
    }
  }
}

const archive::TocEntry* TocIndex::by_id(int id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

const archive::TocEntry* TocIndex::relation(const std::string& schema, const std::string& name) const {
  auto it = relations_.find(qualified_key(schema, name));
  return it == relations_.end() ? nullptr : it->second;
}

const archive::TocEntry* TocIndex::data_of(const archive::TocEntry& rel) const {
  auto it = data_.find(rel.id);
  return it == data_.end() ? nullptr : it->second;
}

const std::vector<int>& TocIndex::dependents(int id) const {
  static const std::vector<int> none;
  auto it = dependents_.find(id);
  return it == dependents_.end() ? none : it->second;
}

const std::set<std::string>& TocIndex::table_names(const std::string& schema) const {
  static const std::set<std::string> none;
  auto it = table_names_.find(schema);
  return it == table_names_.end() ? none : it->second;
}

std::vector<const archive::TocEntry*> TocIndex::tables_touched(const archive::TocEntry& e) const {
  std::vector<const archive::TocEntry*> out;
  auto add = [&](const archive::TocEntry* t) {
    if (t && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  };
  if (e.desc == "TABLE DATA" || e.desc == "MATERIALIZED VIEW DATA" || is_relation_entry(e)) {
    add(relation(e.namespace_, e.tag));
    return out;
  }
  // Own table first: for tag "table name" entries the table is in the tag.
  if (auto split = split_tag(e.tag, table_names(e.namespace_))) add(relation(e.namespace_, split->first));
  for (int d : e.dependencies) {
    const auto* dep = by_id(d);
    if (!dep) continue;
    if (dep->desc == "TABLE" || dep->desc == "MATERIALIZED VIEW" || dep->desc == "FOREIGN TABLE") {
      add(dep);
    } else if (dep->desc == "CONSTRAINT" || dep->desc == "INDEX") {
      // a foreign key depends on the referenced table's unique constraint or index
      for (int dd : dep->dependencies) {
        const auto* t = by_id(dd);
        if (t && (t->desc == "TABLE" || t->desc == "MATERIALIZED VIEW")) add(t);
      }
    }
  }
  return out;
}

}  // namespace pgr::planner
