"""Every rule of the pack, proven both ways: a fixture that breaks it (and the message
it must give) and the compliant baseline it must pass. Fixtures are synthetic
resource records fed through the same argument builder as a real run."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from ops.sim import policy
from policies.rules import RULES, containers, cost, rule
from tests.helpers import policy_fixtures as fx
from tests.helpers.policy_fixtures import Stack

Mutation = Callable[[Stack], None]


@pytest.fixture(autouse=True)
def fixed_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every rule's fixture is priced at $100; the cost rule's own fixture sets its price (undone here)."""
    monkeypatch.setattr(cost, "estimate_stack", lambda resources, config: cost.CostEstimate(100.0))


def prod_config() -> dict[str, dict[str, Any]]:
    return policy.load_config("prod")


def findings(stack: Stack, name: str, config: dict[str, dict[str, Any]] | None = None) -> list[policy.Finding]:
    return policy.evaluate(stack.run(), config if config is not None else prod_config(), rules=[rule(name)])


def setp(type_: str, name: str, path: str, value: Any) -> Mutation:
    """A mutation that sets inputs[path] (dotted, list indexes as numbers) on one resource."""

    def mutate(stack: Stack) -> None:
        target: Any = stack.get(type_, name).inputs
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        for key in keys[:-1]:
            target = target[key]
        if value is DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value

    return mutate


def drop(type_: str, name: str) -> Mutation:
    return lambda stack: stack.drop(type_, name)


def option(type_: str, name: str, **options: Any) -> Mutation:
    def mutate(stack: Stack) -> None:
        for key, value in options.items():
            setattr(stack.get(type_, name), key, value)

    return mutate


def add(type_: str, name: str, inputs: dict[str, Any], deps: dict[str, list[str]] | None = None) -> Mutation:
    return lambda stack: stack.add(type_, name, inputs, deps) and None


DELETE = object()
RP = fx.ROLE_POLICY


def role_policy(*statements: dict[str, Any]) -> Mutation:
    return setp(RP, "host", "policy", json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


# rule name -> (mutation that breaks it, text its message must contain)
VIOLATIONS: dict[str, tuple[Mutation, str]] = {
    "s3-public-access-block": (setp("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "logs-public-access", "restrictPublicBuckets", False), "Bucket 'logs': the public access block leaves restrictPublicBuckets off"),
    "s3-acls-disabled": (setp("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "uploads-ownership", "rule.objectOwnership", "ObjectWriter"), "Bucket 'uploads': object ownership is not BucketOwnerEnforced (ObjectWriter)"),
    "s3-encryption": (drop("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "backups-encryption"), "Bucket 'backups' has no default server-side encryption"),
    "s3-tls-only": (setp("aws:s3/bucketPolicy:BucketPolicy", "uploads-policy", "policy", json.dumps({"Statement": []})), "Bucket 'uploads' has no bucket policy denying requests without TLS"),
    "s3-versioning": (setp("aws:s3/bucketVersioning:BucketVersioning", "backups-versioning", "versioningConfiguration.status", "Suspended"), "Bucket 'backups': versioning is not Enabled (Suspended)"),
    "s3-backups-object-lock": (setp(fx.OBJECT_LOCK, "backups-lock", "rule.defaultRetention.days", 7.0), "Bucket 'backups': Object Lock keeps versions 7 days, less than the 30-day recovery window"),
    "s3-data-replicated-in-prod": (drop(fx.REPLICATION, "uploads-replication"), "Bucket 'uploads' holds data in prod but is not replicated to another region"),
    "ebs-snapshots-copied-off-region-in-prod": (setp(fx.DLM, "data-snapshots", "policyDetails.schedules.0.crossRegionCopyRules.0.encrypted", False), "LifecyclePolicy 'data-snapshots': daily copies no snapshot to another region"),
    "iam-no-backup-destruction": (role_policy({"Sid": "Prune", "Effect": "Allow", "Action": ["s3:Delete*"], "Resource": "arn:aws:s3:::b/*"}), "RolePolicy 'host': policy statement Prune allows s3:DeleteObjectVersion"),
    "s3-data-access-logging": (drop(fx.BUCKET_LOGGING, "backups-logging"), "Bucket 'backups' has no S3 server access logging"),
    "vpc-flow-logs": (setp(fx.FLOW_LOG, "main", "trafficType", "ACCEPT"), "Vpc 'main' records no rejected traffic in a flow log (ACCEPT)"),
    "sns-topic-encrypted": (setp(fx.TOPIC, "alerts", "kmsMasterKeyId", "alias/aws/sns"), "Topic 'alerts' is not encrypted with a customer managed KMS key (the AWS managed key, which CloudWatch alarms cannot use)"),
    "logs-encrypted": (setp(fx.LOG_GROUP, "postgres", "kmsKeyId", DELETE), "LogGroup 'postgres' is not encrypted with a KMS key (kmsKeyId)"),
    "waf-on-public-alb-in-prod": (drop(fx.WAF_ASSOCIATION, "alb"), "LoadBalancer 'alb' faces the internet in prod with no WAF web ACL associated"),
    "waf-rules": (setp(fx.WEB_ACL, "alb", "rules", [fx.managed_group("AWSManagedRulesCommonRuleSet", 1.0)]), "WebAcl 'alb' has no rate-based rule"),
    "waf-logging": (drop(fx.WAF_LOGGING, "alb"), "WebAcl 'alb' has no logging configuration"),
    "s3-abort-incomplete-multipart": (setp("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "logs-lifecycle", "rules.0.abortIncompleteMultipartUpload.daysAfterInitiation", 30.0), "Bucket 'logs' has no enabled lifecycle rule aborting incomplete multipart uploads within 7 days"),
    "s3-no-force-destroy-in-prod": (setp(fx.BUCKET, "uploads", "forceDestroy", True), "Bucket 'uploads' has forceDestroy in prod"),
    "s3-backups-noncurrent-retention": (setp("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "backups-lifecycle", "rules.1.noncurrentVersionExpiration.noncurrentDays", 10.0), "noncurrent versions expire after 10 days, less than the 30-day recovery window"),
    "s3-backups-stay-hot": (setp("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "backups-lifecycle", "rules.1.transitions", [{"days": 30.0, "storageClass": "GLACIER"}]), "moves backups to GLACIER"),
    "s3-data-buckets-protected-in-prod": (option(fx.BUCKET, "backups", protect=False), "Bucket 'backups' holds data in prod but is not protect=True"),
    "ec2-imdsv2-required": (setp(fx.INSTANCE, "host", "metadataOptions.httpTokens", "optional"), "metadataOptions.httpTokens is 'optional'"),
    "ec2-imds-hop-limit": (setp(fx.INSTANCE, "host", "metadataOptions.httpPutResponseHopLimit", 3.0), "httpPutResponseHopLimit is 3, above 2"),
    "ec2-root-volume-encrypted": (setp(fx.INSTANCE, "host", "rootBlockDevice.encrypted", False), "rootBlockDevice.encrypted is not true"),
    "ec2-instance-profile": (setp(fx.INSTANCE, "host", "iamInstanceProfile", DELETE), "Instance 'host' has no iamInstanceProfile"),
    "ec2-detailed-monitoring-in-prod": (setp(fx.INSTANCE, "host", "monitoring", False), "detailed monitoring (monitoring=true) is off in prod"),
    "ec2-termination-protection-in-prod": (setp(fx.INSTANCE, "host", "disableApiTermination", DELETE), "disableApiTermination is off in prod"),
    "ec2-ebs-optimized": (setp(fx.INSTANCE, "host", "ebsOptimized", False), "ebsOptimized is false"),
    "ec2-no-secrets-in-user-data": (setp(fx.INSTANCE, "host", "userData", "#!/bin/bash\nexport DB_PASSWORD=hunter2hunter2\n"), "user data looks like it holds a secret (line 2: DB_PASSWORD)"),
    "ec2-no-public-ipv4": (add("aws:ec2/eip:Eip", "host", {"instance": "i-1", "domain": "vpc"}, {"instance": [f"{fx.INSTANCE}::host"]}), "Instance 'host' gets the public Elastic IP 'host'"),
    "ebs-encrypted": (setp(fx.VOLUME, "data", "encrypted", False), "Volume 'data' is not encrypted"),
    "ebs-snapshot-policy": (setp(fx.VOLUME, "data", "tags", {"Name": "data"}), "Volume 'data' is not targeted by any enabled DLM snapshot policy"),
    "ebs-data-volume-protected-in-prod": (option(fx.VOLUME, "data", protect=False), "Volume 'data' holds the database in prod but is not protect=True"),
    "sg-no-world-ingress-on-sensitive-ports": (add(fx.INGRESS, "pg-open", {"securityGroupId": "sg-host", "ipProtocol": "tcp", "fromPort": 5432.0, "toPort": 5432.0, "cidrIpv4": "0.0.0.0/0", "description": "debug"}, {"securityGroupId": [f"{fx.SG}::host"]}), "security group rule 'pg-open' opens 5432 (PostgreSQL) to 0.0.0.0/0"),
    "sg-rules-described": (setp(fx.EGRESS, "host-https", "description", ""), "security group rule 'host-https' has no description"),
    "sg-default-group-closed": (setp("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "default", "ingress", [{"protocol": "-1", "fromPort": 0.0, "toPort": 0.0, "self": True}]), "DefaultSecurityGroup 'default' keeps rules"),
    "sg-host-only-from-alb": (add(fx.INGRESS, "host-office", {"securityGroupId": "sg-host", "ipProtocol": "tcp", "fromPort": 8055.0, "toPort": 8055.0, "cidrIpv4": "203.0.113.0/24", "description": "office"}, {"securityGroupId": [f"{fx.SG}::host"]}), "host security group 'host': rule 'host-office' admits 203.0.113.0/24"),
    "alb-https-listener": (drop(fx.LISTENER, "https"), "LoadBalancer 'alb' has no HTTPS listener"),
    "alb-tls-policy": (setp(fx.LISTENER, "https", "sslPolicy", "ELBSecurityPolicy-2016-08"), "sslPolicy ELBSecurityPolicy-2016-08 does not require TLS 1.2 or later"),
    "alb-http-redirects-only": (setp(fx.LISTENER, "http", "defaultActions", [{"type": "forward", "targetGroupArn": "arn:tg"}]), "HTTP Listener 'http' does not only redirect to HTTPS (default actions: forward)"),
    "alb-drop-invalid-headers": (setp(fx.LB, "alb", "dropInvalidHeaderFields", False), "dropInvalidHeaderFields is off"),
    "alb-deletion-protection-in-prod": (setp(fx.LB, "alb", "enableDeletionProtection", False), "enableDeletionProtection is off in prod"),
    "alb-access-logs": (setp(fx.LB, "alb", "accessLogs.enabled", False), "access logs are off"),
    "prod-edge-through-load-balancer": (drop(fx.LB, "alb"), "Instance 'host' takes traffic with no load balancer in front (edge: host) in prod"),
    "prod-host-runs-always": (add(fx.SCHEDULE, "host-stop", fx.STOP_SCHEDULE), "Schedule 'host-stop' stops EC2 instances on a schedule in prod"),
    "iam-no-star-action": (role_policy({"Effect": "Allow", "Action": "*", "Resource": "*"}), "RolePolicy 'host': policy statement 0 allows every action (`*`)"),
    "iam-no-service-wildcard-action": (role_policy({"Sid": "All", "Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::b/*"}), "policy statement All allows whole services (s3:*)"),
    "iam-no-star-resource-on-data-actions": (role_policy({"Sid": "Logs", "Effect": "Allow", "Action": ["logs:PutLogEvents", "ecr:GetAuthorizationToken"], "Resource": "*"}), "policy statement Logs grants logs:PutLogEvents on every resource"),
    "iam-no-admin-managed-policy": (setp("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "host-ssm", "policyArn", "arn:aws:iam::aws:policy/AdministratorAccess"), "attaches the AWS managed policy AdministratorAccess"),
    "backups-wal-archiving": (setp(fx.CONTAINER, "postgres", "command", ["postgres", "-c", "archive_mode=off"]), "container 'postgres': archive_mode is off; WAL is not archived"),
    "backups-archive-timeout-within-rpo": (setp(fx.CONTAINER, "postgres", "command.6", "archive_timeout=15min"), "archive_timeout is '15min', above the RPO of 60 s less 10 s"),
    "backups-daily-base-backup": (setp(fx.CONTAINER, "backup", "envs.0", "BACKUP_SCHEDULE=0 2 * * 0"), "backup job 'backup' is not scheduled daily (BACKUP_SCHEDULE=0 2 * * 0)"),
    "backups-recovery-window": (setp(fx.CONTAINER, "backup", "envs.2", "RECOVERY_WINDOW_DAYS=7"), "keeps a recovery window of 7 days, below the minimum of 30"),
    "container-no-undeclared-privileged": (setp(fx.CONTAINER, "redis", "privileged", True), "Container 'redis' runs privileged without a declared justification"),
    "container-no-host-port-for-data-services": (setp(fx.CONTAINER, "postgres", "ports", [{"internal": 5432.0, "external": 5432.0}]), "Container 'postgres' (postgres) publishes host port(s) 5432"),
    "container-healthcheck": (setp(fx.CONTAINER, "redis", "healthcheck", DELETE), "Container 'redis' has no health check"),
    "container-memory-limit": (setp(fx.CONTAINER, "directus", "memory", DELETE), "Container 'directus' has no memory limit"),
    "container-restart-policy": (setp(fx.CONTAINER, "redis", "restart", "no"), "Container 'redis': restart policy is 'no'"),
    "container-no-secret-in-env": (setp(fx.CONTAINER, "directus", "envs", ["ADMIN_PASSWORD=changeme123", "CACHE_ENABLED=true"]), "Container 'directus': ADMIN_PASSWORD holds a value in the plain environment"),
    "container-no-docker-socket": (setp(fx.CONTAINER, "redis", "volumes", [{"hostPath": "/var/run", "containerPath": "/host/run", "readOnly": True}]), "Container 'redis' mounts the Docker socket (/var/run, which holds /var/run/docker.sock)"),
    "directus-behind-tls-proxy": (setp(fx.CONTAINER, "directus", "envs", [e for e in fx.DIRECTUS_EDGE if not e.startswith(("SESSION_COOKIE_SECURE", "CORS_"))] + ["CORS_ENABLED=true", "CORS_ORIGIN=*"]), "Container 'directus': SESSION_COOKIE_SECURE is not true; CORS_ORIGIN '*' allows more than named https:// origins"),
    "database-least-privilege": (setp(fx.CONTAINER, "directus", "envs", ["DB_USER=postgres", "DB_PASSWORD_FILE=/run/secrets/postgres_password", *fx.DIRECTUS_EDGE]), "container 'directus' connects to PostgreSQL as the superuser 'postgres' (DB_USER)"),
    "container-image-pinned": (setp(fx.CONTAINER, "redis", "image", "redis:latest"), "image 'redis:latest' uses the tag latest"),
    "tags-required": (lambda stack: stack.config.update({"aws:defaultTags": "{}"}), "lacks the tag(s) project, stack, owner"),
    "logs-retention-set": (setp("aws:cloudwatch/logGroup:LogGroup", "postgres", "retentionInDays", DELETE), "LogGroup 'postgres' keeps logs forever"),
    "ec2-auto-recovery-alarm": (setp("aws:cloudwatch/metricAlarm:MetricAlarm", "host-recover", "alarmActions", ["arn:aws:sns:us-east-1:123456789012:alerts"]), "Instance 'host' has no StatusCheckFailed_System alarm with the ec2:recover action"),
    "ecr-scan-on-push": (setp("aws:ecr/repository:Repository", "frontend", "imageScanningConfiguration.scanOnPush", False), "Repository 'frontend' does not scan images on push"),
    "kms-key-rotation": (setp("aws:kms/key:Key", "backups", "enableKeyRotation", False), "Key 'backups' does not rotate its key material"),
    "rds-storage-encrypted": (setp(fx.RDS, "postgres", "storageEncrypted", False), "Instance 'postgres': storageEncrypted is not true"),
    "rds-not-public": (setp(fx.RDS, "postgres", "publiclyAccessible", True), "Instance 'postgres' is publicly accessible"),
    "rds-multi-az-in-prod": (setp(fx.RDS, "postgres", "multiAz", False), "Instance 'postgres': multiAz is not true"),
    "rds-deletion-protection-in-prod": (setp(fx.RDS, "postgres", "skipFinalSnapshot", True), "skipFinalSnapshot is true in prod"),
    "rds-backup-retention-covers-recovery-window": (setp(fx.RDS, "postgres", "backupRetentionPeriod", 7.0), "keeps automated backups 7 days, less than the 30-day recovery window"),
    "elasticache-encrypted": (setp(fx.REDIS, "redis", "transitEncryptionEnabled", False), "ReplicationGroup 'redis': transitEncryptionEnabled is not true"),
    "elasticache-replica-in-prod": (setp(fx.REDIS, "redis", "numCacheClusters", 1.0), "ReplicationGroup 'redis' has no replica in prod"),
    "datastores-only-from-security-groups": (add(fx.INGRESS, "postgres-office", {"securityGroupId": "sg-postgres", "ipProtocol": "tcp", "fromPort": 5432.0, "toPort": 5432.0, "cidrIpv4": "203.0.113.0/24", "description": "office"}, {"securityGroupId": [f"{fx.SG}::postgres"]}), "Instance 'postgres': its security group 'postgres' admits 203.0.113.0/24"),
    "ecs-container-insights": (setp(fx.CLUSTER, "cluster", "settings", [{"name": "containerInsights", "value": "disabled"}]), "Cluster 'cluster' has Container Insights off"),
    "ecs-no-secret-in-task-environment": (setp(fx.TASK, "directus", "containerDefinitions", fx.task_containers([{"name": "DB_PASSWORD", "value": "hunter2hunter2"}])), "TaskDefinition 'directus': DB_PASSWORD holds a value in the plain environment"),
    "ecs-task-role-least-privilege": (setp(fx.TASK, "directus", "taskRoleArn", f"{fx.ROLE_ARN}directus-execution"), "TaskDefinition 'directus': the application's task role is the execution role"),
    "ecs-no-public-ip": (setp(fx.SERVICE, "directus", "networkConfiguration.assignPublicIp", True), "Service 'directus' gives each task a public IPv4 address"),
    "cost-within-budget": (lambda stack: setattr(cost, "estimate_stack", lambda r, c: cost.CostEstimate(171.5)), "estimated $171.50/month is over the $160.00 budget by $11.50"),
}  # fmt: skip


def test_every_rule_has_a_failing_fixture() -> None:
    assert sorted(VIOLATIONS) == sorted(r.name for r in RULES)


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_rule_reports_its_violating_fixture(name: str) -> None:
    stack = fx.baseline()
    mutate, expected = VIOLATIONS[name]
    mutate(stack)
    found = findings(stack, name)
    level = rule(name).level.value
    assert found and {f.level for f in found} == {level}, found
    assert any(expected in f.message for f in found), [f.message for f in found]


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_rule_passes_the_compliant_baseline(name: str) -> None:
    assert findings(fx.baseline(), name) == []


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_rule_survives_values_unknown_at_preview(name: str) -> None:
    """In a first preview every input computed from another resource is unknown: no crash, no false violation."""
    found = policy.evaluate(fx.baseline().run(), prod_config(), rules=[rule(name)], preview=True)
    assert [f for f in found if f.level != "advisory" or "during preview" not in f.message] == []


# ----------------------------------------------------------------- what the rules allow


def staging_config() -> dict[str, dict[str, Any]]:
    return policy.load_config("staging")


@pytest.mark.parametrize(
    ("name", "mutation"),
    [
        ("s3-no-force-destroy-in-prod", setp(fx.BUCKET, "uploads", "forceDestroy", True)),
        ("s3-data-buckets-protected-in-prod", option(fx.BUCKET, "backups", protect=False)),
        ("ebs-data-volume-protected-in-prod", option(fx.VOLUME, "data", protect=False)),
        ("alb-deletion-protection-in-prod", setp(fx.LB, "alb", "enableDeletionProtection", False)),
        ("prod-edge-through-load-balancer", drop(fx.LB, "alb")),
        ("prod-host-runs-always", add(fx.SCHEDULE, "host-stop", fx.STOP_SCHEDULE)),
        ("ec2-detailed-monitoring-in-prod", setp(fx.INSTANCE, "host", "monitoring", False)),
        ("rds-multi-az-in-prod", setp(fx.RDS, "postgres", "multiAz", False)),
        ("rds-deletion-protection-in-prod", setp(fx.RDS, "postgres", "deletionProtection", False)),
        ("elasticache-replica-in-prod", setp(fx.REDIS, "redis", "numCacheClusters", 1.0)),
        ("backups-recovery-window", setp(fx.CONTAINER, "backup", "envs.2", "RECOVERY_WINDOW_DAYS=7")),
        ("s3-data-replicated-in-prod", drop(fx.REPLICATION, "uploads-replication")),
        ("ebs-snapshots-copied-off-region-in-prod", setp(fx.DLM, "data-snapshots", "policyDetails.schedules.0.crossRegionCopyRules", [])),
        ("waf-on-public-alb-in-prod", drop(fx.WAF_ASSOCIATION, "alb")),
        ("s3-backups-noncurrent-retention", setp("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "backups-lifecycle", "rules.1.noncurrentVersionExpiration.noncurrentDays", 10.0)),
    ],
)  # fmt: skip
def test_prod_only_requirements_do_not_apply_to_staging(name: str, mutation: Mutation) -> None:
    stack = fx.baseline()
    mutation(stack)
    assert findings(stack, name, staging_config()) == []
    assert findings(stack, name) != []


def test_bucket_siblings_match_by_value_without_dependencies() -> None:
    stack = fx.baseline()
    for resource in stack.resources:
        resource.property_dependencies.pop("bucket", None)
    assert findings(stack, "s3-versioning") == findings(stack, "s3-encryption") == []


def test_a_sibling_of_another_bucket_does_not_count() -> None:
    stack = fx.baseline()
    stack.drop("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "uploads-public-access")
    found = findings(stack, "s3-public-access-block")
    assert [f.resource for f in found] == ["uploads"]
    assert found[0].message == "Bucket 'uploads' has no BucketPublicAccessBlock"


def test_ssh_from_a_configured_admin_cidr_is_allowed_on_the_host() -> None:
    stack = fx.baseline()
    stack.add(fx.INGRESS, "ssh", {"securityGroupId": "sg-host", "ipProtocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrIpv4": "203.0.113.10/32", "description": "operator SSH"}, {"securityGroupId": [f"{fx.SG}::host"]})  # fmt: skip
    config = {**prod_config(), "sg-host-only-from-alb": {"sshAllowedCidrs": ["203.0.113.10/32"]}}
    assert findings(stack, "sg-host-only-from-alb", config) == []
    assert "admits 203.0.113.10/32" in findings(stack, "sg-host-only-from-alb")[0].message


@pytest.mark.parametrize(
    "line",
    ["lock_passwd: true", "X-aws-ec2-metadata-token-ttl-seconds: 21600", 'TOKEN="$(curl -s -X PUT http://169.254.169.254/latest/api/token)"', "password_file: /run/secrets/db", "ssh_pwauth: false"],
)  # fmt: skip
def test_user_data_settings_are_not_mistaken_for_secrets(line: str) -> None:
    stack = fx.baseline()
    stack.get(fx.INSTANCE, "host").inputs["userData"] = f"#cloud-config\n{line}\n"
    assert findings(stack, "ec2-no-secrets-in-user-data") == []


@pytest.mark.parametrize(
    ("env", "flagged"),
    [
        ("GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/grafana", False),
        ("METRICS_TOKENS_FILE=/run/secrets/metrics", False),
        ("REDIS_KEY_PREFIX=crm", False),
        ("DB_URL=postgres://directus:hunter2@postgres:5432/crm", True),
        ("SECRET=abcdef0123456789", True),
        ("AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP", True),
    ],
)
def test_secret_env_detection(env: str, flagged: bool) -> None:
    stack = fx.baseline()
    stack.get(fx.CONTAINER, "directus").inputs["envs"] = [env]
    assert bool(findings(stack, "container-no-secret-in-env")) is flagged


def test_an_unmanaged_default_security_group_is_reported() -> None:
    stack = fx.baseline()
    stack.drop("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "default")
    [found] = findings(stack, "sg-default-group-closed")
    assert found.resource == "main" and "its default security group is not managed" in found.message


def test_an_elastic_ip_association_also_counts_as_a_public_address() -> None:
    stack = fx.baseline()
    stack.add("aws:ec2/eip:Eip", "host", {"domain": "vpc"})
    stack.add("aws:ec2/eipAssociation:EipAssociation", "host", {"instanceId": "i-1", "allocationId": "eipalloc-1"}, {"instanceId": [f"{fx.INSTANCE}::host"]})  # fmt: skip
    [found] = findings(stack, "ec2-no-public-ipv4")
    assert found.level == "advisory" and found.message == "Instance 'host' gets the public Elastic IP 'host'"


def test_backup_settings_in_the_shape_of_the_backups_component_pass() -> None:
    """archive_timeout with a unit, a quoted archive_command, BACKUP_TIME and a Barman retention policy."""
    stack = fx.baseline()
    command = ["postgres", "-c", "archive_command=barman-cloud-wal-archive --gzip s3://quintas-crm-prod-backups/postgres prod %p", "-c", "archive_mode=on", "-c", "archive_timeout=50s", "-c", "wal_level=replica"]  # fmt: skip
    stack.get(fx.CONTAINER, "postgres").inputs["command"] = command
    stack.get(fx.CONTAINER, "backup").inputs["envs"] = ["BACKUP_TIME=02:00", "BACKUP_TIME_ZONE=America/Mexico_City", "BACKUP_RETENTION_POLICY=RECOVERY WINDOW OF 30 DAYS"]  # fmt: skip
    names = ["backups-wal-archiving", "backups-archive-timeout-within-rpo", "backups-daily-base-backup", "backups-recovery-window"]  # fmt: skip
    assert [f for n in names for f in findings(stack, n)] == []
    # archive_timeout equal to the RPO leaves no time for the closed segment to reach S3.
    stack.get(fx.CONTAINER, "postgres").inputs["command"][6] = "archive_timeout=60s"
    assert (
        "less 10 s for the closed segment to reach S3"
        in findings(stack, "backups-archive-timeout-within-rpo")[0].message
    )
    stack.get(fx.CONTAINER, "postgres").inputs["command"][6] = "archive_timeout=50s"
    stack.get(fx.CONTAINER, "backup").inputs["envs"][2] = "BACKUP_RETENTION_POLICY=RECOVERY WINDOW OF 14 DAYS"
    assert (
        "keeps a recovery window of 14 days, below the minimum of 30"
        in findings(stack, "backups-recovery-window")[0].message
    )


def test_versioning_covers_every_bucket_but_the_exempt_logs_bucket() -> None:
    """CKV_AWS_21 and FSBP S3.14 ask it of every bucket: a new bucket is checked, not only uploads and backups."""
    stack = fx.baseline()
    fx.add_bucket(stack, "reports", versioned=False, protect=False)
    [found] = findings(stack, "s3-versioning")
    assert found.resource == "reports" and "versioning is not Enabled (no BucketVersioning)" in found.message


def test_an_alert_topic_whose_key_refuses_cloudwatch_is_reported() -> None:
    stack = fx.baseline()
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]}  # fmt: skip
    stack.get("aws:kms/key:Key", "telemetry").inputs["policy"] = json.dumps(policy)
    [found] = findings(stack, "sns-topic-encrypted")
    assert "alarms publish to it but its key 'telemetry' does not let cloudwatch.amazonaws.com use it" in found.message


@pytest.mark.parametrize("action", ["s3:*", "*", "s3:PutObjectRetention", "s3:bypassgovernanceretention"])
def test_backup_destruction_is_found_behind_wildcards_and_any_case(action: str) -> None:
    stack = fx.baseline()
    role_policy({"Sid": "Wide", "Effect": "Allow", "Action": action, "Resource": "arn:aws:s3:::b/*"})(stack)
    assert findings(stack, "iam-no-backup-destruction")


@pytest.mark.parametrize(
    ("host_path", "exposes"),
    [
        ("/var/run/docker.sock", "/var/run/docker.sock"),
        ("/run/docker.sock", "/run/docker.sock"),
        ("/var/run/", "/var/run/docker.sock"),
        ("/run", "/run/docker.sock"),
        ("/", "/var/run/docker.sock"),
        ("/var", "/var/run/docker.sock"),
        ("/var/lib/docker", None),
        ("/srv/data/postgres", None),
        ("/var/run/docker.socket", None),
        ("grafana-data", None),
    ],
)
def test_a_mount_exposes_the_docker_socket_when_it_is_the_socket_or_a_directory_above_it(
    host_path: str, exposes: str | None
) -> None:
    assert containers.socket_mount(host_path) == exposes


def test_traefik_mounting_the_socket_is_refused_and_the_proxy_is_not() -> None:
    stack = fx.baseline()
    sock = {"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock", "readOnly": True}
    fx.container(stack, "traefik", "traefik:v3.6.1", volumes=[sock])
    messages = [f.message for f in findings(stack, "container-no-docker-socket")]
    assert messages == [
        "Container 'traefik' mounts the Docker socket (/var/run/docker.sock): whoever controls it is root on the "
        "host; reach the Docker API through the socket proxy, or declare why in policy config `allowed`"
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"IP_TRUST_PROXY": None}, "IP_TRUST_PROXY trusts X-Forwarded-For from any address"),
        ({"REFRESH_TOKEN_COOKIE_SAME_SITE": "none"}, "REFRESH_TOKEN_COOKIE_SAME_SITE is none, not strict or lax"),
        ({"PUBLIC_URL": "http://cms.example.com"}, "PUBLIC_URL 'http://cms.example.com' is not an https:// address"),
        ({"CORS_ENABLED": None}, "CORS is not enabled with an explicit CORS_ORIGIN"),
        ({"CORS_ORIGIN": "true"}, "CORS_ORIGIN 'true' allows more than named https:// origins"),
    ],
)
def test_each_directus_setting_behind_the_proxy_is_checked(change: dict[str, str | None], problem: str) -> None:
    env = dict(e.split("=", 1) for e in fx.DIRECTUS_EDGE)
    env.update({k: v for k, v in change.items() if v is not None})
    for key in [k for k, v in change.items() if v is None]:
        del env[key]
    assert [p for p in containers.directus_problems(env) if p.startswith(problem)] != []
    assert containers.directus_problems(dict(e.split("=", 1) for e in fx.DIRECTUS_EDGE)) == []


def test_database_clients_sharing_a_role_or_holding_the_superusers_password_are_reported() -> None:
    stack = fx.baseline()
    stack.get(fx.CONTAINER, "directus").inputs["envs"] = ["DB_USER=directus", *fx.DIRECTUS_EDGE]
    stack.get(fx.CONTAINER, "backup").inputs["envs"] += [
        "PGUSER=directus",
        "PGPASSWORD_FILE=/run/secrets/postgres_password",
    ]
    messages = sorted(f.message for f in findings(stack, "database-least-privilege"))
    assert messages == [
        "container 'backup' receives the superuser's password file (PGPASSWORD_FILE)",
        "containers 'directus', 'backup' share the database role 'directus'",
    ]
    stack.get(fx.CONTAINER, "backup").inputs["envs"] = ["PGUSER=backup", "PGPASSWORD_FILE=/run/secrets/backup"]
    assert findings(stack, "database-least-privilege") == []
