// A big table loaded by several sessions: which tables the planner splits and why, how a COPY
// stream is cut into chunks of whole rows (the same chunks whatever the read sizes, which resume
// relies on), what the journal remembers of a split load's parts, how the executor gives such a
// step more worker slots, and the load sessions' settings chosen from the target.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "executor/copy_chunks.hpp"
#include "executor/executor.hpp"
#include "executor/journal.hpp"
#include "executor/session_settings.hpp"
#include "model/dag.hpp"
#include "planner/restore_planner.hpp"
#include "util/fs.hpp"
#include "support/toc_entry.hpp"

using namespace pgr;
using archive::Section;
using archive::TocEntry;

namespace {

// --- planning ------------------------------------------------------------------------------------

TocEntry entry(int id, std::string desc, std::string tag, Section sec, std::vector<int> deps) {
  return test::toc_entry(id, std::move(desc), "public", std::move(tag), sec, std::move(deps));
}

constexpr std::int64_t kMB = std::int64_t{1} << 20;

struct World {
  archive::Toc toc;
  catalog::Cluster cluster;
  catalog::Database db;
  config::Restore doc;
  World() {
    toc.checksum = "toc";
    auto& e = toc.entries;
    e.push_back(entry(1, "TABLE", "big", Section::pre_data, {}));
    e.push_back(entry(2, "TABLE", "mid", Section::pre_data, {}));
    e.push_back(entry(3, "TABLE", "small", Section::pre_data, {}));
    auto data = [](int id, std::string tag, int table, std::int64_t bytes) {
      TocEntry d = entry(id, "TABLE DATA", tag, Section::data, {table});
      d.had_dumper = true;
      d.data.bytes = bytes;
      d.copy_stmt = "COPY public." + tag + " (id, v) FROM stdin;\n";
      return d;
    };
    e.push_back(data(11, "big", 1, 1200 * kMB));
    e.push_back(data(12, "mid", 2, 300 * kMB));
    e.push_back(data(13, "small", 3, 10 * kMB));
    cluster.roles["app"] = {"app", false, false};
    doc.metadata.name = "r";
    doc.spec.database = "target";
    doc.spec.archive = "/a";
    doc.spec.jobs = 4;
  }
  model::Plan plan() {
    planner::RestoreInputs in;
    in.document = &doc;
    in.toc = &toc;
    in.cluster = &cluster;
    in.database = &db;
    in.documents_fingerprint = "d";
    in.target = {"", "host=x", "target"};
    return planner::plan_restore(in);
  }
};

const model::Step& data_step(const model::Plan& p, const std::string& table) {
  for (const auto& s : p.steps)
    if (s.kind == "table-data" && s.object.find(table) != std::string::npos) return s;
  FAIL("no data step for " << table);
  throw;
}

}  // namespace

TEST_CASE("split planning: tables above the threshold get sessions, chunk sizes and a reason", "[split][planner]") {
  World w;
  auto p = w.plan();
  const auto& big = data_step(p, "big");
  const auto& mid = data_step(p, "mid");
  const auto& small = data_step(p, "small");
  // 1200 MB / 256 MB: 1 + 4 = 5 sessions wanted, at most jobs (4).
  CHECK(big.params.at("sessions") == "4");
  CHECK(model::sessions_of(big) == 4);
  CHECK(big.params.at("chunk_bytes") == std::to_string(16 * kMB));
  CHECK(big.reason.find("split across 4 sessions: data 1.2 GB > split_tables_larger_than 256.0 MB") !=
        std::string::npos);
  CHECK(mid.params.at("sessions") == "2");
  CHECK(small.params.count("sessions") == 0);
  CHECK(model::sessions_of(small) == 1);
  // The critical path of a split load is its share of one session's work.
  CHECK(model::step_cost(big) == static_cast<std::uint64_t>(1200 * kMB / 4));
}

TEST_CASE("split planning: threshold 0, one job or a single transaction never split", "[split][planner]") {
  World w;
  auto none_split = [&] {
    auto p = w.plan();
    REQUIRE(!p.steps.empty());
    for (const auto& s : p.steps) CHECK(s.params.count("sessions") == 0);
  };
  SECTION("threshold 0") {
    w.doc.spec.split_tables_larger_than = 0;
    none_split();
  }
  SECTION("jobs 1") {
    w.doc.spec.jobs = 1;
    none_split();
  }
  SECTION("single transaction") {
    w.doc.spec.single_transaction = true;
    none_split();
  }
}

TEST_CASE("split planning: a lower threshold splits smaller tables, and a load through a partition root never", "[split][planner]") {
  World w;
  w.doc.spec.split_tables_larger_than = 5 * kMB;
  w.toc.entries[3].copy_stmt = "COPY public.parent (id, v) FROM stdin;\n";  // big: --load-via-partition-root
  auto p = w.plan();
  CHECK(data_step(p, "big").params.count("sessions") == 0);
  CHECK(data_step(p, "small").params.at("sessions") == "3");  // 1 + 10/5
  CHECK(data_step(p, "small").params.at("chunk_bytes") == std::to_string(kMB));
}

TEST_CASE("split planning: a smaller table's load and GIN build outrank a split table's B-tree chain", "[split][planner]") {
  // big (1200 MB, split across 4 sessions) has a primary key and a foreign key to small; mid
  // (250 MB, not split) has a GIN index. Measured step times (planner weights, see
  // build_weight): the GIN chain is the longer one, so mid's data must come first and not wait
  // while big holds every session. A foreign key added NOT VALID is instant; its validation
  // carries the cost.
  World w;
  w.toc.entries[4].data.bytes = 250 * kMB;
  auto& e = w.toc.entries;
  auto post = [](int id, std::string desc, std::string tag, std::vector<int> deps, std::string defn) {
    TocEntry x = entry(id, std::move(desc), std::move(tag), Section::post_data, std::move(deps));
    x.defn = std::move(defn);
    return x;
  };
  e.push_back(post(20, "CONSTRAINT", "big big_pkey", {1}, "ALTER TABLE ONLY public.big\n    ADD CONSTRAINT big_pkey PRIMARY KEY (id);\n"));
  e.push_back(post(21, "CONSTRAINT", "small small_pkey", {3}, "ALTER TABLE ONLY public.small\n    ADD CONSTRAINT small_pkey PRIMARY KEY (id);\n"));
  e.push_back(post(22, "INDEX", "mid_v_idx", {2}, "CREATE INDEX mid_v_idx ON public.mid USING gin (v);\n"));
  e.push_back(post(23, "FK CONSTRAINT", "big big_small_fk", {1, 21},
                   "ALTER TABLE ONLY public.big\n    ADD CONSTRAINT big_small_fk FOREIGN KEY (v) REFERENCES public.small(id);\n"));
  auto p = w.plan();
  model::Dag dag(p.steps);
  auto crit = [&](const std::string& id) { return dag.critical_path(dag.index_of(id)); };
  REQUIRE(data_step(p, "big").params.at("sessions") == "4");
  CHECK(crit("table-data:public.mid") > crit("table-data:public.big"));
  const auto* add = p.find("fk-constraint:public.big big_small_fk");
  const auto* validate = p.find("fk-validate:public.big big_small_fk");
  REQUIRE(add);
  REQUIRE(validate);
  CHECK(add->estimate.bytes == 1);
  CHECK(validate->estimate.bytes == 600 * kMB);  // half of big's data
}

// --- chunking ------------------------------------------------------------------------------------

namespace {

// An archive data stream handed out `step` bytes at a time (rows split across reads).
struct StringReader : archive::RowReader {
  std::string data;
  size_t pos = 0, step;
  StringReader(std::string d, size_t s) : data(std::move(d)), step(s) {}
  bool next_row(std::string&) override { return false; }
  size_t read(char* buf, size_t cap) override {
    size_t n = std::min({cap, step, data.size() - pos});
    std::memcpy(buf, data.data() + pos, n);
    pos += n;
    return n;
  }
};

std::vector<executor::CopyChunk> chunks_of(const std::string& stream, std::int64_t size, size_t read_step) {
  StringReader r(stream, read_step);
  executor::CopyChunker c(r, size, read_step * 2 + 1);
  std::vector<executor::CopyChunk> out;
  executor::CopyChunk ch;
  while (c.next(ch)) out.push_back(ch);
  return out;
}

std::string rows_stream(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    // Escaped newlines and tabs inside values stay inside their row.
    s += std::to_string(i) + "\tvalue\\nwith an escaped newline " + std::string(static_cast<size_t>(i % 37), 'x') + "\n";
  }
  return s;
}

}  // namespace

TEST_CASE("chunking: whole rows only, at least the chunk size, nothing lost or doubled", "[split][chunks]") {
  std::string stream = rows_stream(2000);
  for (size_t read_step : {1, 3, 7, 64, 4096, 1 << 20}) {
    auto chunks = chunks_of(stream, 4096, read_step);
    std::string joined;
    std::int64_t rows = 0, offset = 0;
    for (size_t i = 0; i < chunks.size(); ++i) {
      const auto& c = chunks[i];
      CHECK(c.index == static_cast<int>(i));
      CHECK(c.offset == offset);
      REQUIRE(!c.data.empty());
      CHECK(c.data.back() == '\n');  // never a piece of a row
      if (i + 1 < chunks.size()) {
        CHECK(c.data.size() >= 4096);
        // the cut is after the first row that reaches the size: no earlier cut was possible
        CHECK(c.data.find('\n', 4095) == c.data.size() - 1);
      }
      rows += c.rows;
      offset += static_cast<std::int64_t>(c.data.size());
      joined += c.data;
    }
    CHECK(joined == stream);
    CHECK(rows == 2000);
  }
}

TEST_CASE("chunking: the same chunks whatever the read sizes (what resume relies on)", "[split][chunks]") {
  std::string stream = rows_stream(3000);
  auto a = chunks_of(stream, 10000, 5);
  auto b = chunks_of(stream, 10000, 1 << 16);
  REQUIRE(a.size() == b.size());
  REQUIRE(a.size() > 5);
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].offset == b[i].offset);
    CHECK(a[i].rows == b[i].rows);
    CHECK(a[i].data == b[i].data);
  }
}

TEST_CASE("chunking: a last row without its newline, an empty stream, rows longer than a chunk", "[split][chunks]") {
  auto last = chunks_of("1\ta\n2\tb", 1, 2);
  REQUIRE(last.size() == 2);
  CHECK(last[1].data == "2\tb");
  CHECK(last[1].rows == 1);
  CHECK(chunks_of("", 10, 3).empty());
  std::string longrow = std::string(100, 'y') + "\n" + "z\n";
  auto l = chunks_of(longrow, 10, 7);
  REQUIRE(l.size() == 2);
  CHECK(l[0].data == std::string(100, 'y') + "\n");
  CHECK(l[1].data == "z\n");
}

// --- journal and executor ------------------------------------------------------------------------

TEST_CASE("journal: parts of a split load, and part records never end a step", "[split][journal]") {
  TempDir dir("pgrecover-split-journal-");
  {
    auto j = executor::Journal::open(dir.path(), "plan");
    j.append({"start", "data:big", "t", 1, 0, 0, 0, ""}, false);
    j.append({"part-commit", "data:big", "t", 1, 10, 100, 0, "0 xid 700"}, false);
    j.append({"part", "data:big", "t", 1, 10, 100, 0, "0"}, false);
    j.append({"part-commit", "data:big", "t", 1, 12, 120, 0, "2 xid 702"}, false);
    j.append({"part-commit", "data:big", "t", 1, 11, 110, 0, "1 xid 701"}, true);
  }
  auto j = executor::Journal::open(dir.path(), "plan");
  CHECK(j.in_flight_steps() == std::set<std::string>{"data:big"});
  CHECK(j.done_steps().empty());
  auto parts = j.parts().at("data:big");
  CHECK(parts.done == std::map<int, std::int64_t>{{0, 10}});
  REQUIRE(parts.committing.size() == 2);
  CHECK(parts.committing.at(1).xid == "701");
  CHECK(parts.committing.at(2).rows == 12);
}

namespace {

struct SlotRunner : executor::StepRunner {
  std::atomic<int> max_slots{0}, first_slots{0};
  std::mutex mu;
  executor::StepParts parts_seen;
  struct W : executor::Worker {
    SlotRunner& r;
    explicit W(SlotRunner& rr) : r(rr) {}
    executor::StepOutcome run(const model::Step& s, executor::StepContext& ctx) override {
      int ms = s.id == "big" ? 600 : s.id == "first" ? 150 : 10;
      if (s.id == "big" && ctx.slots) r.first_slots = ctx.slots->load();
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
      while (std::chrono::steady_clock::now() < until) {
        if (ctx.slots) r.max_slots = std::max(r.max_slots.load(), ctx.slots->load());
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      if (s.id == "big") {
        std::lock_guard l(r.mu);
        r.parts_seen = ctx.parts;
        ctx.journal_part({"part", "", "", 0, 5, 50, 0, "7"}, true);
      }
      return {};
    }
    void cancel() override {}
  };
  std::unique_ptr<executor::Worker> make_worker(int) override { return std::make_unique<W>(*this); }
};

// A plan of fake steps and an empty journal for it.
struct ExecutorRun {
  model::Plan plan;
  TempDir dir;
  executor::Journal journal;
  ExecutorRun(std::vector<model::Step> steps, const char* folder)
      : dir(folder), journal(executor::Journal::open(dir.path(), "p")) {
    plan.id = "p";
    plan.steps = std::move(steps);
  }
};

model::Step fake(std::string id, std::int64_t bytes) {
  model::Step s;
  s.id = std::move(id);
  s.kind = "fake";
  s.estimate.bytes = bytes;
  return s;
}

}  // namespace

TEST_CASE("executor: a split step gets the slots that free up, up to its sessions, and parts reach it", "[split][executor]") {
  // "first" (the longest critical path) takes a slot, "big" (3 sessions) the second and, before
  // the short "other", the third; when "first" ends, its slot goes to "big" too.
  std::vector<model::Step> steps = {fake("first", 4000000), fake("big", 3000000), fake("other", 10), fake("late", 10)};
  steps[1].params["sessions"] = "3";
  steps[3].depends_on = {"big"};
  ExecutorRun run(steps, "pgrecover-split-exec-");
  auto& [plan, dir, journal] = run;
  journal.append({"part", "big", "t", 1, 9, 90, 0, "4"}, true);
  SlotRunner runner;
  executor::Options o;
  o.jobs = 3;
  auto summary = executor::execute(plan, runner, journal, o);
  CHECK(summary.run_status == "ok");
  CHECK(runner.first_slots <= 2);
  CHECK(runner.max_slots == 3);
  CHECK(runner.parts_seen.done == std::map<int, std::int64_t>{{4, 9}});
  CHECK(journal.parts().at("big").done == std::map<int, std::int64_t>{{4, 9}, {7, 5}});
  CHECK(journal.done_steps().size() == 4);
}

namespace {

// A split step that behaves as split_load's sessions do: it uses every slot it is granted, and
// when the grant falls below the sessions it runs, it ends one of them and says so (slot_freed).
struct GiveBackRunner : executor::StepRunner {
  using Clock = std::chrono::steady_clock;
  std::atomic<int> most{0}, ended{0};
  std::mutex mu;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> span;  // step -> start, end (ms)
  Clock::time_point t0 = Clock::now();
  std::int64_t ms_now() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  }
  struct W : executor::Worker {
    GiveBackRunner& r;
    explicit W(GiveBackRunner& rr) : r(rr) {}
    executor::StepOutcome run(const model::Step& s, executor::StepContext& ctx) override {
      std::int64_t start = r.ms_now();
      int ms = s.id == "big" ? 1500 : s.id == "gate" ? 100 : s.id == "long" ? 1000 : 20;
      int sessions = 1;
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
      while (std::chrono::steady_clock::now() < until) {
        if (ctx.slots) {
          int granted = ctx.slots->load();
          if (granted > sessions) sessions = granted;
          if (granted < sessions && sessions > 1) {
            sessions--;
            r.ended++;
            ctx.slot_freed();
          }
          r.most = std::max(r.most.load(), sessions);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      std::lock_guard l(r.mu);
      r.span[s.id] = {start, r.ms_now()};
      return {};
    }
    void cancel() override {}
  };
  std::unique_ptr<executor::Worker> make_worker(int) override { return std::make_unique<W>(*this); }
};

}  // namespace

TEST_CASE("executor: a slot lent to a split step comes back for ready work on a longer critical path", "[split][executor]") {
  // Three slots: "gate", "big" (2 sessions) and the short "x" start. When "x" ends, its slot is
  // lent to "big" (nothing more urgent is ready yet). When "gate" ends, "long" and "short", both
  // on a far longer critical path than "big", become ready: "long" takes gate's slot, and "short"
  // must get the slot lent to "big" back between two of big's chunks instead of waiting for
  // "long" or "big" to end.
  std::vector<model::Step> steps = {fake("gate", 10), fake("big", 1000), fake("x", 5), fake("long", 100000),
                                    fake("short", 90000)};
  steps[1].params["sessions"] = "2";
  steps[3].depends_on = {"gate"};
  steps[4].depends_on = {"gate"};
  ExecutorRun run(steps, "pgrecover-split-giveback-");
  auto& [plan, dir, journal] = run;
  GiveBackRunner runner;
  executor::Options o;
  o.jobs = 3;
  auto summary = executor::execute(plan, runner, journal, o);
  CHECK(summary.run_status == "ok");
  CHECK(runner.most == 2);   // "big" was lent the third slot
  CHECK(runner.ended == 1);  // and gave it back
  REQUIRE(runner.span.size() == 5);
  CHECK(runner.span["short"].first < runner.span["long"].second);  // not after "long"
  CHECK(runner.span["short"].first < runner.span["big"].second);   // nor after "big"
  CHECK(runner.span["short"].first < runner.span["gate"].second + 300);
  CHECK(journal.done_steps().size() == 5);
}

// --- session settings ----------------------------------------------------------------------------

TEST_CASE("load sessions: index builds get the server's maintenance_work_mem within 64MB-128MB, the document wins",
          "[split][settings]") {
  executor::TargetResources t;  // a default server: 128MB shared_buffers, 64MB maintenance_work_mem
  SECTION("default server: its own 64MB, no parallel workers beside the jobs") {
    auto s = executor::choose_load_settings(t, 2, {});
    CHECK(s.session.at("maintenance_work_mem") == "64MB");
    CHECK(s.index_mwm.empty());
    CHECK(s.session.at("max_parallel_maintenance_workers") == "0");
  }
  SECTION("a local host with 16GB available no longer raises it (a huge sort was measured slower)") {
    t.host_available = 16LL << 30;
    auto s = executor::choose_load_settings(t, 2, {});
    CHECK(s.session.at("maintenance_work_mem") == "64MB");
  }
  SECTION("a server set higher or lower is brought into 64MB-128MB") {
    t.maintenance_work_mem = 2LL << 30;
    CHECK(executor::choose_load_settings(t, 4, {}).session.at("maintenance_work_mem") == "128MB");
    t.maintenance_work_mem = 16 * kMB;
    CHECK(executor::choose_load_settings(t, 4, {}).session.at("maintenance_work_mem") == "64MB");
  }
  SECTION("the document's value is used for every build") {
    auto s = executor::choose_load_settings(t, 1, {{"maintenance_work_mem", "2GB"}});
    CHECK(s.session.at("maintenance_work_mem") == "2GB");
    CHECK(s.index_mwm.empty());
    CHECK(s.session.count("max_parallel_maintenance_workers") == 0);  // one job: the server's default
  }
}

TEST_CASE("load sessions: the access method of an index entry", "[split][settings]") {
  CHECK(executor::index_access_method("CREATE INDEX events_payload_idx ON public.events USING gin (payload);\n") == "gin");
  CHECK(executor::index_access_method("CREATE UNIQUE INDEX u ON ONLY public.t USING btree (a);\n") == "btree");
  CHECK(executor::index_access_method("CREATE INDEX \"x USING gin y\" ON public.t USING gist (p);\n") == "gist");
  CHECK(executor::index_access_method("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);") == "");
}
