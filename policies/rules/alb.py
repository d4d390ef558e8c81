"""Load balancer rules: HTTPS with a TLS 1.2+ policy, HTTP only redirecting, invalid
headers dropped, deletion protection in prod, access logs on."""

from __future__ import annotations

import re

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs

from .base import ENVIRONMENT_SCHEMA, Report, Rule, get, is_prod, is_unknown, items, label, of_type, refers_to

LOAD_BALANCER = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENER = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
LISTENER_RULE = ("aws:lb/listenerRule:ListenerRule", "aws:alb/listenerRule:ListenerRule")

# AWS's predefined policies whose minimum protocol is TLS 1.2 or 1.3; the 2016 default allows TLS 1.0.
TLS12_POLICY = re.compile(r"^ELBSecurityPolicy-(TLS13-1-[23]|TLS-1-2|FS-1-2)(-[A-Za-z0-9]+)*-\d{4}-\d{2}$")


def _application(lb: PolicyResource | ResourceValidationArgs) -> bool:
    return get(lb.props, "loadBalancerType") in (None, "application")


def _listeners_of(args: StackValidationArgs, lb: PolicyResource) -> list[PolicyResource]:
    return [r for r in of_type(args, *LISTENER) if refers_to(r, "loadBalancerArn", lb, get(lb.props, "arn"))]


def _https_listener(args: StackValidationArgs, report: Report) -> None:
    for lb in of_type(args, *LOAD_BALANCER):
        if not _application(lb):
            continue
        listeners = _listeners_of(args, lb)
        protocols = [get(r.props, "protocol") for r in listeners]
        if not any(p == "HTTPS" or is_unknown(p) for p in protocols):
            report(f"{label(lb)} has no HTTPS listener", lb.urn)
        for listener in listeners:
            if (
                get(listener.props, "protocol") == "HTTPS"
                and not get(listener.props, "certificateArn")
                and not is_unknown(get(listener.props, "certificateArn"))
            ):
                report(f"HTTPS listener {listener.name!r} of {label(lb)} has no certificate", lb.urn)


def _tls_policy(args: ResourceValidationArgs, report: Report) -> None:
    if get(args.props, "protocol") not in ("HTTPS", "TLS"):
        return
    policy = get(args.props, "sslPolicy")
    if is_unknown(policy):
        return
    if not isinstance(policy, str) or not TLS12_POLICY.match(policy):
        shown = policy or "unset (the default ELBSecurityPolicy-2016-08 allows TLS 1.0)"
        report(f"{label(args)}: sslPolicy {shown} does not require TLS 1.2 or later")


def _redirect_only(action: object) -> bool | None:
    kind = get(action, "type")
    if is_unknown(kind):
        return None
    protocol = get(action, "redirect", "protocol")
    return kind == "redirect" and (protocol == "HTTPS" or is_unknown(protocol))


def _http_redirects(args: StackValidationArgs, report: Report) -> None:
    for listener in of_type(args, *LISTENER):
        if get(listener.props, "protocol") != "HTTP":
            continue
        actions = items(listener.props, "defaultActions")
        if not actions or any(_redirect_only(a) is False for a in actions):
            kinds = ", ".join(str(get(a, "type")) for a in actions) or "none"
            report(f"HTTP {label(listener)} does not only redirect to HTTPS (default actions: {kinds})", listener.urn)
        for rule in of_type(args, *LISTENER_RULE):
            if refers_to(rule, "listenerArn", listener, get(listener.props, "arn")) and any(
                _redirect_only(a) is False for a in items(rule.props, "actions")
            ):
                report(
                    f"HTTP {label(listener)}: listener rule {rule.name!r} serves traffic instead of redirecting",
                    listener.urn,
                )


def _drop_invalid_headers(args: ResourceValidationArgs, report: Report) -> None:
    value = get(args.props, "dropInvalidHeaderFields")
    if _application(args) and value is not True and not is_unknown(value):
        report(f"{label(args)}: dropInvalidHeaderFields is off; malformed headers reach Traefik and the apps")


def _deletion_protection(args: ResourceValidationArgs, report: Report) -> None:
    value = get(args.props, "enableDeletionProtection")
    if is_prod(args.get_config()) and value is not True and not is_unknown(value):
        report(f"{label(args)}: enableDeletionProtection is off in prod")


def _access_logs(args: ResourceValidationArgs, report: Report) -> None:
    enabled = get(args.props, "accessLogs", "enabled")
    bucket = get(args.props, "accessLogs", "bucket")
    if is_unknown(enabled) or is_unknown(bucket):
        return
    if enabled is not True or not bucket:  # the provider defaults `enabled` to false even with a bucket
        report(f"{label(args)}: access logs are off (accessLogs.enabled with a bucket)")


RULES = [
    Rule(
        name="alb-https-listener",
        description="Every application load balancer has an HTTPS listener with a certificate.",
        why="Sign-in, client data and payments travel only encrypted.",
        severity=Severity.HIGH,
        check=_https_listener,
        kind="stack",
        references=("checkov CKV_AWS_2",),
    ),
    Rule(
        name="alb-tls-policy",
        description="Every HTTPS/TLS listener uses a TLS 1.2+ security policy.",
        why="TLS 1.0 and 1.1 have known weaknesses and fail PCI DSS for the payment pages.",
        severity=Severity.HIGH,
        check=_tls_policy,
        resource_types=LISTENER,
        references=("AWS-FSBP ELB.17", "checkov CKV_AWS_103"),
    ),
    Rule(
        name="alb-http-redirects-only",
        description="Every HTTP listener only redirects to HTTPS, in its default actions and its rules.",
        why="A forwarding HTTP listener would serve the CRM in clear text next to the HTTPS one.",
        severity=Severity.HIGH,
        check=_http_redirects,
        kind="stack",
        references=("AWS-FSBP ELB.1", "checkov CKV2_AWS_20"),
    ),
    Rule(
        name="alb-drop-invalid-headers",
        description="Every application load balancer drops invalid HTTP header fields.",
        why="Malformed headers are a request-smuggling vector against the apps behind it.",
        severity=Severity.MEDIUM,
        check=_drop_invalid_headers,
        resource_types=LOAD_BALANCER,
        references=("AWS-FSBP ELB.4", "checkov CKV_AWS_131"),
    ),
    Rule(
        name="alb-deletion-protection-in-prod",
        description="In prod every load balancer has deletion protection.",
        why="Deleting the ALB changes its DNS name and breaks the domain until DNS is cut over again.",
        severity=Severity.MEDIUM,
        check=_deletion_protection,
        resource_types=LOAD_BALANCER,
        references=("AWS-FSBP ELB.6", "checkov CKV_AWS_150"),
        config={"environment": ENVIRONMENT_SCHEMA},
    ),
    Rule(
        name="alb-access-logs",
        description="Every load balancer writes access logs to S3.",
        why="Access logs are the only record of who requested what when an incident is investigated.",
        severity=Severity.MEDIUM,
        check=_access_logs,
        resource_types=LOAD_BALANCER,
        references=("AWS-FSBP ELB.5", "checkov CKV_AWS_91"),
    ),
]
