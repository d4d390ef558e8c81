"""Audit-trail and encryption rules: S3 server access logs on the data buckets, VPC flow logs,
the alert topic encrypted with a customer managed key CloudWatch may use, log groups encrypted."""

from __future__ import annotations

from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs

from .base import Report, Rule, as_list, get, is_unknown, json_doc, label, of_type, refers_to
from .s3 import DATA_BUCKETS_SCHEMA, _buckets, bucket_roles, siblings

BUCKET_LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
VPC = ("aws:ec2/vpc:Vpc",)
FLOW_LOG = ("aws:ec2/flowLog:FlowLog",)
TOPIC = ("aws:sns/topic:Topic",)
KMS_KEY = ("aws:kms/key:Key",)
ALARM = ("aws:cloudwatch/metricAlarm:MetricAlarm",)
LOG_GROUP = ("aws:cloudwatch/logGroup:LogGroup",)
AWS_MANAGED_SNS_KEY = "alias/aws/sns"
CLOUDWATCH = "cloudwatch.amazonaws.com"


def _access_logging(args: StackValidationArgs, report: Report) -> None:
    for bucket in _buckets(args, list(args.get_config()["dataBuckets"])):
        if "replica" in bucket_roles(bucket):
            continue  # server access logs go to a bucket of the same region; the replicas are only written by S3
        found = siblings(args, bucket, BUCKET_LOGGING)
        if not any(is_unknown(get(g.props, "targetBucket")) or get(g.props, "targetBucket") for g in found):
            report(
                f"{label(bucket)} has no S3 server access logging: nobody could tell who read its objects", bucket.urn
            )
        for logging in found:
            prefix = get(logging.props, "targetPrefix")
            if not is_unknown(prefix) and not prefix:
                report(f"{label(bucket)}: its access logs have no targetPrefix of their own", bucket.urn)


def _flow_logs(args: StackValidationArgs, report: Report) -> None:
    for vpc in of_type(args, *VPC):
        logs = [f for f in of_type(args, *FLOW_LOG) if refers_to(f, "vpcId", vpc)]
        kinds = [get(f.props, "trafficType") for f in logs]
        if not any(is_unknown(k) or k in ("REJECT", "ALL") for k in kinds):
            shown = ", ".join(str(k) for k in kinds) or "no FlowLog"
            report(f"{label(vpc)} records no rejected traffic in a flow log ({shown})", vpc.urn)


def _allows_service(key: PolicyResource, service: str) -> bool | None:
    doc = json_doc(get(key.props, "policy"))
    if is_unknown(doc):
        return None
    statements = as_list(doc.get("Statement")) if isinstance(doc, dict) else []
    return any(
        isinstance(s, dict)
        and s.get("Effect") == "Allow"
        and service
        in as_list((s.get("Principal") or {}).get("Service") if isinstance(s.get("Principal"), dict) else None)
        for s in statements
    )


def _topic_encrypted(args: StackValidationArgs, report: Report) -> None:
    for topic in of_type(args, *TOPIC):
        key_id = get(topic.props, "kmsMasterKeyId")
        if is_unknown(key_id):
            continue
        if not key_id or key_id == AWS_MANAGED_SNS_KEY:
            shown = "the AWS managed key, which CloudWatch alarms cannot use" if key_id else "no key"
            report(f"{label(topic)} is not encrypted with a customer managed KMS key ({shown})", topic.urn)
            continue
        alarmed = any(refers_to(a, "alarmActions", topic, get(topic.props, "arn")) for a in of_type(args, *ALARM))
        for key in (k for k in of_type(args, *KMS_KEY) if refers_to(topic, "kmsMasterKeyId", k)):
            if alarmed and _allows_service(key, CLOUDWATCH) is False:
                report(
                    f"{label(topic)}: alarms publish to it but its key {key.name!r} does not let {CLOUDWATCH} use it",
                    topic.urn,
                )


def _log_group_encrypted(args: ResourceValidationArgs, report: Report) -> None:
    key = get(args.props, "kmsKeyId")
    if not is_unknown(key) and not key:
        report(f"{label(args)} is not encrypted with a KMS key (kmsKeyId): container logs can hold personal data")


DATA: dict[str, Any] = {"dataBuckets": DATA_BUCKETS_SCHEMA}

RULES = [
    Rule(
        name="s3-data-access-logging",
        description="The uploads and backups buckets write S3 server access logs, each under a prefix of its own.",
        why="Who read or deleted a client's document or a backup must be answerable; access logs cost only their storage, "
        "where CloudTrail data events cost $0.10 per 100,000 requests.",
        severity=Severity.MEDIUM,
        check=_access_logging,
        kind="stack",
        references=("AWS-FSBP S3.9", "checkov CKV_AWS_18"),
        config=DATA,
    ),
    Rule(
        name="vpc-flow-logs",
        description="Every VPC has a flow log that records rejected traffic (REJECT or ALL).",
        why="Connections turned away from the host and the ALB are the first sign of a scan or an attack.",
        severity=Severity.MEDIUM,
        check=_flow_logs,
        kind="stack",
        references=("AWS-FSBP EC2.6", "checkov CKV2_AWS_11"),
    ),
    Rule(
        name="sns-topic-encrypted",
        description="Every SNS topic is encrypted with a customer managed KMS key, whose policy lets CloudWatch use it when alarms publish to the topic.",
        why="Alerts name hosts, buckets and errors; the AWS managed SNS key would refuse CloudWatch alarms, so alerts would be lost.",
        severity=Severity.MEDIUM,
        check=_topic_encrypted,
        kind="stack",
        references=("AWS-FSBP SNS.1", "checkov CKV_AWS_26"),
    ),
    Rule(
        name="logs-encrypted",
        description="Every CloudWatch log group is encrypted with a KMS key.",
        why="Directus, PostgreSQL and the frontend log e-mail addresses, record ids and statements with values; "
        "flow and WAF logs hold client addresses.",
        severity=Severity.MEDIUM,
        check=_log_group_encrypted,
        resource_types=LOG_GROUP,
        references=("checkov CKV_AWS_158",),
    ),
]
