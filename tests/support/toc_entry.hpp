// A TOC entry as pg_dump writes one, for planner and loader tests on synthetic archives: the
// fields every test sets (owner "app"); each test adds its own (owner, oid, definition).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "archive/archive.hpp"

namespace pgr::test {

inline archive::TocEntry toc_entry(int id, std::string desc, std::string ns, std::string tag, archive::Section section,
                                   std::vector<int> deps) {
  archive::TocEntry e;
  e.id = id;
  e.desc = std::move(desc);
  e.namespace_ = std::move(ns);
  e.tag = std::move(tag);
  e.section = section;
  e.dependencies = std::move(deps);
  e.owner = "app";
  return e;
}

}  // namespace pgr::test
