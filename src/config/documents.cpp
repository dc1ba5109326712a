// Loading documents: files and folders, one YAML document at a time through kind checks, the
// schema and typing, then the checks across documents and settings.
#include "config/documents.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <system_error>

#include "config/detail.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

namespace pgr::config {

namespace {

using detail::YamlDocument;

struct Loaded {
  YamlDocument yaml;
  std::string kind;
  std::string name;
  Document doc;
};

bool is_yaml_file(const std::filesystem::path& p) {
  const auto ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

// Files named on the command line are read whatever their extension; folders are walked for
// *.yaml and *.yml in sorted order, skipping hidden files and folders (.git, .pgrecover, CI files
// such as .gitlab-ci.yml).
std::vector<std::filesystem::path> expand_paths(const std::vector<std::filesystem::path>& paths,
                                                std::vector<Problem>& problems) {
  std::vector<std::filesystem::path> files;
  for (const auto& path : paths) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) {
      problems.push_back({Position{path.string(), 0, 0}, "no such file or folder"});
      continue;
    }
    if (!std::filesystem::is_directory(status)) {
      files.push_back(path);
      continue;
    }
    std::vector<std::filesystem::path> found;
    std::filesystem::recursive_directory_iterator it(path, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      const auto name = it->path().filename().string();
      if (!name.empty() && name[0] == '.') {  // .git, .pgrecover, .gitlab-ci.yml, ...
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file() && is_yaml_file(it->path())) found.push_back(it->path());
    }
    if (ec) problems.push_back({Position{path.string(), 0, 0}, "cannot read folder: " + ec.message()});
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

// apiVersion and kind come first: without a known kind there is no schema to check against.
std::optional<std::string> check_header(const YamlDocument& doc, std::vector<Problem>& problems) {
  if (!doc.value.is_object()) {
    problems.push_back({doc.start, "a document must be a map with apiVersion, kind, metadata and spec"});
    return std::nullopt;
  }
  bool ok = true;
  if (!doc.value.contains("apiVersion")) {
    problems.push_back({doc.start, fmt::format("missing required field \"apiVersion\" (use {})", kApiVersion)});
    ok = false;
  } else if (doc.value["apiVersion"] != kApiVersion) {
    problems.push_back({doc.field_position("/apiVersion"),
                        fmt::format("unsupported apiVersion {} (this pgrecover reads {})",
                                    doc.value["apiVersion"].dump(), kApiVersion)});
    ok = false;
  }
  const auto& kinds = detail::document_kinds();
  if (!doc.value.contains("kind")) {
    problems.push_back({doc.start, fmt::format("missing required field \"kind\" (one of {}, {}, {})", kinds[0],
                                               kinds[1], kinds[2])});
    return std::nullopt;
  }
  const auto& kind = doc.value["kind"];
  const std::string text = kind.is_string() ? kind.get<std::string>() : kind.dump();
  if (!kind.is_string() || std::find(kinds.begin(), kinds.end(), text) == kinds.end()) {
    std::string msg = fmt::format("unknown kind \"{}\"", text);
    if (auto hint = detail::did_you_mean(text, kinds)) {
      msg += fmt::format(" (did you mean \"{}\"?)", *hint);
    } else {
      msg += fmt::format("; known kinds: {}, {}, {}", kinds[0], kinds[1], kinds[2]);
    }
    problems.push_back({doc.field_position("/kind"), msg});
    return std::nullopt;
  }
  if (!ok) return std::nullopt;
  return text;
}

void load_text(std::string_view text, const std::string& file, const std::filesystem::path& base_dir,
               const Settings& settings, std::vector<Loaded>& loaded, ValidationReport& report) {
  for (auto& yaml : detail::parse_yaml(text, file, report.problems)) {
    auto kind = check_header(yaml, report.problems);
    if (const auto* name = yaml.value.is_object() && yaml.value.contains("metadata") && yaml.value["metadata"].is_object() &&
                                   yaml.value["metadata"].contains("name")
                               ? &yaml.value["metadata"]["name"]
                               : nullptr;
        kind && name && name->is_string()) {
      report.summaries.push_back({yaml.start, *kind, name->get<std::string>()});
    }
    if (!kind) continue;
    const std::size_t before = report.problems.size();
    detail::check_against_schema(yaml, *kind, report.problems);
    if (report.problems.size() != before) continue;
    auto doc = detail::build_document(yaml, *kind, settings, base_dir, report.problems);
    if (!doc) continue;
    std::string name = yaml.value["metadata"]["name"].get<std::string>();
    loaded.push_back(Loaded{std::move(yaml), *kind, std::move(name), std::move(*doc)});
  }
}

std::vector<std::string> keys_of(const auto& map) {
  std::vector<std::string> out;
  for (const auto& [k, unused] : map) out.push_back(k);
  return out;
}

std::string not_found(std::string_view what, const std::string& name, const std::vector<std::string>& known,
                      const Settings& settings, bool in_settings) {
  std::string msg = fmt::format("unknown {} \"{}\"", what, name);
  if (auto hint = detail::did_you_mean(name, known)) return msg + fmt::format(" (did you mean \"{}\"?)", *hint);
  if (in_settings && settings.file.empty()) {
    return msg + " (no settings file was found: give --config, set $PGRECOVER_CONFIG or add ./pgrecover.toml)";
  }
  if (in_settings) return msg + fmt::format(" (not in {})", settings.file.string());
  return msg;
}

class CrossChecker {
 public:
  CrossChecker(std::vector<Loaded>& loaded, const Settings& settings, std::vector<Problem>& problems)
      : loaded_(loaded), settings_(settings), problems_(problems) {}

  void run() {
    unique_names();
    for (auto& l : loaded_) {
      if (auto* p = std::get_if<BackupPolicy>(&l.doc)) policy(l, *p);
      if (auto* r = std::get_if<Restore>(&l.doc)) restore(l, *r);
      if (auto* x = std::get_if<PointInTimeRecovery>(&l.doc)) recovery(l, *x);
    }
  }

 private:
  void add(const Loaded& l, const std::string& pointer, std::string message) {
    problems_.push_back({l.yaml.field_position(pointer), std::move(message)});
  }

  void unique_names() {
    std::map<std::pair<std::string, std::string>, const Loaded*> seen;
    for (const auto& l : loaded_) {
      auto [it, fresh] = seen.emplace(std::make_pair(l.kind, l.name), &l);
      if (!fresh) {
        const Position first = it->second->yaml.field_position("/metadata/name");
        add(l, "/metadata/name", fmt::format("duplicate {} name \"{}\" (also at {}:{})", l.kind, l.name,
                                             first.file, first.line));
      }
    }
  }

  const BackupPolicy* find_policy(const std::string& name) const {
    for (const auto& l : loaded_) {
      if (const auto* p = std::get_if<BackupPolicy>(&l.doc); p && p->metadata.name == name) return p;
    }
    return nullptr;
  }
  std::vector<std::string> policy_names() const {
    std::vector<std::string> out;
    for (const auto& l : loaded_) {
      if (std::holds_alternative<BackupPolicy>(l.doc)) out.push_back(l.name);
    }
    return out;
  }

  void connection(const Loaded& l, const std::string& pointer, const ConnectionRef& ref) {
    if (ref.connection.empty() || settings_.find_connection(ref.connection)) return;
    add(l, pointer + "/connection",
        fmt::format("{}.connection: {}", dotted(pointer),
                    not_found("connection", ref.connection, keys_of(settings_.connections), settings_, true)));
  }
  void repository(const Loaded& l, const std::string& pointer, const std::string& name) {
    if (name.empty() || settings_.find_repository(name)) return;
    add(l, pointer, fmt::format("{}: {}", dotted(pointer),
                                not_found("repository", name, keys_of(settings_.repositories), settings_, true)));
  }
  static std::string dotted(std::string pointer) {
    pointer.erase(0, 1);
    std::replace(pointer.begin(), pointer.end(), '/', '.');
    return pointer;
  }
  // The policy a Restore or PITR names: it must be among the documents, of the right method.
  const BackupPolicy* named_policy(const Loaded& l, const std::string& name, BackupMethod wanted) {
    const BackupPolicy* p = find_policy(name);
    if (p == nullptr) {
      add(l, "/spec/from/policy",
          fmt::format("spec.from.policy: {} among the documents{}",
                      not_found("BackupPolicy", name, policy_names(), settings_, false),
                      wanted == BackupMethod::logical
                          ? "; to restore its backups without the document, give spec.from.repository too"
                          : ""));
      return nullptr;
    }
    if (p->spec.method != wanted) {
      add(l, "/spec/from/policy",
          wanted == BackupMethod::logical
              ? fmt::format("spec.from.policy: BackupPolicy \"{}\" takes physical backups; a Restore needs "
                            "logical ones (use a PointInTimeRecovery)", name)
              : fmt::format("spec.from.policy: BackupPolicy \"{}\" takes logical backups; point-in-time "
                            "recovery needs method physical", name));
    }
    return p;
  }

  void policy(const Loaded& l, const BackupPolicy& p) {
    connection(l, "/spec/source", p.spec.source);
    const auto spec = l.yaml.value.find("spec");
    if (spec == l.yaml.value.end() || !spec->contains("repositories")) {
      repository(l, "/spec/repository", p.spec.repository);
      return;
    }
    for (size_t i = 0; i < p.spec.repositories.size(); ++i)
      repository(l, "/spec/repositories/" + std::to_string(i), p.spec.repositories[i]);
  }
  // The copies of the policy's backups other than `chosen`, in the policy's order: where a
  // restore falls back to when `chosen` is unreachable or lacks the backup.
  static std::vector<std::string> fallbacks(const BackupPolicy* p, const std::string& chosen) {
    std::vector<std::string> out;
    if (!p) return out;
    for (const auto& r : p->spec.repositories)
      if (r != chosen) out.push_back(r);
    return out;
  }
  void restore(Loaded& l, Restore& r) {
    before(l, r.spec.before, nullptr, &r.spec.to);
    restore_source(l, r);
  }
  void restore_source(Loaded& l, Restore& r) {
    connection(l, "/spec/to", r.spec.to);
    if (r.spec.is_live()) connection(l, "/spec/from/live", r.spec.live.source);
    if (r.spec.policy.empty()) return;
    // Without the policy's document (retired, or only the repository survived a disaster) the
    // backups are still found by policy name in the repository the document names.
    if (!find_policy(r.spec.policy) && !r.spec.repository.empty()) {
      repository(l, "/spec/from/repository", r.spec.repository);
      return;
    }
    const BackupPolicy* p = named_policy(l, r.spec.policy, BackupMethod::logical);
    if (r.spec.repository.empty() && p) r.spec.repository = p->spec.repository;
    r.spec.fallback_repositories = fallbacks(p, r.spec.repository);
    repository(l, l.yaml.value["spec"]["from"].contains("repository") ? "/spec/from/repository" : "/spec/from/policy",
               r.spec.repository);
  }
  void recovery(Loaded& l, PointInTimeRecovery& x) {
    const BackupPolicy* p = named_policy(l, x.spec.policy, BackupMethod::physical);
    if (x.spec.repository.empty() && p) x.spec.repository = p->spec.repository;
    x.spec.fallback_repositories = fallbacks(p, x.spec.repository);
    repository(l, l.yaml.value["spec"]["from"].contains("repository") ? "/spec/from/repository" : "/spec/from/policy",
               x.spec.repository);
    before(l, x.spec.before, p && p->spec.method == BackupMethod::physical ? p : nullptr, nullptr);
  }

  // The same server, as far as the documents and settings tell without connecting: the same
  // connection name, or the same conninfo text.
  bool same_server(const ConnectionRef& a, const ConnectionRef& b) const {
    auto text = [&](const ConnectionRef& r) {
      if (!r.conninfo.empty()) return r.conninfo;
      const auto* c = settings_.find_connection(r.connection);
      return c ? c->conninfo : std::string();
    };
    if (!a.connection.empty() && a.connection == b.connection) return true;
    return !text(a).empty() && text(a) == text(b);
  }

  // before.restore_point: which physical policy's source gets it and which repository records
  // it. A PointInTimeRecovery: before.policy, else its own from.policy. A Restore: before.policy,
  // else the one physical policy whose source is the restore's target server, else none (the
  // restore point is made on the target server and not recorded).
  void before(const Loaded& l, RestorePointBefore& b, const BackupPolicy* recovered, const ConnectionRef* restore_target) {
    if (b.name.empty()) return;
    const BackupPolicy* p = nullptr;
    if (!b.policy.empty()) {
      p = find_policy(b.policy);
      if (!p) {
        add(l, "/spec/before/policy",
            fmt::format("spec.before.policy: {} among the documents", not_found("BackupPolicy", b.policy, policy_names(), settings_, false)));
        return;
      }
      if (p->spec.method != BackupMethod::physical) {
        add(l, "/spec/before/policy",
            fmt::format("spec.before.policy: BackupPolicy \"{}\" takes logical backups; a restore point needs a physical "
                        "policy and its WAL archive", b.policy));
        return;
      }
    } else if (recovered) {
      p = recovered;
    } else if (restore_target) {
      std::vector<const BackupPolicy*> matches;
      for (const auto& other : loaded_) {
        const auto* q = std::get_if<BackupPolicy>(&other.doc);
        if (q && q->spec.method == BackupMethod::physical && same_server(q->spec.source, *restore_target)) matches.push_back(q);
      }
      if (matches.size() > 1) {
        add(l, "/spec/before/restore_point",
            fmt::format("spec.before.restore_point: the target server is the source of several physical policies (\"{}\", "
                        "\"{}\"); name the one whose WAL archive records it in spec.before.policy",
                        matches[0]->metadata.name, matches[1]->metadata.name));
        return;
      }
      if (matches.size() == 1) p = matches[0];
    }
    if (!p) {
      if (restore_target) b.server = *restore_target;
      return;
    }
    auto repos = repositories_of(p->spec);
    b.resolved_policy = p->metadata.name;
    b.server = p->spec.source;
    b.repository = repos.empty() ? std::string() : repos.front();
    if (repos.size() > 1) b.copies.assign(repos.begin() + 1, repos.end());
    b.cluster = p->spec.cluster.empty() ? p->metadata.name : p->spec.cluster;
  }

  std::vector<Loaded>& loaded_;
  const Settings& settings_;
  std::vector<Problem>& problems_;
};

void finish(std::vector<Loaded>& loaded, const Settings& settings, ValidationReport& report) {
  CrossChecker(loaded, settings, report.problems).run();
  std::stable_sort(report.problems.begin(), report.problems.end(), [](const Problem& a, const Problem& b) {
    return std::tie(a.where.file, a.where.line, a.where.column) < std::tie(b.where.file, b.where.line, b.where.column);
  });
  std::sort(loaded.begin(), loaded.end(), [](const Loaded& a, const Loaded& b) {
    return std::tie(a.kind, a.name) < std::tie(b.kind, b.name);
  });
  Sha256 hash;
  for (auto& l : loaded) {
    // Canonical form: nlohmann's objects keep keys sorted, so layout, comments and key order do
    // not change the fingerprint; the values do.
    hash.update(nlohmann::json{{"kind", l.kind}, {"document", l.yaml.value}}.dump());
    hash.update("\n");
    if (auto* p = std::get_if<BackupPolicy>(&l.doc)) report.documents.policies.push_back(std::move(*p));
    if (auto* r = std::get_if<Restore>(&l.doc)) report.documents.restores.push_back(std::move(*r));
    if (auto* x = std::get_if<PointInTimeRecovery>(&l.doc)) report.documents.recoveries.push_back(std::move(*x));
  }
  report.documents.fingerprint = hash.hex();
}

std::filesystem::path folder_of(const std::filesystem::path& file) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(file, ec);
  return (ec ? file : abs).parent_path();
}

}  // namespace

ValidationReport check_documents(const std::vector<std::filesystem::path>& paths, const Settings& settings) {
  ValidationReport report;
  std::vector<Loaded> loaded;
  for (const auto& file : expand_paths(paths, report.problems)) {
    std::string text;
    try {
      text = read_file(file);
    } catch (const Error& e) {
      report.problems.push_back({Position{file.string(), 0, 0}, e.what()});
      continue;
    }
    load_text(text, file.string(), folder_of(file), settings, loaded, report);
  }
  finish(loaded, settings, report);
  return report;
}

ValidationReport check_text(std::string_view yaml, const std::string& file, const Settings& settings) {
  ValidationReport report;
  std::vector<Loaded> loaded;
  load_text(yaml, file, folder_of(file), settings, loaded, report);
  finish(loaded, settings, report);
  return report;
}

DocumentSet load_documents(const std::vector<std::filesystem::path>& paths, const Settings& settings) {
  ValidationReport report = check_documents(paths, settings);
  if (!report.ok()) throw ValidationFailed(std::move(report.problems));
  return std::move(report.documents);
}

}  // namespace pgr::config
