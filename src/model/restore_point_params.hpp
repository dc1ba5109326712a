// The parameters of the "restore-point" step that `before: {restore_point: NAME}` puts first in a
// Restore or PointInTimeRecovery plan (plan.params): what the planner writes and the executor's
// restore-point step (executor/restore_point_step) reads. Never a password: the server is a
// connection name from the settings or a conninfo without one.
#pragma once

namespace pgr::model::restore_point_param {

inline constexpr const char* step_id = "restore-point";  // the step's id and kind
inline constexpr const char* name = "restore_point";
inline constexpr const char* connection = "restore_point_connection";  // settings name, or ""
inline constexpr const char* conninfo = "restore_point_conninfo";      // without a password, or ""
// Where it is recorded: a repository (settings name), the physical policy and its WAL cluster.
// All "" when the restore point is made on a Restore's target server and not recorded.
inline constexpr const char* repository = "restore_point_repository";
inline constexpr const char* policy = "restore_point_policy";
inline constexpr const char* cluster = "restore_point_cluster";
// The policy's other repositories, recorded in too: a JSON array of settings names ("" none).
inline constexpr const char* copies = "restore_point_copies";
inline constexpr const char* timeout = "restore_point_timeout_seconds";  // for its segment to be archived

}  // namespace pgr::model::restore_point_param
