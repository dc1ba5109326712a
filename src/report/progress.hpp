// Progress of long work: on a terminal a live line (steps done/total, bytes, rows, rate, ETA);
// elsewhere a log line every few seconds; with --json one JSON object per event on stdout.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "executor/executor.hpp"

namespace pgr::report {

enum class ProgressStyle { terminal, log, json };

class ProgressPrinter {
 public:
  ProgressPrinter(ProgressStyle style, std::FILE* out, std::chrono::seconds log_every = std::chrono::seconds(10));
  void operator()(const executor::Event& e);
  void finish();  // ends the live line

 private:
  std::string status_line(const executor::Event& e) const;
  ProgressStyle style_;
  std::FILE* out_;
  std::chrono::seconds log_every_;
  std::chrono::steady_clock::time_point last_log_{};
  bool live_ = false;
};

}  // namespace pgr::report
