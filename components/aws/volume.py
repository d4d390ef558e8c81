"""DataVolume: the encrypted gp3 EBS volume that holds PostgreSQL's data, and its daily snapshots.

The volume carries a `snapshot-policy` tag; a Data Lifecycle Manager policy that
targets that tag snapshots it every day and keeps `snapshot_retention_days` of
snapshots. DLM runs as its own IAM role, allowed to snapshot only this volume
and to delete only snapshots that carry the tag. By default the volume is
protected and retained on delete, and a last snapshot is taken if it is ever
deleted (staging turns all three off). With a `copy_region` (prod's replica region) DLM copies
every snapshot there, encrypted, kept as long as the originals: the database survives a region
that is down with no more than a day's loss before WAL replay. The host attaches the volume (see AppHost): the host's user data needs
the volume id before the instance exists.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.iam import policy_document, service_role
from components.aws.network import Network
from components.config import StackConfig

SNAPSHOT_TAG = "snapshot-policy"
# A fixed winter date: the plan must not change with the day it runs on. DLM
# accepts UTC times only, so in zones with daylight saving the local time moves by an hour.
_REFERENCE_DAY = datetime.date(2025, 1, 15)


def snapshot_time_utc(local_time: str, time_zone: str, delay_hours: int = 1) -> str:
    """The UTC `HH:MM` that DLM needs, `delay_hours` after a local `HH:MM` (after the base backup)."""
    hour, minute = (int(p) for p in local_time.split(":"))
    local = datetime.datetime.combine(_REFERENCE_DAY, datetime.time(hour, minute), zoneinfo.ZoneInfo(time_zone))
    return (local + datetime.timedelta(hours=delay_hours)).astimezone(datetime.UTC).strftime("%H:%M")


@dataclass
class DataVolumeArgs:
    name: str
    """Prefix of physical names, e.g. quintas-crm-prod."""
    tags: Mapping[str, str]
    """Tags of the volume (and its snapshots, which copy them), the DLM policy and its role."""
    availability_zone: pulumi.Input[str]
    """Zone of the volume: the host's subnet's zone, or the host cannot attach it."""
    size_gb: int
    """Size in GiB. gp3 volumes grow in place; they never shrink."""
    region: str
    """AWS region of the volume: DLM's role is allowed its snapshots in this region only."""
    snapshot_retention_days: int
    """Days DLM keeps each daily snapshot."""
    copy_region: str | None = None
    """Region DLM copies each snapshot to (encrypted with that region's EBS key, kept as long as the
    originals); None: no copy."""
    snapshot_time_utc: str = "03:00"
    """When DLM snapshots the volume each day, `HH:MM` in UTC (DLM accepts UTC only; see snapshot_time_utc())."""
    protect: bool = True
    """Pulumi `protect`: a `pulumi destroy` or a replacement of the volume fails instead of deleting
    the database. Default on; False lets a teardown delete it (staging)."""
    retain_on_delete: bool = True
    """Pulumi `retain_on_delete`: removing the volume from the program or the stack leaves it in AWS.
    Default on; False deletes it with the stack (staging)."""
    final_snapshot: bool = True
    """AWS takes a last snapshot when the volume is deleted. Default on; False deletes it without one."""
    iops: int = 3000
    """Provisioned IOPS; 3000 is gp3's free baseline."""
    throughput_mibps: int = 125
    """Throughput in MiB/s; 125 is gp3's free baseline. Raise only when the database needs it."""

    @classmethod
    def for_stack(cls, config: StackConfig, network: Network) -> DataVolumeArgs:
        """In the network's first zone, where the host runs; prod's volume survives any teardown."""
        return cls(
            name=config.name_prefix,
            tags=config.tags_for("volume"),
            availability_zone=network.availability_zones[0],
            size_gb=config.data_volume_size_gb,
            region=config.region,
            protect=config.is_prod,
            retain_on_delete=config.is_prod,
            final_snapshot=config.is_prod,
            snapshot_retention_days=config.snapshot_retention_days,
            copy_region=config.replica_region,
            snapshot_time_utc=snapshot_time_utc(config.backup_time, config.time_zone),
        )


class DataVolume(pulumi.ComponentResource):
    volume_id: pulumi.Output[str]
    volume_arn: pulumi.Output[str]
    snapshot_policy_tag: str
    lifecycle_policy_id: pulumi.Output[str]

    def __init__(self, name: str, args: DataVolumeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:volume:DataVolume", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.snapshot_policy_tag = f"{args.name}-daily"
        volume = aws.ebs.Volume(
            "data",
            availability_zone=args.availability_zone,
            size=args.size_gb,
            type="gp3",
            iops=args.iops,
            throughput=args.throughput_mibps,
            encrypted=True,
            final_snapshot=args.final_snapshot,
            tags={**args.tags, "Name": f"{args.name}-data", SNAPSHOT_TAG: self.snapshot_policy_tag},
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(protect=args.protect, retain_on_delete=args.retain_on_delete)
            ),
        )
        policy = self._lifecycle_policy(args, volume.arn)
        self.volume_id = volume.id
        self.volume_arn = volume.arn
        self.lifecycle_policy_id = policy.id
        self.register_outputs({"volumeId": volume.id, "lifecyclePolicyId": policy.id})

    def _lifecycle_policy(self, args: DataVolumeArgs, volume_arn: pulumi.Output[str]) -> aws.dlm.LifecyclePolicy:
        child = pulumi.ResourceOptions(parent=self)
        role = service_role(
            "dlm",
            name=f"{args.name}-dlm",
            service="dlm.amazonaws.com",
            description="Data Lifecycle Manager takes and expires the data volume's daily snapshots",
            tags=args.tags,
            parent=self,
        )
        role_policy = aws.iam.RolePolicy(
            "dlm",
            role=role.id,
            policy=volume_arn.apply(
                lambda arn: _dlm_permissions(arn, args.region, self.snapshot_policy_tag, args.copy_region)
            ),
            opts=child,
        )
        return aws.dlm.LifecyclePolicy(
            "daily",
            description=f"Daily snapshots of {args.name}-data, kept {args.snapshot_retention_days} days",
            execution_role_arn=role.arn,
            state="ENABLED",
            policy_details={
                "resource_types": ["VOLUME"],
                "target_tags": {SNAPSHOT_TAG: self.snapshot_policy_tag},
                "schedules": [
                    {
                        "name": "daily",
                        "create_rule": {"interval": 24, "interval_unit": "HOURS", "times": args.snapshot_time_utc},
                        "retain_rule": {"interval": args.snapshot_retention_days, "interval_unit": "DAYS"},
                        # The snapshots keep the volume's tags, the snapshot-policy tag among
                        # them: DLM's role may delete only snapshots that carry it.
                        "copy_tags": True,
                        "tags_to_add": {"created-by": "dlm"},
                        "cross_region_copy_rules": _copy_rules(args),
                    }
                ],
            },
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[role_policy])),
        )


def _copy_rules(args: DataVolumeArgs) -> list[aws.dlm.LifecyclePolicyPolicyDetailsScheduleCrossRegionCopyRuleArgsDict]:
    if args.copy_region is None:
        return []
    return [
        {
            "target": args.copy_region,
            # The copy is encrypted with the target region's default EBS key (the source's key stays home).
            "encrypted": True,
            "copy_tags": True,
            "retain_rule": {"interval": args.snapshot_retention_days, "interval_unit": "DAYS"},
        }
    ]


def _dlm_permissions(volume_arn: str, region: str, tag_value: str, copy_region: str | None = None) -> str:
    home = f"arn:aws:ec2:{region}::snapshot/*"
    # With a copy region, DLM also copies into it, tags the copies there and expires them.
    snapshots: str | list[str] = [home, f"arn:aws:ec2:{copy_region}::snapshot/*"] if copy_region else home
    copy = {
        "Sid": "CopySnapshotsToTheCopyRegion",
        "Effect": "Allow",
        "Action": ["ec2:CopySnapshot"],
        "Resource": snapshots,
    }
    return policy_document(
        [
            *([copy] if copy_region else []),
            {
                "Sid": "SnapshotTheDataVolume",
                "Effect": "Allow",
                "Action": ["ec2:CreateSnapshot"],
                "Resource": [volume_arn, home],
            },
            {
                "Sid": "TagNewSnapshots",
                "Effect": "Allow",
                "Action": ["ec2:CreateTags"],
                "Resource": snapshots,
            },
            {
                "Sid": "ExpireOwnSnapshots",
                "Effect": "Allow",
                "Action": ["ec2:DeleteSnapshot"],
                "Resource": snapshots,
                "Condition": {"StringEquals": {f"ec2:ResourceTag/{SNAPSHOT_TAG}": tag_value}},
            },
            {
                # Describe calls support no resource-level permissions: AWS requires "*".
                "Sid": "FindVolumesAndSnapshots",
                "Effect": "Allow",
                "Action": ["ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeSnapshots"],
                "Resource": "*",
            },
        ]
    )
