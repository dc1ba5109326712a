// pgrecover.toml: parsed with toml++, every key checked (unknown keys are typos until proven
// otherwise), every problem reported as FILE:LINE:COL.
#include "config/settings.hpp"

#include <toml++/toml.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <tuple>
#include <regex>

#include "config/detail.hpp"
#include "config/documents.hpp"
#include "util/fs.hpp"
#include "util/redact.hpp"

namespace pgr::config {

const ConnectionSettings* Settings::find_connection(std::string_view name) const {
  auto it = connections.find(std::string(name));
  return it == connections.end() ? nullptr : &it->second;
}

const RepositorySettings* Settings::find_repository(std::string_view name) const {
  auto it = repositories.find(std::string(name));
  return it == repositories.end() ? nullptr : &it->second;
}

const RepositorySettings& Settings::repository(std::string_view name, const std::string& who) const {
  std::string where = file.empty() ? "no settings file was found (give --config FILE or set $PGRECOVER_CONFIG)"
                                   : fmt::format("the settings file is {}", file.string());
  if (name.empty()) {
    if (repositories.size() == 1) return repositories.begin()->second;
    fail(ErrorKind::input,
         repositories.empty() ? fmt::format("{}: no repository is configured; {}", who, where)
                              : fmt::format("{}: {} repositories are configured; name one", who, repositories.size()),
         "repositories are named in pgrecover.toml: [repositories.NAME] path = \"...\"");
  }
  if (const auto* r = find_repository(name)) return *r;
  fail(ErrorKind::input, fmt::format("{}: repository \"{}\" is not in the settings; {}", who, name, where),
       fmt::format("add [repositories.{}] path = \"...\" to pgrecover.toml", name));
}

namespace {

bool is_uri(std::string_view conninfo) {
  return conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
}

std::string percent_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string quote_value(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// Adds key=value to a conninfo in either of libpq's two forms.
std::string add_param(const std::string& conninfo, std::string_view key, std::string_view value) {
  if (is_uri(conninfo)) {
    const char sep = conninfo.find('?') == std::string::npos ? '?' : '&';
    return fmt::format("{}{}{}={}", conninfo, sep, key, percent_encode(value));
  }
  return fmt::format("{}{}{}={}", conninfo, conninfo.empty() ? "" : " ", key, quote_value(value));
}

const ConnectionSettings& named(const Settings& s, const std::string& name) {
  const auto* c = s.find_connection(name);
  if (c == nullptr) {
    std::vector<std::string> known;
    for (const auto& [k, unused] : s.connections) known.push_back(k);
    std::string msg = fmt::format("unknown connection \"{}\"", name);
    if (auto hint = detail::did_you_mean(name, known)) msg += fmt::format(" (did you mean \"{}\"?)", *hint);
    fail(ErrorKind::input, msg,
         s.file.empty() ? "no settings file was found: give --config, set $PGRECOVER_CONFIG or add ./pgrecover.toml"
                        : fmt::format("add [connections.{}] to {}", name, s.file.string()));
  }
  return *c;
}

}  // namespace

std::string RepositorySettings::where() const {
  if (type == "posix") return path.string();
  return prefix.empty() ? "s3://" + bucket : fmt::format("s3://{}/{}", bucket, prefix);
}

std::string Settings::connect_string(const ConnectionRef& ref) const {
  if (ref.connection.empty()) return ref.conninfo;
  const auto& c = named(*this, ref.connection);
  std::string out = c.conninfo;
  if (!c.password_env.empty()) {
    const char* password = std::getenv(c.password_env.c_str());
    if (password == nullptr) {
      fail(ErrorKind::input,
           fmt::format("connection \"{}\" takes its password from ${}, which is not set", c.name, c.password_env),
           fmt::format("export {}=... before running pgrecover, or use passfile", c.password_env));
    }
    out = add_param(out, "password", password);
  }
  if (!c.passfile.empty()) out = add_param(out, "passfile", c.passfile);
  return out;
}

std::string Settings::display_string(const ConnectionRef& ref) const {
  if (ref.connection.empty()) return redact_secrets(ref.conninfo);
  return redact_secrets(named(*this, ref.connection).conninfo);
}

namespace {

class Parser {
 public:
  Parser(const std::filesystem::path& file, std::vector<Problem>& problems) : file_(file), problems_(problems) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(file, ec);
    base_ = (ec ? file : abs).parent_path();
  }

  Settings parse(std::string_view text) {
    Settings s;
    s.file = file_.empty() ? file_ : (base_ / file_.filename()).lexically_normal();
    toml::table root;
    try {
      root = toml::parse(text, file_.string());
    } catch (const toml::parse_error& e) {
      add(e.source(), fmt::format("TOML syntax error: {}", e.description()));
      return s;
    }
    keys(root, "", {"state_dir", "connections", "repositories", "defaults", "instance"});
    if (auto v = string_at(root, "state_dir", "state_dir")) s.state_dir = resolve(*v);
    if (auto* conns = table_at(root, "connections", "connections")) {
      for (const auto& [key, node] : *conns) {
        const std::string name(key.str());
        const std::string where = "connections." + name;
        check_name(key, where);
        const auto* t = node.as_table();
        if (t == nullptr) {
          add(node.source(), fmt::format("{} must be a table ([{}])", where, where));
          continue;
        }
        keys(*t, where, {"conninfo", "password_env", "passfile"});
        ConnectionSettings c;
        c.name = name;
        c.conninfo = string_at(*t, "conninfo", where + ".conninfo").value_or("");
        c.password_env = string_at(*t, "password_env", where + ".password_env").value_or("");
        if (auto pf = string_at(*t, "passfile", where + ".passfile")) c.passfile = resolve(*pf).string();
        if (!c.password_env.empty() && !c.passfile.empty()) {
          add(t->source(), fmt::format("{}: give password_env or passfile, not both", where));
        }
        if (c.conninfo.find("password") != std::string::npos && redact_secrets(c.conninfo) != c.conninfo) {
          add((*t)["conninfo"].node()->source(),
              fmt::format("{}.conninfo contains a password; move it to password_env or passfile", where));
        }
        s.connections[name] = c;
      }
    }
    if (auto* repos = table_at(root, "repositories", "repositories")) {
      for (const auto& [key, node] : *repos) {
        const std::string name(key.str());
        const std::string where = "repositories." + name;
        check_name(key, where);
        const auto* t = node.as_table();
        if (t == nullptr) {
          add(node.source(), fmt::format("{} must be a table ([{}])", where, where));
          continue;
        }
        keys(*t, where, {"type", "path", "endpoint", "bucket", "prefix", "region", "uri_style", "access_key_env",
                         "secret_key_env", "tls_verify", "ca_file", "staging_dir", "encryption_key_file",
                         "encryption_key_env", "decryption_key_files"});
        RepositorySettings r;
        r.name = name;
        r.origin = fmt::format("{} [{}]", file_.empty() ? std::string("settings") : file_.string(), where);
        r.type = string_at(*t, "type", where + ".type").value_or("posix");
        auto need = [&](const char* field) -> std::string {
          auto v = string_at(*t, field, where + "." + field);
          if (!v && !t->contains(field)) add(t->source(), fmt::format("{}: type \"{}\" needs key \"{}\"", where, r.type, field));
          return v.value_or("");
        };
        auto only = [&](std::initializer_list<const char*> keys_of_other_type, const char* type) {
          for (const char* k : keys_of_other_type)
            if (t->contains(k)) add((*t)[k].node()->source(), fmt::format("{}.{} is for type \"{}\" repositories", where, k, type));
        };
        if (r.type == "posix") {
          if (auto p = string_at(*t, "path", where + ".path")) {
            r.path = resolve(*p);
          } else if (!t->contains("path")) {
            add(t->source(), fmt::format("{}: missing required key \"path\"", where));
          }
          only({"endpoint", "bucket", "prefix", "region", "uri_style", "access_key_env", "secret_key_env", "tls_verify",
                "ca_file"}, "s3");
        } else if (r.type == "s3") {
          only({"path"}, "posix");
          r.endpoint = need("endpoint");
          r.bucket = need("bucket");
          r.region = need("region");
          r.access_key_env = need("access_key_env");
          r.secret_key_env = need("secret_key_env");
          r.prefix = string_at(*t, "prefix", where + ".prefix").value_or("");
          while (!r.prefix.empty() && r.prefix.back() == '/') r.prefix.pop_back();
          while (!r.prefix.empty() && r.prefix.front() == '/') r.prefix.erase(0, 1);
          r.uri_style = string_at(*t, "uri_style", where + ".uri_style").value_or("host");
          if (r.uri_style != "host" && r.uri_style != "path") {
            add((*t)["uri_style"].node()->source(), fmt::format("{}.uri_style: \"{}\" must be host or path", where, r.uri_style));
          }
          if (!r.endpoint.empty() && r.endpoint.rfind("https://", 0) != 0 && r.endpoint.rfind("http://", 0) != 0) {
            add((*t)["endpoint"].node()->source(), fmt::format("{}.endpoint: \"{}\" must start with https:// or http://", where, r.endpoint));
          }
          if (const auto* n = t->get("tls_verify")) {
            if (auto b = n->value<bool>(); n->is_boolean() && b) r.tls_verify = *b;
            else add(n->source(), fmt::format("{}.tls_verify must be true or false", where));
          }
          if (auto c = string_at(*t, "ca_file", where + ".ca_file")) r.ca_file = resolve(*c);
        } else {
          add((*t)["type"].node()->source(), fmt::format("{}.type: \"{}\" must be posix or s3", where, r.type));
        }
        encryption(*t, where, r);
        if (auto d = string_at(*t, "staging_dir", where + ".staging_dir")) {
          r.staging_dir = resolve(*d);
          if (r.type == "posix" && !r.encrypted()) {
            add((*t)["staging_dir"].node()->source(),
                fmt::format("{}.staging_dir is for type \"s3\" and encrypted repositories (a folder repository stages "
                            "inside itself)", where));
          }
        }
        s.repositories[name] = r;
      }
    }
    if (auto* d = table_at(root, "defaults", "defaults")) {
      keys(*d, "defaults", {"jobs", "compression"});
      if (const auto* n = d->get("jobs")) {
        auto v = n->value<std::int64_t>();
        if (!n->is_integer() || !v) {
          add(n->source(), "defaults.jobs must be an integer");
        } else if (*v < 1 || *v > 64) {
          add(n->source(), fmt::format("defaults.jobs: {} is out of range (1 to 64)", *v));
        } else {
          s.defaults.jobs = static_cast<int>(*v);
        }
      }
      if (auto c = string_at(*d, "compression", "defaults.compression")) {
        try {
          parse_compression(*c);
          s.defaults.compression = *c;
        } catch (const Error& e) {
          add(d->get("compression")->source(), fmt::format("defaults.compression: {}", e.what()));
        }
      }
    }
    if (auto* i = table_at(root, "instance", "instance")) {
      keys(*i, "instance", {"bin_dir", "run_as"});
      if (auto b = string_at(*i, "bin_dir", "instance.bin_dir")) s.instance.bin_dir = resolve(*b);
      s.instance.run_as = string_at(*i, "run_as", "instance.run_as").value_or("");
    }
    return s;
  }

 private:
  void add(const toml::source_region& where, std::string message) {
    problems_.push_back({Position{file_.string(), static_cast<int>(where.begin.line),
                                  static_cast<int>(where.begin.column)},
                         std::move(message)});
  }

  void keys(const toml::table& t, const std::string& where, const std::vector<std::string>& known) {
    for (const auto& [key, node] : t) {
      const std::string k(key.str());
      if (std::find(known.begin(), known.end(), k) != known.end()) continue;
      std::string msg = fmt::format("unknown key \"{}\"{}", k, where.empty() ? "" : " in [" + where + "]");
      if (auto hint = detail::did_you_mean(k, known)) msg += fmt::format(" (did you mean \"{}\"?)", *hint);
      add(key.source().begin.line ? key.source() : node.source(), msg);
    }
  }

  // encryption_key_file | encryption_key_env, and decryption_key_files (keys before a rotation).
  void encryption(const toml::table& t, const std::string& where, RepositorySettings& r) {
    if (auto k = string_at(t, "encryption_key_file", where + ".encryption_key_file")) r.encryption_key_file = resolve(*k);
    r.encryption_key_env = string_at(t, "encryption_key_env", where + ".encryption_key_env").value_or("");
    if (!r.encryption_key_file.empty() && !r.encryption_key_env.empty()) {
      add(t.source(), fmt::format("{}: give encryption_key_file or encryption_key_env, not both", where));
    }
    const auto* n = t.get("decryption_key_files");
    if (n == nullptr) return;
    const auto* a = n->as_array();
    if (a == nullptr) {
      add(n->source(), fmt::format("{}.decryption_key_files must be an array of paths", where));
      return;
    }
    for (const auto& e : *a) {
      auto v = e.value<std::string>();
      if (!e.is_string() || !v || v->empty()) add(e.source(), fmt::format("{}.decryption_key_files: every entry must be a path", where));
      else r.decryption_key_files.push_back(resolve(*v));
    }
    if (!r.encrypted()) {
      add(n->source(), fmt::format("{}.decryption_key_files needs encryption_key_file or encryption_key_env (the current key)", where));
    }
  }

  void check_name(const toml::key& key, const std::string& where) {
    static const std::regex re("[A-Za-z0-9][A-Za-z0-9_-]*");
    if (!std::regex_match(std::string(key.str()), re)) {
      add(key.source(), fmt::format("{}: a name may hold letters, digits, '-' and '_'", where));
    }
  }

  std::optional<std::string> string_at(const toml::table& t, const char* key, const std::string& where) {
    const auto* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_string()) {
      add(n->source(), fmt::format("{} must be a string", where));
      return std::nullopt;
    }
    std::string v = n->value<std::string>().value_or("");
    if (v.empty()) {
      add(n->source(), fmt::format("{} must not be empty", where));
      return std::nullopt;
    }
    return v;
  }

  const toml::table* table_at(const toml::table& t, const char* key, const std::string& where) {
    const auto* n = t.get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) {
      add(n->source(), fmt::format("{} must be a table ([{}])", where, where));
      return nullptr;
    }
    return n->as_table();
  }

  std::filesystem::path resolve(const std::string& p) const {
    std::filesystem::path path(p);
    return (path.is_absolute() ? path : base_ / path).lexically_normal();
  }

  std::filesystem::path file_;
  std::filesystem::path base_;
  std::vector<Problem>& problems_;
};

}  // namespace

Settings parse_settings(std::string_view toml_text, const std::filesystem::path& file) {
  std::vector<Problem> problems;
  Settings s = Parser(file, problems).parse(toml_text);
  if (!problems.empty()) {
    std::stable_sort(problems.begin(), problems.end(), [](const Problem& a, const Problem& b) {
      return std::tie(a.where.line, a.where.column) < std::tie(b.where.line, b.where.column);
    });
    throw ValidationFailed(std::move(problems));
  }
  return s;
}

Settings load_settings(const std::string& explicit_path) {
  std::filesystem::path path;
  std::string origin;
  if (!explicit_path.empty()) {
    path = explicit_path;
    origin = "--config";
  } else if (const char* env = std::getenv("PGRECOVER_CONFIG"); env != nullptr && *env != '\0') {
    path = env;
    origin = "$PGRECOVER_CONFIG";
  } else if (std::filesystem::exists("pgrecover.toml")) {
    path = "pgrecover.toml";
  } else {
    return Settings{};
  }
  std::error_code ec;
  if (!origin.empty() && !std::filesystem::is_regular_file(path, ec)) {
    fail(ErrorKind::input, fmt::format("settings file \"{}\" given by {} does not exist", path.string(), origin),
         "check the path, or leave it out to use ./pgrecover.toml or no settings at all");
  }
  return parse_settings(read_file(path), path);
}

}  // namespace pgr::config
