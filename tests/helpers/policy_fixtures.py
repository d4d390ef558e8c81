"""Synthetic stacks for the policy tests: a compliant baseline and a builder to change it.

Resources are `engine.Resource` records, the same ones the simulated engine
records, so they pass through the same argument-building code as a real run
(ops.sim.policy.ArgBuilder). Dependencies are given by resource name.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ops.sim import engine

STACK = "prod"
TAGS = {"project": "quintas-crm-infra", "stack": STACK, "owner": "platform-team", "managed-by": "pulumi"}
BUCKET = "aws:s3/bucket:Bucket"
INSTANCE = "aws:ec2/instance:Instance"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
VOLUME = "aws:ebs/volume:Volume"
LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
CONTAINER = "docker:index/container:Container"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
RDS = "aws:rds/instance:Instance"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
CLUSTER = "aws:ecs/cluster:Cluster"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
ROLE_ARN = "arn:aws:iam::123456789012:role/"
SCHEDULE = "aws:scheduler/schedule:Schedule"
# An EventBridge Scheduler schedule as the schedule component makes it: stop the host at 21:00 on weekdays.
STOP_SCHEDULE = {
    "scheduleExpression": "cron(0 21 ? * MON-FRI *)",
    "scheduleExpressionTimezone": "America/Mexico_City",
    "flexibleTimeWindow": {"mode": "OFF"},
    "target": {
        "arn": "arn:aws:scheduler:::aws-sdk:ec2:stopInstances",
        "roleArn": "arn:aws:iam::123456789012:role/quintas-crm-prod-scheduler",
        "input": '{"InstanceIds": ["i-1"]}',
    },
}
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
DLM = "aws:dlm/lifecyclePolicy:LifecyclePolicy"
TOPIC = "aws:sns/topic:Topic"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WAF_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{engine.PROJECT}::{type_}::{name}"


class Stack:
    """A list of resources addressed by (type, name), with dependencies by name."""

    def __init__(self) -> None:
        self.resources: list[engine.Resource] = []
        self.config: dict[str, str] = {"aws:region": "us-east-1", "aws:defaultTags": json.dumps({"tags": TAGS})}

    def add(
        self, type_: str, name: str, inputs: dict[str, Any], deps: dict[str, list[str]] | None = None, **options: Any
    ) -> engine.Resource:
        # A dependency is a name (the latest resource of that name) or "type::name".
        by_name = {r.name: r.urn for r in self.resources} | {f"{r.type}::{r.name}": r.urn for r in self.resources}
        property_dependencies = {k: tuple(by_name[n] for n in names) for k, names in (deps or {}).items()}
        inputs = copy.deepcopy(inputs)
        resource = engine.Resource(
            urn(type_, name), type_, name, None, True, inputs, property_dependencies=property_dependencies, **options
        )
        resource.depends_on = tuple(sorted({u for us in property_dependencies.values() for u in us}))
        self.resources.append(resource)
        return resource

    def get(self, type_: str, name: str) -> engine.Resource:
        return next(r for r in self.resources if r.type == type_ and r.name == name)

    def drop(self, type_: str, name: str) -> None:
        self.resources.remove(self.get(type_, name))

    def run(self) -> engine.Run:
        return engine.Run(STACK, copy.deepcopy(self.resources), {}, dict(self.config))


def tls_only_policy(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def add_bucket(stack: Stack, role: str, versioned: bool, protect: bool) -> None:
    physical = f"quintas-crm-{STACK}-{role}"
    stack.add(BUCKET, role, {"bucket": physical, "forceDestroy": False}, protect=protect, retain_on_delete=protect)
    on = {"bucket": [role]}
    stack.add("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{role}-public-access", {"bucket": physical, "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}, on)  # fmt: skip
    stack.add("aws:s3/bucketOwnershipControls:BucketOwnershipControls", f"{role}-ownership", {"bucket": physical, "rule": {"objectOwnership": "BucketOwnerEnforced"}}, on)  # fmt: skip
    stack.add("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", f"{role}-encryption", {"bucket": physical, "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}, "bucketKeyEnabled": True}]}, on)  # fmt: skip
    stack.add("aws:s3/bucketPolicy:BucketPolicy", f"{role}-policy", {"bucket": physical, "policy": tls_only_policy(physical)}, {"bucket": [role], "policy": [role]})  # fmt: skip
    rules: list[dict[str, Any]] = [{"id": "abort-multipart", "status": "Enabled", "filter": {}, "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7.0}}]  # fmt: skip
    if versioned:
        stack.add("aws:s3/bucketVersioning:BucketVersioning", f"{role}-versioning", {"bucket": physical, "versioningConfiguration": {"status": "Enabled"}}, on)  # fmt: skip
        rules.append({"id": "noncurrent", "status": "Enabled", "filter": {}, "noncurrentVersionExpiration": {"noncurrentDays": 37.0}})  # fmt: skip
    else:
        rules.append({"id": "expire", "status": "Enabled", "filter": {}, "expiration": {"days": 90.0}})
    stack.add("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", f"{role}-lifecycle", {"bucket": physical, "rules": rules}, on)  # fmt: skip


def add_network(stack: Stack) -> None:
    stack.add("aws:ec2/vpc:Vpc", "main", {"cidrBlock": "10.40.0.0/16"})
    stack.add("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "default", {"vpcId": "vpc-1"}, {"vpcId": ["main"]})
    stack.add(FLOW_LOG, "main", {"vpcId": "vpc-1", "trafficType": "REJECT", "logDestinationType": "cloud-watch-logs", "logDestination": "arn:aws:logs:us-east-1:123456789012:log-group:/vpc-flow-log/prod"}, {"vpcId": ["aws:ec2/vpc:Vpc::main"]})  # fmt: skip
    stack.add(SG, "alb", {"description": "Load balancer: HTTPS and HTTP from the internet", "vpcId": "vpc-1"})
    stack.add(SG, "host", {"description": "Host: app ports from the load balancer only", "vpcId": "vpc-1"})
    for port in (80, 443):
        stack.add(INGRESS, f"alb-{port}", {"securityGroupId": "sg-alb", "ipProtocol": "tcp", "fromPort": float(port), "toPort": float(port), "cidrIpv4": "0.0.0.0/0", "description": f"Clients reach the ALB on {port}"}, {"securityGroupId": ["alb"]})  # fmt: skip
    for port in (3000, 8055):
        stack.add(INGRESS, f"host-{port}", {"securityGroupId": "sg-host", "ipProtocol": "tcp", "fromPort": float(port), "toPort": float(port), "referencedSecurityGroupId": "sg-alb", "description": f"ALB forwards to Traefik on {port}"}, {"securityGroupId": [f"{SG}::host"], "referencedSecurityGroupId": [f"{SG}::alb"]})  # fmt: skip
    stack.add(EGRESS, "host-https", {"securityGroupId": "sg-host", "ipProtocol": "tcp", "fromPort": 443.0, "toPort": 443.0, "cidrIpv4": "0.0.0.0/0", "description": "Images and AWS APIs over HTTPS"}, {"securityGroupId": [f"{SG}::host"]})  # fmt: skip


def add_host(stack: Stack) -> None:
    stack.add("aws:iam/role:Role", "host", {"assumeRolePolicy": json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})})  # fmt: skip
    statements = [
        {"Sid": "Uploads", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": [f"arn:aws:s3:::quintas-crm-{STACK}-uploads/*"]},
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [f"arn:aws:logs:us-east-1:123456789012:log-group:/quintas-crm/{STACK}/*"]},
    ]  # fmt: skip
    stack.add(ROLE_POLICY, "host", {"role": "host-role", "policy": json.dumps({"Version": "2012-10-17", "Statement": statements})}, {"role": ["host"]})  # fmt: skip
    stack.add("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "host-ssm", {"role": "host-role", "policyArn": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}, {"role": ["host"]})  # fmt: skip
    stack.add("aws:iam/instanceProfile:InstanceProfile", "host", {"role": "host-role"}, {"role": ["host"]})
    user_data = "#cloud-config\npackages: [docker.io]\nruncmd:\n  - TOKEN=$(curl -s -X PUT http://169.254.169.254/latest/api/token)\n"
    stack.add(INSTANCE, "host", {"ami": "ami-1", "instanceType": "t3.large", "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2.0, "httpEndpoint": "enabled"}, "rootBlockDevice": {"encrypted": True, "volumeType": "gp3"}, "iamInstanceProfile": "host-profile", "monitoring": True, "disableApiTermination": True, "ebsOptimized": True, "userData": user_data, "vpcSecurityGroupIds": ["sg-host"]}, {"vpcSecurityGroupIds": [f"{SG}::host"], "iamInstanceProfile": ["aws:iam/instanceProfile:InstanceProfile::host"]})  # fmt: skip
    key_policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}, {"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"}]}  # fmt: skip
    stack.add("aws:kms/key:Key", "telemetry", {"description": "telemetry", "enableKeyRotation": True, "policy": json.dumps(key_policy)})  # fmt: skip
    stack.add(TOPIC, "alerts", {"kmsMasterKeyId": KEY_ARN}, {"kmsMasterKeyId": ["telemetry"]})
    stack.add("aws:cloudwatch/metricAlarm:MetricAlarm", "host-recover", {"metricName": "StatusCheckFailed_System", "namespace": "AWS/EC2", "dimensions": {"InstanceId": "i-1"}, "alarmActions": ["arn:aws:automate:us-east-1:ec2:recover", "arn:aws:sns:us-east-1:123456789012:alerts"]}, {"dimensions": [f"{INSTANCE}::host"], "alarmActions": ["alerts"]})  # fmt: skip
    stack.add(VOLUME, "data", {"availabilityZone": "us-east-1a", "size": 100.0, "type": "gp3", "encrypted": True, "tags": {"Snapshot": "quintas-crm-prod-data"}}, protect=True, retain_on_delete=True)  # fmt: skip
    stack.add("aws:dlm/lifecyclePolicy:LifecyclePolicy", "data-snapshots", {"description": "daily", "executionRoleArn": "arn:aws:iam::123456789012:role/dlm", "state": "ENABLED", "policyDetails": {"resourceTypes": ["VOLUME"], "targetTags": {"Snapshot": "quintas-crm-prod-data"}, "schedules": [{"name": "daily", "createRule": {"interval": 24.0, "intervalUnit": "HOURS", "times": "03:00"}, "retainRule": {"count": 14.0}, "crossRegionCopyRules": [{"target": "us-west-2", "encrypted": True, "copyTags": True, "retainRule": {"interval": 14.0, "intervalUnit": "DAYS"}}]}]}})  # fmt: skip
    stack.add(LOG_GROUP, "postgres", {"name": "/quintas-crm/prod/postgres", "retentionInDays": 90.0, "kmsKeyId": KEY_ARN}, {"kmsKeyId": ["telemetry"]})  # fmt: skip
    stack.add("aws:ecr/repository:Repository", "frontend", {"imageScanningConfiguration": {"scanOnPush": True}, "imageTagMutability": "IMMUTABLE"})  # fmt: skip
    stack.add("aws:kms/key:Key", "backups", {"description": "backups", "enableKeyRotation": True})


def add_load_balancer(stack: Stack) -> None:
    stack.add(LB, "alb", {"loadBalancerType": "application", "securityGroups": ["sg-alb"], "dropInvalidHeaderFields": True, "enableDeletionProtection": True, "accessLogs": {"bucket": f"quintas-crm-{STACK}-logs", "enabled": True}}, {"securityGroups": [f"{SG}::alb"], "accessLogs": [f"{BUCKET}::logs"]})  # fmt: skip
    stack.add(LISTENER, "https", {"loadBalancerArn": "arn:lb", "port": 443.0, "protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06", "certificateArn": "arn:aws:acm:cert", "defaultActions": [{"type": "fixed-response", "fixedResponse": {"contentType": "text/plain", "statusCode": "404"}}]}, {"loadBalancerArn": ["alb"]})  # fmt: skip
    stack.add(LISTENER, "http", {"loadBalancerArn": "arn:lb", "port": 80.0, "protocol": "HTTP", "defaultActions": [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}]}, {"loadBalancerArn": ["alb"]})  # fmt: skip
    add_waf(stack)
    stack.add("aws:lb/listenerRule:ListenerRule", "app", {"listenerArn": "arn:https", "priority": 10.0, "actions": [{"type": "forward", "targetGroupArn": "arn:tg"}], "conditions": [{"hostHeader": {"values": ["app.example.com"]}}]}, {"listenerArn": ["https"]})  # fmt: skip


def managed_group(name: str, priority: float) -> dict[str, Any]:
    visibility = {"cloudwatchMetricsEnabled": True, "metricName": name, "sampledRequestsEnabled": True}
    return {"name": name, "priority": priority, "overrideAction": {"none": {}}, "statement": {"managedRuleGroupStatement": {"vendorName": "AWS", "name": name}}, "visibilityConfig": visibility}  # fmt: skip


def add_waf(stack: Stack) -> None:
    visibility = {"cloudwatchMetricsEnabled": True, "metricName": "alb", "sampledRequestsEnabled": True}
    login = {"byteMatchStatement": {"fieldToMatch": {"uriPath": {}}, "positionalConstraint": "STARTS_WITH", "searchString": "/auth/", "textTransformations": [{"priority": 0.0, "type": "LOWERCASE"}]}}  # fmt: skip
    rate = {"name": "login-rate-limit", "priority": 0.0, "action": {"block": {}}, "statement": {"rateBasedStatement": {"limit": 100.0, "aggregateKeyType": "IP", "scopeDownStatement": login}}, "visibilityConfig": visibility}  # fmt: skip
    groups = [managed_group("AWSManagedRulesKnownBadInputsRuleSet", 1.0), managed_group("AWSManagedRulesCommonRuleSet", 2.0)]  # fmt: skip
    stack.add(WEB_ACL, "alb", {"scope": "REGIONAL", "defaultAction": {"allow": {}}, "rules": [rate, *groups], "visibilityConfig": visibility})  # fmt: skip
    stack.add(WAF_ASSOCIATION, "alb", {"resourceArn": "arn:lb", "webAclArn": "arn:acl"}, {"resourceArn": [f"{LB}::alb"], "webAclArn": [f"{WEB_ACL}::alb"]})  # fmt: skip
    stack.add(WAF_LOGGING, "alb", {"resourceArn": "arn:acl", "logDestinationConfigs": ["arn:aws:logs:us-east-1:123456789012:log-group:aws-waf-logs-prod"]}, {"resourceArn": [f"{WEB_ACL}::alb"]})  # fmt: skip


def add_data_protection(stack: Stack) -> None:
    """Object Lock on the backups buckets, replication and access logging of the data buckets."""
    for role in ("backups", "backups-replica"):
        stack.add(OBJECT_LOCK, f"{role}-lock", {"bucket": f"quintas-crm-{STACK}-{role}", "objectLockEnabled": "Enabled", "rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 31.0}}}, {"bucket": [f"{BUCKET}::{role}"]})  # fmt: skip
    for role in ("uploads", "backups"):
        physical = f"quintas-crm-{STACK}-{role}"
        on = {"bucket": [f"{BUCKET}::{role}"]}
        stack.add(REPLICATION, f"{role}-replication", {"bucket": physical, "role": "arn:aws:iam::123456789012:role/replication", "rules": [{"id": f"{role}-to-us-west-2", "status": "Enabled", "filter": {}, "destination": {"bucket": f"arn:aws:s3:::{physical}-replica"}}]}, on)  # fmt: skip
        stack.add(BUCKET_LOGGING, f"{role}-logging", {"bucket": physical, "targetBucket": f"quintas-crm-{STACK}-logs", "targetPrefix": f"s3-access/{role}/"}, on)  # fmt: skip


POSTGRES_COMMAND = [
    "postgres", "-c", "wal_level=replica", "-c", "archive_mode=on", "-c", "archive_timeout=50",
    "-c", "archive_command=barman-cloud-wal-archive --gzip s3://quintas-crm-prod-backups/postgres prod %p",
]  # fmt: skip


# Directus's settings behind the ALB and Traefik (components/workload/catalogue.py).
DIRECTUS_EDGE = [
    "PUBLIC_URL=https://cms.example.com",
    "SESSION_COOKIE_SECURE=true",
    "SESSION_COOKIE_SAME_SITE=strict",
    "REFRESH_TOKEN_COOKIE_SECURE=true",
    "REFRESH_TOKEN_COOKIE_SAME_SITE=strict",
    "CORS_ENABLED=true",
    "CORS_ORIGIN=https://app.example.com",
    "IP_TRUST_PROXY=loopback,uniquelocal",
]


def container(stack: Stack, name: str, image: str, **inputs: Any) -> engine.Resource:
    base: dict[str, Any] = {
        "image": image,
        "memory": 512.0,
        "restart": "unless-stopped",
        "healthcheck": {"tests": ["CMD-SHELL", "true"], "interval": "10s", "retries": 3.0},
        "envs": ["TZ=America/Mexico_City"],
    }
    return stack.add(CONTAINER, name, {**base, **inputs})


def add_containers(stack: Stack) -> None:
    stack.add("docker:index/remoteImage:RemoteImage", "postgres", {"name": "123456789012.dkr.ecr.us-east-1.amazonaws.com/quintas-crm-prod-postgres:16-3.4-barman-1"})  # fmt: skip
    container(stack, "postgres", "sha256:" + "a" * 64, command=POSTGRES_COMMAND, envs=["POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password", "PGDATA=/var/lib/postgresql/data"], uploads=[{"file": "/run/secrets/postgres_password", "content": engine.Secret("s3cr3t-value")}])  # fmt: skip
    container(stack, "redis", "redis:7.4-alpine", command=["redis-server", "--maxmemory", "256mb"])
    container(stack, "cadvisor", "gcr.io/cadvisor/cadvisor:v0.49.1", privileged=True)
    container(stack, "directus", "directus/directus:11.1.0", envs=["SECRET_FILE=/run/secrets/directus_secret", "DB_PASSWORD_FILE=/run/secrets/db", "CACHE_ENABLED=true", *DIRECTUS_EDGE], ports=[])  # fmt: skip
    sock = {"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock", "readOnly": True}
    container(stack, "socket-proxy", "tecnativa/docker-socket-proxy:v0.4.2", envs=["POST=0"], volumes=[sock])
    container(stack, "backup", "sha256:" + "a" * 64, envs=["BACKUP_SCHEDULE=02:00", "TZ=America/Mexico_City", "RECOVERY_WINDOW_DAYS=30"])  # fmt: skip


def task_containers(environment: list[dict[str, str]]) -> str:
    parameter = "arn:aws:ssm:us-east-1:123456789012:parameter/quintas-crm/prod/db"
    container = {
        "name": "directus",
        "image": "directus/directus:11.12.0",
        "environment": environment,
        "secrets": [{"name": "DB_PASSWORD", "valueFrom": parameter}],
    }
    return json.dumps([container])


def add_data_stores(stack: Stack) -> None:
    """The `ecs` topology's data stores: RDS and ElastiCache, each open to the tasks' group only."""
    for store, port in (("postgres", 5432), ("redis", 6379)):
        stack.add(SG, store, {"description": f"{store}: {port} from the tasks only", "vpcId": "vpc-1"})
        rule = {"ipProtocol": "tcp", "fromPort": float(port), "toPort": float(port), "description": "from the tasks"}
        peers = {"securityGroupId": [f"{SG}::{store}"], "referencedSecurityGroupId": [f"{SG}::host"]}
        stack.add(
            INGRESS,
            f"{store}-in-{port}",
            {**rule, "securityGroupId": f"sg-{store}", "referencedSecurityGroupId": "sg-host"},
            peers,
        )
    database = {
        "engine": "postgres",
        "engineVersion": "16",
        "instanceClass": "db.t4g.medium",
        "allocatedStorage": 100.0,
        "storageType": "gp3",
        "storageEncrypted": True,
        "publiclyAccessible": False,
        "multiAz": True,
        "deletionProtection": True,
        "skipFinalSnapshot": False,
        "finalSnapshotIdentifier": "postgres-final",
        "backupRetentionPeriod": 30.0,
        "vpcSecurityGroupIds": ["sg-postgres"],
    }
    stack.add(
        RDS, "postgres", database, {"vpcSecurityGroupIds": [f"{SG}::postgres"]}, protect=True, retain_on_delete=True
    )
    cache = {
        "nodeType": "cache.t4g.small",
        "numCacheClusters": 2.0,
        "automaticFailoverEnabled": True,
        "multiAzEnabled": True,
        "atRestEncryptionEnabled": True,
        "transitEncryptionEnabled": True,
        "securityGroupIds": ["sg-redis"],
    }
    stack.add(REDIS, "redis", cache, {"securityGroupIds": [f"{SG}::redis"]})


def add_tasks(stack: Stack) -> None:
    """An ECS cluster with one Fargate service, its task definition and its two roles."""
    stack.add(CLUSTER, "cluster", {"settings": [{"name": "containerInsights", "value": "enabled"}]})
    principal = {"Service": "ecs-tasks.amazonaws.com"}
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
    }
    for role in ("directus-execution", "directus-task"):
        stack.add("aws:iam/role:Role", role, {"assumeRolePolicy": json.dumps(trust)})
    task = {
        "family": "directus",
        "cpu": "1024",
        "memory": "2048",
        "executionRoleArn": f"{ROLE_ARN}directus-execution",
        "taskRoleArn": f"{ROLE_ARN}directus-task",
        "containerDefinitions": task_containers([{"name": "DB_HOST", "value": "db.internal"}]),
    }
    stack.add(TASK, "directus", task, {"executionRoleArn": ["directus-execution"], "taskRoleArn": ["directus-task"]})
    network = {"subnets": ["subnet-1", "subnet-2"], "securityGroups": ["sg-host"], "assignPublicIp": False}
    service = {"launchType": "FARGATE", "desiredCount": 2.0, "networkConfiguration": network}
    stack.add(
        SERVICE,
        "directus",
        {**service, "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/directus:1"},
        {"taskDefinition": [f"{TASK}::directus"]},
    )


def baseline() -> Stack:
    """A prod stack that breaks no rule of the pack."""
    stack = Stack()
    for role, versioned in (("uploads", True), ("backups", True), ("logs", False)):
        add_bucket(stack, role, versioned, protect=versioned)
    for role in ("uploads-replica", "backups-replica"):
        add_bucket(stack, role, True, protect=True)
    add_data_protection(stack)
    add_network(stack)
    add_host(stack)
    add_load_balancer(stack)
    add_containers(stack)
    add_data_stores(stack)
    add_tasks(stack)
    return stack
