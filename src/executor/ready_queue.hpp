// The executor's ready queue: steps whose dependencies are done, the longest critical path
// first, together with the table locks of the running steps. A step that conflicts with a
// running one is parked under that lock and comes back when the lock is released, so a dispatch
// costs O(log n) instead of a scan of everything ready (thousands of small tables queue up
// behind the one pre-data statement running at a time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/dag.hpp"

namespace pgr::executor {

class ReadyQueue {
 public:
  explicit ReadyQueue(const model::Dag& dag) : dag_(dag) {}

  void push(size_t step);
  // The best ready step whose locks are free now (no-op steps need no locks); nullopt when every
  // ready step waits for a lock or nothing is ready.
  std::optional<size_t> pop_runnable();
  // Take / give back the locks of a step that starts / ends. Releasing brings parked steps back.
  void acquire(size_t step);
  void release(size_t step);
  size_t ready_count() const { return heap_.size(); }
  // The critical path of the best ready step (locks aside); 0 when none is ready.
  std::uint64_t top_priority() const;
  // The critical path of the best ready step whose locks are free now; 0 when there is none.
  std::uint64_t top_runnable_priority();
  size_t parked_count() const;

 private:
  struct Held {
    int exclusive = 0, shared = 0;
  };
  bool higher(size_t a, size_t b) const;  // a runs before b
  const std::string* conflict(size_t step) const;
  void unpark(const std::string& key);

  const model::Dag& dag_;
  std::vector<size_t> heap_;
  std::unordered_map<std::string, std::vector<size_t>> parked_;  // lock -> heap of steps
  std::unordered_map<std::string, Held> held_;
};

}  // namespace pgr::executor
