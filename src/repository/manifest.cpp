// Backup ids, times and the manifest's JSON form.
#include <cctype>
#include <chrono>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "repository/repository.hpp"
#include "util/error.hpp"

namespace pgr::repository {

namespace {

bool digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return false;
  for (size_t i = pos; i < pos + n; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

int num(std::string_view s, size_t pos, size_t n) {
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

std::optional<TimePoint> make_time(int y, int mo, int d, int h, int mi, int sec) {
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                                  std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  return TimePoint{std::chrono::sys_days{ymd}} + std::chrono::hours{h} + std::chrono::minutes{mi} +
         std::chrono::seconds{sec};
}

std::optional<TimePoint> id_time(std::string_view id) {
  if (id.size() != 16 && id.size() != 19) return std::nullopt;
  if (!digits(id, 0, 8) || id[8] != 'T' || !digits(id, 9, 6) || id[15] != 'Z') return std::nullopt;
  if (id.size() == 19 && (id[16] != '-' || !digits(id, 17, 2))) return std::nullopt;
  return make_time(num(id, 0, 4), num(id, 4, 2), num(id, 6, 2), num(id, 9, 2), num(id, 11, 2), num(id, 13, 2));
}

std::string str_or(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) fail(ErrorKind::input, fmt::format("manifest field \"{}\" must be a string", key));
  return it->get<std::string>();
}

}  // namespace

bool valid_backup_id(std::string_view id) { return id_time(id).has_value(); }

bool valid_policy_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || name == "." || name == "..") return false;
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

void check_backup_id(std::string_view id) {
  if (!valid_backup_id(id)) {
    fail(ErrorKind::input, fmt::format("\"{}\" is not a backup id", id),
         "backup ids are UTC timestamps such as 20250131T120000Z (see pgrecover backups list)");
  }
}

void check_policy_name(std::string_view name) {
  if (!valid_policy_name(name)) {
    fail(ErrorKind::input, fmt::format("\"{}\" cannot name a backup folder", name),
         "policy names are letters, digits, '.', '_' and '-', starting with a letter or digit");
  }
}

std::string format_iso(TimePoint t) { return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", t); }
std::string format_id(TimePoint t) { return fmt::format("{:%Y%m%dT%H%M%SZ}", t); }

TimePoint parse_id_time(std::string_view id) {
  auto t = id_time(id);
  if (!t) check_backup_id(id);
  return *t;
}

namespace {
[[noreturn]] void bad_time(std::string_view s) {
  fail(ErrorKind::input, fmt::format("\"{}\" is not an ISO-8601 time with a time zone", s),
       "write it like 2025-01-31T12:00:00Z or 2025-01-31 13:00:00+01:00");
}
}  // namespace

TimePoint parse_iso(std::string_view s) {
  auto bad = [&] { bad_time(s); };
  if (!digits(s, 0, 4) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2) || s[7] != '-' || !digits(s, 8, 2) ||
      (s[10] != 'T' && s[10] != ' ') || !digits(s, 11, 2) || s[13] != ':' || !digits(s, 14, 2) || s[16] != ':' ||
      !digits(s, 17, 2)) {
    bad();
  }
  auto t = make_time(num(s, 0, 4), num(s, 5, 2), num(s, 8, 2), num(s, 11, 2), num(s, 14, 2), num(s, 17, 2));
  if (!t) bad();
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
  }
  std::string_view zone = s.substr(pos);
  if (zone == "Z" || zone == "z") return *t;
  if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && digits(zone, 1, 2) && zone[3] == ':' &&
      digits(zone, 4, 2)) {
    auto off = std::chrono::hours{num(zone, 1, 2)} + std::chrono::minutes{num(zone, 4, 2)};
    return zone[0] == '+' ? *t - off : *t + off;
  }
  if (zone.size() == 3 && (zone[0] == '+' || zone[0] == '-') && digits(zone, 1, 2)) {
    auto off = std::chrono::hours{num(zone, 1, 2)};
    return zone[0] == '+' ? *t - off : *t + off;
  }
  bad_time(s);
}

std::uint64_t Manifest::bytes() const {
  std::uint64_t n = 0;
  for (const auto& f : files) n += f.size;
  return n;
}

namespace {

nlohmann::json to_json(const RoleSetting& s) { return {{"database", s.database}, {"setting", s.setting}}; }
RoleSetting setting_from(const nlohmann::json& j) { return {str_or(j, "database"), str_or(j, "setting")}; }

nlohmann::json globals_json(const Globals& g) {
  nlohmann::json roles = nlohmann::json::array();
  for (const auto& r : g.roles) {
    nlohmann::json m = nlohmann::json::array(), s = nlohmann::json::array();
    for (const auto& x : r.member_of) m.push_back({{"role", x.role}, {"grantor", x.grantor}, {"admin_option", x.admin_option}});
    for (const auto& x : r.settings) s.push_back(to_json(x));
    nlohmann::json j = {{"name", r.name}, {"superuser", r.superuser}, {"inherit", r.inherit},
                        {"createrole", r.createrole}, {"createdb", r.createdb}, {"login", r.login},
                        {"replication", r.replication}, {"bypassrls", r.bypassrls},
                        {"connection_limit", r.connection_limit}, {"valid_until", r.valid_until},
                        {"member_of", m}, {"settings", s}, {"comment", r.comment}};
    j["password"] = r.password ? nlohmann::json(*r.password) : nlohmann::json(nullptr);
    roles.push_back(std::move(j));
  }
  nlohmann::json ts = nlohmann::json::array(), ds = nlohmann::json::array();
  for (const auto& t : g.tablespaces) ts.push_back({{"name", t.name}, {"owner", t.owner}, {"location", t.location}, {"options", t.options}});
  for (const auto& d : g.database_settings) ds.push_back(to_json(d));
  return {{"roles", roles}, {"tablespaces", ts}, {"database_settings", ds},
          {"passwords_included", g.passwords_included}, {"sql_file", g.sql_file}};
}

Globals globals_from(const nlohmann::json& j) {
  Globals g;
  for (const auto& r : j.value("roles", nlohmann::json::array())) {
    Role role;
    role.name = str_or(r, "name");
    role.superuser = r.value("superuser", false);
    role.inherit = r.value("inherit", true);
    role.createrole = r.value("createrole", false);
    role.createdb = r.value("createdb", false);
    role.login = r.value("login", false);
    role.replication = r.value("replication", false);
    role.bypassrls = r.value("bypassrls", false);
    role.connection_limit = r.value("connection_limit", -1);
    role.valid_until = str_or(r, "valid_until");
    role.comment = str_or(r, "comment");
    if (r.contains("password") && r["password"].is_string()) role.password = r["password"].get<std::string>();
    for (const auto& m : r.value("member_of", nlohmann::json::array()))
      role.member_of.push_back({str_or(m, "role"), str_or(m, "grantor"), m.value("admin_option", false)});
    for (const auto& s : r.value("settings", nlohmann::json::array())) role.settings.push_back(setting_from(s));
    g.roles.push_back(std::move(role));
  }
  for (const auto& t : j.value("tablespaces", nlohmann::json::array()))
    g.tablespaces.push_back({str_or(t, "name"), str_or(t, "owner"), str_or(t, "location"),
                             t.value("options", std::vector<std::string>{})});
  for (const auto& d : j.value("database_settings", nlohmann::json::array())) g.database_settings.push_back(setting_from(d));
  g.passwords_included = j.value("passwords_included", false);
  g.sql_file = str_or(j, "sql_file");
  return g;
}

bool safe_relative(const std::string& p) {
  if (p.empty() || p[0] == '/' || p.find('\0') != std::string::npos) return false;
  size_t pos = 0;
  while (pos <= p.size()) {
    size_t slash = p.find('/', pos);
    std::string part = p.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return true;
}

}  // namespace

nlohmann::json to_json(const Manifest& m) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : m.files) files.push_back({{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}});
  nlohmann::json j = {{"format_version", m.format_version},
                      {"id", m.id},
                      {"policy", m.policy},
                      {"kind", m.kind},
                      {"server_version", m.server_version},
                      {"server_version_num", m.server_version_num},
                      {"system_identifier", m.system_identifier},
                      {"database", m.database},
                      {"started_at", m.started_at},
                      {"finished_at", m.finished_at},
                      {"tool", m.tool},
                      {"pg_dump_options", m.pg_dump_options},
                      {"format", m.format},
                      {"data", m.data},
                      {"bytes", m.bytes()},
                      {"files", files},
                      {"row_counts", m.row_counts},
                      {"extra", m.extra}};
  j["globals"] = m.globals ? globals_json(*m.globals) : nlohmann::json(nullptr);
  j["encryption"] = m.encryption_key_id.empty() ? nlohmann::json(nullptr)
                                                : nlohmann::json{{"cipher", "AES-256-GCM"}, {"key_id", m.encryption_key_id}};
  return j;
}

Manifest manifest_from_json(const nlohmann::json& j) {
  if (!j.is_object()) fail(ErrorKind::input, "a manifest must be a JSON object");
  Manifest m;
  try {
    m.format_version = j.at("format_version").get<int>();
    if (m.format_version < 1 || m.format_version > kManifestVersion) {
      fail(ErrorKind::input, fmt::format("manifest format_version {} is not supported (this pgrecover reads up to {})",
                                         m.format_version, kManifestVersion),
           "upgrade pgrecover");
    }
    m.id = str_or(j, "id");
    m.policy = str_or(j, "policy");
    check_backup_id(m.id);
    check_policy_name(m.policy);
    m.kind = str_or(j, "kind");
    if (m.kind != "logical" && m.kind != "physical") fail(ErrorKind::input, fmt::format("manifest kind \"{}\" is unknown", m.kind));
    m.server_version = str_or(j, "server_version");
    m.server_version_num = j.value("server_version_num", 0);
    m.system_identifier = str_or(j, "system_identifier");
    m.database = str_or(j, "database");
    m.started_at = str_or(j, "started_at");
    m.finished_at = str_or(j, "finished_at");
    m.tool = str_or(j, "tool");
    m.pg_dump_options = j.value("pg_dump_options", std::vector<std::string>{});
    m.format = str_or(j, "format");
    m.data = str_or(j, "data");
    if (!m.data.empty() && !safe_relative(m.data)) fail(ErrorKind::input, fmt::format("manifest data path \"{}\" leaves the backup folder", m.data));
    for (const auto& f : j.at("files")) {
      FileEntry e{str_or(f, "path"), f.at("size").get<std::uint64_t>(), str_or(f, "sha256")};
      if (!safe_relative(e.path)) fail(ErrorKind::input, fmt::format("manifest file path \"{}\" leaves the backup folder", e.path));
      if (e.sha256.size() != 64) fail(ErrorKind::input, fmt::format("manifest file \"{}\" has no SHA-256", e.path));
      m.files.push_back(std::move(e));
    }
    m.row_counts = j.value("row_counts", std::map<std::string, std::int64_t>{});
    if (j.contains("globals") && j["globals"].is_object()) m.globals = globals_from(j["globals"]);
    if (j.contains("extra") && j["extra"].is_object()) m.extra = j["extra"];
    if (j.contains("encryption") && j["encryption"].is_object()) m.encryption_key_id = str_or(j["encryption"], "key_id");
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::input, fmt::format("malformed manifest: {}", e.what()));
  }
  return m;
}

nlohmann::json to_json(const Verification& v) {
  return {{"verified_at", v.verified_at}, {"drill_run", v.drill_run}, {"checked_at", v.checked_at},
          {"last_failure_at", v.last_failure_at}, {"last_failure", v.last_failure}};
}

Verification verification_from_json(const nlohmann::json& j) {
  if (!j.is_object()) fail(ErrorKind::input, "verification.json must be a JSON object");
  return {str_or(j, "verified_at"), str_or(j, "drill_run"), str_or(j, "checked_at"), str_or(j, "last_failure_at"),
          str_or(j, "last_failure")};
}

nlohmann::json to_json(const BackupInfo& b) {
  return {{"id", b.id}, {"policy", b.policy}, {"kind", b.kind}, {"database", b.database},
          {"started_at", b.started_at}, {"finished_at", b.finished_at}, {"bytes", b.bytes},
          {"verified_at", b.verified_at.empty() ? nlohmann::json(nullptr) : nlohmann::json(b.verified_at)},
          {"encryption_key_id", b.encryption_key_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(b.encryption_key_id)}};
}

}  // namespace pgr::repository
