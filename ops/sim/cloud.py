"""SimulatedCloud: realistic provider outputs for every resource type and invoke the program uses.

The resource outputs come from the templates of ops/sim/templates.py and templates_managed.py;
the invokes (AMI look-up, account, region, zones...) are answered here (INVOKES).
A type or invoke missing from the tables fails the run loudly and names it: a
new resource never silently gets empty outputs.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

import pulumi

from ops.sim.model import SECRET_SIG, SECRET_SIG_KEY, EngineError
from ops.sim.templates import ACCOUNT_ID, Ctx
from ops.sim.templates_managed import TEMPLATES

ELB_ACCOUNTS = {"us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-2": "797873946194"}
UBUNTU_OWNER = "099720109477"


def _ami(args: dict[str, Any], region: str) -> dict[str, Any]:
    arm = any("arm64" in str(v) for f in args.get("filters") or [] for v in f.get("values", []))
    arch = "arm64" if arm else "x86_64"
    image_id = "ami-0" + hashlib.sha256(f"{region}/{arch}".encode()).hexdigest()[:16]
    return {
        "id": image_id,
        "imageId": image_id,
        "architecture": arch,
        "name": f"ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-{'arm64' if arm else 'amd64'}-server-20261015",
        "ownerId": UBUNTU_OWNER,
        "rootDeviceName": "/dev/sda1",
        "rootDeviceType": "ebs",
        "virtualizationType": "hvm",
        "creationDate": "2026-10-15T09:12:44.000Z",
    }


INVOKES: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    "aws:ec2/getAmi:getAmi": _ami,
    "aws:index/getAvailabilityZones:getAvailabilityZones": lambda a, r: {
        "id": r,
        "names": [f"{r}a", f"{r}b", f"{r}c"],
        "zoneIds": [f"use1-az{i}" for i in (1, 2, 4)],
    },
    "aws:index/getCallerIdentity:getCallerIdentity": lambda a, r: {
        "id": ACCOUNT_ID,
        "accountId": ACCOUNT_ID,
        "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/deploy/pulumi",
        "userId": "AROAEXAMPLE:pulumi",
    },
    "aws:index/getRegion:getRegion": lambda a, r: {
        "id": r,
        "name": r,
        "region": r,
        "endpoint": f"ec2.{r}.amazonaws.com",
    },
    "aws:index/getPartition:getPartition": lambda a, r: {"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com"},
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": lambda a, r: {
        "id": r,
        "authorizationToken": "QVdTOg" + hashlib.sha256(f"ecr/{r}".encode()).hexdigest(),
        "expiresAt": "2026-11-28T14:00:00Z",
        "password": "eyJwYXlsb2FkIjoi" + hashlib.sha256(f"ecr-password/{r}".encode()).hexdigest(),
        "proxyEndpoint": f"https://{ACCOUNT_ID}.dkr.ecr.{r}.amazonaws.com",
        "registryId": ACCOUNT_ID,
        "userName": "AWS",
    },
    "aws:elb/getServiceAccount:getServiceAccount": lambda a, r: {
        "id": ELB_ACCOUNTS.get(r, "127311923021"),
        "arn": f"arn:aws:iam::{ELB_ACCOUNTS.get(r, '127311923021')}:root",
    },
}


class SimulatedCloud(pulumi.runtime.Mocks):
    def __init__(self, stack: str, region: str) -> None:
        self.stack = stack
        self.region = region
        self.failures: list[str] = []
        # Registrations run concurrently on the SDK's worker threads: the secret
        # output names of the request being served are kept per thread.
        self._request = threading.local()

    def serve(self, secret_outputs: list[str]) -> None:
        """Name the outputs the engine must mark secret for the registration on this thread."""
        self._request.secret_outputs = secret_outputs

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if not args.custom:
            # Component resources have no provider: the SDK computes nothing for them.
            return args.name, {}
        template = TEMPLATES.get(args.typ)
        if template is None:
            message = (
                f"the simulated engine has no outputs for resource type {args.typ} ({args.name}); "
                "add a realistic template for it to RESOURCES in ops/sim/templates.py"
            )
            self.failures.append(message)
            raise EngineError(message)
        outputs = template(Ctx(self.stack, self.region, args.typ, args.name, args.inputs))
        rid = outputs.pop("id")
        state = {**args.inputs, **outputs}
        for key in getattr(self._request, "secret_outputs", ()):
            if key in state:
                state[key] = {SECRET_SIG_KEY: SECRET_SIG, "value": state[key]}
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        handler = INVOKES.get(args.token)
        if handler is None:
            message = (
                f"the simulated engine has no result for invoke {args.token}; "
                "add a realistic one to INVOKES in ops/sim/cloud.py"
            )
            self.failures.append(message)
            raise EngineError(message)
        return handler(dict(args.args), self.region), []
