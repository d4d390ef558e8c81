"""The real pack, served: policies/__main__.py started as the Pulumi CLI starts it (a gRPC
analyzer on 127.0.0.1), fed the resources of a real-program run over the analyzer protocol,
must report exactly what the offline evaluation of `ops plan` reports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pulumi
import pulumi_aws as aws
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as pb
from pulumi.runtime.proto import analyzer_pb2_grpc

from ops.sim import engine, policy
from policies.rules import RULES

PACK = Path(__file__).resolve().parents[2] / "policies"
LEVELS = {"advisory": pb.ADVISORY, "mandatory": pb.MANDATORY}


@pytest.fixture(scope="module")
def analyzer() -> Iterator[Any]:
    server = subprocess.Popen([sys.executable, "-u", "__main__.py"], cwd=PACK, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().strip())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def _configure(stub: Any, stack: str) -> None:
    """As the CLI does with --policy-pack-config: every policy's level and its properties."""
    config = policy.load_config(stack)
    request = pb.ConfigureAnalyzerRequest()
    for rule in RULES:
        entry = config.get(rule.name) or {}
        settings = {k: v for k, v in entry.items() if k not in policy.SETTING_KEYS_OF_THE_ENGINE}
        level = LEVELS[entry.get("enforcementLevel", rule.level.value)]
        request.policyConfig[rule.name].CopyFrom(
            pb.PolicyConfig(enforcementLevel=level, properties=_struct({**rule.defaults(), **settings}))
        )
    stub.Configure(request)


def _resource(r: engine.Resource) -> pb.AnalyzerResource:
    message = pb.AnalyzerResource(
        type=r.type, properties=_struct(engine.reveal(r.inputs)), urn=r.urn, name=r.name,
        options=pb.AnalyzerResourceOptions(protect=r.protect), parent=r.parent or "", dependencies=list(r.depends_on),
    )  # fmt: skip
    for key, urns in r.property_dependencies.items():
        message.propertyDependencies[key].CopyFrom(pb.AnalyzerPropertyDependencies(urns=list(urns)))
    return message


def _served(stub: Any, run: engine.Run) -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    response = stub.AnalyzeStack(pb.AnalyzeStackRequest(resources=[_resource(r) for r in run.resources]))
    found |= {(d.policyName, d.urn, pb.EnforcementLevel.Name(d.enforcementLevel).lower()) for d in response.diagnostics}
    for r in (r for r in run.resources if r.custom):
        request = pb.AnalyzeRequest(type=r.type, properties=_struct(engine.reveal(r.inputs)), urn=r.urn, name=r.name,
                                    options=pb.AnalyzerResourceOptions(protect=r.protect))  # fmt: skip
        response = stub.Analyze(request)
        found |= {
            (d.policyName, r.urn, pb.EnforcementLevel.Name(d.enforcementLevel).lower()) for d in response.diagnostics
        }
    return found


def _offline(run: engine.Run) -> set[tuple[str, str, str]]:
    return {(f.policy, f.urn or "", f.level) for f in policy.evaluate(run) if f.level != policy.NOT_APPLICABLE}


def test_served_pack_describes_every_rule(analyzer: Any) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "quintas-crm"
    assert [p.name for p in info.policies] == [r.name for r in RULES]
    assert {p.name for p in info.policies if p.enforcementLevel == pb.ADVISORY} == {
        "ec2-no-public-ipv4",
        "ecs-no-public-ip",
    }


def _weakened() -> None:
    group = aws.ec2.SecurityGroup("debug", description="Temporary debugging access")
    aws.vpc.SecurityGroupIngressRule("debug-postgres", security_group_id=group.id, cidr_ipv4="0.0.0.0/0",
                                     ip_protocol="tcp", from_port=5432, to_port=5432, description="debugging")  # fmt: skip
    aws.s3.Bucket("scratch", force_destroy=True, tags={"project": "quintas-crm-infra"})
    pulumi.export("weakened", True)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_served_pack_reports_what_ops_plan_reports(analyzer: Any, stack: str) -> None:
    main = engine.main_program(engine.ROOT)

    def program() -> None:
        main()
        _weakened()

    run = engine.run(stack, program)
    _configure(analyzer, stack)
    served, offline = _served(analyzer, run), _offline(run)
    assert served == offline
    scratch = next(r.urn for r in run.resources if r.name == "scratch")
    expected = {("sg-no-world-ingress-on-sensitive-ports", "mandatory"), ("s3-public-access-block", "mandatory"), ("tags-required", "mandatory")}  # fmt: skip
    assert expected <= {(p, level) for p, urn, level in served if urn in (scratch, _urn(run, "debug-postgres"))}


def _urn(run: engine.Run, name: str) -> str:
    return next(r.urn for r in run.resources if r.name == name)
