// The dependency graph of a plan's steps, on Boost.Graph: validation (unknown dependencies,
// cycles), a topological order, and critical-path weights for the executor's ready queue.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/plan.hpp"

namespace pgr::model {

class Dag {
 public:
  // Throws pgr::Error(input) when a step depends on an unknown id, ids repeat, or there is a
  // cycle (naming steps on it).
  explicit Dag(const std::vector<Step>& steps);

  size_t size() const { return steps_.size(); }
  const Step& step(size_t i) const { return *steps_[i]; }
  size_t index_of(const std::string& id) const;  // throws for an unknown id
  const std::vector<size_t>& dependencies(size_t i) const { return deps_[i]; }
  const std::vector<size_t>& dependents(size_t i) const { return rdeps_[i]; }
  // Steps in an order where every step comes after its dependencies (stable for equal inputs).
  const std::vector<size_t>& topological_order() const { return order_; }
  // The cost of the longest chain of work from this step to the end, itself included, with
  // cost(step) = max(1, estimated bytes). The executor starts the biggest chains first.
  std::uint64_t critical_path(size_t i) const { return critical_[i]; }

 private:
  std::vector<const Step*> steps_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<std::vector<size_t>> deps_, rdeps_;
  std::vector<size_t> order_;
  std::vector<std::uint64_t> critical_;
};

// Sorts steps topologically in place (stable), validating as Dag does.
void sort_steps(std::vector<Step>& steps);

// Step cost for scheduling: bytes to move or build, at least 1.
std::uint64_t step_cost(const Step& s);
// How many sessions (worker slots) a step can use at once: params "sessions" (a split table's
// load), else 1.
int sessions_of(const Step& s);

}  // namespace pgr::model
