#!/usr/bin/env bash
# Smoke test after a deploy: the app and cms health paths must answer 2xx at the URLs
# in the stack outputs. Retries while the new containers start; on failure prints the
# rollback command and exits 1.
# Usage: scripts/deploy/smoke-test.sh OUTPUTS_JSON STACK
#   OUTPUTS_JSON: the file `pulumi stack output --json --stack STACK` wrote.
#   PREVIOUS_RELEASE: the release deployed before this one (for the rollback command);
#   SMOKE_ATTEMPTS (default 10), SMOKE_DELAY seconds (default 6).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 OUTPUTS_JSON STACK" >&2
  exit 2
fi
outputs="$1"
stack="$2"
attempts="${SMOKE_ATTEMPTS:-10}"
delay="${SMOKE_DELAY:-6}"

output() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]) or "")' "$outputs" "$1"
}
if ! app_url="$(output appUrl)" || ! cms_url="$(output cmsUrl)"; then
  echo "error: cannot read $outputs as JSON; write it with: pulumi stack output --json --stack $stack > $outputs" >&2
  exit 2
fi
if [ -z "$app_url" ] || [ -z "$cms_url" ]; then
  echo "error: $outputs has no appUrl or cmsUrl output; is it the output of stack $stack?" >&2
  exit 2
fi

check() {
  local url="$1" i
  for ((i = 1; i <= attempts; i++)); do
    if curl --fail --silent --show-error --max-time 10 --output /dev/null "$url"; then
      echo "ok: $url (attempt $i)"
      return 0
    fi
    echo "waiting: $url did not answer 2xx (attempt $i of $attempts)"
    if [ "$i" -lt "$attempts" ]; then sleep "$delay"; fi
  done
  return 1
}

failed=()
check "${app_url%/}/api/health" || failed+=("${app_url%/}/api/health")
check "${cms_url%/}/server/ping" || failed+=("${cms_url%/}/server/ping")

if [ ${#failed[@]} -gt 0 ]; then
  cat >&2 <<MSG
SMOKE TEST FAILED on stack $stack: no 2xx from ${failed[*]}
Roll back by deploying the previous release, whose Pulumi.$stack.yaml records the images that ran before:
  git checkout ${PREVIOUS_RELEASE:-<previous release>} && bash scripts/deploy/pulumi-up.sh $stack ${PREVIOUS_RELEASE:-<previous release>}
then revert the release commit on main, so that the repository records what runs
(see docs/runbooks/deploy.md, "Rolling back")
MSG
  exit 1
fi
echo "smoke test passed on stack $stack"
