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

}  // namespace pgr::model::pitr_param
