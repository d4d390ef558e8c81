"""The bootstrap project (issue 14, item 7), planned offline on the simulated engine and policy-checked.

bootstrap/ is a Pulumi project of its own: the state bucket, the KMS key of the stacks'
secrets provider, and the GitHub OIDC roles of CI and CD. docs/going-live.md walks from
an empty account to a running prod with it.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from bootstrap.account import KEY_ALIAS, deploy_permissions
from ops.sim import engine, policy

ROOT = Path(__file__).resolve().parents[2]
REPO = "quintas-crm/quintas-crm-infra"


@functools.cache
def bootstrap() -> engine.Run:
    return engine.run("account", root=ROOT / "bootstrap")


def trust(role: engine.Resource) -> dict[str, Any]:
    return json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]


def statements(run: engine.Run, name: str) -> list[dict[str, Any]]:
    return json.loads(run.one("aws:iam/rolePolicy:RolePolicy", name).inputs["policy"])["Statement"]


def test_the_state_bucket_is_versioned_encrypted_private_and_kept() -> None:
    run = bootstrap()
    bucket = run.one("aws:s3/bucket:Bucket", "state")
    assert bucket.inputs["bucket"] == "quintas-crm-pulumi-state-123456789012"
    assert bucket.protect and bucket.retain_on_delete
    versioning = run.one("aws:s3/bucketVersioning:BucketVersioning", "state")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    sse = run.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "state")
    default = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": run.one("aws:kms/key:Key", "secrets").outputs["arn"],
    }
    block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "state").inputs
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )


def test_the_secrets_provider_key_rotates_and_is_protected() -> None:
    run = bootstrap()
    key = run.one("aws:kms/key:Key", "secrets")
    assert key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 30 and key.protect
    assert run.one("aws:kms/alias:Alias", "secrets").inputs["name"] == KEY_ALIAS
    assert run.outputs["secretsProvider"] == f"awskms://{KEY_ALIAS}?region=us-east-1"
    assert run.outputs["backendUrl"] == "s3://quintas-crm-pulumi-state-123456789012"


def test_only_this_repositorys_workflows_assume_the_roles() -> None:
    run = bootstrap()
    provider = run.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "github")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    subjects = {}
    for name in ("preview", "deploy"):
        statement = trust(run.one("aws:iam/role:Role", name))
        assert statement["Principal"] == {"Federated": provider.outputs["arn"]}
        assert statement["Condition"]["StringEquals"] == {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com"
        }
        subjects[name] = statement["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"]
    assert subjects["deploy"] == [
        f"repo:{REPO}:environment:staging",
        f"repo:{REPO}:environment:prod",
        f"repo:{REPO}:ref:refs/tags/v*",
    ]
    assert subjects["preview"] == [
        f"repo:{REPO}:pull_request",
        f"repo:{REPO}:ref:refs/heads/main",
        f"repo:{REPO}:ref:refs/heads/develop",
    ]


def test_the_preview_role_changes_nothing() -> None:
    actions = [a for s in statements(bootstrap(), "preview") for a in s["Action"]]
    writes = [a for a in actions if re.search(r":(Put|Delete|Create|Update|Modify|Attach|Run|Terminate|Encrypt)", a)]
    assert writes == [] and "kms:Decrypt" in actions and "s3:GetObject" in actions


def test_the_deploy_role_cannot_touch_the_ci_roles_or_attach_any_managed_policy() -> None:
    by_sid = {s["Sid"]: s for s in deploy_permissions("arn:b", "arn:k", "123456789012", "us-east-1")}
    roles = by_sid["StackRoles"]["Resource"]
    assert all(re.search(r"/quintas-crm-(staging|prod)-\*$", r) for r in roles)
    assert by_sid["AttachOnlyKnownManagedPolicies"]["Condition"] == {
        "ArnEquals": {"iam:PolicyARN": ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]}
    }
    ssm = by_sid["SshOverSsm"]
    assert ssm["Action"] == ["ssm:StartSession"] and ssm["Condition"] == {
        "StringEquals": {"ssm:resourceTag/project": "quintas-crm-infra"}
    }
    assert by_sid["SshDocument"]["Resource"].endswith(":document/AWS-StartSSHSession")
    every = [a for s in by_sid.values() for a in s["Action"]]
    assert not [a for a in every if a == "*" or a.endswith(":*")]


def test_the_bootstrap_plan_passes_the_policy_pack() -> None:
    findings = policy.evaluate(bootstrap(), config=policy.load_config("prod"))
    assert [f for f in findings if f.level == "mandatory"] == []
    # The pack looked at the roles: IAM rules apply to them (a service wildcard there is mandatory).
    assert not [f for f in findings if f.policy.startswith("iam-") and f.level == "not-applicable"]


def test_going_live_names_every_command_and_the_readme_points_to_it() -> None:
    doc = (ROOT / "docs/going-live.md").read_text()
    for command in (
        "session-manager-plugin",
        "pulumi login --local",
        "pulumi up --cwd bootstrap",
        "pulumi stack init",
        '--secrets-provider "awskms://alias/quintas-crm-pulumi?region=',
        "pulumi login s3://",
        "gh secret set DEPLOY_SSH_KEY --env prod",
        "gh variable set AWS_DEPLOY_ROLE_ARN",
        "gh variable set AWS_PREVIEW_ROLE_ARN",
        "pulumi up --stack prod --policy-pack policies",
        "certificateValidationRecords",
        "python -m ops dns-cutover --stack prod --dry-run",
        "python -m ops dns-cutover --stack prod",
        "bash scripts/deploy/smoke-test.sh",
    ):
        assert command in doc, command
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Using the real CLI", 1)[1].split("\n## ", 1)[0]
    assert "docs/going-live.md" in section
