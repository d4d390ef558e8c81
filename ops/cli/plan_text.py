"""The text form of `ops plan`: a summary first, then the resource tree, outputs, cost and policies.

The summary (its first lines) says what a reviewer looks for before anything else:
how many resources each component creates and how many of them are protected or
retained on delete, the monthly cost against the budget, and the policy result
with the written reason of every violation that only advises. The tree below it
shows each resource with its key settings. Whole numbers print as integers (the
Pulumi wire format carries every number as a float). Unless `full` is set, no line
is longer than WIDTH: a long value (labels, JSON documents, user data) folds to its
start and its size with a hint for `--full` or `--json`, and long prose wraps.
"""

from __future__ import annotations

import io
import json
import textwrap
from typing import Any, TextIO

from ops.cli.cost import render_text as render_cost
from ops.sim import engine, policy
from policies.rules.pricing.estimate import BudgetCheck, Estimate

WIDTH = 160
# Cost lines under this many USD a month share one line per service in the text (the JSON has each).
SMALL_COST_USD = 0.50
FULL_HINT = "--full or --json shows it whole"
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


def whole_numbers(value: Any) -> Any:
    """`value` with every float that is a whole number as an int (`80.0` prints as `80`)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [whole_numbers(v) for v in value]
    return value


def value_line(indent: str, key: str, value: Any, full: bool) -> str:
    """`key: value` as JSON; a line over WIDTH folds to the value's start, its size and a hint."""
    text = json.dumps(whole_numbers(engine.redact(value)), sort_keys=True)
    line = f"{indent}{key}: {text}"
    if full or len(line) <= WIDTH:
        return line
    if isinstance(value, (list, tuple)):
        size = f"{len(value)} items"
    elif isinstance(value, dict):
        size = f"{len(value)} keys"
    else:
        size = f"{len(text):,} characters"
    tail = f"... ({size}; {FULL_HINT})"
    return line[: WIDTH - len(tail)] + tail


def fit(line: str) -> list[str]:
    """A line over WIDTH wrapped at spaces, its continuation indented under its text."""
    if len(line) <= WIDTH:
        return [line]
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    return textwrap.wrap(line, WIDTH, subsequent_indent=indent, break_on_hyphens=False)


def render(
    run: engine.Run,
    out: TextIO,
    estimate: Estimate | None = None,
    check: BudgetCheck | None = None,
    findings: list[policy.Finding] | None = None,
    full: bool = False,
) -> None:
    """The whole text plan: summary, tree, outputs, cost and policies; folded unless `full`."""
    text = io.StringIO()
    text.write(f"Plan of stack {run.stack!r}: {SIMULATED_NOTICE}.\n\n")
    if findings is not None:
        render_summary(run, text, check, findings)
    render_tree(run, text, full)
    if estimate:
        text.write("\n")
        render_cost(estimate, check, text, group_below=None if full else SMALL_COST_USD)
    if findings is not None:
        policy.render_text(findings, run.stack, text)
    for line in text.getvalue().splitlines():
        out.write("\n".join([line] if full else fit(line)) + "\n")


def render_summary(run: engine.Run, out: TextIO, check: BudgetCheck | None, findings: list[policy.Finding]) -> None:
    resources = run.resources
    protected = sum(r.protect for r in resources)
    retained = sum(r.retain_on_delete for r in resources)
    clouds = sum(r.custom for r in resources)
    counts = f"{protected} protected, {retained} retained on delete"
    out.write(f"Resources: {len(resources)} to create ({clouds} cloud resources), {counts}\n")
    if check is not None:
        out.write(f"Cost: budget {'OK' if check.ok else 'FAIL'}: {check.message}\n")
    out.write(f"Policies: {policy.counts_text(findings, run.stack)}\n")
    for f in policy.advisory(findings):
        out.write(f"  [advisory] {f.policy}  {f.resource or '(stack)'}: {f.message}\n")
        out.write(f"    advisory because: {f.reason or '(no written reason)'}\n")
    rows = [("component", "created", "protected", "retained")]
    for name, members in run.components().items():
        protected_here, retained_here = sum(r.protect for r in members), sum(r.retain_on_delete for r in members)
        rows.append((name, str(len(members)), str(protected_here), str(retained_here)))
    width = max(len(row[0]) for row in rows)
    out.write("\n")
    for row in rows:
        out.write(f"  {row[0].ljust(width)}  {row[1]:>7}  {row[2]:>9}  {row[3]:>8}\n")
    out.write("\nLong values are folded and small cost lines grouped: --full shows them, --json has every input.\n\n")


def render_tree(run: engine.Run, out: TextIO, full: bool = False) -> None:
    """Each resource under its parent with its key settings, then the count and the stack outputs."""
    known = {r.urn for r in run.resources}
    children: dict[str | None, list[engine.Resource]] = {}
    for r in run.resources:
        children.setdefault(r.parent if r.parent in known else None, []).append(r)

    def walk(parent: str | None, depth: int) -> None:
        for r in children.get(parent, []):
            out.write(f"{'  ' * depth}+ {r.type}  {r.name}{_flags(r)}\n")
            for key in KEY_SETTINGS.get(r.type, ()):
                if key in r.inputs:
                    out.write(value_line(f"{'  ' * depth}    ", key, r.inputs[key], full) + "\n")
            walk(r.urn, depth + 1)

    walk(None, 0)
    out.write(f"\n{len(run.resources)} resources ({sum(r.custom for r in run.resources)} cloud resources).\n")
    out.write("\nOutputs:\n")
    for key, value in sorted(run.outputs.items()):
        out.write(value_line("  ", key, value, full) + "\n")
    if not run.outputs:
        out.write("  (none)\n")


def _flags(r: engine.Resource) -> str:
    flags = [name for name in ("protect", "retain_on_delete", "delete_before_replace") if getattr(r, name)]
    return f"  [{', '.join(flags)}]" if flags else ""
