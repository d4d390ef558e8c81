"""Rules on what keeps the stack observable and its keys sound: log groups with a
retention, an EC2 auto-recovery alarm, image scanning on push, KMS key rotation."""

from __future__ import annotations

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationArgs

from .base import Report, Rule, get, is_unknown, items, label, of_type, refers_to

LOG_GROUP = ("aws:cloudwatch/logGroup:LogGroup",)
ALARM = ("aws:cloudwatch/metricAlarm:MetricAlarm",)
INSTANCE = ("aws:ec2/instance:Instance",)
ECR_REPOSITORY = ("aws:ecr/repository:Repository",)
KMS_KEY = ("aws:kms/key:Key",)


def _log_retention(args: ResourceValidationArgs, report: Report) -> None:
    days = get(args.props, "retentionInDays")
    if not is_unknown(days) and not days:
        report(f"{label(args)} keeps logs forever (no retentionInDays): storage grows without bound")


def _recovers(alarm: object) -> bool | None:
    actions = items(alarm, "alarmActions")
    if any(is_unknown(a) for a in actions):
        return None
    return any(isinstance(a, str) and a.startswith("arn:aws:automate:") and a.endswith(":ec2:recover") for a in actions)


def _auto_recovery(args: StackValidationArgs, report: Report) -> None:
    for instance in of_type(args, *INSTANCE):
        alarms = [
            a
            for a in of_type(args, *ALARM)
            if get(a.props, "metricName") == "StatusCheckFailed_System"
            and (refers_to(a, "dimensions", instance) or is_unknown(get(a.props, "dimensions", "InstanceId")))
        ]
        if not any(_recovers(a.props) is not False for a in alarms):
            report(f"{label(instance)} has no StatusCheckFailed_System alarm with the ec2:recover action", instance.urn)


def _scan_on_push(args: ResourceValidationArgs, report: Report) -> None:
    scan = get(args.props, "imageScanningConfiguration", "scanOnPush")
    if not is_unknown(scan) and scan is not True:
        report(f"{label(args)} does not scan images on push")


def _key_rotation(args: ResourceValidationArgs, report: Report) -> None:
    if get(args.props, "customerMasterKeySpec") not in (None, "SYMMETRIC_DEFAULT"):
        return
    rotation = get(args.props, "enableKeyRotation")
    if not is_unknown(rotation) and rotation is not True:
        report(f"{label(args)} does not rotate its key material (enableKeyRotation)")


RULES = [
    Rule(
        name="logs-retention-set",
        description="Every CloudWatch log group has a retention period.",
        why="Container logs otherwise accumulate forever and are billed forever.",
        severity=Severity.LOW,
        check=_log_retention,
        resource_types=LOG_GROUP,
        references=("checkov CKV_AWS_66",),
    ),
    Rule(
        name="ec2-auto-recovery-alarm",
        references=("project rule: the recovery alarm is this project's single-host design; no control asks for it",),
        description="Every EC2 instance has a StatusCheckFailed_System alarm whose action is ec2:recover.",
        why="A single host has no standby: AWS moving it to healthy hardware is the first line of recovery.",
        severity=Severity.MEDIUM,
        check=_auto_recovery,
        kind="stack",
    ),
    Rule(
        name="ecr-scan-on-push",
        description="Every ECR repository scans images on push.",
        why="Known-vulnerable packages in the frontend or postgres image are reported before they are deployed.",
        severity=Severity.MEDIUM,
        check=_scan_on_push,
        resource_types=ECR_REPOSITORY,
        references=("AWS-FSBP ECR.1", "checkov CKV_AWS_163"),
    ),
    Rule(
        name="kms-key-rotation",
        description="Every symmetric KMS key rotates its key material.",
        why="Rotation limits how much data one leaked or broken key version protects.",
        severity=Severity.MEDIUM,
        check=_key_rotation,
        resource_types=KMS_KEY,
        references=("AWS-FSBP KMS.4", "checkov CKV_AWS_7"),
    ),
]
