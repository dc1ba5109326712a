// From schema-valid JSON to typed documents, with the defaults and the checks a schema cannot
// express (levels per compression method, fields that do not apply to the chosen method, ...).
#include <fmt/format.h>

#include <regex>
#include <set>

#include "config/detail.hpp"
#include "config/selection.hpp"

namespace pgr::config::detail {

namespace {

class Reader {
 public:
  Reader(const YamlDocument& doc, std::vector<Problem>& problems) : doc_(doc), problems_(problems) {}

  const nlohmann::json* get(const std::string& pointer) const {
    const nlohmann::json::json_pointer p(pointer);
    return doc_.value.contains(p) ? &doc_.value.at(p) : nullptr;
  }
  bool has(const std::string& pointer) const { return get(pointer) != nullptr; }
  std::string str(const std::string& pointer, std::string fallback = {}) const {
    const auto* v = get(pointer);
    return v && v->is_string() ? v->get<std::string>() : fallback;
  }
  int integer(const std::string& pointer, int fallback) const {
    const auto* v = get(pointer);
    return v && v->is_number_integer() ? v->get<int>() : fallback;
  }
  std::optional<int> optional_int(const std::string& pointer) const {
    const auto* v = get(pointer);
    if (v && v->is_number_integer()) return v->get<int>();
    return std::nullopt;
  }
  bool boolean(const std::string& pointer, bool fallback) const {
    const auto* v = get(pointer);
    return v && v->is_boolean() ? v->get<bool>() : fallback;
  }
  std::vector<std::string> strings(const std::string& pointer) const {
    std::vector<std::string> out;
    if (const auto* v = get(pointer); v && v->is_array()) {
      for (const auto& s : *v) out.push_back(s.get<std::string>());
    }
    return out;
  }
  std::map<std::string, std::string> string_map(const std::string& pointer) const {
    std::map<std::string, std::string> out;
    if (const auto* v = get(pointer); v && v->is_object()) {
      for (const auto& [k, s] : v->items()) out[k] = s.is_string() ? s.get<std::string>() : s.dump();
    }
    return out;
  }
  void problem(const std::string& pointer, std::string message) {
    problems_.push_back({doc_.field_position(pointer), std::move(message)});
  }
  // Runs a parser that throws pgr::Error; its message becomes a problem at the field.
  template <typename F>
  auto parse(const std::string& pointer, F&& f) -> std::optional<decltype(f())> {
    try {
      return f();
    } catch (const Error& e) {
      problem(pointer, fmt::format("{}: {}", dotted(pointer), e.what()));
      return std::nullopt;
    }
  }
  static std::string dotted(const std::string& pointer) {
    std::string out = pointer.substr(1);
    std::replace(out.begin(), out.end(), '/', '.');
    return out;
  }
  std::size_t problem_count() const { return problems_.size(); }

 private:
  const YamlDocument& doc_;
  std::vector<Problem>& problems_;
};

Metadata read_metadata(const Reader& r, const YamlDocument& doc) {
  Metadata m;
  m.name = r.str("/metadata/name");
  m.annotations = r.string_map("/metadata/annotations");
  m.labels = r.string_map("/metadata/labels");
  m.where = doc.start;
  return m;
}

ConnectionRef read_connection(const Reader& r, const std::string& pointer) {
  return ConnectionRef{r.str(pointer + "/connection"), r.str(pointer + "/conninfo")};
}

Selection read_selection(Reader& r, const std::string& pointer) {
  Selection s;
  s.schemas = r.strings(pointer + "/schemas");
  s.tables = r.strings(pointer + "/tables");
  s.exclude_schemas = r.strings(pointer + "/exclude_schemas");
  s.exclude_tables = r.strings(pointer + "/exclude_tables");
  auto check = [&](const char* field, const std::vector<std::string>& list, bool schema) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string p = fmt::format("{}/{}/{}", pointer, field, i);
      r.parse(p, [&] { return schema ? NamePattern::parse_schema(list[i]) : NamePattern::parse_table(list[i]); });
    }
  };
  check("schemas", s.schemas, true);
  check("tables", s.tables, false);
  check("exclude_schemas", s.exclude_schemas, true);
  check("exclude_tables", s.exclude_tables, false);
  return s;
}

std::chrono::seconds read_duration(Reader& r, const std::string& pointer, std::chrono::seconds fallback) {
  if (!r.has(pointer)) return fallback;
  const std::string text = r.str(pointer);
  return r.parse(pointer, [&] { return parse_duration(text); }).value_or(fallback);
}

RestorePointBefore read_before(const Reader& r) {
  RestorePointBefore b;
  b.name = r.str("/spec/before/restore_point");
  b.policy = r.str("/spec/before/policy");
  return b;
}

int default_jobs(const Settings& settings) { return settings.defaults.jobs > 0 ? settings.defaults.jobs : 1; }

std::string absolute_from(const std::filesystem::path& base_dir, const std::string& path) {
  if (path.empty()) return path;
  std::filesystem::path p(path);
  return (p.is_absolute() ? p : base_dir / p).lexically_normal().string();
}

// database / databases / exclude_databases of a logical policy (docs/backups.md, whole-cluster backups).
void check_cluster_fields(Reader& r, const BackupPolicySpec& s) {
  if (!s.database.empty() && r.has("/spec/databases")) {
    r.problem("/spec/databases", "spec.databases: cannot be combined with spec.database; use database for one "
                                 "database or databases (all, or a list) for a whole-cluster backup");
  } else if (s.database.empty() && !s.whole_cluster()) {
    r.problem("/spec", "spec: missing required field \"database\" (method logical dumps one database; "
                       "databases: all dumps every database of the cluster)");
  }
  if (r.has("/spec/exclude_databases") && !s.all_databases) {
    r.problem("/spec/exclude_databases", "spec.exclude_databases: only used with databases: all");
  }
  if (s.whole_cluster() && s.format == DumpFormat::plain) {
    r.problem("/spec/format", "spec.format: a whole-cluster backup is restored database by database from pg_dump "
                              "archives; use format directory, custom or tar");
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < s.databases.size(); ++i) {
    if (!seen.insert(s.databases[i]).second) {
      r.problem(fmt::format("/spec/databases/{}", i), fmt::format("spec.databases: \"{}\" is listed twice", s.databases[i]));
    }
  }
}

BackupPolicy build_policy(Reader& r, const YamlDocument& doc, const Settings& settings) {
  BackupPolicy out;
  out.metadata = read_metadata(r, doc);
  BackupPolicySpec& s = out.spec;
  s.source = read_connection(r, "/spec/source");
  s.database = r.str("/spec/database");
  if (const auto* d = r.get("/spec/databases")) {
    if (d->is_string()) s.all_databases = true;  // the schema allows only "all"
    else s.databases = r.strings("/spec/databases");
  }
  s.exclude_databases = r.strings("/spec/exclude_databases");
  s.method = r.str("/spec/method", "logical") == "physical" ? BackupMethod::physical : BackupMethod::logical;
  const std::string format = r.str("/spec/format", "directory");
  s.format = format == "custom" ? DumpFormat::custom
             : format == "tar"  ? DumpFormat::tar
             : format == "plain" ? DumpFormat::plain
                                 : DumpFormat::directory;
  const bool logical = s.method == BackupMethod::logical;
  if (r.has("/spec/select/schemas") && r.has("/spec/select/tables") && !r.get("/spec/select/schemas")->empty() &&
      !r.get("/spec/select/tables")->empty()) {
    // pg_dump turns --schema off when --table is given (only the tables would be backed up, and
    // none of the schemas' functions, types or views): refuse rather than back up a subset.
    r.problem("/spec/select/tables",
              "spec.select: schemas and tables cannot be combined in a backup: pg_dump ignores schemas when tables "
              "are given, so only the tables would be backed up; list the schemas' tables under tables too, or "
              "take the schemas and the tables with two policies");
  }

  if (r.has("/spec/compression")) {
    const std::string text = r.str("/spec/compression");
    s.compression = r.parse("/spec/compression", [&] { return parse_compression(text); }).value_or(Compression{});
    if (logical && s.format == DumpFormat::tar && s.compression.method != "none") {
      r.problem("/spec/compression", "spec.compression: pg_dump cannot compress the tar format; use format "
                                     "directory or custom, or compression none");
    } else if (logical && s.format == DumpFormat::plain && s.compression.method != "none") {
      r.problem("/spec/compression", "spec.compression: a plain SQL backup is kept uncompressed so that psql reads "
                                     "it as it is; use format custom or directory to compress, or compression none");
    }
  } else if (logical && (s.format == DumpFormat::tar || s.format == DumpFormat::plain)) {
    s.compression = Compression{};  // tar cannot be compressed; plain SQL stays readable
  } else if (!settings.defaults.compression.empty()) {
    s.compression = parse_compression(settings.defaults.compression);  // checked when loaded
  } else {
    s.compression = Compression{"gzip", -1};
  }

  const bool physical_zstd = !logical && s.compression.method == "zstd";
  if (r.has("/spec/jobs")) {
    s.jobs = r.integer("/spec/jobs", 1);
    if (s.jobs > 1 && logical && s.format != DumpFormat::directory) {
      r.problem("/spec/jobs", fmt::format("spec.jobs: pg_dump runs parallel jobs only with format directory, "
                                          "not {}; use jobs: 1 or format: directory", format));
    } else if (s.jobs > 1 && !logical && !physical_zstd) {
      r.problem("/spec/jobs", fmt::format("spec.jobs: a physical backup compresses with several workers only with "
                                          "zstd (pg_basebackup's workers option), not {}; use compression: zstd "
                                          "or jobs: 1", s.compression.str()));
    }
  } else {
    s.jobs = (logical && s.format == DumpFormat::directory) || physical_zstd ? default_jobs(settings) : 1;
  }
  s.globals = r.boolean("/spec/globals", true);
  s.select = read_selection(r, "/spec/select");
  s.repository = r.str("/spec/repository");
  if (r.has("/spec/repositories")) {
    s.repositories = r.strings("/spec/repositories");
    if (r.has("/spec/repository")) {
      r.problem("/spec/repositories", "spec.repositories: give either repository (one copy) or repositories (a list, "
                                      "the first one written while the backup is taken), not both");
    }
    for (size_t i = 0; i < s.repositories.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (s.repositories[i] == s.repositories[j]) {
          r.problem("/spec/repositories/" + std::to_string(i),
                    fmt::format("spec.repositories: repository \"{}\" is listed twice; each copy needs its own repository",
                                s.repositories[i]));
        }
      }
    }
    if (!s.repositories.empty()) s.repository = s.repositories.front();
  } else if (!r.has("/spec/repository")) {
    r.problem("/spec", "spec: missing required field \"repository\" (or \"repositories\": a list of copies)");
  } else {
    s.repositories = {s.repository};
  }

  if (logical) {
    check_cluster_fields(r, s);
    if (r.has("/spec/cluster")) r.problem("/spec/cluster", "spec.cluster: only used by method physical (the WAL stream name)");
  } else {
    for (const char* field : {"database", "databases", "exclude_databases", "format", "select"}) {
      if (r.has(std::string("/spec/") + field)) {
        r.problem(std::string("/spec/") + field,
                  fmt::format("spec.{}: not used by method physical (a base backup copies the whole cluster)", field));
      }
    }
    s.cluster = r.str("/spec/cluster", out.metadata.name);
  }

  s.schedule_every = read_duration(r, "/spec/schedule/every", std::chrono::seconds(0));
  s.keep_last = r.optional_int("/spec/retention/keep_last");
  s.keep_daily = r.optional_int("/spec/retention/keep_daily");
  s.keep_weekly = r.optional_int("/spec/retention/keep_weekly");
  s.keep_monthly = r.optional_int("/spec/retention/keep_monthly");
  if (r.has("/spec/retention")) {
    const bool any = s.keep_last || s.keep_daily || s.keep_weekly || s.keep_monthly;
    const bool keeps = s.keep_last.value_or(0) + s.keep_daily.value_or(0) + s.keep_weekly.value_or(0) +
                           s.keep_monthly.value_or(0) > 0;
    if (!any) {
      r.problem("/spec/retention", "spec.retention: give at least one of keep_last, keep_daily, keep_weekly, "
                                   "keep_monthly (or leave retention out to keep every backup)");
    } else if (!keeps) {
      r.problem("/spec/retention", "spec.retention: every rule is 0, so every backup would be deleted; keep at "
                                   "least one");
    }
  }
  s.verify_checksums = r.boolean("/spec/verify/checksums", true);
  s.drill_every = read_duration(r, "/spec/verify/drill/every", std::chrono::seconds(0));
  s.drill_sql = r.strings("/spec/verify/drill/sql");
  s.drill_heapallindexed = r.boolean("/spec/verify/drill/heapallindexed", false);
  s.rpo = read_duration(r, "/spec/rpo", std::chrono::seconds(0));
  s.rto = read_duration(r, "/spec/rto", std::chrono::seconds(0));
  return out;
}

Restore build_restore(Reader& r, const YamlDocument& doc, const Settings& settings,
                      const std::filesystem::path& base_dir) {
  Restore out;
  out.metadata = read_metadata(r, doc);
  RestoreSpec& s = out.spec;
  s.archive = absolute_from(base_dir, r.str("/spec/from/archive"));
  s.repository = r.str("/spec/from/repository");
  s.policy = r.str("/spec/from/policy");
  s.sql_file = absolute_from(base_dir, r.str("/spec/from/sql_file"));
  if (r.has("/spec/from/live")) {
    s.live.source = read_connection(r, "/spec/from/live");
    s.live.database = r.str("/spec/from/live/database");
    s.live.allow_mixed = r.str("/spec/from/live/consistent", "strict") == "allow-mixed";
  }
  if (!s.archive.empty() || !s.sql_file.empty() || s.is_live()) {
    for (const char* field : {"repository", "backup"}) {
      if (r.has(std::string("/spec/from/") + field)) {
        r.problem(std::string("/spec/from/") + field,
                  fmt::format("spec.from.{}: only used with policy, not with {}", field,
                              s.is_live() ? "live" : s.archive.empty() ? "sql_file" : "archive"));
      }
    }
  }
  if (const auto* b = r.get("/spec/from/backup")) {
    if (b->is_object()) {
      s.backup = BackupRef{BackupRef::Kind::before, "", b->at("before").get<std::string>()};
    } else if (b->get<std::string>() != "latest") {
      s.backup = BackupRef{BackupRef::Kind::id, b->get<std::string>(), ""};
    }
  }
  s.to = read_connection(r, "/spec/to");
  s.database = r.str("/spec/to/database");
  s.create = r.boolean("/spec/to/create", true);
  s.select = read_selection(r, "/spec/select");
  s.select_databases = r.strings("/spec/select/databases");
  if (!s.select_databases.empty() && (!s.archive.empty() || !s.sql_file.empty() || s.is_live())) {
    r.problem("/spec/select/databases", "spec.select.databases: only a whole-cluster backup (from.policy) holds several databases");
  }
  if (s.database.empty() && (!s.archive.empty() || !s.sql_file.empty() || s.is_live())) {
    r.problem("/spec/to", "spec.to: missing required field \"database\" (only a whole-cluster backup restores "
                          "without one: its databases keep their names)");
  }
  if (!s.database.empty() && s.select_databases.size() > 1) {
    r.problem("/spec/to/database", "spec.to.database: renames one database; with several select.databases each "
                                   "keeps its own name, so leave database out");
  }
  const std::string existing = r.str("/spec/existing", "fail");
  s.existing = existing == "skip"       ? ExistingPolicy::skip
               : existing == "truncate" ? ExistingPolicy::truncate
               : existing == "replace"  ? ExistingPolicy::replace
                                        : ExistingPolicy::fail;
  const std::string roles = r.str("/spec/roles", "create-missing");
  s.roles = roles == "require" ? RolesPolicy::require
            : roles == "no-owner" ? RolesPolicy::no_owner
            : roles == "all"      ? RolesPolicy::all
                                  : RolesPolicy::create_missing;
  if (const auto* t = r.get("/spec/tablespaces")) {
    if (t->is_string()) {
      s.tablespaces_default = t->get<std::string>() == "default";
    } else if (t->contains("map")) {
      for (const auto& [from, to] : t->at("map").items()) {
        const std::string to_name = to.get<std::string>();
        s.tablespace_map[from] = to_name == "pg_default" ? "" : to_name;
      }
    }
  }
  s.encoding = r.str("/spec/to/encoding");
  s.locale = r.str("/spec/to/locale");
  if ((r.has("/spec/to/encoding") || r.has("/spec/to/locale")) && !s.create) {
    r.problem(r.has("/spec/to/encoding") ? "/spec/to/encoding" : "/spec/to/locale",
              "spec.to: encoding and locale apply only to a database the restore creates (create: true)");
  }
  s.jobs = r.integer("/spec/jobs", default_jobs(settings));
  s.fix_sequences = r.boolean("/spec/post/fix_sequences", true);
  s.analyze = r.boolean("/spec/post/analyze", true);
  s.verify_row_counts = r.boolean("/spec/post/verify/row_counts", true);
  s.verify_sql = r.strings("/spec/post/verify/sql");
  if (r.has("/spec/sections")) s.sections = r.strings("/spec/sections");
  s.single_transaction = r.boolean("/spec/single_transaction", false);
  s.allow_dropping_dependents = r.boolean("/spec/allow_dropping_dependents", false);
  if (const auto* split = r.get("/spec/split_tables_larger_than")) {
    const std::string text = split->is_string() ? split->get<std::string>() : split->dump();
    if (auto v = r.parse("/spec/split_tables_larger_than", [&] { return parse_size(text); })) {
      s.split_tables_larger_than = *v;
      s.split_set = true;
    }
  }
  if (s.allow_dropping_dependents && s.existing != ExistingPolicy::replace) {
    r.problem("/spec/allow_dropping_dependents",
              "spec.allow_dropping_dependents: only used with existing: replace (nothing else drops objects)");
  }
  if (const auto* settings_map = r.get("/spec/settings")) {
    static const std::regex guc("[A-Za-z_][A-Za-z0-9_]*([.][A-Za-z_][A-Za-z0-9_]*)?");
    for (const auto& [name, value] : settings_map->items()) {
      const std::string p = "/spec/settings/" + pointer_segment(name);
      if (!std::regex_match(name, guc)) {
        r.problem(p, fmt::format("spec.settings: \"{}\" is not a server setting name", name));
        continue;
      }
      s.session_settings[name] = value.is_string()    ? value.get<std::string>()
                                 : value.is_boolean() ? (value.get<bool>() ? "on" : "off")
                                                      : value.dump();
    }
  }
  s.before = read_before(r);
  return out;
}

// to.tablespace_mapping: absolute paths (the schema checks the leading '/'), normalized; no two
// tablespaces into one folder, none into the data directory (the extract would take it over).
void read_tablespace_mapping(Reader& r, PointInTimeRecoverySpec& s) {
  const auto* m = r.get("/spec/to/tablespace_mapping");
  if (!m || !m->is_object()) return;
  auto normal = [](const std::string& p) {
    std::string n = std::filesystem::path(p).lexically_normal().string();
    while (n.size() > 1 && n.back() == '/') n.pop_back();
    return n;
  };
  std::map<std::string, std::string> seen;  // new -> old
  for (const auto& [from, to_value] : m->items()) {
    const std::string p = "/spec/to/tablespace_mapping/" + pointer_segment(from);
    const std::string to = to_value.is_string() ? to_value.get<std::string>() : "";
    auto bad = [](const std::string& x) { return x.empty() || x[0] != '/' || x.find_first_of("\n\r") != std::string::npos; };
    if (bad(from) || bad(to)) {
      r.problem(p, fmt::format("spec.to.tablespace_mapping: \"{}\": \"{}\" must map an absolute path to an absolute path",
                               from, to));
      continue;
    }
    std::string old_n = normal(from), new_n = normal(to);
    std::string dd = normal(s.data_directory.string());
    if (!s.data_directory.empty() && (new_n == dd || new_n.rfind(dd + "/", 0) == 0)) {
      r.problem(p, fmt::format("spec.to.tablespace_mapping: \"{}\" is inside the data directory \"{}\"; choose a folder "
                               "outside it", to, dd));
      continue;
    }
    if (auto [it, fresh] = seen.emplace(new_n, old_n); !fresh) {
      r.problem(p, fmt::format("spec.to.tablespace_mapping: \"{}\" and \"{}\" both map to \"{}\"; each tablespace "
                               "needs its own folder", it->second, old_n, new_n));
      continue;
    }
    s.tablespace_mapping[old_n] = new_n;
  }
}

PointInTimeRecovery build_recovery(Reader& r, const YamlDocument& doc, const std::filesystem::path& base_dir) {
  PointInTimeRecovery out;
  out.metadata = read_metadata(r, doc);
  PointInTimeRecoverySpec& s = out.spec;
  s.repository = r.str("/spec/from/repository");
  s.policy = r.str("/spec/from/policy");
  using K = RecoveryTarget::Kind;
  if (r.has("/spec/target/time")) s.target = {K::time, r.str("/spec/target/time")};
  else if (const auto* xid = r.get("/spec/target/xid")) s.target = {K::xid, xid->dump()};
  else if (r.has("/spec/target/name")) s.target = {K::name, r.str("/spec/target/name")};
  else if (r.has("/spec/target/lsn")) s.target = {K::lsn, r.str("/spec/target/lsn")};
  else if (r.has("/spec/target/latest")) s.target = {K::latest, ""};
  else s.target = {K::immediate, ""};
  s.inclusive = r.boolean("/spec/inclusive", true);
  if (r.has("/spec/inclusive") && (s.target.kind == K::name || s.target.kind == K::immediate || s.target.kind == K::latest)) {
    r.problem("/spec/inclusive", "spec.inclusive: only applies to targets time, xid and lsn");
  }
  if (const auto* t = r.get("/spec/timeline")) s.timeline = t->is_string() ? t->get<std::string>() : t->dump();
  const std::string action = r.str("/spec/action", "pause");
  s.action = action == "promote" ? RecoveryAction::promote
             : action == "shutdown" ? RecoveryAction::shutdown
                                    : RecoveryAction::pause;
  s.data_directory = absolute_from(base_dir, r.str("/spec/to/data_directory"));
  s.port = r.integer("/spec/to/port", 0);
  s.socket_directory = absolute_from(base_dir, r.str("/spec/to/socket_directory"));
  s.move_aside_existing = r.boolean("/spec/to/move_aside_existing", false);
  s.keep_config = r.str("/spec/to/config", "isolated") == "keep";
  s.listen_addresses_given = r.has("/spec/to/listen_addresses");
  s.listen_addresses = r.str("/spec/to/listen_addresses");
  if (const auto* m = r.get("/spec/to/settings")) {
    static const std::regex guc("[A-Za-z_][A-Za-z0-9_]*([.][A-Za-z_][A-Za-z0-9_]*)?");
    static const std::set<std::string> ours = {"port", "listen_addresses", "unix_socket_directories", "archive_mode",
                                               "archive_command", "restore_command", "hot_standby"};
    for (const auto& [name, value] : m->items()) {
      const std::string p = "/spec/to/settings/" + pointer_segment(name);
      if (!std::regex_match(name, guc)) {
        r.problem(p, fmt::format("spec.to.settings: \"{}\" is not a server setting name", name));
      } else if (ours.count(name) || name.rfind("recovery_target", 0) == 0) {
        r.problem(p, fmt::format("spec.to.settings: \"{}\" is set by pgrecover; use spec.to.port, "
                                 "spec.to.listen_addresses, spec.to.socket_directory or spec.archive", name));
      } else {
        s.settings[name] = value.is_string()    ? value.get<std::string>()
                           : value.is_boolean() ? (value.get<bool>() ? "on" : "off")
                                                : value.dump();
      }
    }
  }
  read_tablespace_mapping(r, s);
  s.archive_resume = r.str("/spec/archive", "off") == "resume";
  s.verify_sql = r.strings("/spec/verify/sql");
  s.timeout = read_duration(r, "/spec/timeout", std::chrono::seconds(3600));
  s.before = read_before(r);
  return out;
}

}  // namespace

std::optional<Document> build_document(const YamlDocument& doc, std::string_view kind,
                                       const Settings& settings, const std::filesystem::path& base_dir,
                                       std::vector<Problem>& problems) {
  Reader r(doc, problems);
  const std::size_t before = r.problem_count();
  std::optional<Document> out;
  if (kind == "BackupPolicy") out = build_policy(r, doc, settings);
  else if (kind == "Restore") out = build_restore(r, doc, settings, base_dir);
  else if (kind == "PointInTimeRecovery") out = build_recovery(r, doc, base_dir);
  if (r.problem_count() != before) return std::nullopt;
  return out;
}

}  // namespace pgr::config::detail
