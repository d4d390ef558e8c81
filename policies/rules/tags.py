"""Tag rule: project, stack and owner on every taggable AWS resource, counting the
provider's default tags the way AWS applies them."""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import ResourceValidationArgs, Severity

from .base import Report, Rule, get, is_unknown, label

# The AWS types this project creates whose SDK class takes `tags` (a test checks this
# list against the pulumi-aws SDK for every type the simulated engine knows).
TAGGABLE = (
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:ec2/instance:Instance",
    "aws:ec2/eip:Eip",
    "aws:ec2/keyPair:KeyPair",
    "aws:ebs/volume:Volume",
    "aws:dlm/lifecyclePolicy:LifecyclePolicy",
    "aws:iam/role:Role",
    "aws:iam/policy:Policy",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:s3/bucket:Bucket",
    "aws:kms/key:Key",
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/targetGroup:TargetGroup",
    "aws:lb/listener:Listener",
    "aws:lb/listenerRule:ListenerRule",
    "aws:acm/certificate:Certificate",
    "aws:route53/healthCheck:HealthCheck",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:sns/topic:Topic",
    "aws:ecr/repository:Repository",
    # The `ecs` topology's managed services.
    "aws:ecs/cluster:Cluster",
    "aws:ecs/taskDefinition:TaskDefinition",
    "aws:ecs/service:Service",
    "aws:appautoscaling/target:Target",
    "aws:ssm/parameter:Parameter",
    "aws:rds/instance:Instance",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:elasticache/parameterGroup:ParameterGroup",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:ec2/flowLog:FlowLog",
    "aws:wafv2/webAcl:WebAcl",
)


def effective_tags(args: ResourceValidationArgs) -> Mapping[str, object] | None:
    """The resource's tags merged over its provider's defaultTags; None if unknown at preview."""
    tags = get(args.props, "tags")
    defaults = get(args.provider.props, "defaultTags", "tags") if args.provider is not None else None
    if is_unknown(tags) or is_unknown(defaults):
        return None
    merged: dict[str, object] = {}
    for source in (defaults, tags):
        if isinstance(source, Mapping):
            merged.update({k: get(source, k) for k in source})
    return merged


def _required_tags(args: ResourceValidationArgs, report: Report) -> None:
    tags = effective_tags(args)
    if tags is None:
        return
    missing = [t for t in args.get_config()["requiredTags"] if not (isinstance(tags.get(t), str) and tags.get(t))]
    if missing:
        report(f"{label(args)} lacks the tag(s) {', '.join(missing)}")


RULES = [
    Rule(
        name="tags-required",
        references=(
            "project rule: the tag keys are this project's (project, stack, owner); FSBP tagging controls take any key list",
        ),
        description="Every taggable AWS resource carries the project, stack and owner tags (own or provider default tags).",
        why="Cost reports, the DLM snapshot policy and incident response find a stack's resources by these tags.",
        severity=Severity.LOW,
        check=_required_tags,
        resource_types=TAGGABLE,
        config={
            "requiredTags": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["project", "stack", "owner"],
                "description": "tag keys every taggable resource carries",
            }
        },
    ),
]
