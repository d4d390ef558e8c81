"""Security groups: the internet reaches only the ALB; the host only from the ALB (and admins in direct SSH mode)."""

from __future__ import annotations

import pytest

from ops.sim import engine
from tests.conftest import simulate
from tests.helpers.platform_helpers import EGRESS, INGRESS, SECURITY_GROUP

SENSITIVE_PORTS = (22, 3000, 5432, 6379, 8055, 9090, 9093, 9100)  # 9100: node-exporter on the host's network
WORLD = ("0.0.0.0/0", "::/0")
ADMIN = ["203.0.113.10/32", "2001:db8::/64"]


@pytest.fixture(scope="module")
def direct() -> engine.Run:
    return simulate("prod", sshMode="direct", adminCidrs=ADMIN)


def _group(run: engine.Run, name: str) -> engine.Resource:
    return run.one(SECURITY_GROUP, name)


def _rules(run: engine.Run, token: str, group: str) -> list[engine.Resource]:
    return [r for r in run.of_type(token) if r.inputs["securityGroupId"] == _group(run, group).id]


def _covers(rule: engine.Resource, port: int) -> bool:
    if rule.inputs["ipProtocol"] == "-1":
        return True
    return rule.inputs["fromPort"] <= port <= rule.inputs["toPort"]


@pytest.mark.parametrize("port", SENSITIVE_PORTS)
def test_no_rule_opens_a_sensitive_port_to_the_world(stack_run: engine.Run, direct: engine.Run, port: int) -> None:
    for run in (stack_run, direct):
        open_rules = [
            r.name
            for r in run.of_type(INGRESS)
            if _covers(r, port) and (r.inputs.get("cidrIpv4") in WORLD or r.inputs.get("cidrIpv6") in WORLD)
        ]
        assert open_rules == []


def test_every_rule_has_a_description(stack_run: engine.Run, direct: engine.Run) -> None:
    for run in (stack_run, direct):
        rules = run.of_type(INGRESS) + run.of_type(EGRESS)
        assert rules and all(len(r.inputs.get("description", "")) > 10 for r in rules)


def test_alb_admits_only_http_and_https_from_the_internet(alb_run: engine.Run) -> None:
    rules = _rules(alb_run, INGRESS, "alb")
    assert sorted((r.inputs["fromPort"], r.inputs["toPort"], r.inputs["cidrIpv4"]) for r in rules) == [
        (80, 80, "0.0.0.0/0"),
        (443, 443, "0.0.0.0/0"),
    ]


def test_alb_sends_only_to_the_host_target_ports(alb_run: engine.Run) -> None:
    host = _group(alb_run, "host").id
    rules = _rules(alb_run, EGRESS, "alb")
    assert sorted((r.inputs["fromPort"], r.inputs["referencedSecurityGroupId"]) for r in rules) == [
        (3000, host),
        (8055, host),
    ]


def test_host_admits_target_ports_only_from_the_alb_group(alb_run: engine.Run) -> None:
    alb = _group(alb_run, "alb").id
    rules = _rules(alb_run, INGRESS, "host")
    assert sorted(
        (r.inputs["fromPort"], r.inputs["toPort"], r.inputs.get("referencedSecurityGroupId")) for r in rules
    ) == [
        (3000, 3000, alb),
        (8055, 8055, alb),
    ]
    assert not any(r.inputs.get("cidrIpv4") or r.inputs.get("cidrIpv6") for r in rules)


def test_ssm_mode_opens_no_ssh_port(stack_run: engine.Run) -> None:
    assert not [r.name for r in stack_run.of_type(INGRESS) if _covers(r, 22)]


def test_direct_mode_opens_ssh_only_from_the_admin_cidrs(direct: engine.Run) -> None:
    ssh = [r for r in _rules(direct, INGRESS, "host") if _covers(r, 22)]
    assert sorted(str(r.inputs.get("cidrIpv4") or r.inputs.get("cidrIpv6")) for r in ssh) == sorted(ADMIN)
    assert all(r.inputs["fromPort"] == r.inputs["toPort"] == 22 for r in ssh)


def test_host_egress_is_https_http_and_ntp_only(stack_run: engine.Run) -> None:
    rules = _rules(stack_run, EGRESS, "host")
    assert sorted((r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"]) for r in rules) == [
        ("tcp", 80, 80),
        ("tcp", 443, 443),
        ("udp", 123, 123),
    ]


def test_groups_define_no_inline_rules(stack_run: engine.Run) -> None:
    # Inline rules and rule resources on one group fight each other on every update.
    for group in stack_run.of_type(SECURITY_GROUP):
        assert not group.inputs.get("ingress") and not group.inputs.get("egress")
