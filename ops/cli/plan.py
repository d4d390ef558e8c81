"""Offline plan: run a stack's real program on the simulated engine and show what it would create.

Prints the resource tree with each resource's key settings and options, and the
stack outputs, then every policy of the pack (policies/) evaluated on them with the
stack's policy config, violations grouped by severity. Provider outputs are
simulated: no cloud is contacted. Exit 0 on success, 2 on invalid settings or
policy config (every problem listed), 1 on a program error or any mandatory
policy violation.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from ops.cli.cost import render_text as render_cost
from ops.cost import estimate as cost
from ops.sim import engine, policy
from policies.rules.pricing.book import PriceDataError
from policies.rules.pricing.estimate import check_budget

SIMULATED_NOTICE = "provider outputs are simulated: no cloud was contacted, ids, ARNs and addresses are stand-ins"

# The inputs worth a glance in the tree, per resource type; everything else is in --json.
KEY_SETTINGS: dict[str, tuple[str, ...]] = {
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone"),
    "aws:ec2/instance:Instance": ("instanceType", "ami", "monitoring", "disableApiTermination"),
    "aws:ebs/volume:Volume": ("size", "type", "encrypted", "availabilityZone"),
    "aws:s3/bucket:Bucket": ("bucket", "forceDestroy"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "ipProtocol",
        "fromPort",
        "toPort",
        "cidrIpv4",
        "referencedSecurityGroupId",
        "description",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "ipProtocol",
        "fromPort",
        "toPort",
        "cidrIpv4",
        "description",
    ),
    "aws:lb/loadBalancer:LoadBalancer": ("loadBalancerType", "enableDeletionProtection", "dropInvalidHeaderFields"),
    "aws:lb/listener:Listener": ("port", "protocol", "sslPolicy"),
    "aws:lb/targetGroup:TargetGroup": ("port", "protocol"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("metricName", "threshold", "evaluationPeriods"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:lb/listenerRule:ListenerRule": ("priority", "conditions"),
    "aws:acm/certificate:Certificate": ("domainName", "subjectAlternativeNames", "validationMethod"),
    "aws:route53/healthCheck:HealthCheck": ("type", "fqdn", "resourcePath"),
    "aws:dlm/lifecyclePolicy:LifecyclePolicy": ("state", "policyDetails"),
    "aws:s3/bucketVersioning:BucketVersioning": ("versioningConfiguration",),
    "aws:sns/topicSubscription:TopicSubscription": ("protocol", "endpoint"),
    "docker:index/container:Container": (
        "image",
        "networksAdvanced",
        "networkMode",
        "hosts",
        "healthcheck",
        "labels",
        "ports",
        "memory",
        "restart",
        "destroyGraceSeconds",
    ),
    "docker:index/remoteImage:RemoteImage": ("name", "platform"),
    "docker:index/network:Network": ("name", "internal"),
    "aws:ecr/repository:Repository": ("name", "imageTagMutability", "imageScanningConfiguration"),
    "aws:ecs/cluster:Cluster": ("settings",),
    "aws:ecs/service:Service": ("launchType", "desiredCount"),
    "aws:ecs/taskDefinition:TaskDefinition": ("cpu", "memory"),
    "aws:appautoscaling/target:Target": ("minCapacity", "maxCapacity"),
    "aws:rds/instance:Instance": (
        "instanceClass",
        "engineVersion",
        "multiAz",
        "storageEncrypted",
        "backupRetentionPeriod",
        "deletionProtection",
    ),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "nodeType",
        "numCacheClusters",
        "atRestEncryptionEnabled",
        "transitEncryptionEnabled",
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="stack name; needs a Pulumi.<stack>.yaml file")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def build_plan(
    run: engine.Run, findings: list[policy.Finding] | None = None, estimate: cost.Estimate | None = None
) -> dict[str, Any]:
    """The plan as data: the contract `--json` prints and CI reads."""
    return {
        "stack": run.stack,
        "simulated": True,
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "inputs": engine.redact(r.inputs),
                "options": r.options,
            }
            for r in run.resources
        ],
        "outputs": engine.redact(run.outputs),
        "policy": [f.to_json() for f in findings or []],
        "cost": estimate.plan_json() if estimate else None,
    }


def render_text(run: engine.Run, out: TextIO, estimate: cost.Estimate | None = None, budget: float = 0.0) -> None:
    out.write(f"Plan of stack {run.stack!r}: {SIMULATED_NOTICE}.\n\n")
    children: dict[str | None, list[engine.Resource]] = {}
    for r in run.resources:
        children.setdefault(r.parent if r.parent and _known(run, r.parent) else None, []).append(r)

    def walk(parent: str | None, depth: int) -> None:
        for r in children.get(parent, []):
            out.write(f"{'  ' * depth}+ {r.type}  {r.name}{_flags(r)}\n")
            for key in KEY_SETTINGS.get(r.type, ()):
                if key in r.inputs:
                    value = json.dumps(engine.redact(r.inputs[key]), sort_keys=True)
                    out.write(f"{'  ' * depth}    {key}: {value}\n")
            walk(r.urn, depth + 1)

    walk(None, 0)
    out.write(f"\n{len(run.resources)} resources ({sum(r.custom for r in run.resources)} cloud resources).\n")
    out.write("\nOutputs:\n")
    for key, value in sorted(run.outputs.items()):
        out.write(f"  {key}: {json.dumps(engine.redact(value), sort_keys=True)}\n")
    if not run.outputs:
        out.write("  (none)\n")
    if estimate:
        out.write("\n")
        render_cost(estimate, check_budget(estimate, budget), out)


def _known(run: engine.Run, urn: str) -> bool:
    return any(r.urn == urn for r in run.resources)


def _flags(r: engine.Resource) -> str:
    flags = [name for name in ("protect", "retain_on_delete", "delete_before_replace") if getattr(r, name)]
    return f"  [{', '.join(flags)}]" if flags else ""


def main(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        run = engine.run(args.stack)
        estimate = cost.estimate(run)
    except Exception as exc:  # noqa: BLE001 every failure is reported with its exit code
        return engine.report_failure(exc, args.stack, err, bad_input=(PriceDataError,))
    try:
        findings = policy.evaluate(run)
    except policy.PolicyConfigError as exc:
        err.write(f"error: {exc}\n")
        return 2
    if args.json:
        json.dump(build_plan(run, findings, estimate), out, indent=2, sort_keys=False)
        out.write("\n")
    else:
        render_text(run, out, estimate, cost.settings_of(run).monthly_budget_usd)
        policy.render_text(findings, run.stack, out)
    blocking = policy.mandatory(findings)
    if blocking:
        err.write(
            f"error: {len(blocking)} mandatory policy violation(s): {', '.join(sorted({f.policy for f in blocking}))}\n"
        )
        return 1
    return 0
