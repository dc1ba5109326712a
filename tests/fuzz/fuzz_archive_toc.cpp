// libFuzzer target: the header + TOC parser (archive::parse_toc) on arbitrary bytes, in each of
// the three formats (the first input byte picks the format). Anything but a clean pgr::Error or
// a successful parse — a crash, a sanitizer report, a leak, a timeout — is a finding.
//
//   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DPGRECOVER_BUILD_FUZZERS=ON \
//         -DPGRECOVER_BUILD_TESTS=OFF && ninja -C build-fuzz fuzz_archive_toc
//   build-fuzz/tests/fuzz/fuzz_archive_toc -max_len=4096 -rss_limit_mb=512 corpus/ tests/data/fuzz-regressions/
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "archive/archive.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  using pgr::archive::Format;
  Format fmt = data[0] % 3 == 0 ? Format::custom : data[0] % 3 == 1 ? Format::directory : Format::tar;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    pgr::archive::Toc toc = pgr::archive::parse_toc(bytes, fmt, "fuzz");
    // Touch what a caller would use.
    std::size_t deps = 0;
    for (const auto& e : toc.entries) deps += e.dependencies.size() + e.tag.size();
    if (deps == 1234567) return 1;
  } catch (const pgr::Error& e) {
    if (e.kind() != pgr::ErrorKind::archive) __builtin_trap();
  }
  return 0;
}
