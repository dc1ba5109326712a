#include "facts/restore_counters.hpp"

#include "archive/table_rows.hpp"
#include "catalog/catalog.hpp"
#include "catalog/table_rows.hpp"

namespace pgr::facts {

namespace {

class ArchiveCounter : public planner::RowCounter {
 public:
  ArchiveCounter(const archive::Archive& a, pg::Connection& c) : archive_(a), conn_(c) {
    for (const auto& s : a.toc().entries)
      if (s.desc == "ENCODING" || s.desc == "STDSTRINGS") session_sql_.push_back(s.defn);
  }
  std::int64_t archive_rows(const archive::TocEntry& e) override { return archive::count_rows(archive_, e); }
  std::int64_t target_rows(const std::string& schema, const std::string& table) override {
    return catalog::count_rows(conn_, schema, table);
  }
  // Order-independent digests of both sides, bounded by kContentCompareLimit.
  std::optional<bool> same_contents(const archive::TocEntry& e) override {
    auto columns = archive::copy_columns(e);
    if (e.data.bytes < 0 || e.data.bytes > planner::kContentCompareLimit || !columns) return std::nullopt;
    auto target = catalog::row_digest(conn_, e.namespace_, e.tag, *columns, session_sql_);
    return target && *target == archive::row_digest(archive_, e);
  }

 private:
  const archive::Archive& archive_;
  pg::Connection& conn_;
  std::vector<std::string> session_sql_;
};

class LiveCounter : public planner::RowCounter {
 public:
  LiveCounter(pg::Connection& source, pg::Connection& target) : source_(source), target_(target) {}
  std::int64_t archive_rows(const archive::TocEntry& e) override {
    return catalog::count_rows(source_, e.namespace_, e.tag);
  }
  std::int64_t target_rows(const std::string& schema, const std::string& table) override {
    return catalog::count_rows(target_, schema, table);
  }

 private:
  pg::Connection& source_;
  pg::Connection& target_;
};

class Dependencies : public planner::TargetDependencies {
 public:
  explicit Dependencies(pg::Connection& c) : conn_(c) {}
  std::vector<catalog::DroppedObject> drop_cascade(const std::vector<std::pair<std::string, std::string>>& tables) override {
    return catalog::read_drop_cascade(conn_, tables);
  }

 private:
  pg::Connection& conn_;
};

}  // namespace

std::unique_ptr<planner::RowCounter> archive_row_counter(const archive::Archive& archive, pg::Connection& target) {
  return std::make_unique<ArchiveCounter>(archive, target);
}

std::unique_ptr<planner::RowCounter> live_row_counter(pg::Connection& source, pg::Connection& target) {
  return std::make_unique<LiveCounter>(source, target);
}

std::unique_ptr<planner::TargetDependencies> target_dependencies(pg::Connection& target) {
  return std::make_unique<Dependencies>(target);
}

}  // namespace pgr::facts
