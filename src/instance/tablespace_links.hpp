// What a data directory says about its tablespaces: the links pg_tblspc/<oid> -> folder.
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace pgr::instance {

// By folder (lexically normal, absolute links only): the oid of the link to it. Empty when the
// data directory has no pg_tblspc; anything that is not a link named by an oid is ignored.
std::map<std::string, std::string> tablespace_links(const std::filesystem::path& data_directory);

}  // namespace pgr::instance
