"""`python -m ops dns-cutover` end to end against moto's Route53 and ELBv2 API server on loopback.

The world is real moto state: a VPC, two subnets, an EC2 instance, an ALB with the
frontend (3000) and Directus (8055) target groups, and a public hosted zone holding the
old records. A local HTTP server stands in for the services behind the ALB.

Moto does not run health checks: describe-target-health reports `healthy` for a
registered target whose instance is running, `unused` (Target.InvalidState) once the
instance is stopped, and an empty list for a target group with no targets. The tests
use exactly those states. Moto answers every Route53 change as INSYNC at once, so the
polling loop's PENDING and timeout paths are covered by a test of `wait_insync` alone.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from ops.__main__ import build_parser
from ops.cli import dns_cutover
from ops.dns import records as dns_records
from ops.dns.cutover import read_target, region_of
from ops.sim import engine
from tests.conftest import require_tool
from tests.helpers.cutover_world import (
    DUMMY_CREDENTIALS,
    HealthServer,
    World,
    build_world,
    free_port,
    self_signed_certificate,
)

ROOT = Path(__file__).resolve().parents[2]


def run_cli(world: World, *extra: str, outputs: dict[str, Any] | None = None) -> tuple[int, str, str]:
    outputs_file = world.tmp / "outputs.json"
    outputs_file.write_text(json.dumps(world.outputs if outputs is None else outputs))
    argv = [
        "dns-cutover",
        "--stack",
        "prod",
        "--zone-id",
        world.zone_id,
        "--outputs",
        str(outputs_file),
        "--endpoint-url",
        world.endpoint,
        "--health-base-url",
        world.health.base_url,
        "--state-dir",
        str(world.tmp / "state"),
        "--poll-interval",
        "0.1",
        *extra,
    ]
    args = build_parser().parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    code = dns_cutover.main(args, out, err)
    return code, out.getvalue(), err.getvalue()


def records(world: World) -> dict[str, dict[str, Any]]:
    found = dns_records.read_records(
        world.route53, world.zone_id, ["app.quintas-crm.example", "cms.quintas-crm.example"]
    )
    return {name: {t: r for t, r in types.items() if r is not None} for name, types in found.items()}


def alias_of(record: dict[str, Any]) -> str:
    return record["AliasTarget"]["DNSName"]


ORIGINAL = {
    "app.quintas-crm.example.": {"A": ["203.0.113.10"]},
    "cms.quintas-crm.example.": {"CNAME": ["old-cms.hosting.example."]},
}


def plain(found: dict[str, dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    return {n: {t: [v["Value"] for v in r["ResourceRecords"]] for t, r in types.items()} for n, types in found.items()}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's API server on 127.0.0.1 and a free port, for this module's tests."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in DUMMY_CREDENTIALS.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def health_server() -> Iterator[HealthServer]:
    server = HealthServer()
    yield server
    server.stop()


@pytest.fixture
def world(moto_endpoint: str, tmp_path: Path, health_server: HealthServer) -> World:
    return build_world(moto_endpoint, tmp_path, health_server)


def test_cutover_points_both_names_at_the_alb_after_checking_health(world: World) -> None:
    code, out, err = run_cli(world)
    assert (code, err) == (0, ""), err
    after = records(world)
    alb = dns_records.fqdn(world.outputs["albDnsName"])
    for name in ("app.quintas-crm.example.", "cms.quintas-crm.example."):
        assert set(after[name]) == {"A"}, "the cms CNAME must be gone: Route53 allows no A next to a CNAME"
        assert alias_of(after[name]["A"]) == alb
        assert after[name]["A"]["AliasTarget"]["HostedZoneId"] == world.outputs["albZoneId"]
    assert sorted(world.health.seen) == [
        ("app.quintas-crm.example", "/api/health"),
        ("cms.quintas-crm.example", "/server/ping"),
    ]
    assert "before" in out and "203.0.113.10" in out and "old-cms.hosting.example." in out
    assert out.index("before") < out.index("after")
    assert "INSYNC" in out
    state = json.loads((world.tmp / "state" / f"prod-{world.zone_id}.json").read_text())
    assert plain({n: {t: r for t, r in ts.items() if r} for n, ts in state["before"].items()}) == ORIGINAL


def test_dualstack_alb_gets_a_and_aaaa_aliases(moto_endpoint: str, tmp_path: Path, health_server: HealthServer) -> None:
    world = build_world(moto_endpoint, tmp_path, health_server, dualstack=True)
    code, _, err = run_cli(world)
    assert (code, err) == (0, "")
    for types in records(world).values():
        assert set(types) == {"A", "AAAA"}
        assert alias_of(types["AAAA"]) == dns_records.fqdn(world.outputs["albDnsName"])


def test_health_requests_reach_the_alb_address_with_tls_for_the_real_host_names(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tool("openssl", "apt-get install openssl")
    cert, key = self_signed_certificate(tmp_path, "app.quintas-crm.example", "cms.quintas-crm.example")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the stand-in's certificate, as clients trust ACM's
    tls = HealthServer(tls=(cert, key))
    try:
        world.health = tls
        code, _, err = run_cli(world, "--dry-run")
    finally:
        tls.stop()
    assert (code, err) == (0, ""), err
    assert sorted(str(n) for n in tls.server_names) == ["app.quintas-crm.example", "cms.quintas-crm.example"]
    assert sorted(tls.seen) == [("app.quintas-crm.example", "/api/health"), ("cms.quintas-crm.example", "/server/ping")]


def test_refuses_when_the_certificate_does_not_cover_the_names(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tool("openssl", "apt-get install openssl")
    cert, key = self_signed_certificate(tmp_path, "old-site.example")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    tls = HealthServer(tls=(cert, key))
    try:
        world.health = tls
        code, _, err = run_cli(world)
    finally:
        tls.stop()
    assert code == 1 and "CERTIFICATE_VERIFY_FAILED" in err
    assert plain(records(world)) == ORIGINAL


def test_dry_run_prints_the_change_and_changes_nothing(world: World) -> None:
    code, out, _ = run_cli(world, "--dry-run")
    assert code == 0
    assert "UPSERT" in out and "DELETE" in out and "Dry run: nothing was changed." in out
    assert plain(records(world)) == ORIGINAL
    assert not (world.tmp / "state").exists()


def test_rollback_restores_the_saved_records(world: World) -> None:
    assert run_cli(world)[0] == 0
    code, out, err = run_cli(world, "--rollback")
    assert (code, err) == (0, "")
    assert plain(records(world)) == ORIGINAL
    assert not (world.tmp / "state" / f"prod-{world.zone_id}.json").exists()
    assert (world.tmp / "state" / f"prod-{world.zone_id}.rolled-back.json").is_file()
    assert "Rollback done" in out


def test_rollback_dry_run_changes_nothing(world: World) -> None:
    assert run_cli(world)[0] == 0
    cut = records(world)
    code, out, _ = run_cli(world, "--rollback", "--dry-run")
    assert code == 0 and "Dry run" in out and "203.0.113.10" in out
    assert records(world) == cut


def test_second_cutover_changes_nothing_and_keeps_the_original_records(world: World) -> None:
    assert run_cli(world)[0] == 0
    code, out, _ = run_cli(world)
    assert code == 0 and "Nothing to change" in out
    assert run_cli(world, "--rollback")[0] == 0
    assert plain(records(world)) == ORIGINAL


def test_refuses_when_a_target_is_not_healthy(world: World) -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=world.endpoint)
    ec2.stop_instances(InstanceIds=[world.instance_id])
    code, out, err = run_cli(world)
    assert code == 1
    assert "targets are not healthy" in err and "unused" in err and "Target.InvalidState" in err
    assert plain(records(world)) == ORIGINAL
    assert not (world.tmp / "state").exists()


def test_refuses_when_a_target_group_has_no_targets(
    moto_endpoint: str, tmp_path: Path, health_server: HealthServer
) -> None:
    world = build_world(moto_endpoint, tmp_path, health_server, register_cms=False)
    code, _, err = run_cli(world)
    assert code == 1 and "has no registered targets" in err
    assert plain(records(world)) == ORIGINAL


def test_refuses_when_a_health_url_fails(world: World) -> None:
    world.health.failing.add("cms.quintas-crm.example")
    code, _, err = run_cli(world)
    assert code == 1
    assert "https://cms.quintas-crm.example/server/ping answered 503" in err
    assert plain(records(world)) == ORIGINAL


def test_refuses_when_nothing_answers_at_the_health_address(world: World) -> None:
    world.health.stop()
    code, _, err = run_cli(world)
    assert code == 1 and "no answer" in err
    assert plain(records(world)) == ORIGINAL


def test_refuses_when_outputs_are_missing(world: World) -> None:
    outputs = {k: v for k, v in world.outputs.items() if k not in ("albZoneId", "cmsUrl")}
    code, _, err = run_cli(world, outputs=outputs)
    assert code == 2
    assert err.strip() == "error: stack outputs missing: albZoneId, cmsUrl (deploy the platform first: `pulumi up`)"


def test_refuses_when_the_zone_does_not_contain_the_names(world: World) -> None:
    other = world.route53.create_hosted_zone(Name="other.example", CallerReference="other")["HostedZone"]["Id"]
    world.zone_id = other.split("/")[-1]
    code, _, err = run_cli(world)
    assert code == 2
    assert "does not contain app.quintas-crm.example., cms.quintas-crm.example." in err


def test_refuses_an_unknown_zone(world: World) -> None:
    world.zone_id = "Z0000000000000000NONE"
    code, _, err = run_cli(world)
    assert code == 2 and "hosted zone Z0000000000000000NONE does not exist" in err


def test_refuses_an_alb_that_is_not_in_the_account(world: World) -> None:
    outputs = dict(world.outputs, albDnsName="gone-123.us-east-1.elb.amazonaws.com")
    code, _, err = run_cli(world, outputs=outputs)
    assert code == 1 and "no load balancer named gone-123.us-east-1.elb.amazonaws.com" in err


def test_a_malformed_zone_id_is_refused_by_the_argument_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["dns-cutover", "--stack", "prod", "--zone-id", "quintas-crm.example"])
    assert exit_info.value.code == 2
    assert "'quintas-crm.example' is not a hosted zone id such as Z0123456789ABCDEFGHIJ" in capsys.readouterr().err
    args = build_parser().parse_args(["dns-cutover", "--stack", "prod", "--zone-id", "/hostedzone/Z12AB"])
    assert args.zone_id == "Z12AB"


def test_rollback_without_saved_records_is_refused(world: World) -> None:
    code, _, err = run_cli(world, "--rollback")
    assert code == 2 and "no saved records at" in err


def test_outputs_file_that_is_not_json_is_refused(world: World) -> None:
    bad = world.tmp / "bad.json"
    bad.write_text("albDnsName = x")
    args = build_parser().parse_args(["dns-cutover", "--stack", "prod", "--zone-id", "Z1", "--outputs", str(bad)])
    err = io.StringIO()
    assert dns_cutover.main(args, io.StringIO(), err) == 2
    assert "is not JSON" in err.getvalue()


def test_without_the_pulumi_cli_it_says_to_pass_outputs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ops", "dns-cutover", "--stack", "prod", "--zone-id", "Z1"],
        cwd=ROOT,
        env={"PATH": str(tmp_path), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "the pulumi CLI is not installed here; pass --outputs FILE" in result.stderr


def test_the_verb_runs_as_a_command(world: World) -> None:
    outputs_file = world.tmp / "outputs.json"
    outputs_file.write_text(json.dumps(world.outputs))
    command = [sys.executable, "-m", "ops", "dns-cutover", "--stack", "prod", "--zone-id", world.zone_id]
    command += ["--outputs", str(outputs_file), "--endpoint-url", world.endpoint, "--dry-run"]
    command += ["--health-base-url", world.health.base_url]
    env = dict(world.env, PYTHONPATH=str(ROOT))
    result = subprocess.run(command, cwd=world.tmp, capture_output=True, text=True, check=False, env=env)
    assert result.returncode == 0, result.stderr
    assert "Dry run: nothing was changed." in result.stdout


class _PendingRoute53:
    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses

    def get_change(self, Id: str) -> dict[str, Any]:
        return {
            "ChangeInfo": {"Id": Id, "Status": self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]}
        }


def test_wait_reports_progress_until_insync() -> None:
    clock = iter(range(0, 100, 5))
    out = io.StringIO()
    ok = dns_records.wait_insync(
        _PendingRoute53(["PENDING", "PENDING", "INSYNC"]), "/change/C1", out, 60, 5, lambda _: None, lambda: next(clock)
    )
    assert ok
    assert out.getvalue().splitlines() == [
        "  change /change/C1: PENDING after 5s",
        "  change /change/C1: PENDING after 10s",
        "  change /change/C1: INSYNC after 15s",
    ]


def test_wait_gives_up_after_the_timeout() -> None:
    clock = iter(range(0, 1000, 10))
    out = io.StringIO()
    ok = dns_records.wait_insync(
        _PendingRoute53(["PENDING"]), "/change/C2", out, 30, 10, lambda _: None, lambda: next(clock)
    )
    assert not ok
    assert out.getvalue().count("PENDING") == 3


def test_the_real_program_exports_every_output_the_cutover_reads(prod: engine.Run) -> None:
    outputs = engine.reveal(prod.outputs)
    target = read_target(outputs)
    assert (target.app_host, target.cms_host) == ("app.quintas-crm.example", "cms.quintas-crm.example")
    assert target.alb_dns_name == outputs["albDnsName"] and target.alb_zone_id == outputs["albZoneId"]
    assert target.alb_dns_name and region_of(target.alb_dns_name) == "us-east-1"
