"""DataVolume: encrypted gp3 in the host's zone, protected in prod, snapshotted daily by DLM."""

from __future__ import annotations

import pytest

from components.aws.volume import SNAPSHOT_TAG, snapshot_time_utc
from ops.sim import engine
from tests.helpers.platform_helpers import ROLE_POLICY, doc, statement, statements

VOLUME = "aws:ebs/volume:Volume"
DLM = "aws:dlm/lifecyclePolicy:LifecyclePolicy"


def _volume(run: engine.Run) -> engine.Resource:
    return run.one(VOLUME, "data")


def test_volume_is_encrypted_gp3_sized_from_config(staging: engine.Run, prod: engine.Run) -> None:
    for run, size in ((staging, 30), (prod, 100)):
        volume = _volume(run)
        assert (volume.inputs["type"], volume.inputs["encrypted"], volume.inputs["size"]) == ("gp3", True, size)


def test_volume_is_in_the_host_availability_zone(stack_run: engine.Run) -> None:
    host = stack_run.one("aws:ec2/instance:Instance", "host")
    subnet = next(s for s in stack_run.of_type("aws:ec2/subnet:Subnet") if s.id == host.inputs["subnetId"])
    zone = _volume(stack_run).inputs["availabilityZone"]
    assert zone == subnet.inputs["availabilityZone"] == host.inputs["availabilityZone"]


def test_prod_volume_is_protected_retained_and_snapshotted_on_delete(prod: engine.Run) -> None:
    volume = _volume(prod)
    assert (volume.protect, volume.retain_on_delete, volume.inputs["finalSnapshot"]) == (True, True, True)


def test_staging_volume_can_be_torn_down(staging: engine.Run) -> None:
    volume = _volume(staging)
    assert (volume.protect, volume.retain_on_delete) == (False, False)


def test_volume_carries_the_tag_the_lifecycle_policy_targets(stack_run: engine.Run) -> None:
    tag = _volume(stack_run).inputs["tags"][SNAPSHOT_TAG]
    assert tag == f"quintas-crm-{stack_run.stack}-daily"
    details = stack_run.one(DLM, "daily").inputs["policyDetails"]
    assert details["targetTags"] == {SNAPSHOT_TAG: tag}
    assert details["resourceTypes"] == ["VOLUME"]


def test_lifecycle_policy_snapshots_daily_and_keeps_configured_days(staging: engine.Run, prod: engine.Run) -> None:
    for run, days in ((staging, 7), (prod, 14)):
        policy = run.one(DLM, "daily")
        (schedule,) = policy.inputs["policyDetails"]["schedules"]
        assert policy.inputs["state"] == "ENABLED"
        assert (schedule["createRule"]["interval"], schedule["createRule"]["intervalUnit"]) == (24, "HOURS")
        assert schedule["retainRule"] == {"interval": days, "intervalUnit": "DAYS"}


def test_snapshots_run_an_hour_after_the_local_backup_time(stack_run: engine.Run) -> None:
    # America/Mexico_City is UTC-6 (no daylight saving since 2022): prod's 02:00 + 1 h = 09:00 UTC;
    # staging's 07:30 (inside its office hours) + 1 h = 14:30 UTC.
    (schedule,) = stack_run.one(DLM, "daily").inputs["policyDetails"]["schedules"]
    assert schedule["createRule"]["times"] == {"prod": "09:00", "staging": "14:30"}[stack_run.stack]


@pytest.mark.parametrize(
    ("local", "zone", "utc"),
    [("02:00", "America/Mexico_City", "09:00"), ("23:30", "UTC", "00:30"), ("02:00", "Europe/Madrid", "02:00")],
)
def test_snapshot_time_converts_local_time_to_utc(local: str, zone: str, utc: str) -> None:
    assert snapshot_time_utc(local, zone) == utc


def test_dlm_runs_as_its_own_role(stack_run: engine.Run) -> None:
    role = stack_run.one("aws:iam/role:Role", "dlm")
    assert stack_run.one(DLM, "daily").inputs["executionRoleArn"] == role.outputs["arn"]
    assert [s["Principal"] for s in statements(doc(role.inputs["assumeRolePolicy"]))] == [
        {"Service": "dlm.amazonaws.com"}
    ]


def test_dlm_role_snapshots_only_the_data_volume_and_deletes_only_tagged_snapshots(stack_run: engine.Run) -> None:
    policy = doc(stack_run.one(ROLE_POLICY, "dlm").inputs["policy"])
    volume_arn = _volume(stack_run).outputs["arn"]
    assert statement(policy, "SnapshotTheDataVolume")["Resource"] == [volume_arn, "arn:aws:ec2:us-east-1::snapshot/*"]
    delete = statement(policy, "ExpireOwnSnapshots")
    assert delete["Condition"] == {
        "StringEquals": {f"ec2:ResourceTag/{SNAPSHOT_TAG}": f"quintas-crm-{stack_run.stack}-daily"}
    }
    (schedule,) = stack_run.one(DLM, "daily").inputs["policyDetails"]["schedules"]
    assert schedule["copyTags"] is True
