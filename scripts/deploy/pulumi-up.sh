#!/usr/bin/env bash
# Rolls a stack out to a release: sets the image tags of the images CD built, then runs
# `pulumi up` with the policy pack. Prints the previous tags first: they are the
# rollback. Needs the pulumi CLI logged in to the state backend and AWS credentials.
# Usage: scripts/deploy/pulumi-up.sh STACK TAG IMAGE...
#   IMAGE: a key of the stack setting imageTags (e.g. frontend postgres).
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 STACK TAG IMAGE..." >&2
  exit 2
fi
stack="$1"
tag="$2"
shift 2
images=("$@")
if ! [[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || [ "$tag" = latest ]; then
  echo "error: image tag '$tag' must be a fixed version such as v1.4.0 (letters, digits, . _ -; not latest)" >&2
  exit 2
fi

pulumi stack select "$stack"
for image in "${images[@]}"; do
  previous="$(pulumi config get --path "imageTags.$image" --stack "$stack" 2>/dev/null || echo unset)"
  echo "imageTags.$image: $previous -> $tag"
  echo "previous_$image=$previous" >>"${GITHUB_OUTPUT:-/dev/null}"
  pulumi config set --path "imageTags.$image" "$tag" --stack "$stack"
done

policy_args=(--policy-pack policies)
if [ -f "policies/config/$stack.json" ]; then
  policy_args+=(--policy-pack-config "policies/config/$stack.json")
fi
pulumi up --yes --stack "$stack" "${policy_args[@]}" --message "release $tag"
