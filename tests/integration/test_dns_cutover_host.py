"""`python -m ops dns-cutover` for a stack with `edge: host` (no ALB): A records to the host's Elastic IP,
against moto's Route53 and EC2 API server on loopback (the world and fixtures of test_dns_cutover.py)."""

from __future__ import annotations

import boto3

from ops.dns.cutover import read_target
from ops.sim import engine
from tests.helpers.cutover_world import World, host_edge_outputs
from tests.integration import test_dns_cutover as alb_cutover
from tests.integration.test_dns_cutover import ORIGINAL, plain, records, run_cli

# The same moto server, health stand-in and world as the ALB cutover's tests (pytest finds fixtures by name).
moto_endpoint = alb_cutover.moto_endpoint
dummy_credentials = alb_cutover.dummy_credentials
health_server = alb_cutover.health_server
world = alb_cutover.world


def test_edge_host_points_a_records_at_the_elastic_ip_and_rolls_back(world: World) -> None:
    outputs = host_edge_outputs(world)
    ip = outputs["hostPublicIp"]
    code, out, err = run_cli(world, outputs=outputs)
    assert (code, err) == (0, ""), err
    assert f"Host {world.instance_id}: running, public address {ip}" in out
    for name in ("app.quintas-crm.example.", "cms.quintas-crm.example."):
        assert records(world)[name] == {"A": {"Name": name, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": ip}]}}
    assert sorted(world.health.seen) == [
        ("app.quintas-crm.example", "/api/health"),
        ("cms.quintas-crm.example", "/server/ping"),
    ]
    code, out, _ = run_cli(world, outputs=outputs)
    assert code == 0 and "Nothing to change: both names already point at the host's Elastic IP." in out
    code, _, err = run_cli(world, "--rollback", outputs=outputs)
    assert (code, err) == (0, "")
    assert plain(records(world)) == ORIGINAL


def test_edge_host_drops_an_aaaa_record_the_host_cannot_answer(world: World) -> None:
    aaaa = {
        "Name": "app.quintas-crm.example.",
        "Type": "AAAA",
        "TTL": 300,
        "ResourceRecords": [{"Value": "2001:db8::1"}],
    }
    world.route53.change_resource_record_sets(
        HostedZoneId=world.zone_id, ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": aaaa}]}
    )
    code, _, err = run_cli(world, outputs=host_edge_outputs(world))
    assert (code, err) == (0, ""), err
    assert set(records(world)["app.quintas-crm.example."]) == {"A"}


def test_edge_host_refuses_a_stopped_host_or_another_address(world: World) -> None:
    outputs = host_edge_outputs(world)
    code, _, err = run_cli(world, outputs={**outputs, "hostPublicIp": "198.51.100.7"})
    assert code == 1 and f"has the public address {outputs['hostPublicIp']}, not the Elastic IP 198.51.100.7" in err
    boto3.client("ec2", region_name="us-east-1", endpoint_url=world.endpoint).stop_instances(
        InstanceIds=[world.instance_id]
    )
    code, _, err = run_cli(world, outputs=outputs)
    assert code == 1 and "is stopped, not running" in err
    assert plain(records(world)) == ORIGINAL, "a refused cutover changes no record"


def test_a_host_edge_stack_exports_what_the_a_record_cutover_reads() -> None:
    outputs = engine.reveal(engine.run("staging").outputs)
    assert "albDnsName" not in outputs
    target = read_target(outputs)
    assert (target.alb_dns_name, target.host_ip, target.instance_id) == (
        None,
        outputs["hostPublicIp"],
        outputs["hostInstanceId"],
    )
