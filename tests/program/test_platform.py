"""The platform as a whole: the stack outputs contract, tags, staging vs prod, and the offline plan."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.config_sections import INSTANCE_TYPES
from ops.sim import engine
from tests.conftest import simulate

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = {
    "albDnsName", "albZoneId", "appUrl", "cmsUrl", "hostInstanceId", "hostPublicIp",
    "uploadsBucket", "backupsBucket", "alertTopicArn", "imageRepositories",
}  # fmt: skip
REQUIRED_TAGS = ("project", "stack", "owner", "managed-by", "component")


LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def _taggable(type_token: str) -> bool:
    """Whether the provider's resource class takes `tags` (from the SDK itself, not a list kept here)."""
    package, module_path, _ = type_token.split(":")
    module, cls = module_path.split("/")[0], type_token.rsplit(":", 1)[1]
    if package != "aws":
        return False
    sdk = importlib.import_module("pulumi_aws" if module == "index" else f"pulumi_aws.{module}")
    return "tags" in inspect.signature(getattr(sdk, cls)._internal_init).parameters


def test_prod_exports_exactly_the_documented_outputs(prod: engine.Run) -> None:
    assert set(prod.outputs) == OUTPUTS


def test_staging_exports_no_alb_outputs_and_in_prods_design_the_validation_records(
    staging: engine.Run, staging_alb: engine.Run
) -> None:
    assert set(staging.outputs) == OUTPUTS - {"albDnsName", "albZoneId"}  # edge: host
    assert set(staging_alb.outputs) == OUTPUTS | {"certificateValidationRecords"}  # an ALB, no zone


def test_outputs_resolve_to_the_resources_they_name(stack_run: engine.Run) -> None:
    out = stack_run.outputs
    for alb in stack_run.of_type("aws:lb/loadBalancer:LoadBalancer"):  # none with edge: host
        assert (out["albDnsName"], out["albZoneId"]) == (alb.outputs["dnsName"], alb.outputs["zoneId"])
    assert out["hostPublicIp"] == stack_run.one("aws:ec2/eip:Eip", "host").outputs["publicIp"]
    assert out["hostInstanceId"] == stack_run.one("aws:ec2/instance:Instance", "host").id
    assert out["uploadsBucket"] == stack_run.one("aws:s3/bucket:Bucket", "uploads").outputs["bucket"]
    assert out["backupsBucket"] == stack_run.one("aws:s3/bucket:Bucket", "backups").outputs["bucket"]
    assert (out["appUrl"], out["cmsUrl"]) == (
        f"https://{stack_run.config['quintas-crm-infra:appHost']}",
        f"https://{stack_run.config['quintas-crm-infra:cmsHost']}",
    )


def test_outputs_hold_no_secret(stack_run: engine.Run) -> None:
    assert engine.redact(stack_run.outputs) == stack_run.outputs


def test_every_taggable_resource_carries_the_stack_tags_and_its_component(stack_run: engine.Run) -> None:
    untagged = [
        r.name
        for r in stack_run.resources
        if r.custom and _taggable(r.type) and not all(r.inputs.get("tags", {}).get(t) for t in REQUIRED_TAGS)
    ]
    assert untagged == []
    tagged = [r for r in stack_run.resources if r.custom and _taggable(r.type)]
    edge = {"aws:lb/loadBalancer:LoadBalancer"} if stack_run.of_type("aws:lb/loadBalancer:LoadBalancer") else set()
    assert {"aws:ec2/instance:Instance", "aws:ebs/volume:Volume", "aws:s3/bucket:Bucket", *edge} <= {
        r.type for r in tagged
    }
    assert {r.inputs["tags"]["stack"] for r in tagged} == {stack_run.stack}


def test_component_tag_names_the_component_that_made_the_resource(prod: engine.Run) -> None:
    components = {r.urn: r for r in prod.resources if not r.custom}
    expected = {
        "quintas:network:Network": "network",
        "quintas:security:SecurityGroups": "security",
        "quintas:buckets:Buckets": "buckets",
        "quintas:volume:DataVolume": "volume",
        "quintas:host:AppHost": "host",
        "quintas:load_balancer:LoadBalancer": "load-balancer",
        "quintas:monitoring:Monitoring": "monitoring",
        "quintas:registry:ImageRepositories": "registry",
        "quintas:keys:Keys": "keys",
        "quintas:waf:Firewall": "waf",
    }
    for r in prod.resources:
        if r.custom and r.parent in components and "tags" in r.inputs:
            assert r.inputs["tags"]["component"] == expected[components[r.parent].type], r.name


def _shape(run: engine.Run) -> set[tuple[str, str]]:
    # One subscription per alert address: how many is data, not structure.
    return {(r.type, re.sub(r"-email-\d+$", "-email-N", r.name)) for r in run.resources}


def _prod_only_protections(prod: engine.Run) -> set[tuple[str, str]]:
    """What prod adds over staging's settings: replication of its data to another region (staging opts
    out) and the WAF (off in staging)."""
    replicated = {("pulumi:providers:aws", "replica"), ("aws:iam/role:Role", "replication")}
    replicated |= {("aws:iam/rolePolicy:RolePolicy", "replication")}
    replicated |= {("aws:s3/bucketReplicationConfig:BucketReplicationConfig", p) for p in ("backups", "uploads")}
    replicated |= {(t, name) for t, name in _shape(prod) if name.endswith("-replica")}
    waf = {
        (t, n) for t, n in _shape(prod) if t.startswith(("aws:wafv2/", "quintas:waf:")) or (t, n) == (LOG_GROUP, "waf")
    }
    assert len(waf) == 5 and len([r for r in replicated if r[0] == "aws:s3/bucket:Bucket"]) == 2
    return replicated | waf


def test_staging_in_prods_design_is_structurally_the_same_as_prod(staging_alb: engine.Run, prod: engine.Run) -> None:
    # The only other difference: prod has a Route53 zone, so its certificate is validated there.
    assert _shape(prod) - _shape(staging_alb) - _prod_only_protections(prod) == {
        ("aws:route53/record:Record", "cert-validation-0"),
        ("aws:route53/record:Record", "cert-validation-1"),
        ("aws:route53/record:Record", "cert-validation-2"),
    }
    assert _shape(staging_alb) - _shape(prod) == set()


def test_staging_differs_from_prod_only_at_its_edge_and_in_its_running_hours(
    staging: engine.Run, prod: engine.Run
) -> None:
    """The workload, its data path and the platform under it are prod's; the ALB and the always-on host are not."""
    only_prod = {
        (t.split(":")[1].split("/")[0], n) for t, n in _shape(prod) - _shape(staging) - _prod_only_protections(prod)
    }
    assert {m for m, _ in only_prod} == {"lb", "acm", "load_balancer", "route53", "ec2", "vpc", "cloudwatch"}
    assert {n for m, n in only_prod if m in ("ec2", "vpc", "cloudwatch", "route53")} == {
        "alb",
        "alb-in-80",
        "alb-in-443",
        "alb-out-3000",
        "alb-out-8055",
        "host-in-3000",
        "host-in-8055",
        "app-unhealthy",
        "cms-unhealthy",
        "alb-5xx-rate",
        "cert-validation-0",
        "cert-validation-1",
        "cert-validation-2",
    }
    assert _shape(staging) - _shape(prod) == {
        ("quintas:edge:HostEdge", "edge"),
        ("aws:iam/rolePolicy:RolePolicy", "acme-dns"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "host-in-80"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "host-in-443"),
        ("docker:index/volume:Volume", "traefik-acme"),
        ("quintas:schedule:HostSchedule", "schedule"),
        ("aws:iam/role:Role", "scheduler"),
        ("aws:iam/rolePolicy:RolePolicy", "scheduler"),
        *(("aws:scheduler/schedule:Schedule", n) for n in ("host-stop", "host-start", "checks-pause", "checks-resume")),
    }


def test_staging_is_cheaper_than_prod(staging: engine.Run, prod: engine.Run) -> None:
    def setting(run: engine.Run, key: str) -> Any:
        return json.loads(run.config[f"quintas-crm-infra:{key}"])

    def instance(run: engine.Run) -> tuple[int, float]:
        shape = INSTANCE_TYPES[run.one("aws:ec2/instance:Instance", "host").inputs["instanceType"]]
        return shape.vcpus, shape.memory_gib

    assert instance(staging) <= instance(prod) and instance(staging) != instance(prod)
    volume = [run.one("aws:ebs/volume:Volume", "data").inputs["size"] for run in (staging, prod)]
    assert volume[0] < volume[1]
    for key in ("snapshotRetentionDays", "logRetentionDays", "accessLogExpirationDays", "recoveryWindowDays"):
        assert setting(staging, key) < setting(prod, key), key
    retention = [
        {g.inputs["retentionInDays"] for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
        for run in (staging, prod)
    ]
    assert max(retention[0]) < min(retention[1])


def test_components_expose_what_the_container_stack_needs() -> None:
    seen: dict[str, Any] = {}

    def program() -> None:
        names = runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        seen.update(names)
        host, alb, buckets = names["host"], names["alb"], names["buckets"]
        pulumi.export("x-role", host.role_arn)
        pulumi.export("x-zone", host.availability_zone)
        pulumi.export("x-groups", alb.target_group_arns)
        pulumi.export("x-alb-sg", alb.security_group_id)
        pulumi.export("x-logs", buckets.logs.name)
        pulumi.export("x-uploads-arn", buckets.uploads.arn)

    run = simulate("staging", program, edge="alb", schedule="always")
    assert seen["host"].ssh_user == "ubuntu"
    assert seen["monitoring"].log_group_names["postgres"] == "/quintas-crm/staging/postgres"
    assert {r._name for r in seen["monitoring"].ready} == {*seen["monitoring"].log_group_names, "host-telemetry"}
    assert run.outputs["x-role"] == run.one("aws:iam/role:Role", "host").outputs["arn"]
    assert run.outputs["x-zone"] == "us-east-1a"
    assert run.outputs["x-groups"] == {k: run.one("aws:lb/targetGroup:TargetGroup", k).id for k in ("app", "cms")}
    assert run.outputs["x-alb-sg"] == run.one("aws:ec2/securityGroup:SecurityGroup", "alb").id
    assert run.outputs["x-logs"] == run.one("aws:s3/bucket:Bucket", "logs").outputs["bucket"]
    assert run.outputs["x-uploads-arn"] == run.one("aws:s3/bucket:Bucket", "uploads").outputs["arn"]


@pytest.fixture(scope="module")
def prod_plan_text() -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ops", "plan", "--stack", "prod"], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    "line",
    [
        "+ quintas:network:Network  network",
        "+ quintas:security:SecurityGroups  security",
        "+ quintas:buckets:Buckets  buckets",
        "+ quintas:volume:DataVolume  data",
        "+ quintas:host:AppHost  host",
        "+ quintas:load_balancer:LoadBalancer  alb",
        "+ quintas:monitoring:Monitoring  monitoring",
        "+ aws:ec2/instance:Instance  host",
        "+ aws:ebs/volume:Volume  data  [protect, retain_on_delete]",
        "+ aws:s3/bucket:Bucket  backups  [protect, retain_on_delete]",
        "+ aws:s3/bucket:Bucket  uploads  [protect, retain_on_delete]",
        "+ aws:dlm/lifecyclePolicy:LifecyclePolicy  daily",
        "+ aws:lb/listener:Listener  https",
        'sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06"',
        "+ aws:route53/healthCheck:HealthCheck  app",
        "+ aws:cloudwatch/metricAlarm:MetricAlarm  host-system-check",
        'name: "/quintas-crm/prod/postgres"',
        "albDnsName:",
        "alertTopicArn:",
    ],
)
@pytest.mark.slow  # drives a real tool or process
def test_offline_plan_of_prod_lists_the_platform(prod_plan_text: str, line: str) -> None:
    assert line in prod_plan_text


def test_prod_protects_and_retains_exactly_the_data_resources(prod: engine.Run) -> None:
    kept = sorted((r.type, r.name) for r in prod.resources if r.protect or r.retain_on_delete)
    assert kept == [
        ("aws:ebs/volume:Volume", "data"),
        ("aws:s3/bucket:Bucket", "backups"),
        ("aws:s3/bucket:Bucket", "backups-replica"),
        ("aws:s3/bucket:Bucket", "uploads"),
        ("aws:s3/bucket:Bucket", "uploads-replica"),
    ]
    assert all(r.protect and r.retain_on_delete for r in prod.resources if (r.type, r.name) in kept)
