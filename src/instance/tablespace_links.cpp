#include "instance/tablespace_links.hpp"

namespace pgr::instance {

std::map<std::string, std::string> tablespace_links(const std::filesystem::path& data_directory) {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> out;
  std::error_code ec;
  fs::path dir = data_directory / "pg_tblspc";
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string oid = e.path().filename().string();
    if (!e.is_symlink(ec) || oid.empty() || oid.find_first_not_of("0123456789") != std::string::npos) continue;
    fs::path target = fs::read_symlink(e.path(), ec);
    if (!ec && target.is_absolute()) out[target.lexically_normal().string()] = oid;
  }
  return out;
}

}  // namespace pgr::instance
