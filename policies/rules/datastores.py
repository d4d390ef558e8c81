"""Managed data store rules (the `ecs` topology): RDS encrypted, private, Multi-AZ and deletion-protected
in prod, with automated backups covering the recovery window; ElastiCache encrypted at rest and in
transit, with a replica in prod; neither reachable from an address range, only from security groups."""

from __future__ import annotations

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs

from .base import ENVIRONMENT_SCHEMA, Report, Rule, get, is_prod, is_unknown, label, number, of_type
from .network import GROUP, INGRESS, LEGACY_RULE, SgRule, sg_rules

RDS = ("aws:rds/instance:Instance",)
REDIS = ("aws:elasticache/replicationGroup:ReplicationGroup",)
MAX_RDS_RETENTION = 35
STORE_GROUPS = {RDS[0]: "vpcSecurityGroupIds", REDIS[0]: "securityGroupIds"}


def _flag_off(args: ResourceValidationArgs, report: Report, *flags: str) -> None:
    for flag in flags:
        value = get(args.props, flag)
        if not is_unknown(value) and value is not True:
            report(f"{label(args)}: {flag} is not true")


def _rds_encrypted(args: ResourceValidationArgs, report: Report) -> None:
    _flag_off(args, report, "storageEncrypted")


def _rds_not_public(args: ResourceValidationArgs, report: Report) -> None:
    if get(args.props, "publiclyAccessible") is True:
        report(f"{label(args)} is publicly accessible: it gets a public address and DNS name")


def _rds_multi_az(args: ResourceValidationArgs, report: Report) -> None:
    if is_prod(args.get_config()):
        _flag_off(args, report, "multiAz")


def _rds_deletion_protection(args: ResourceValidationArgs, report: Report) -> None:
    if not is_prod(args.get_config()):
        return
    _flag_off(args, report, "deletionProtection")
    if get(args.props, "skipFinalSnapshot") is True:
        report(f"{label(args)}: skipFinalSnapshot is true in prod: deleting it keeps no last snapshot")
    if not args.opts.protect:
        report(f"{label(args)} holds the database in prod but is not protect=True")


def _rds_backup_retention(args: ResourceValidationArgs, report: Report) -> None:
    window = int(args.get_config()["recoveryWindowDays"])
    retention = get(args.props, "backupRetentionPeriod")
    if is_unknown(retention):
        return
    days = number(retention) or 0.0
    if days < min(window, MAX_RDS_RETENTION):
        report(f"{label(args)} keeps automated backups {days:g} days, less than the {window}-day recovery window")
    elif window > MAX_RDS_RETENTION:
        report(f"{label(args)}: RDS keeps backups {MAX_RDS_RETENTION} days at most, the recovery window is {window}")


def _redis_encrypted(args: ResourceValidationArgs, report: Report) -> None:
    _flag_off(args, report, "atRestEncryptionEnabled", "transitEncryptionEnabled")


def _redis_replica(args: ResourceValidationArgs, report: Report) -> None:
    if not is_prod(args.get_config()):
        return
    nodes = get(args.props, "numCacheClusters")
    if not is_unknown(nodes) and (number(nodes) or 1) < 2:
        report(f"{label(args)} has no replica in prod (numCacheClusters {number(nodes) or 1:g})")
    _flag_off(args, report, "automaticFailoverEnabled")


def _ingress_of(args: StackValidationArgs, group: PolicyResource) -> list[SgRule]:
    """The ingress rules of a group: its inline blocks and the rule resources attached to it."""
    found = list(sg_rules(GROUP, group.props, group.name))
    for resource in of_type(args, INGRESS, LEGACY_RULE):
        if any(d.urn == group.urn for d in resource.property_dependencies.get("securityGroupId", [])):
            found += sg_rules(resource.resource_type, resource.props, resource.name)
    return [rule for rule in found if rule.ingress]


def _stores_from_groups_only(args: StackValidationArgs, report: Report) -> None:
    by_urn = {r.urn: r for r in args.resources}
    for store in of_type(args, *STORE_GROUPS):
        for dep in store.property_dependencies.get(STORE_GROUPS[store.resource_type], []):
            group = by_urn.get(dep.urn)
            if group is None or group.resource_type != GROUP:
                continue
            for rule in _ingress_of(args, group):
                cidrs = [c for c in rule.cidrs if not is_unknown(c)]
                if cidrs:
                    report(
                        f"{label(store)}: its security group {group.name!r} admits {', '.join(map(str, cidrs))} "
                        f"(rule {rule.where!r}); a data store takes connections from its clients' groups only",
                        store.urn,
                    )


PROD = {"environment": ENVIRONMENT_SCHEMA}
WINDOW_SCHEMA = {
    "type": "integer",
    "minimum": 1,
    "default": 30,
    "description": "days a point-in-time restore must reach back (the stack's recoveryWindowDays)",
}
RULES = [
    Rule(
        name="rds-storage-encrypted",
        description="Every RDS instance encrypts its storage, backups and snapshots.",
        why="The database holds every lot, client, sale and payment; its snapshots leave the instance.",
        severity=Severity.HIGH,
        check=_rds_encrypted,
        resource_types=RDS,
        references=("AWS-FSBP RDS.3", "checkov CKV_AWS_16", "CIS-AWS-v3.0.0 2.3.1"),
    ),
    Rule(
        name="rds-not-public",
        description="No RDS instance is publicly accessible.",
        why="A public database answers the whole internet's login attempts; the services reach it inside the VPC.",
        severity=Severity.CRITICAL,
        check=_rds_not_public,
        resource_types=RDS,
        references=("AWS-FSBP RDS.2", "checkov CKV_AWS_17", "CIS-AWS-v3.0.0 2.3.3"),
    ),
    Rule(
        name="rds-multi-az-in-prod",
        description="In prod every RDS instance is Multi-AZ.",
        why="A standby in the other zone takes over in about a minute when the primary's zone or host fails.",
        severity=Severity.HIGH,
        check=_rds_multi_az,
        resource_types=RDS,
        references=("AWS-FSBP RDS.5", "checkov CKV_AWS_157"),
        config=PROD,
    ),
    Rule(
        name="rds-deletion-protection-in-prod",
        description="In prod every RDS instance has deletion protection, takes a final snapshot and is protect=True.",
        why="Deleting the production database by a stray `pulumi destroy` or a replacement must fail.",
        severity=Severity.CRITICAL,
        check=_rds_deletion_protection,
        resource_types=RDS,
        references=("AWS-FSBP RDS.8", "checkov CKV_AWS_293"),
        config=PROD,
    ),
    Rule(
        name="rds-backup-retention-covers-recovery-window",
        description="Every RDS instance keeps automated backups (point-in-time restore) for the recovery window.",
        why="A restore must reach as far back as the recovery window the stack promises, as Barman does on the host.",
        severity=Severity.HIGH,
        check=_rds_backup_retention,
        resource_types=RDS,
        references=("AWS-FSBP RDS.11", "checkov CKV_AWS_133"),
        config={"recoveryWindowDays": WINDOW_SCHEMA},
    ),
    Rule(
        name="elasticache-encrypted",
        description="Every ElastiCache replication group is encrypted at rest and in transit.",
        why="The cache holds Directus' sessions and query results: client data that must not cross the network in clear.",
        severity=Severity.HIGH,
        check=_redis_encrypted,
        resource_types=REDIS,
        references=("AWS-FSBP ElastiCache.4", "AWS-FSBP ElastiCache.5", "checkov CKV_AWS_29", "checkov CKV_AWS_30"),
    ),
    Rule(
        name="elasticache-replica-in-prod",
        description="In prod every ElastiCache replication group has a replica and automatic failover.",
        why="Without a replica a node failure empties the cache and stalls Directus until a new node starts.",
        severity=Severity.MEDIUM,
        check=_redis_replica,
        resource_types=REDIS,
        references=("AWS-FSBP ElastiCache.3",),
        config=PROD,
    ),
    Rule(
        name="datastores-only-from-security-groups",
        description="RDS instances and ElastiCache groups admit connections from security groups only, never an address range.",
        why="An address range reaches further than the services that need the data store, up to the whole internet.",
        severity=Severity.CRITICAL,
        check=_stores_from_groups_only,
        kind="stack",
        references=("AWS-FSBP EC2.18",),
    ),
]
