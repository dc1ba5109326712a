// Header and TOC parsing (pg_backup_archiver.c ReadHead / ReadToc and each format's
// ReadExtraToc), from any detail::Input.
#pragma once

#include <string>

#include "archive/archive.hpp"
#include "archive/input.hpp"

namespace pgr::archive::detail {

// Archive format bytes in the header (pg_backup.h ArchiveFormat).
inline constexpr int kFmtCustom = 1;
inline constexpr int kFmtTar = 3;
inline constexpr int kFmtDirectory = 5;

// Custom-format offset flags (pg_backup_archiver.h).
inline constexpr int kOffsetPosNotSet = 1;
inline constexpr int kOffsetPosSet = 2;
inline constexpr int kOffsetNoData = 3;

// Parses header + TOC from `in` (positioned at "PGDMP"). The checksum is left empty: the caller
// hashes the bytes it handed over.
Toc parse_header_and_toc(Input& in, Format expected);

Encoding encoding_of(const Header& h);

}  // namespace pgr::archive::detail
