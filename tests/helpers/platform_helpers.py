"""Reading the platform out of a simulated run: policy documents, statements, one resource by role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ops.sim import engine

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INSTANCE = "aws:ec2/instance:Instance"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def doc(value: Any) -> dict[str, Any]:
    """A policy document input (JSON text) as data."""
    return json.loads(engine.reveal(value))


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def iam_documents(run: engine.Run) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM policy document the run creates: inline role policies and trust policies."""
    for r in run.of_type(ROLE_POLICY):
        yield f"{r.name} (role policy)", doc(r.inputs["policy"])
    for r in run.of_type(ROLE):
        yield f"{r.name} (trust policy)", doc(r.inputs["assumeRolePolicy"])


def statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    for s in statements(document):
        if s.get("Sid") == sid:
            return s
    raise LookupError(f"no statement {sid!r} in {[s.get('Sid') for s in statements(document)]}")


def bucket_child(run: engine.Run, type_token: str, bucket_name: str) -> engine.Resource:
    """The settings resource of `type_token` that belongs to the bucket with that physical name."""
    found = [r for r in run.of_type(type_token) if r.inputs.get("bucket") == bucket_name]
    if len(found) != 1:
        raise LookupError(f"expected one {type_token} for {bucket_name}, found {len(found)}")
    return found[0]


def bucket_name(run: engine.Run, name: str) -> str:
    return run.one(BUCKET, name).outputs["bucket"]
