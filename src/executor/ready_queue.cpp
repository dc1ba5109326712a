#include "executor/ready_queue.hpp"

#include <algorithm>

namespace pgr::executor {

namespace {
// How many parked steps come back when their lock is released: enough to fill every worker
// (share locks let several run at once), few enough that a release stays cheap.
constexpr size_t kUnparkBatch = 64;
}  // namespace

bool ReadyQueue::higher(size_t a, size_t b) const {
  if (dag_.critical_path(a) != dag_.critical_path(b)) return dag_.critical_path(a) > dag_.critical_path(b);
  return a < b;
}

void ReadyQueue::push(size_t step) {
  heap_.push_back(step);
  std::push_heap(heap_.begin(), heap_.end(), [&](size_t a, size_t b) { return higher(b, a); });
}

const std::string* ReadyQueue::conflict(size_t step) const {
  for (const auto& l : dag_.step(step).locks) {
    if (l.mode == model::LockMode::none) continue;
    auto it = held_.find(l.table);
    if (it == held_.end()) continue;
    if (l.mode == model::LockMode::exclusive && it->second.exclusive + it->second.shared > 0) return &l.table;
    if (l.mode == model::LockMode::share && it->second.exclusive > 0) return &l.table;
  }
  return nullptr;
}

std::optional<size_t> ReadyQueue::pop_runnable() {
  auto cmp = [&](size_t a, size_t b) { return higher(b, a); };
  for (;;) {
    if (heap_.empty()) {
      // Steps parked under a lock nobody holds any more (its release brought back only a batch,
      // and those went elsewhere) come back now: nothing waits forever.
      bool moved = false;
      for (auto it = parked_.begin(); it != parked_.end();) {
        if (held_.count(it->first)) {
          ++it;
          continue;
        }
        for (size_t s : it->second) push(s);
        moved = true;
        it = parked_.erase(it);
      }
      if (!moved) return std::nullopt;
    }
    std::pop_heap(heap_.begin(), heap_.end(), cmp);
    size_t s = heap_.back();
    heap_.pop_back();
    if (dag_.step(s).action == model::Action::no_op) return s;
    if (const std::string* key = conflict(s)) {
      auto& p = parked_[*key];
      p.push_back(s);
      std::push_heap(p.begin(), p.end(), cmp);
      continue;
    }
    return s;
  }
}

void ReadyQueue::acquire(size_t step) {
  for (const auto& l : dag_.step(step).locks) {
    if (l.mode == model::LockMode::exclusive) held_[l.table].exclusive++;
    if (l.mode == model::LockMode::share) held_[l.table].shared++;
  }
}

void ReadyQueue::release(size_t step) {
  for (const auto& l : dag_.step(step).locks) {
    if (l.mode == model::LockMode::none) continue;
    auto it = held_.find(l.table);
    if (it == held_.end()) continue;
    if (l.mode == model::LockMode::exclusive) it->second.exclusive--;
    if (l.mode == model::LockMode::share) it->second.shared--;
    if (it->second.exclusive <= 0 && it->second.shared <= 0) held_.erase(it);
    unpark(l.table);
  }
}

void ReadyQueue::unpark(const std::string& key) {
  auto it = parked_.find(key);
  if (it == parked_.end()) return;
  auto cmp = [&](size_t a, size_t b) { return higher(b, a); };
  auto& p = it->second;
  for (size_t n = 0; n < kUnparkBatch && !p.empty(); ++n) {
    std::pop_heap(p.begin(), p.end(), cmp);
    push(p.back());
    p.pop_back();
  }
  if (p.empty()) parked_.erase(it);
}

std::uint64_t ReadyQueue::top_priority() const { return heap_.empty() ? 0 : dag_.critical_path(heap_.front()); }

std::uint64_t ReadyQueue::top_runnable_priority() {
  auto s = pop_runnable();
  if (!s) return 0;
  push(*s);
  return dag_.critical_path(*s);
}

size_t ReadyQueue::parked_count() const {
  size_t n = 0;
  for (const auto& [k, v] : parked_) n += v.size();
  return n;
}

}  // namespace pgr::executor
