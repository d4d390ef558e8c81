#!/usr/bin/env bash
# Says whether an ECR repository already holds an image tag, so that a re-run of a release
# skips the push (prod's tags are immutable: a second push of the same tag fails) and an
# image whose tag did not change (postgres in an app release) is neither rebuilt nor moved.
# Writes found=true|false to $GITHUB_OUTPUT. Needs AWS credentials.
# Usage: scripts/deploy/image-exists.sh REPOSITORY TAG   (e.g. quintas-crm/prod/frontend v1.4.0)
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 REPOSITORY TAG" >&2
  exit 2
fi
repository="$1"
tag="$2"
errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT

if aws ecr describe-images --repository-name "$repository" --image-ids "imageTag=$tag" >/dev/null 2>"$errors"; then
  found=true
  echo "$repository:$tag is already in ECR: not built or pushed again"
elif grep -q ImageNotFoundException "$errors"; then
  found=false
  echo "$repository:$tag is not in ECR yet: building and pushing it"
else
  cat "$errors" >&2
  echo "error: cannot tell whether $repository:$tag exists (see the aws error above)" >&2
  exit 1
fi
echo "found=$found" >>"${GITHUB_OUTPUT:-/dev/null}"
