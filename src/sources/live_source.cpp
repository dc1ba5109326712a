#include "sources/live_source.hpp"

#include <fmt/format.h>

#include "engine/globals.hpp"
#include "pg/pg.hpp"
#include "util/error.hpp"

namespace pgr::sources {

namespace {

constexpr const char* kSourceLive = "source_live";
constexpr const char* kLiveConnection = "source_live_connection";
constexpr const char* kLiveConninfo = "source_live_conninfo";
constexpr const char* kLiveDatabase = "source_live_database";
constexpr const char* kLiveConsistent = "source_live_consistent";

}  // namespace

RestoreSource live_globals(pg::Connection& source, const std::string& database) {
  RestoreSource out;
  out.globals = engine::capture_globals(source, database);
  out.role_definitions = engine::role_definitions(*out.globals);
  return out;
}

std::string LiveSource::display() const {
  return fmt::format("live database \"{}\" on {}", database,
                     ref.connection.empty() ? "\"" + ref.conninfo + "\"" : "connection \"" + ref.connection + "\"");
}

LiveSource live_source(const config::ConnectionRef& ref, const std::string& database, bool allow_mixed,
                       const config::Settings& settings) {
  LiveSource s;
  s.ref = {ref.connection, ref.connection.empty() ? pg::split_password(ref.conninfo).conninfo : ""};
  s.conninfo = pg::with_dbname(settings.connect_string(ref), database);
  s.database = database;
  s.allow_mixed = allow_mixed;
  return s;
}

LiveSource live_source_of(const model::Plan& plan, const config::Settings& settings) {
  const std::string& name = plan.params.at(kLiveConnection);
  if (!name.empty() && !settings.find_connection(name)) {
    fail(ErrorKind::input, fmt::format("the plan's source connection \"{}\" is not in the settings", name),
         "apply with the same pgrecover.toml that was used to plan (--config)");
  }
  // Plans hold no password: libpq finds it (settings' password_env, PGPASSWORD, a passfile).
  return live_source({name, plan.params.at(kLiveConninfo)}, plan.params.at(kLiveDatabase),
                     plan.params.at(kLiveConsistent) == "allow-mixed", settings);
}

void record_live_source(const LiveSource& src, model::Plan& plan) {
  plan.params[kSourceLive] = "true";
  plan.params[kLiveConnection] = src.ref.connection;
  plan.params[kLiveConninfo] = src.ref.conninfo;
  plan.params[kLiveDatabase] = src.database;
  plan.params[kLiveConsistent] = src.allow_mixed ? "allow-mixed" : "strict";
}

bool is_live_plan(const model::Plan& plan) { return plan.params.count(kSourceLive) > 0; }

std::vector<archive::LiveTable> live_tables(const std::vector<catalog::SourceTable>& tables, bool binary_copy) {
  std::vector<archive::LiveTable> out;
  for (const auto& t : tables)
    out.push_back({t.oid, t.schema, t.name, t.columns, t.bytes, t.pages, binary_copy && t.binary_io});
  return out;
}

bool binary_copy_allowed(const pg::Connection& source, const pg::Connection& target) {
  return source.server_version() >= 140000 && source.server_version() / 10000 == target.server_version() / 10000;
}

std::vector<std::pair<std::string, std::string>> table_names(const std::vector<catalog::SourceTable>& tables) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& t : tables) out.emplace_back(t.schema, t.name);
  return out;
}

}  // namespace pgr::sources
