#!/usr/bin/env bash
# Puts the deploy key where the program's ssh options look for it (components/workload/ssh_path.py,
# DEPLOY_KEY) and checks that its public half is the stack's operatorPublicKey, so that a
# wrong or empty secret fails here with a fix instead of as an SSH error mid-deploy. Also
# checks the SSM Session Manager plugin the ProxyCommand needs.
# Usage: DEPLOY_SSH_KEY=<private key> scripts/deploy/ssh-key.sh STACK
#   DEPLOY_SSH_KEY: the GitHub environment secret of the stack's environment.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: DEPLOY_SSH_KEY=<private key> $0 STACK" >&2
  exit 2
fi
stack="$1"
python="${PYTHON:-.venv/bin/python}"
key="$HOME/.ssh/quintas-crm-deploy"

if [ -z "${DEPLOY_SSH_KEY:-}" ]; then
  echo "::error title=no deploy key::the secret DEPLOY_SSH_KEY of environment $stack is empty; add the private key whose public half is operatorPublicKey in Pulumi.$stack.yaml (docs/runbooks/deploy.md)"
  exit 1
fi
if ! command -v session-manager-plugin >/dev/null; then
  echo "::error title=no SSM plugin::session-manager-plugin is not installed; install the AWS Session Manager plugin (docs/going-live.md)"
  exit 1
fi
mkdir -p "$(dirname "$key")"
chmod 700 "$(dirname "$key")"
(umask 077 && printf '%s\n' "$DEPLOY_SSH_KEY" >"$key")

recorded="$("$python" -c 'import sys, yaml; c = yaml.safe_load(open(sys.argv[1]))["config"]; print(c.get("quintas-crm-infra:operatorPublicKey", ""))' "Pulumi.$stack.yaml")"
if ! actual="$(ssh-keygen -y -f "$key" 2>/dev/null)"; then
  echo "::error title=unreadable deploy key::DEPLOY_SSH_KEY of environment $stack is not an unencrypted OpenSSH private key"
  exit 1
fi
if [ "$(echo "$actual" | cut -d' ' -f1-2)" != "$(echo "$recorded" | cut -d' ' -f1-2)" ]; then
  echo "::error title=deploy key mismatch::DEPLOY_SSH_KEY of environment $stack does not match operatorPublicKey in Pulumi.$stack.yaml; the host would refuse it"
  exit 1
fi
echo "deploy key for $stack at $key (matches operatorPublicKey)"
