"""LoadBalancer: ALB settings, HTTP->HTTPS redirect, TLS listener, host routing, certificate validation."""

from __future__ import annotations

from ops.sim import engine
from tests.helpers.platform_helpers import SECURITY_GROUP, bucket_name

LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
RULE = "aws:lb/listenerRule:ListenerRule"
GROUP = "aws:lb/targetGroup:TargetGroup"
RECORD = "aws:route53/record:Record"


def _alb(run: engine.Run) -> engine.Resource:
    return run.one(LB, "alb")


def test_alb_is_internet_facing_in_both_subnets_behind_its_group(alb_run: engine.Run) -> None:
    alb = _alb(alb_run)
    assert (alb.inputs["loadBalancerType"], alb.inputs["internal"]) == ("application", False)
    assert sorted(alb.inputs["subnets"]) == sorted(str(s.id) for s in alb_run.of_type("aws:ec2/subnet:Subnet"))
    assert alb.inputs["securityGroups"] == [alb_run.one(SECURITY_GROUP, "alb").id]


def test_alb_drops_invalid_header_fields(alb_run: engine.Run) -> None:
    assert _alb(alb_run).inputs["dropInvalidHeaderFields"] is True


def test_alb_deletion_protection_is_on_in_prod_only(prod: engine.Run, staging_alb: engine.Run) -> None:
    assert (_alb(prod).inputs["enableDeletionProtection"], _alb(staging_alb).inputs["enableDeletionProtection"]) == (
        True,
        False,
    )


def test_alb_writes_access_logs_to_the_logs_bucket(alb_run: engine.Run) -> None:
    logs = _alb(alb_run).inputs["accessLogs"]
    assert logs == {"bucket": bucket_name(alb_run, "logs"), "prefix": "alb", "enabled": True}
    # The ALB waits for the bucket policy that lets ELB write there.
    policy = next(p for p in alb_run.of_type("aws:s3/bucketPolicy:BucketPolicy") if p.name == "logs")
    assert policy.urn in _alb(alb_run).property_dependencies["accessLogs"]


def test_http_listener_only_redirects_to_https_with_301(alb_run: engine.Run) -> None:
    http = alb_run.one(LISTENER, "http")
    assert (http.inputs["port"], http.inputs["protocol"]) == (80, "HTTP")
    assert http.inputs["defaultActions"] == [
        {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
    ]
    assert not [r for r in alb_run.of_type(RULE) if r.inputs["listenerArn"] == http.id]


def test_https_listener_uses_the_tls13_policy_and_the_validated_certificate(alb_run: engine.Run) -> None:
    https = alb_run.one(LISTENER, "https")
    certificate = alb_run.one("aws:acm/certificate:Certificate", "cert")
    validation = alb_run.one("aws:acm/certificateValidation:CertificateValidation", "cert")
    assert (https.inputs["port"], https.inputs["protocol"]) == (443, "HTTPS")
    assert https.inputs["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https.inputs["certificateArn"] == certificate.outputs["arn"]
    assert validation.urn in https.property_dependencies["certificateArn"]


def test_unknown_host_names_get_404(alb_run: engine.Run) -> None:
    (action,) = alb_run.one(LISTENER, "https").inputs["defaultActions"]
    assert (action["type"], action["fixedResponse"]["statusCode"]) == ("fixed-response", "404")


def test_certificate_covers_the_app_grafana_and_cms_names_by_dns(prod: engine.Run) -> None:
    certificate = prod.one("aws:acm/certificate:Certificate", "cert")
    assert certificate.inputs["domainName"] == "app.quintas-crm.example"
    assert certificate.inputs["subjectAlternativeNames"] == ["grafana.quintas-crm.example", "cms.quintas-crm.example"]
    assert certificate.inputs["validationMethod"] == "DNS"


def test_host_rules_route_each_name_to_its_target_group(alb_run: engine.Run) -> None:
    https = alb_run.one(LISTENER, "https")
    setting = alb_run.config.__getitem__
    # Grafana shares the app port: Traefik on the host routes it by name.
    hosts = {
        "app": [setting("quintas-crm-infra:appHost"), setting("quintas-crm-infra:grafanaHost")],
        "cms": [setting("quintas-crm-infra:cmsHost")],
    }
    for key, names in hosts.items():
        rule = alb_run.one(RULE, key)
        assert rule.inputs["listenerArn"] == https.id
        assert rule.inputs["conditions"] == [{"hostHeader": {"values": names}}]
        assert rule.inputs["actions"] == [{"type": "forward", "targetGroupArn": alb_run.one(GROUP, key).id}]


def test_target_groups_use_the_service_ports_and_health_paths(alb_run: engine.Run) -> None:
    for key, port, path in (("app", 3000, "/api/health"), ("cms", 8055, "/server/ping")):
        group = alb_run.one(GROUP, key)
        assert (group.inputs["port"], group.inputs["protocol"], group.inputs["targetType"]) == (
            port,
            "HTTP",
            "instance",
        )
        assert (group.inputs["healthCheck"]["path"], group.inputs["healthCheck"]["matcher"]) == (path, "200")
        assert group.inputs["vpcId"] == alb_run.one("aws:ec2/vpc:Vpc").id


def test_host_is_registered_in_both_target_groups(alb_run: engine.Run) -> None:
    host = alb_run.one("aws:ec2/instance:Instance", "host")
    attachments = alb_run.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment")
    assert sorted((a.inputs["targetGroupArn"], a.inputs["targetId"], a.inputs["port"]) for a in attachments) == sorted(
        [(alb_run.one(GROUP, "app").id, host.id, 3000), (alb_run.one(GROUP, "cms").id, host.id, 8055)]
    )


def test_with_a_zone_the_validation_records_are_created_there(prod: engine.Run) -> None:
    certificate = prod.one("aws:acm/certificate:Certificate", "cert")
    expected = sorted(
        (o["resourceRecordName"], o["resourceRecordType"], [o["resourceRecordValue"]])
        for o in certificate.outputs["domainValidationOptions"]
    )
    records = prod.of_type(RECORD)
    assert sorted((r.inputs["name"], r.inputs["type"], r.inputs["records"]) for r in records) == expected
    assert {r.inputs["zoneId"] for r in records} == {"Z0123456789ABCDEFGHIJ"}
    validation = prod.one("aws:acm/certificateValidation:CertificateValidation", "cert")
    assert sorted(validation.inputs["validationRecordFqdns"]) == sorted(r.outputs["fqdn"] for r in records)
    assert "certificateValidationRecords" not in prod.outputs


def test_without_a_zone_the_validation_records_are_exported(staging_alb: engine.Run) -> None:
    certificate = staging_alb.one("aws:acm/certificate:Certificate", "cert")
    assert not staging_alb.of_type(RECORD)
    assert staging_alb.outputs["certificateValidationRecords"] == [
        {
            "domain": o["domainName"],
            "name": o["resourceRecordName"],
            "type": o["resourceRecordType"],
            "value": o["resourceRecordValue"],
        }
        for o in certificate.outputs["domainValidationOptions"]
    ]
    assert [r["domain"] for r in staging_alb.outputs["certificateValidationRecords"]] == [
        "app.staging.quintas-crm.example",
        "grafana.staging.quintas-crm.example",
        "cms.staging.quintas-crm.example",
    ]
