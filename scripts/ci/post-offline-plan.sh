#!/usr/bin/env bash
# Stands in for `pulumi preview` when the job has no AWS credentials (a pull request from
# a fork, or no deploy role configured): says why in a notice, and posts the offline plan
# to the job summary and, where the token may write, as a pull request comment.
# Usage: scripts/ci/post-offline-plan.sh STACK PLAN_FILE REASON
# Reads PR_NUMBER and GH_TOKEN (optional: without them no comment is posted).
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 STACK PLAN_FILE REASON" >&2
  exit 2
fi
stack="$1"
plan="$2"
reason="$3"
if [ ! -f "$plan" ]; then
  echo "error: no offline plan at $plan; the plan job must upload it first" >&2
  exit 2
fi

echo "::notice title=pulumi preview of $stack skipped::$reason. The offline plan (simulated engine) is posted instead."

body="$(mktemp)"
trap 'rm -f "$body"' EXIT
{
  echo "### Offline plan of \`$stack\`"
  echo
  echo "\`pulumi preview\` did not run: $reason. This is the offline plan from"
  echo "\`python -m ops plan --stack $stack\` (simulated provider outputs, same program and policies)."
  echo
  echo '<details><summary>plan</summary>'
  echo
  echo '```'
  cat "$plan"
  echo '```'
  echo '</details>'
} >"$body"

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat "$body" >>"$GITHUB_STEP_SUMMARY"
fi
if [ -n "${PR_NUMBER:-}" ] && [ -n "${GH_TOKEN:-}" ]; then
  gh pr comment "$PR_NUMBER" --body-file "$body" --edit-last 2>/dev/null ||
    gh pr comment "$PR_NUMBER" --body-file "$body"
else
  echo "no pull request comment: this run's token may not write to the pull request"
fi
