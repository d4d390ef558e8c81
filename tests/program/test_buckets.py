"""Buckets: one secure builder for uploads, backups and logs; prod keeps its data and replicates it;
Object Lock on the backups; server access logs of the data buckets; no destruction by the host."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.aws.secure_bucket import SecureBucketArgs, secure_bucket
from ops.sim import cloud, engine
from tests.conftest import simulate
from tests.helpers.platform_helpers import BUCKET, BUCKET_POLICY, ROLE_POLICY, bucket_child, bucket_name, doc, statement

PURPOSES = ("uploads", "backups", "logs")
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"


@pytest.fixture(scope="module")
def replicated(prod: engine.Run) -> engine.Run:
    return prod  # prod replicates by default (Pulumi.prod.yaml says so too)


def _primary(run: engine.Run, type_: str) -> list[engine.Resource]:
    """Resources of `type_` in the stack's own region (not the replicas')."""
    return [r for r in run.of_type(type_) if not r.name.endswith("-replica")]


def _rules(run: engine.Run, purpose: str) -> dict[str, dict]:
    lifecycle = bucket_child(run, LIFECYCLE, bucket_name(run, purpose))
    return {r["id"]: r for r in lifecycle.inputs["rules"]}


def test_bucket_names_are_per_stack_and_account(stack_run: engine.Run) -> None:
    names = [bucket_name(stack_run, p) for p in PURPOSES]
    assert names == [f"quintas-crm-{stack_run.stack}-{p}-{cloud.ACCOUNT_ID}" for p in PURPOSES]


@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_bucket_blocks_all_public_access(stack_run: engine.Run, purpose: str) -> None:
    block = bucket_child(stack_run, PAB, bucket_name(stack_run, purpose)).inputs
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert [block[f] for f in flags] == [True, True, True, True]


@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_bucket_disables_acls(stack_run: engine.Run, purpose: str) -> None:
    ownership = bucket_child(stack_run, OWNERSHIP, bucket_name(stack_run, purpose)).inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_bucket_is_encrypted_with_sse_s3_by_default(stack_run: engine.Run, purpose: str) -> None:
    (rule,) = bucket_child(stack_run, SSE, bucket_name(stack_run, purpose)).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}


@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_bucket_policy_denies_requests_without_tls(stack_run: engine.Run, purpose: str) -> None:
    name = bucket_name(stack_run, purpose)
    deny = statement(doc(bucket_child(stack_run, BUCKET_POLICY, name).inputs["policy"]), "DenyInsecureTransport")
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Resource"] == [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_bucket_aborts_incomplete_multipart_uploads_after_7_days(stack_run: engine.Run, purpose: str) -> None:
    rule = _rules(stack_run, purpose)["abort-incomplete-multipart-uploads"]
    assert (rule["status"], rule["abortIncompleteMultipartUpload"]) == ("Enabled", {"daysAfterInitiation": 7})


def test_uploads_and_backups_keep_versions_and_logs_do_not(stack_run: engine.Run) -> None:
    versioned = {
        r.inputs["bucket"]: r.inputs["versioningConfiguration"]["status"] for r in _primary(stack_run, VERSIONING)
    }
    assert versioned == {bucket_name(stack_run, p): "Enabled" for p in ("uploads", "backups")}


def test_noncurrent_versions_expire_after_the_configured_days(staging: engine.Run, prod: engine.Run) -> None:
    # noncurrentVersionExpirationDays defaults to recoveryWindowDays + 7: 14 in staging, 37 in prod.
    for run, days in ((staging, 14), (prod, 37)):
        for purpose in ("uploads", "backups"):
            assert _rules(run, purpose)["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {
                "noncurrentDays": days
            }


def test_access_logs_expire_after_the_configured_days(staging: engine.Run, prod: engine.Run) -> None:
    assert _rules(staging, "logs")["expire-objects"]["expiration"] == {"days": 30}
    assert _rules(prod, "logs")["expire-objects"]["expiration"] == {"days": 90}


def test_prod_never_force_destroys_a_bucket(prod: engine.Run) -> None:
    assert [b.inputs["forceDestroy"] for b in prod.of_type(BUCKET)] == [False] * 5


def test_staging_force_destroys_only_the_logs_bucket(staging: engine.Run) -> None:
    assert {b.name: b.inputs["forceDestroy"] for b in staging.of_type(BUCKET)} == {
        "uploads": False,
        "backups": False,
        "logs": True,
    }


def test_prod_uploads_and_backups_are_protected_and_retained(prod: engine.Run) -> None:
    kept = {b.name: (b.protect, b.retain_on_delete) for b in prod.of_type(BUCKET)}
    assert kept == {
        "uploads": (True, True),
        "backups": (True, True),
        "logs": (False, False),
        "uploads-replica": (True, True),
        "backups-replica": (True, True),
    }


def test_staging_buckets_are_not_protected(staging: engine.Run) -> None:
    assert not [b.name for b in staging.of_type(BUCKET) if b.protect or b.retain_on_delete]


def test_logs_bucket_admits_alb_log_delivery_only_under_the_alb_prefix(stack_run: engine.Run) -> None:
    name = bucket_name(stack_run, "logs")
    policy = doc(bucket_child(stack_run, BUCKET_POLICY, name).inputs["policy"])
    prefix = f"arn:aws:s3:::{name}/alb/AWSLogs/{cloud.ACCOUNT_ID}/*"
    elb = statement(policy, "AlbAccessLogsFromElbAccount")
    service = statement(policy, "AlbAccessLogsFromLogDelivery")
    assert elb["Principal"] == {"AWS": f"arn:aws:iam::{cloud.ELB_ACCOUNTS['us-east-1']}:root"}
    assert service["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    assert [(s["Action"], s["Resource"]) for s in (elb, service)] == [("s3:PutObject", prefix)] * 2


def test_kms_option_switches_to_sse_kms_with_a_bucket_key() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/0b1e2f3a-aaaa-bbbb-cccc-1234567890ab"

    def program() -> None:
        parent = pulumi.ComponentResource("quintas:test:Group", "group")
        secure_bucket("secret", SecureBucketArgs(bucket="quintas-crm-test-secret", tags={}, kms_key_arn=key), parent)

    run = simulate("staging", program)
    (rule,) = run.one(SSE, "secret").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key}
    assert rule["bucketKeyEnabled"] is True


def test_staging_opts_out_of_replication(staging: engine.Run) -> None:
    assert not staging.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    assert not staging.of_type("pulumi:providers:aws")


def test_prod_replicates_unless_its_settings_say_otherwise() -> None:
    run = simulate("prod", replicateBackups=None)  # the key removed: prod's default applies
    assert {c.name for c in run.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")} == {
        "backups",
        "uploads",
    }
    assert not simulate("staging", replicateBackups=None).of_type("pulumi:providers:aws")


def test_replication_uses_a_provider_in_the_replica_region(replicated: engine.Run) -> None:
    provider = replicated.one("pulumi:providers:aws", "replica")
    assert provider.inputs["region"] == "us-west-2"
    replicas = [b for b in replicated.of_type(BUCKET) if b.name.endswith("-replica")]
    assert sorted(b.name for b in replicas) == ["backups-replica", "uploads-replica"]
    assert all(b.provider and b.provider.startswith(provider.urn) for b in replicas)
    assert all((b.protect, b.retain_on_delete) == (True, True) for b in replicas)


def test_replication_copies_backups_and_uploads_to_versioned_replicas(replicated: engine.Run) -> None:
    configs = {c.name: c.inputs for c in replicated.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")}
    assert set(configs) == {"backups", "uploads"}
    for purpose, config in configs.items():
        (rule,) = config["rules"]
        assert config["bucket"] == bucket_name(replicated, purpose)
        assert rule["destination"]["bucket"] == f"arn:aws:s3:::{bucket_name(replicated, purpose + '-replica')}"
        assert rule["deleteMarkerReplication"] == {"status": "Enabled"}
    replica_versioning = [v for v in replicated.of_type(VERSIONING) if v.name.endswith("-replica")]
    assert [v.inputs["versioningConfiguration"]["status"] for v in replica_versioning] == ["Enabled", "Enabled"]


def test_replication_role_writes_only_to_the_replicas(replicated: engine.Run) -> None:
    policy = doc(replicated.one(ROLE_POLICY, "replication").inputs["policy"])
    write = statement(policy, "WriteReplicas")
    assert sorted(write["Resource"]) == sorted(
        f"arn:aws:s3:::{bucket_name(replicated, p)}/*" for p in ("backups-replica", "uploads-replica")
    )
    assert json.dumps(policy).count("s3:Replicate") == 3


LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
LOGGING = "aws:s3/bucketLogging:BucketLogging"


def test_backups_and_their_replica_are_locked_in_governance_mode_beyond_the_window(
    staging: engine.Run, prod: engine.Run
) -> None:
    for run, days in ((staging, 8), (prod, 31)):  # recoveryWindowDays + 1
        locks = {lock.name: lock.inputs for lock in run.of_type(LOCK)}
        assert set(locks) == ({"backups", "backups-replica"} if run is prod else {"backups"})
        for lock in locks.values():
            assert lock["objectLockEnabled"] == "Enabled"
            assert lock["rule"] == {"defaultRetention": {"mode": "GOVERNANCE", "days": days}}
        # Enabled in place: the bucket's own object_lock_enabled would replace a protected bucket.
        assert "objectLockEnabled" not in run.one(BUCKET, "backups").inputs


def test_the_lock_waits_for_versioning(prod: engine.Run) -> None:
    lock = prod.one(LOCK, "backups")
    assert prod.one(VERSIONING, "backups").urn in lock.depends_on


def test_versioned_buckets_drop_lone_delete_markers(stack_run: engine.Run) -> None:
    rule = _rules(stack_run, "backups")["remove-expired-delete-markers"]
    assert rule["expiration"] == {"expiredObjectDeleteMarker": True}
    assert "remove-expired-delete-markers" not in _rules(stack_run, "logs")


def test_uploads_and_backups_log_access_into_the_logs_bucket_under_their_own_prefix(stack_run: engine.Run) -> None:
    logs = bucket_name(stack_run, "logs")
    found = {
        g.inputs["bucket"]: (g.inputs["targetBucket"], g.inputs["targetPrefix"]) for g in stack_run.of_type(LOGGING)
    }
    assert found == {bucket_name(stack_run, p): (logs, f"s3-access/{p}/") for p in ("uploads", "backups")}


def test_logs_bucket_admits_s3_log_delivery_only_from_the_data_buckets(stack_run: engine.Run) -> None:
    name = bucket_name(stack_run, "logs")
    grant = statement(
        doc(bucket_child(stack_run, BUCKET_POLICY, name).inputs["policy"]), "S3ServerAccessLogsFromDataBuckets"
    )
    assert grant["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert (grant["Action"], grant["Resource"]) == ("s3:PutObject", f"arn:aws:s3:::{name}/s3-access/*")
    assert grant["Condition"]["ArnLike"]["aws:SourceArn"] == [
        f"arn:aws:s3:::{bucket_name(stack_run, p)}" for p in ("uploads", "backups")
    ]
    assert grant["Condition"]["StringEquals"] == {"aws:SourceAccount": cloud.ACCOUNT_ID}


@pytest.mark.parametrize("purpose", ("uploads", "backups"))
def test_data_bucket_policies_deny_the_host_role_every_destructive_action(stack_run: engine.Run, purpose: str) -> None:
    name = bucket_name(stack_run, purpose)
    deny = statement(
        doc(bucket_child(stack_run, BUCKET_POLICY, name).inputs["policy"]), "UntrustedRolesNeverDestroyData"
    )
    host_role = stack_run.one("aws:iam/role:Role", "host").outputs["arn"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"ArnLike": {"aws:PrincipalArn": [host_role]}}
    assert {"s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "s3:PutObjectRetention"} <= set(deny["Action"])
    assert "s3:DeleteObject" not in deny["Action"]  # a plain delete (a marker) is how retention deletes
    assert deny["Resource"] == [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]


def test_replication_keeps_the_lock_of_each_version(replicated: engine.Run) -> None:
    read = statement(doc(replicated.one(ROLE_POLICY, "replication").inputs["policy"]), "ReadSourceVersions")
    assert {"s3:GetObjectRetention", "s3:GetObjectLegalHold"} <= set(read["Action"])
