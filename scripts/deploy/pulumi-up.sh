#!/usr/bin/env bash
# Rolls a stack out to a release: exactly what the release's checkout records. The image
# tags come from Pulumi.<stack>.yaml as committed (CD built and pushed those tags from the
# same file), so nothing here changes a setting: after the run, what runs is what the
# repository says. Prints the recorded tags and the previous release (the rollback), then
# runs `pulumi up` with the policy pack. Needs the pulumi CLI logged in to the state
# backend, AWS credentials and the deploy key (scripts/deploy/ssh-key.sh).
# Usage: scripts/deploy/pulumi-up.sh STACK RELEASE
#   RELEASE: the release tag being deployed (e.g. v1.4.0), checked out in the working tree.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 STACK RELEASE" >&2
  exit 2
fi
stack="$1"
release="$2"
python="${PYTHON:-.venv/bin/python}"
if ! [[ "$release" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || [ "$release" = latest ]; then
  echo "error: release '$release' must be a fixed version such as v1.4.0 (letters, digits, . _ -; not latest)" >&2
  exit 2
fi
if ! changes="$(git status --porcelain -- "Pulumi.$stack.yaml" 2>/dev/null)"; then
  echo "error: run from a git checkout of the release: the deployed tags must be the committed ones" >&2
  exit 2
fi
if [ -n "$changes" ]; then
  echo "error: Pulumi.$stack.yaml has uncommitted changes; a deploy runs only what the repository records: commit them in a release first" >&2
  exit 2
fi

echo "image tags recorded in Pulumi.$stack.yaml at $release (what this deploy runs):"
"$python" -m ops image-tags --stack "$stack"
previous="$(git describe --tags --abbrev=0 --match 'v*' "$release^" 2>/dev/null || echo none)"
echo "previous release: $previous (to roll back, deploy it again: docs/runbooks/deploy.md)"
echo "previous_release=$previous" >>"${GITHUB_OUTPUT:-/dev/null}"

policy_args=(--policy-pack policies)
if [ -f "policies/config/$stack.json" ]; then
  policy_args+=(--policy-pack-config "policies/config/$stack.json")
fi
pulumi stack select "$stack"
pulumi up --yes --stack "$stack" "${policy_args[@]}" --message "release $release"
