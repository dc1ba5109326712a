#!/usr/bin/env bash
# The pgrecover steps of this repository's pipelines, in one place. The GitHub Actions workflow
# (.github/workflows/pgrecover.yml) and the GitLab pipeline (.gitlab-ci.yml) only call this
# script; pgrecover's own test suite runs the same script against a throwaway server.
#
#   ci/pgrecover-ci.sh review OUT     pull request: validate, plan every document into OUT/plans/,
#                                     OUT/plan.md for the review comment. Exit 0 (changes or not).
#   ci/pgrecover-ci.sh apply OUT      after merge: apply exactly the reviewed restore plans in
#                                     OUT/plans/ (a stale plan stops with exit 3: plan again), and
#                                     write OUT/report.md (what was done) for the change ticket.
#   ci/pgrecover-ci.sh schedule OUT   nightly: take the backups that are due, prune by retention,
#                                     run restore drills; OUT/backups.json lists the repository.
#
# Environment: PGRECOVER (the binary, default "pgrecover"), PGRECOVER_CONFIG (default
# pgrecover.toml here), and the password variables pgrecover.toml names (CI secrets).
set -euo pipefail
cd "$(dirname "$0")/.."
PGRECOVER=${PGRECOVER:-pgrecover}
CONFIG=${PGRECOVER_CONFIG:-pgrecover.toml}
pgr() { "$PGRECOVER" --config "$CONFIG" "$@"; }

cmd=${1:?usage: ci/pgrecover-ci.sh review|apply|schedule OUT}
out=${2:?usage: ci/pgrecover-ci.sh $cmd OUT}
mkdir -p "$out"

case "$cmd" in
  review)
    pgr validate policies restores
    rm -rf "$out/plans"
    set +e
    pgr plan policies restores --out-dir "$out/plans" --detailed-exitcode > "$out/plan.txt"
    rc=$?
    set -e
    cat "$out/plan.txt"
    case "$rc" in
      0) changes="no changes" ;;
      2) changes="changes to review" ;;
      *) exit "$rc" ;;
    esac
    {
      echo "# pgrecover plan: $changes"
      echo
      for plan in "$out"/plans/*.json; do
        pgr show "$plan" --markdown | sed "s|pgrecover apply plan.json|pgrecover apply $(basename "$plan")|"
        echo
      done
    } > "$out/plan.md"
    echo "review: $changes; plans in $out/plans, comment in $out/plan.md"
    ;;
  apply)
    shopt -s nullglob
    plans=("$out"/plans/restore-*.json)
    [ ${#plans[@]} -gt 0 ] || { echo "apply: no reviewed restore plans in $out/plans"; exit 0; }
    : > "$out/report.md"
    for plan in "${plans[@]}"; do
      pgr apply "$plan"    # exit 3: stale (plan again and review); exit 4: another apply runs
      id=$(sed -n 's/^  "id": "\(.*\)",$/\1/p' "$plan")
      pgr runs show "$id" --markdown >> "$out/report.md"
      echo >> "$out/report.md"
    done
    echo "apply: ${#plans[@]} plan(s) applied; report in $out/report.md"
    ;;
  schedule)
    pgr apply --auto-approve policies
    pgr --json backups list > "$out/backups.json"
    echo "schedule: done; repository listing in $out/backups.json"
    ;;
  *)
    echo "usage: ci/pgrecover-ci.sh review|apply|schedule OUT" >&2
    exit 1
    ;;
esac
