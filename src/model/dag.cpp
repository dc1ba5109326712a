#include "model/dag.hpp"

#include <algorithm>
#include <cstdlib>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/topological_sort.hpp>
#include <fmt/format.h>

#include "util/error.hpp"

namespace pgr::model {

namespace {
using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;
}

int sessions_of(const Step& s) {
  auto it = s.params.find("sessions");
  if (it == s.params.end()) return 1;
  int n = std::atoi(it->second.c_str());
  return std::clamp(n, 1, 64);
}

std::uint64_t step_cost(const Step& s) {
  if (s.action == Action::no_op) return 1;
  std::int64_t b = s.estimate.bytes;
  // Index builds read the whole table and sort: weigh them like the table's data. A load split
  // across sessions takes about its share of one session's time.
  b /= sessions_of(s);
  return b > 0 ? static_cast<std::uint64_t>(b) : 1;
}

Dag::Dag(const std::vector<Step>& steps) {
  steps_.reserve(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    steps_.push_back(&steps[i]);
    if (!index_.emplace(steps[i].id, i).second) {
      fail(ErrorKind::input, fmt::format("plan has two steps with id \"{}\"", steps[i].id));
    }
  }
  deps_.resize(steps.size());
  rdeps_.resize(steps.size());
  Graph g(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    for (const auto& d : steps[i].depends_on) {
      auto it = index_.find(d);
      if (it == index_.end()) {
        fail(ErrorKind::input, fmt::format("step \"{}\" depends on \"{}\", which is not in the plan", steps[i].id, d));
      }
      if (std::find(deps_[i].begin(), deps_[i].end(), it->second) != deps_[i].end()) continue;
      deps_[i].push_back(it->second);
      rdeps_[it->second].push_back(i);
      boost::add_edge(it->second, i, g);  // dependency -> dependent
    }
  }
  // Boost's topological_sort detects cycles; it emits in reverse order.
  std::vector<size_t> rev;
  try {
    boost::topological_sort(g, std::back_inserter(rev));
  } catch (const boost::not_a_dag&) {
    // Name the steps that remain after peeling off everything that can be ordered.
    std::vector<int> indeg(steps.size());
    for (size_t i = 0; i < steps.size(); ++i) indeg[i] = static_cast<int>(deps_[i].size());
    std::vector<size_t> q;
    for (size_t i = 0; i < steps.size(); ++i)
      if (indeg[i] == 0) q.push_back(i);
    while (!q.empty()) {
      size_t n = q.back();
      q.pop_back();
      for (size_t m : rdeps_[n])
        if (--indeg[m] == 0) q.push_back(m);
    }
    std::string names;
    int shown = 0;
    for (size_t i = 0; i < steps.size() && shown < 5; ++i) {
      if (indeg[i] > 0) {
        names += (shown++ ? ", " : "") + steps[i].id;
      }
    }
    fail(ErrorKind::input, fmt::format("plan has a dependency cycle through: {}", names));
  }
  // Stable order: Kahn's algorithm choosing the lowest input index first, so equal inputs give
  // equal orders (boost's DFS order is correct but depends on edge insertion details).
  std::vector<int> indeg(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) indeg[i] = static_cast<int>(deps_[i].size());
  std::vector<size_t> heap;
  auto cmp = [](size_t a, size_t b) { return a > b; };
  for (size_t i = 0; i < steps.size(); ++i)
    if (indeg[i] == 0) heap.push_back(i);
  std::make_heap(heap.begin(), heap.end(), cmp);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), cmp);
    size_t n = heap.back();
    heap.pop_back();
    order_.push_back(n);
    for (size_t m : rdeps_[n]) {
      if (--indeg[m] == 0) {
        heap.push_back(m);
        std::push_heap(heap.begin(), heap.end(), cmp);
      }
    }
  }
  critical_.assign(steps.size(), 0);
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    std::uint64_t best = 0;
    for (size_t m : rdeps_[*it]) best = std::max(best, critical_[m]);
    critical_[*it] = best + step_cost(*steps_[*it]);
  }
}

size_t Dag::index_of(const std::string& id) const {
  auto it = index_.find(id);
  if (it == index_.end()) fail(ErrorKind::internal, fmt::format("no step \"{}\"", id));
  return it->second;
}

void sort_steps(std::vector<Step>& steps) {
  Dag dag(steps);
  std::vector<Step> sorted;
  sorted.reserve(steps.size());
  for (size_t i : dag.topological_order()) sorted.push_back(steps[i]);
  steps = std::move(sorted);
}

}  // namespace pgr::model
