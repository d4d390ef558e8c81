"""LoadBalancer: the internet-facing ALB, its listeners, the app and CMS target groups, and the certificate.

- HTTP :80 only answers 301 to HTTPS.
- HTTPS :443 terminates TLS (ELBSecurityPolicy-TLS13-1-2-2021-06) with an ACM
  certificate for the app and CMS names, and routes by Host header: the app name
  to target group :3000 (Next.js, health `/api/health`), the CMS name to :8055
  (Directus, health `/server/ping`); anything else gets a 404.
- The certificate is validated by DNS: with a Route53 zone the records are made
  here; without one they are exposed (`validation_records`) for the operator.
- Access logs go to the logs bucket; invalid header fields are dropped; deletion
  protection is on unless explicitly turned off (staging).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.buckets import ACCESS_LOG_PREFIX, Buckets
from components.aws.host import AppHost
from components.aws.network import Network
from components.aws.security import SecurityGroups
from components.config import StackConfig

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@dataclass(frozen=True)
class Route:
    """One host name routed to one port of the host, with the path the ALB health-checks."""

    key: str
    """Short name of the route (`app`, `cms`): the target group's and the listener rule's resource name."""
    host: str
    """The host name the HTTPS listener forwards to this route, e.g. app.example.com."""
    port: int
    """The host's port the target group forwards to (Traefik's entrypoint: 3000 or 8055)."""
    health_path: str
    """HTTP path the target group health-checks on `port`; a target that fails it gets no traffic."""
    priority: int
    """Listener rule priority (1-50000, unique per listener; lower is evaluated first)."""
    aliases: tuple[str, ...] = ()
    """More host names served by the same port (Traefik tells them apart, e.g. Grafana on :3000)."""

    @property
    def hosts(self) -> list[str]:
        return [self.host, *self.aliases]


@dataclass
class LoadBalancerArgs:
    name: str
    """The ALB's name, e.g. quintas-crm-prod (at most 32 characters)."""
    tags: Mapping[str, str]
    """Tags of the ALB, its listeners, target groups and certificate."""
    vpc_id: pulumi.Input[str]
    """The VPC of the target groups."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Public subnets the ALB lives in, in at least two availability zones."""
    security_group_id: pulumi.Input[str]
    """The ALB's security group (SecurityGroups.alb_security_group_id)."""
    routes: Sequence[Route]
    """One target group and one HTTPS listener rule per route; the certificate covers every route's names."""
    target_instance_id: pulumi.Input[str] | None
    """The EC2 host registered in every target group; None: the groups take IP targets, which
    the ECS services register themselves (the `ecs` topology)."""
    access_logs_bucket: pulumi.Input[str]
    """Name of the bucket the access logs go to, under the `alb/` prefix (Buckets.logs)."""
    route53_zone_id: str | None = None
    """Hosted zone that gets the certificate's DNS validation records; None: the operator creates them
    from `validation_records`."""
    deletion_protection: bool = True
    """ALB deletion protection: deleting the ALB (and so changing its DNS name) fails. Default on;
    False for stacks that may be torn down (staging)."""

    @classmethod
    def for_stack(
        cls,
        config: StackConfig,
        network: Network,
        security: SecurityGroups,
        host: AppHost | None,
        buckets: Buckets,
        routes: Sequence[Route],
    ) -> LoadBalancerArgs | None:
        """Across the network's subnets, forwarding `routes` to the host, logging to the logs bucket;
        None with edge `host` (Traefik on the host terminates TLS: no ALB, no ALB security group)."""
        if config.edge == "host" or security.alb_security_group_id is None:
            return None
        return cls(
            name=config.name_prefix,
            tags=config.tags_for("load-balancer"),
            vpc_id=network.vpc_id,
            subnet_ids=network.subnet_ids,
            security_group_id=security.alb_security_group_id,
            routes=routes,
            target_instance_id=host.instance_id if host else None,
            access_logs_bucket=buckets.logs.name,
            route53_zone_id=config.route53_zone_id,
            deletion_protection=config.is_prod,
        )


class LoadBalancer(pulumi.ComponentResource):
    arn: pulumi.Output[str]
    arn_suffix: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    zone_id: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    target_group_arns: dict[str, pulumi.Output[str]]
    target_group_arn_suffixes: dict[str, pulumi.Output[str]]
    certificate_arn: pulumi.Output[str]
    validation_records: pulumi.Output[list[dict[str, str]]] | None
    """DNS records the operator must create, when no Route53 zone is configured; else None."""

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:load_balancer:LoadBalancer", name, None, opts)
        if len(args.name) > 32:
            raise ValueError(f"ALB name {args.name!r} is longer than the 32 characters AWS allows")
        child = pulumi.ResourceOptions(parent=self)
        alb = aws.lb.LoadBalancer(
            "alb",
            name=args.name,
            load_balancer_type="application",
            internal=False,
            subnets=list(args.subnet_ids),
            security_groups=[args.security_group_id],
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.deletion_protection,
            access_logs={"bucket": args.access_logs_bucket, "prefix": ACCESS_LOG_PREFIX, "enabled": True},
            tags={**args.tags, "Name": args.name},
            opts=child,
        )
        self.target_group_arns, self.target_group_arn_suffixes = {}, {}
        groups = {route.key: self._target_group(route, args) for route in args.routes}
        certificate_arn = self._certificate(args)
        self._listeners(args, alb, groups, certificate_arn)
        self.arn = alb.arn
        self.arn_suffix = alb.arn_suffix
        self.dns_name = alb.dns_name
        self.zone_id = alb.zone_id
        self.security_group_id = pulumi.Output.from_input(args.security_group_id)
        self.certificate_arn = certificate_arn
        self.register_outputs({"dnsName": alb.dns_name, "zoneId": alb.zone_id, "targetGroups": self.target_group_arns})

    def _listeners(
        self,
        args: LoadBalancerArgs,
        alb: aws.lb.LoadBalancer,
        groups: Mapping[str, aws.lb.TargetGroup],
        certificate_arn: pulumi.Input[str],
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        aws.lb.Listener(
            "http",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}
            ],
            tags=dict(args.tags),
            opts=child,
        )
        https = aws.lb.Listener(
            "https",
            load_balancer_arn=alb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=certificate_arn,
            default_actions=[
                {
                    "type": "fixed-response",
                    "fixed_response": {"content_type": "text/plain", "message_body": "not found", "status_code": "404"},
                }
            ],
            tags=dict(args.tags),
            opts=child,
        )
        for route in args.routes:
            aws.lb.ListenerRule(
                route.key,
                listener_arn=https.arn,
                priority=route.priority,
                conditions=[{"host_header": {"values": route.hosts}}],
                actions=[{"type": "forward", "target_group_arn": groups[route.key].arn}],
                tags=dict(args.tags),
                opts=child,
            )

    def _target_group(self, route: Route, args: LoadBalancerArgs) -> aws.lb.TargetGroup:
        child = pulumi.ResourceOptions(parent=self)
        group = aws.lb.TargetGroup(
            route.key,
            port=route.port,
            protocol="HTTP",
            target_type="instance" if args.target_instance_id is not None else "ip",
            vpc_id=args.vpc_id,
            # Traefik drains a replaced container itself, and a replaced task has no long requests:
            # the ALB need not wait the default 300 s.
            deregistration_delay=30,
            health_check={
                "enabled": True,
                "path": route.health_path,
                "port": "traffic-port",
                "protocol": "HTTP",
                "matcher": "200",
                "interval": 15,
                "timeout": 5,
                "healthy_threshold": 2,
                "unhealthy_threshold": 3,
            },
            tags={**args.tags, "Name": f"{args.name}-{route.key}"},
            opts=child,
        )
        if args.target_instance_id is not None:
            aws.lb.TargetGroupAttachment(
                route.key, target_group_arn=group.arn, target_id=args.target_instance_id, port=route.port, opts=child
            )
        self.target_group_arns[route.key] = group.arn
        self.target_group_arn_suffixes[route.key] = group.arn_suffix
        return group

    def _certificate(self, args: LoadBalancerArgs) -> pulumi.Output[str]:
        """The certificate's ARN once it is issued; the HTTPS listener cannot use it before."""
        child = pulumi.ResourceOptions(parent=self)
        hosts = [host for route in args.routes for host in route.hosts]
        certificate = aws.acm.Certificate(
            "cert",
            domain_name=hosts[0],
            subject_alternative_names=hosts[1:],
            validation_method="DNS",
            key_algorithm="EC_prime256v1",
            tags={**args.tags, "Name": args.name},
            opts=child,
        )
        options = certificate.domain_validation_options
        self.validation_records = None
        fqdns: list[pulumi.Output[str]] | None = None
        if args.route53_zone_id:
            fqdns = []
            for index, host in enumerate(hosts):
                option = options.apply(lambda opts, h=host: next(o for o in opts if o.domain_name == h))
                record = aws.route53.Record(
                    f"cert-validation-{index}",
                    zone_id=args.route53_zone_id,
                    name=option.apply(lambda o: o.resource_record_name or ""),
                    type=option.apply(lambda o: o.resource_record_type or "CNAME"),
                    records=[option.apply(lambda o: o.resource_record_value or "")],
                    ttl=300,
                    # ACM may reuse a record an earlier certificate for the same name left behind.
                    allow_overwrite=True,
                    opts=child,
                )
                fqdns.append(record.fqdn)
        else:
            self.validation_records = options.apply(
                lambda opts: [
                    {
                        "domain": o.domain_name or "",
                        "name": o.resource_record_name or "",
                        "type": o.resource_record_type or "",
                        "value": o.resource_record_value or "",
                    }
                    for o in opts
                ]
            )
        validation = aws.acm.CertificateValidation(
            "cert",
            certificate_arn=certificate.arn,
            validation_record_fqdns=fqdns,
            opts=child,
        )
        return validation.certificate_arn
