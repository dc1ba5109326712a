// Client-side encryption end to end through the pgrecover binary. A logical backup into an
// encrypted repository in an S3-compatible bucket (s3rver, started by the harness) is verified
// and restored straight from the bucket; a marker written into a table and into a role's comment
// is nowhere in the server's storage folder (while an unencrypted control backup of the same
// database does hold it, so the search can fail); a wrong key, no key, a bad key file and one
// flipped byte are refused with exit 1 and messages naming the key ids or the file.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <chrono>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "instance/instance.hpp"
#include "pg/pg.hpp"
#include "support/harness.hpp"
#include "support/s3_server.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/process.hpp"

using namespace pgr;
using test::psql;
using test::server;

namespace {

const std::string kMarker = "Zebra-Quokka-7341-marker";  // in a table and in a role's comment

void must(const ProcessResult& r, const std::string& what) {
  if (!r.ok()) FAIL(describe_failure(what, r) + "\nstdout:\n" + r.out);
}

std::string conninfo() {
  auto& s = server();
  return fmt::format("host={} port={} user=postgres dbname=postgres", s.socket_dir().string(), s.port());
}

struct Key {
  std::string base64, id;
};

Key new_key() {
  unsigned char raw[32];
  RAND_bytes(raw, sizeof raw);
  unsigned char b64[64] = {0};
  EVP_EncodeBlock(b64, raw, sizeof raw);
  return {reinterpret_cast<char*>(b64), sha256_hex(std::string(reinterpret_cast<char*>(raw), sizeof raw)).substr(0, 16)};
}

fs::path key_file(const fs::path& dir, const std::string& name, const std::string& text, mode_t mode = 0600) {
  fs::path p = dir / name;
  write_file_atomic(p, text, mode);
  ::chmod(p.c_str(), mode);
  return p;
}

// Does any file under `dir` hold `needle`? (their bytes, whatever they are)
std::vector<std::string> files_holding(const fs::path& dir, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && read_file(e.path()).find(needle) != std::string::npos) out.push_back(e.path().string());
  return out;
}

int file_count(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

struct Fixture {
  TempDir dir{"pgrecover-enc-test-"};
  Key key = new_key(), other = new_key();
  std::string source = "enc_source";
  std::string prefix = fmt::format("enc-{}", ::getpid()), clear_prefix = fmt::format("clear-{}", ::getpid());
  std::string config;
  Fixture() {
    auto& s3 = test::S3Server::shared();
    fs::path k = key_file(dir.path(), "offsite.key", key.base64 + "\n");
    fs::path wrong = key_file(dir.path(), "other.key", other.base64 + "\n");
    fs::path open = key_file(dir.path(), "open.key", key.base64 + "\n", 0644);
    fs::path junk = key_file(dir.path(), "junk.key", "this is not a key\n");
    config = (dir.path() / "pgrecover.toml").string();
    write_file_atomic(
        config, fmt::format("state_dir = \"{}\"\n", (dir.path() / "state").string()) +
                    s3.settings("offsite", prefix, fmt::format("encryption_key_file = \"{}\"", k.string())) +
                    s3.settings("clear", clear_prefix) +
                    s3.settings("wrongkey", prefix, fmt::format("encryption_key_file = \"{}\"", wrong.string())) +
                    s3.settings("nokey", prefix) +
                    s3.settings("openkey", prefix, fmt::format("encryption_key_file = \"{}\"", open.string())) +
                    s3.settings("junkkey", prefix, fmt::format("encryption_key_file = \"{}\"", junk.string())) +
                    s3.settings("envkey", prefix, "encryption_key_env = \"PGR_TEST_UNSET_KEY\"") +
                    s3.settings("rotated", prefix,
                                fmt::format("encryption_key_file = \"{}\"\ndecryption_key_files = [\"{}\"]", wrong.string(), k.string())));
    psql("postgres", "CREATE DATABASE " + source);
    psql("postgres", "DROP ROLE IF EXISTS enc_auditor; CREATE ROLE enc_auditor; COMMENT ON ROLE enc_auditor IS 'role " + kMarker + "'");
    psql(source, R"(
      CREATE TABLE notes (id int PRIMARY KEY, body text, created date DEFAULT '2025-01-31');
      INSERT INTO notes (id, body) SELECT g, 'note ' || g FROM generate_series(1, 3000) g;
      CREATE INDEX notes_body ON notes (body);
      ALTER TABLE notes OWNER TO enc_auditor;
    )");
    psql(source, "INSERT INTO notes (id, body) VALUES (0, 'row " + kMarker + "')");
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

ProcessResult cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"--config", fx().config});
  return test::run_pgrecover(args, test::S3Server::shared().env());
}

std::string policy_doc(const std::string& name, const std::string& repository) {
  std::string path = (fx().dir.path() / (name + ".yaml")).string();
  write_file_atomic(path, fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: {}}}
spec:
  source: {{conninfo: "{}"}}
  database: {}
  format: custom
  compression: none
  repository: {}
)",
                                      name, conninfo(), fx().source, repository));
  return path;
}

std::string restore_doc(const std::string& name, const std::string& repository, const std::string& target) {
  std::string path = (fx().dir.path() / (name + ".yaml")).string();
  write_file_atomic(path, fmt::format(R"(apiVersion: pgrecover/v1
kind: Restore
metadata: {{name: {}}}
spec:
  from: {{repository: {}, policy: enc-nightly, backup: latest}}
  to: {{conninfo: "{}", database: {}, create: true}}
)",
                                      name, repository, conninfo(), target));
  return path;
}

std::string schema_of(const std::string& db) {
  auto r = server().run_client({"pg_dump", "-s", "-d", db});
  std::string out, line;
  std::istringstream in(r.out);
  while (std::getline(in, line))
    if (line.rfind("--", 0) != 0 && line.rfind("\\restrict", 0) != 0 && line.rfind("\\unrestrict", 0) != 0) out += line + "\n";
  return out;
}

fs::path bucket_dir(const std::string& prefix) {
  return test::S3Server::shared().storage_dir() / test::S3Server::shared().bucket() / prefix;
}

}  // namespace

TEST_CASE("encryption: a logical backup to S3 is stored encrypted, verified, and restored straight from the bucket",
          "[encryption][s3]") {
  auto& s3 = test::S3Server::shared();
  auto doc = policy_doc("enc-nightly", "offsite");
  must(cli({"apply", doc, "--auto-approve"}), "encrypted backup to s3");

  auto list = cli({"backups", "list", "--repository", "offsite", "--json"});
  must(list, "backups list");
  auto backups = nlohmann::json::parse(list.out).at("backups");
  REQUIRE(backups.size() == 1);
  std::string id = backups[0].at("id");
  CHECK(backups[0].at("encryption_key_id") == fx().key.id);
  auto show = cli({"backups", "show", id, "--repository", "offsite"});
  must(show, "backups show");
  CHECK(show.out.find("encryption:   AES-256-GCM, key id " + fx().key.id) != std::string::npos);
  CHECK(show.out.find(fx().key.base64) == std::string::npos);
  auto verify = cli({"backups", "verify", id, "--repository", "offsite"});
  must(verify, "backups verify");
  CHECK(verify.out.find("3001 rows read") != std::string::npos);

  // Restored straight from the bucket (the custom archive is read in place, by byte ranges).
  std::string target = fx().source + "_restored";
  must(cli({"apply", restore_doc("from-encrypted", "offsite", target), doc, "--only", "from-encrypted", "--auto-approve"}),
       "restore from the encrypted repository");
  std::string rows = "SELECT count(*) || '/' || md5(string_agg(n::text, ',' ORDER BY id)) FROM notes n";
  CHECK(psql(target, rows) == psql(fx().source, rows));
  CHECK(schema_of(fx().source).find("CREATE INDEX notes_body") != std::string::npos);
  CHECK(schema_of(target) == schema_of(fx().source));

  if (s3.external()) return;  // the rest reads s3rver's storage folder
  // Nothing the bucket holds has the marker: not the table's rows, not the role's comment (the
  // globals in the manifest and globals.sql), not the names of tables or roles.
  fs::path stored = bucket_dir(fx().prefix);
  REQUIRE(fs::exists(stored));
  CHECK(file_count(stored) >= 4);  // data.dump, globals.sql, manifest.json, verification.json (+ s3rver's metadata)
  CHECK(files_holding(stored, kMarker).empty());
  CHECK(files_holding(stored, "enc_auditor").empty());
  CHECK(files_holding(stored, "CREATE TABLE").empty());
  // The control: the same database backed up without a key does hold both markers in clear.
  must(cli({"apply", policy_doc("enc-nightly-clear", "clear"), "--auto-approve"}), "backup without encryption");
  auto clear = files_holding(bucket_dir(fx().clear_prefix), kMarker);
  std::string all;
  for (const auto& f : clear) all += read_file(f);
  CHECK(all.find("row " + kMarker) != std::string::npos);
  CHECK(all.find("role " + kMarker) != std::string::npos);
}

TEST_CASE("encryption: a wrong key, no key or a bad key file: exit 1 naming the key ids or the file", "[encryption][s3]") {
  auto doc = policy_doc("enc-nightly", "offsite");
  auto list = cli({"backups", "list", "--repository", "offsite", "--json"});
  must(list, "backups list");
  auto backups = nlohmann::json::parse(list.out).at("backups");
  REQUIRE(!backups.empty());
  std::string id = backups[0].at("id");

  auto verify = cli({"backups", "verify", id, "--repository", "wrongkey"});
  CHECK(verify.exit_code == 1);
  CHECK(verify.err.find("was encrypted with key id " + fx().key.id) != std::string::npos);
  CHECK(verify.err.find("has key id " + fx().other.id) != std::string::npos);
  CHECK(verify.err.find("[repositories.wrongkey]") != std::string::npos);
  std::string target = fx().source + "_wrongkey";
  auto restore = cli({"apply", restore_doc("wrong-key", "wrongkey", target), doc, "--only", "wrong-key", "--auto-approve"});
  CHECK(restore.exit_code == 1);
  CHECK(restore.err.find("was encrypted with key id " + fx().key.id) != std::string::npos);
  CHECK(psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '" + target + "'").substr(0, 1) == "0");

  // After a rotation (a new current key, the old one kept for reading) the backup still reads.
  auto rotated = cli({"backups", "show", id, "--repository", "rotated"});
  must(rotated, "backups show after a key rotation");
  CHECK(rotated.out.find("key id " + fx().key.id) != std::string::npos);

  auto nokey = cli({"backups", "list", "--repository", "nokey"});
  CHECK(nokey.exit_code == 1);
  CHECK(nokey.err.find("is encrypted (key id " + fx().key.id + "), but repository \"nokey\" has no encryption key configured") !=
        std::string::npos);

  auto open = cli({"backups", "list", "--repository", "openkey"});
  CHECK(open.exit_code == 1);
  CHECK(open.err.find((fx().dir.path() / "open.key").string()) != std::string::npos);
  CHECK(open.err.find("permissions 0644 are too open") != std::string::npos);
  CHECK(open.err.find("[repositories.openkey]") != std::string::npos);
  auto junk = cli({"backups", "list", "--repository", "junkkey"});
  CHECK(junk.exit_code == 1);
  CHECK(junk.err.find("junk.key") != std::string::npos);
  CHECK(junk.err.find("is not base64") != std::string::npos);
  CHECK(junk.err.find("not a key") == std::string::npos);  // the file's content is never echoed
  auto env = cli({"backups", "list", "--repository", "envkey"});
  CHECK(env.exit_code == 1);
  CHECK(env.err.find("PGR_TEST_UNSET_KEY is not set") != std::string::npos);
}

TEST_CASE("encryption: one flipped byte in a stored object fails backups verify, naming the file", "[encryption][s3]") {
  auto& s3 = test::S3Server::shared();
  if (s3.external()) return;  // edits s3rver's storage folder
  auto list = cli({"backups", "list", "--repository", "offsite", "--json"});
  must(list, "backups list");
  auto backups = nlohmann::json::parse(list.out).at("backups");
  REQUIRE(!backups.empty());
  std::string id = backups[0].at("id");
  fs::path object = bucket_dir(fx().prefix) / "backups" / "enc-nightly" / id / "data.dump._S3rver_object";
  REQUIRE(fs::exists(object));
  std::string bytes = read_file(object), original = bytes;
  bytes[bytes.size() / 2] ^= 0x01;
  write_file_atomic(object, bytes);
  auto verify = cli({"backups", "verify", id, "--repository", "offsite"});
  write_file_atomic(object, original);
  CHECK(verify.exit_code == 1);
  CHECK(verify.out.find("enc-nightly/" + id + ": data.dump: cannot be read") != std::string::npos);
  CHECK(verify.out.find("failed authentication") != std::string::npos);
  CHECK(verify.err.find("data.dump") != std::string::npos);
  must(cli({"backups", "verify", id, "--repository", "offsite"}), "verify once the byte is back");
}

namespace {

std::optional<UserIdentity> server_user() {
  if (!running_as_root()) return std::nullopt;
  return lookup_user("postgres");
}

void give(const fs::path& p) {
  if (auto u = server_user()) REQUIRE(::chown(p.c_str(), u->uid, u->gid) == 0);
}

void stop_server(const fs::path& data_dir) {
  if (!fs::exists(data_dir / "postmaster.pid")) return;
  ProcessSpec ps;
  ps.argv = {(instance::find_bin_dir() / "pg_ctl").string(), "stop", "-D", data_dir.string(), "-m", "immediate", "-w"};
  ps.run_as = server_user();
  ps.cwd = "/";
  run_process(ps);
}

}  // namespace

TEST_CASE("encryption: a physical backup and its WAL go into a folder encrypted, and a PITR reads them back", "[encryption][pitr]") {
  // As root, archive_command and restore_command run as "postgres": the repository, the settings
  // and the key file belong to that user (docs/backups.md#encryption).
  TempDir base{"pgrecover-enc-pitr-"};
  fs::permissions(base.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::replace);
  fs::path repo = base.path() / "repo", config = base.path() / "pgrecover.toml";
  fs::create_directory(repo);
  fs::permissions(repo, fs::perms::owner_all, fs::perm_options::replace);
  give(repo);
  fs::path key = key_file(base.path(), "vault.key", fx().key.base64 + "\n");
  give(key);
  write_file_atomic(config, fmt::format("state_dir = \"{}\"\n[repositories.vault]\npath = \"{}\"\nencryption_key_file = \"{}\"\n",
                                        (base.path() / "state").string(), repo.string(), key.string()));
  give(config);
  instance::Options o;
  o.settings = {{"wal_level", "replica"},
                {"archive_mode", "on"},
                {"archive_command", fmt::format("'{} --config {} wal push %p --repository vault --cluster enc'", PGRECOVER_BINARY,
                                                config.string())}};
  instance::Instance source(o);
  auto sql = [&](const std::string& q) {
    auto r = source.run_client({"psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", q});
    if (!r.ok()) FAIL(describe_failure("psql", r));
    while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
  };
  std::string source_conninfo =
      fmt::format("host={} port={} user=postgres dbname=postgres", source.socket_dir().string(), source.port());
  sql("CREATE TABLE secrets (id int PRIMARY KEY, body text); INSERT INTO secrets VALUES (1, 'base " + kMarker + "')");
  fs::path policy = base.path() / "policy.yaml";
  write_file_atomic(policy, fmt::format(R"(apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {{name: enc-physical}}
spec:
  source: {{conninfo: "{}"}}
  method: physical
  compression: none
  repository: vault
  cluster: enc
)",
                                        source_conninfo));
  auto pgr = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", config.string()});
    return test::run_pgrecover(args);
  };
  must(pgr({"apply", "--auto-approve", policy.string()}), "physical backup into the encrypted folder");
  sql("INSERT INTO secrets VALUES (2, 'wal " + kMarker + "')");
  must(pgr({"restore-point", "enc_point", "--policy", "enc-physical", policy.string()}), "restore point");
  sql("INSERT INTO secrets VALUES (3, 'after the point')");
  std::string segment = sql("SELECT pg_walfile_name(pg_switch_wal())");
  for (int i = 0; i < 600; ++i) {
    if (sql(fmt::format("SELECT coalesce(last_archived_wal >= '{}', false) FROM pg_stat_archiver", segment)) == "t") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(sql(fmt::format("SELECT coalesce(last_archived_wal >= '{}', false) FROM pg_stat_archiver", segment)) == "t");

  // Every file in the folder is encrypted: the base backup's tars, the WAL, the restore point.
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(repo)) {
    if (!e.is_regular_file()) continue;
    ++files;
    INFO(e.path().string());
    CHECK(read_file(e.path()).substr(0, 6) == "PGRENC");
  }
  CHECK(files >= 5);  // base.tar, pg_wal.tar, backup_manifest, manifest.json, WAL segments, restore point
  CHECK(files_holding(repo, kMarker).empty());
  CHECK(files_holding(repo, "secrets").empty());
  auto list = pgr({"backups", "list", "--json"});
  must(list, "backups list");
  auto backups = nlohmann::json::parse(list.out).at("backups");
  REQUIRE(backups.size() == 1);
  CHECK(backups[0].at("encryption_key_id") == fx().key.id);
  must(pgr({"backups", "verify", backups[0].at("id").get<std::string>()}), "verify the physical backup");

  // Recovery to the restore point: the tars and the WAL (restore_command: wal fetch) decrypted.
  fs::path parent = base.path() / "recovered";
  fs::create_directory(parent);
  fs::permissions(parent, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::replace);
  fs::path dd = parent / "data";
  fs::path doc = base.path() / "pitr.yaml";
  write_file_atomic(doc, fmt::format(R"(apiVersion: pgrecover/v1
kind: PointInTimeRecovery
metadata: {{name: enc-pitr}}
spec:
  from: {{repository: vault, policy: enc-physical}}
  target: {{name: enc_point}}
  action: pause
  to: {{data_directory: "{}"}}
  timeout: 2m
)",
                                     dd.string()));
  auto applied = pgr({"apply", doc.string(), policy.string(), "--only", "enc-pitr", "--auto-approve"});
  struct Stop {
    fs::path dir;
    ~Stop() { stop_server(dir); }
  } stop{dd};
  must(applied, "PITR from the encrypted folder");
  instance::PostmasterInfo pm;
  REQUIRE(instance::read_postmaster_pid(dd, pm));
  auto c = pg::Connection::open(fmt::format("host={} port={} user=postgres dbname=postgres", pm.socket_dir, pm.port));
  auto r = c.exec("SELECT string_agg(id || ':' || body, ',' ORDER BY id) FROM secrets");
  CHECK(r.str(0, 0) == "1:base " + kMarker + ",2:wal " + kMarker);
}
