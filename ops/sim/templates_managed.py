"""Realistic provider outputs for the managed services of the `ecs` topology: ECS, Application
Auto Scaling, SSM parameters, RDS and ElastiCache; `TEMPLATES` is every type the simulated
cloud answers (these and ops/sim/templates.py's RESOURCES).
"""

from __future__ import annotations

from typing import Any

from ops.sim.templates import RESOURCES, Ctx, Template


def _cluster(c: Ctx) -> dict[str, Any]:
    name = c.physical_name(max_len=255)
    arn = c.arn("ecs", f"cluster/{name}")
    return {"id": arn, "arn": arn, "name": name}


def _task_definition(c: Ctx) -> dict[str, Any]:
    family = str(c.inputs.get("family") or c.name)
    arn = c.arn("ecs", f"task-definition/{family}:1")
    return {"id": family, "arn": arn, "arnWithoutRevision": c.arn("ecs", f"task-definition/{family}"), "revision": 1}


def _service(c: Ctx) -> dict[str, Any]:
    name = c.physical_name(max_len=255)
    cluster = str(c.inputs.get("cluster") or "").rsplit("/", 1)[-1]
    arn = c.arn("ecs", f"service/{cluster}/{name}")
    return {"id": arn, "name": name, "iamRole": "aws-service-role"}


def _scaling_target(c: Ctx) -> dict[str, Any]:
    resource_id = str(c.inputs.get("resourceId") or c.name)
    arn = c.arn("application-autoscaling", f"scalable-target/{c.hex(34)}")
    role = "ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"
    return {"id": resource_id, "arn": arn, "roleArn": c.arn("iam", f"role/aws-service-role/{role}", regional=False)}


def _scaling_policy(c: Ctx) -> dict[str, Any]:
    name = c.physical_name(max_len=255)
    resource_id = str(c.inputs.get("resourceId") or "")
    uuid = f"{c.hex(8)}-{c.hex(4, 'a')}-{c.hex(4, 'b')}-{c.hex(4, 'c')}-{c.hex(12, 'd')}"
    arn = c.arn("autoscaling", f"scalingPolicy:{uuid}:resource/ecs/{resource_id}:policyName/{name}")
    alarm = c.arn("cloudwatch", f"alarm:TargetTracking-{resource_id}-AlarmHigh-{c.hex(8)}")
    return {"id": name, "arn": arn, "alarmArns": [alarm]}


def _parameter(c: Ctx) -> dict[str, Any]:
    name = c.physical_name(max_len=2048)
    return {"id": name, "arn": c.arn("ssm", f"parameter{name if name.startswith('/') else '/' + name}"), "version": 1}


def _rds_instance(c: Ctx) -> dict[str, Any]:
    identifier = c.physical_name("identifier")
    address = f"{identifier}.c{c.hex(11)}.{c.region}.rds.amazonaws.com"
    port = int(c.inputs.get("port") or 5432)
    return {
        "id": f"db-{c.hex(26).upper()}",
        "identifier": identifier,
        "arn": c.arn("rds", f"db:{identifier}"),
        "address": address,
        "endpoint": f"{address}:{port}",
        "hostedZoneId": "Z2R2ITUGPM61AM",
        "resourceId": f"db-{c.hex(26).upper()}",
        "status": "available",
        "availabilityZone": f"{c.region}a",
        "caCertIdentifier": "rds-ca-rsa2048-g1",
        "engineVersionActual": "16.6",
        "latestRestorableTime": "2026-11-28T13:55:00Z",
    }


def _rds_named(kind: str) -> Template:
    def template(c: Ctx) -> dict[str, Any]:
        name = c.physical_name(max_len=255)
        return {"id": name, "name": name, "arn": c.arn("rds", f"{kind}:{name}")}

    return template


def _cache_named(kind: str) -> Template:
    def template(c: Ctx) -> dict[str, Any]:
        name = c.physical_name(max_len=255)
        return {"id": name, "name": name, "arn": c.arn("elasticache", f"{kind}:{name}")}

    return template


def _replication_group(c: Ctx) -> dict[str, Any]:
    group = c.physical_name("replicationGroupId", max_len=40)
    nodes = int(c.inputs.get("numCacheClusters") or 1)
    host = f"master.{group}.{c.hex(6)}.use1.cache.amazonaws.com"
    return {
        "id": group,
        "replicationGroupId": group,
        "arn": c.arn("elasticache", f"replicationgroup:{group}"),
        "primaryEndpointAddress": host,
        "readerEndpointAddress": host.replace("master.", "replica.", 1),
        "memberClusters": [f"{group}-{n:03d}" for n in range(1, nodes + 1)],
        "engineVersionActual": "7.1.0",
        "clusterEnabled": False,
    }


MANAGED: dict[str, Template] = {
    "aws:ecs/cluster:Cluster": _cluster,
    "aws:ecs/taskDefinition:TaskDefinition": _task_definition,
    "aws:ecs/service:Service": _service,
    "aws:appautoscaling/target:Target": _scaling_target,
    "aws:appautoscaling/policy:Policy": _scaling_policy,
    "aws:ssm/parameter:Parameter": _parameter,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:rds/subnetGroup:SubnetGroup": _rds_named("subgrp"),
    "aws:rds/parameterGroup:ParameterGroup": _rds_named("pg"),
    "aws:elasticache/subnetGroup:SubnetGroup": _cache_named("subnetgroup"),
    "aws:elasticache/parameterGroup:ParameterGroup": _cache_named("parametergroup"),
    "aws:elasticache/replicationGroup:ReplicationGroup": _replication_group,
}

TEMPLATES: dict[str, Template] = {**RESOURCES, **MANAGED}
