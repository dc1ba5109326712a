// The parameters of a "pitr" plan (plan.params): what the PITR planner writes and the PITR
// runner reads. Plans are values, so this is their contract, shared by both sides.
#pragma once

namespace pgr::model::pitr_param {

inline constexpr const char* repository = "repository";        // settings name
inline constexpr const char* repository_path = "repository_path";
inline constexpr const char* policy = "policy";
inline constexpr const char* backup = "backup";                // backup id
inline constexpr const char* data_directory = "data_directory";
inline constexpr const char* socket_directory = "socket_directory";
inline constexpr const char* port = "port";                    // "0": a free one
inline constexpr const char* move_aside = "move_aside_existing";  // "true" | "false"
inline constexpr const char* recovery_conf = "recovery_conf";  // the settings block, rendered
inline constexpr const char* timeout = "timeout_seconds";
inline constexpr const char* action = "action";                // pause | promote | shutdown
inline constexpr const char* verify_sql = "verify_sql";        // JSON array of strings
inline constexpr const char* superuser = "superuser";
inline constexpr const char* start_lsn = "start_lsn";
inline constexpr const char* seg_size = "wal_segment_size";
inline constexpr const char* timeline = "timeline";
inline constexpr const char* cluster = "cluster";
inline constexpr const char* target = "target";                // "name before_drop", for messages
// target latest: recover as a standby (standby.signal) until replay reaches the newest archived
// segment, then take the action. "true" | "false" (absent: false).
inline constexpr const char* standby = "standby";
inline constexpr const char* last_segment = "last_segment";    // latest: the newest segment expected
// to.config keep: the recovered configuration stays in force; the instance writes only the
// overrides. "true" | "false" (absent: false).
inline constexpr const char* keep_config = "keep_config";
// The server settings written after everything else (port, listen_addresses, unix_socket_directories
// when given, and to.settings): a JSON object of name -> postgresql.conf value, already quoted.
inline constexpr const char* server_settings = "server_settings";
inline constexpr const char* archive_resume = "archive_resume";  // "true": archive once promoted
// In-place recovery: where the old data directory goes (absent in older plans: a time stamp of the
// apply), and the WAL files of its pg_wal copied into the new pg_wal (JSON array of names).
inline constexpr const char* moved_aside_to = "moved_aside_to";
inline constexpr const char* local_wal = "local_wal";
// The backup's tablespaces and where each goes: a JSON array of {oid, name, file, original,
// location} (absent or "[]": none).
inline constexpr const char* tablespaces = "tablespaces";
inline constexpr const char* last_segment_archived_at = "last_segment_archived_at";  // ISO-8601 or ""

}  // namespace pgr::model::pitr_param
