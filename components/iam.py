"""IAM policy documents shared by the components: trust policies and the document wrapper."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def policy_document(statements: Sequence[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role_policy(service: str) -> str:
    """A trust policy that lets one AWS service principal (e.g. ec2.amazonaws.com) assume the role."""
    return policy_document([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])
