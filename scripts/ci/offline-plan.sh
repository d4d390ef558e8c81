#!/usr/bin/env bash
# Runs the offline plan of one stack (simulated engine: no cloud, no credentials), saves
# it to a file and adds it to the job summary. Exits with the plan's own exit code, so a
# mandatory policy violation or an invalid setting fails the job.
# Usage: scripts/ci/offline-plan.sh STACK OUTPUT_FILE
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 STACK OUTPUT_FILE" >&2
  exit 2
fi
stack="$1"
output="$2"
python="${PYTHON:-.venv/bin/python}"

mkdir -p "$(dirname "$output")"
set +e
"$python" -m ops plan --stack "$stack" >"$output" 2>&1
status=$?
set -e
cat "$output"

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  {
    echo "### Offline plan of \`$stack\` (exit code $status)"
    echo
    echo '```'
    cat "$output"
    echo '```'
  } >>"$GITHUB_STEP_SUMMARY"
fi
if [ "$status" -ne 0 ]; then
  echo "::error title=offline plan of $stack failed::python -m ops plan --stack $stack exited with $status (invalid settings or a mandatory policy violation); see the log above"
fi
exit "$status"
