"""IAM shared by the components: the policy document wrapper, trust policies, service roles."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws


def host_role_name(prefix: str) -> str:
    """The host's IAM role name (AppHost makes it; the data buckets' policies deny it destruction)."""
    return f"{prefix}-host"


def policy_document(statements: Sequence[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role_policy(service: str) -> str:
    """A trust policy that lets one AWS service principal (e.g. ec2.amazonaws.com) assume the role."""
    return policy_document([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])


def service_role(
    resource_name: str, *, name: str, service: str, description: str, tags: Mapping[str, str], parent: pulumi.Resource
) -> aws.iam.Role:
    """A role only the AWS service `service` may assume; its permissions are attached by the caller."""
    return aws.iam.Role(
        resource_name,
        name=name,
        description=description,
        assume_role_policy=assume_role_policy(service),
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
