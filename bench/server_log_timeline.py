#!/usr/bin/env python3
"""Where a recovered server's time went, from its log (bench/physical_bench.sh).

    server_log_timeline.py LOG T0

LOG is the server log of one recovery (PostgreSQL's default log_line_prefix '%m [%p] ', which
starts each line with a time in milliseconds); T0 is when the timed recovery began (seconds since
the epoch, as bench/lib.sh's `now` prints it). Prints one line: each milestone of the recovery as
seconds after T0, and how many WAL files the restore_command brought from the archive. Lines
before T0 (an earlier server in the same log) are skipped; a milestone that is not in the log is
left out.
"""
import re
import sys
from datetime import datetime, timezone

MILESTONES = [  # (label, text in the line); the first line that matches counts
    ("postmaster", "starting PostgreSQL"),
    ("recovery-begins", "starting "),  # "starting point-in-time recovery ..." / "starting archive recovery"
    ("redo", "redo starts at"),
    ("consistent", "consistent recovery state reached"),
    ("read-only", "ready to accept read-only connections"),
    ("paused", "pausing at the end of recovery"),
    ("redo-done", "redo done at"),
    ("new-timeline", "selected new timeline ID"),
    ("archive-recovery-complete", "archive recovery complete"),
    ("checkpoint-start", "checkpoint starting"),
    ("checkpoint-done", "checkpoint complete"),
    ("read-write", "database system is ready to accept connections"),
]
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (\w+) ")


def main():
    log, t0 = sys.argv[1], float(sys.argv[2])
    seen = {}
    restored = 0
    last_restore = None
    with open(log, errors="replace") as f:
        for line in f:
            m = STAMP.match(line)
            if not m:
                continue
            tz = m.group(2)
            when = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
            if tz == "UTC" or tz == "GMT":
                when = when.replace(tzinfo=timezone.utc)
            at = when.timestamp() - t0
            if at < -1:
                continue
            for label, text in MILESTONES:
                if label in seen:
                    continue
                if label == "recovery-begins" and "recovery" not in line:
                    continue
                if label == "checkpoint-start" and "postmaster" not in seen:
                    continue
                if text in line:
                    seen[label] = at
                    break
            if "restored log file" in line:
                restored += 1
                last_restore = at
    parts = [f"{label} {seen[label]:.2f}" for label, _ in MILESTONES if label in seen]
    if restored:
        parts.append(f"({restored} WAL file(s) restored from the archive, the last at {last_restore:.2f})")
    print("  ".join(parts))


if __name__ == "__main__":
    main()
