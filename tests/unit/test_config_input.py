"""StackConfig on bad input (issue 16): full-string ASCII checks, no secret echoed,
secrets never read into plain settings, cross-field rules, stack names.

The settings are read as the Pulumi CLI hands them to the program (strings, JSON for
structured values, `secure:` keys listed as secret) in a context of their own, without
an engine run: the checks run before any resource exists.
"""

from __future__ import annotations

import contextvars
import json
from typing import Any

import pulumi
import pulumi_aws
import pytest

from components import config as settings
from components.config import ConfigError, StackConfig
from components.config_checks import AWS_REGIONS
from ops.sim.engine import load_stack_settings

P = "quintas-crm-infra"


def _shipped(stack: str) -> dict[str, str]:
    """The shipped stack's settings as the CLI hands them over (the offline tools' one reader)."""
    return load_stack_settings(stack)[0]


def read(
    stack: str = "staging", *, name: str | None = None, secret: tuple[str, ...] = (), **overrides: Any
) -> StackConfig:
    """The shipped `stack` settings with `overrides` (None removes a key), read as stack `name`;
    the keys in `secret` arrive as `secure:` values (the CLI decrypts them and lists them as secret)."""
    config = _shipped(stack)
    for key, value in overrides.items():
        full = key if ":" in key else f"{P}:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value if isinstance(value, str) else json.dumps(value)
    secret_keys = [k if ":" in k else f"{P}:{k}" for k in secret]

    def load() -> StackConfig:
        pulumi.runtime.set_all_config(config, secret_keys)
        return settings._read(P, name or stack)

    return contextvars.copy_context().run(load)


def problems(stack: str = "staging", **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        read(stack, **kwargs)
    return caught.value


def test_the_shipped_stacks_read_without_problems() -> None:
    assert read("staging").stack == "staging"
    assert read("prod").is_prod


# ----------------------------------------------------------------- 1. full-string, ASCII-only checks

TRAILING_NEWLINE = [
    ("appHost", "app.staging.quintas-crm.example\n"),
    ("cmsHost", "cms.staging.quintas-crm.example\n"),
    ("grafanaHost", "grafana.staging.quintas-crm.example\n"),
    ("alertEmails", ["ops-staging@quintas-crm.example\n"]),
    ("imageTags", {"frontend": "1.0.0\n", "postgres": "16-3.4-barman-1"}),
    ("imageTags", {"frontend": "1.0.0", "postgres": "16-3.4-barman-1\n"}),
    ("route53ZoneId", "Z0123456789ABC\n"),
    ("backupTime", "02:00\n"),
    ("aws:region", "us-east-1\n"),
    ("owner", "platform-team\n"),
]


@pytest.mark.parametrize(
    ("key", "value"), TRAILING_NEWLINE, ids=[f"{k}-{i}" for i, (k, _) in enumerate(TRAILING_NEWLINE)]
)
def test_a_trailing_newline_does_not_pass(key: str, value: Any) -> None:
    error = problems(**{key: value})
    full = key if ":" in key else f"{P}:{key}"
    assert [k.split(".")[0] for k in error.keys] == [full]


NON_ASCII_DIGITS = [
    ("backupTime", "0\u0662:0\u0660"),  # 02:00 with Arabic-Indic digits where \d stood
    ("backupTime", "1\uff12:3\uff10"),  # 12:30 with full-width digits
    ("aws:region", "us-east-\u0661"),
]


@pytest.mark.parametrize(
    ("key", "value"), NON_ASCII_DIGITS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(NON_ASCII_DIGITS)]
)
def test_non_ascii_digits_do_not_pass(key: str, value: Any) -> None:
    error = problems(**{key: value})
    full = key if ":" in key else f"{P}:{key}"
    assert [k.split(".")[0] for k in error.keys] == [full]


@pytest.mark.parametrize("budget", [float("nan"), float("inf")])
def test_a_budget_must_be_a_finite_number(budget: float) -> None:
    assert problems(monthlyBudgetUsd=budget).keys == [f"{P}:monthlyBudgetUsd"]


# ----------------------------------------------------------------- 2. no secret echoed

PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACB3R9ChUx7Vd3n9c0mZ6qTQ2Yw1bqv8n0QkqfVZK1mYbQAAAJgAAAAAAAAAAA\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def test_a_private_key_pasted_as_the_public_key_is_not_echoed() -> None:
    error = problems(operatorPublicKey=PRIVATE_KEY)
    message = str(error)
    assert error.keys == [f"{P}:operatorPublicKey"]
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in message and "QyNTUxOQAAACB3R9ChUx7Vd3n9c0mZ" not in message
    assert "private key" in message and ".pub" in message and "value not shown" in message
    assert all(p.value is None for p in error.problems)  # not kept in the exception either


BLOB = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+Qx9Zt4Lm"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("owner", BLOB),
        ("appHost", f"{BLOB}.example.com"),
        ("alertEmails", [BLOB]),
        ("imageTags", {"frontend": f"1.0.0 {BLOB}", "postgres": "16-3.4-barman-1"}),
    ],
)
def test_key_material_in_any_field_is_not_echoed(key: str, value: Any) -> None:
    message = str(problems(**{key: value}))
    assert BLOB not in message and BLOB[:20] not in message
    assert "value not shown" in message


def test_an_invalid_secure_value_is_not_echoed() -> None:
    error = problems(appHost="Hunter2-Is-My-Password", secret=("appHost",))
    message = str(error)
    assert "Hunter2" not in message
    assert f"{P}:appHost" in error.keys and "value not shown" in message
    assert all(p.value is None for p in error.problems if p.key == f"{P}:appHost")


def test_an_invalid_secure_value_inside_a_structure_is_not_echoed() -> None:
    error = problems(imageTags={"frontend": "s3cr3t tag!", "postgres": "16-3.4-barman-1"}, secret=("imageTags",))
    assert "s3cr3t" not in str(error)


# ----------------------------------------------------------------- 3. secrets stay secrets


def test_a_secure_owner_never_becomes_a_plain_tag() -> None:
    error = problems(owner="platform-team", secret=("owner",))
    message = str(error)
    assert error.keys == [f"{P}:owner"]
    assert "must not be a secret" in message and "tag on every resource" in message
    assert "platform-team" not in message


@pytest.mark.parametrize("key", sorted(settings.KNOWN_KEYS - {"owner"}) + ["aws:region"])
def test_no_setting_is_read_from_a_secure_value_into_plain_settings(key: str) -> None:
    full = key if ":" in key else f"{P}:{key}"
    # Unset in prod: noncurrentVersionExpirationDays ("40"), and edge, schedule and waf (their defaults); the
    # scale-out settings are in prod-ecs.
    defaults = {f"{P}:edge": "alb", f"{P}:schedule": "always", f"{P}:waf": "block"}
    value = {**defaults, **_shipped("prod-ecs"), **_shipped("prod")}.get(full, "40")
    error = problems("prod", secret=(key,), **{key: value})
    assert error.keys == [full]
    assert "must not be a secret" in str(error)
    assert value.strip('"') not in str(error.problems[0])


# ----------------------------------------------------------------- 4. cross-field rules


def test_archive_timeout_must_not_exceed_the_rpo_goal() -> None:
    error = problems(archiveTimeoutSeconds=300, rpoSeconds=120)
    assert error.keys == [f"{P}:archiveTimeoutSeconds"]
    assert "rpoSeconds (120)" in str(error)


def test_archive_timeout_equal_to_the_rpo_goal_leaves_no_time_to_ship_the_segment() -> None:
    """The drill measured 61.4 s of loss with archive_timeout = rpoSeconds = 60: the closed segment still travels."""
    error = problems(archiveTimeoutSeconds=60, rpoSeconds=60)
    assert error.keys == [f"{P}:archiveTimeoutSeconds"]
    assert "at most rpoSeconds (60) - 10 = 50" in str(error) and "to reach S3" in str(error)
    assert read(archiveTimeoutSeconds=50, rpoSeconds=60).archive_timeout_seconds == 50


def test_archive_timeout_within_the_rpo_goal_passes() -> None:
    assert read(archiveTimeoutSeconds=60, rpoSeconds=900).rpo_seconds == 900


@pytest.mark.parametrize(("stack", "name"), [("prod", "staging"), ("staging", "prod"), ("staging", "production")])
def test_environment_must_match_the_stack_name(stack: str, name: str) -> None:
    error = problems(stack, name=name)
    assert error.keys == [f"{P}:environment"]
    assert name in str(error)


@pytest.mark.parametrize(("stack", "name"), [("staging", "staging-eu"), ("prod", "prod-2")])
def test_a_stack_named_after_its_environment_with_a_suffix_passes(stack: str, name: str) -> None:
    assert read(stack, name=name).stack == name


@pytest.mark.parametrize(
    "cidrs",
    [
        ["0.0.0.0/1", "128.0.0.0/1"],
        ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"],
        ["203.0.113.0/24", "10.0.0.0/8"],
        ["2000::/3"],
    ],
)
def test_an_admin_allow_list_open_to_the_internet_in_pieces_is_refused(cidrs: list[str]) -> None:
    error = problems(sshMode="direct", adminCidrs=cidrs)
    assert set(error.keys) == {f"{P}:adminCidrs"}
    assert "/16" in str(error) and "/48" in str(error)


def test_an_office_or_vpn_network_passes() -> None:
    config = read(sshMode="direct", adminCidrs=["198.51.100.0/24", "172.16.0.0/16", "2001:db8:1::/48"])
    assert len(config.admin_cidrs) == 3


@pytest.mark.parametrize(("key", "value"), [("aws:region", "us-east-9"), ("aws:region", "eu-north-2")])
def test_a_region_that_does_not_exist_is_refused(key: str, value: str) -> None:
    assert problems(**{key: value}).keys == [key]


def test_a_replica_region_that_does_not_exist_is_refused() -> None:
    error = problems(replicateBackups=True, replicaRegion="us-weast-2")
    assert error.keys == [f"{P}:replicaRegion"]


def test_every_region_pulumi_aws_knows_is_accepted() -> None:
    assert set(AWS_REGIONS) == {r.value for r in pulumi_aws.Region}


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"grafanaHost": "app.staging.quintas-crm.example"}, "grafanaHost"),
        ({"grafanaHost": "cms.staging.quintas-crm.example"}, "grafanaHost"),
        ({"cmsHost": "app.staging.quintas-crm.example"}, "cmsHost"),
    ],
)
def test_a_duplicate_host_is_reported_under_the_key_that_repeats_it(overrides: dict[str, str], key: str) -> None:
    error = problems(**overrides)
    assert error.keys == [f"{P}:{key}"]
    assert repr(overrides[key]) in str(error)


# ----------------------------------------------------------------- 5. stack names


@pytest.mark.parametrize("name", ["Staging", "staging_eu", "staging.eu", "-staging", "staging-", "stagíng"])
def test_a_stack_name_aws_would_refuse_in_a_bucket_name_is_an_error(name: str) -> None:
    error = problems(name=name)
    assert "stack" in error.keys
    assert "lower-case letters, digits and hyphens" in str(error)


def test_a_long_stack_name_is_one_error_naming_the_limit() -> None:
    error = problems(name="staging-" + "x" * 13)  # 21 characters
    assert error.keys == ["stack"]
    assert "at most 20 characters" in str(error)
    assert "32" in str(error)  # the ALB name's limit


def test_the_longest_allowed_stack_name_passes() -> None:
    name = "staging-" + "x" * 12
    assert read(name=name).stack == name and len(f"quintas-crm-{name}") == 32  # the ALB name at its limit


def test_a_setting_under_a_misspelt_project_namespace_is_an_error_naming_the_key_meant() -> None:
    # As the Pulumi CLI hands it over: the key is in the config, and nothing would read it.
    err = problems(**{"quintas-crm-infr:instanceType": "t3.small"})
    assert [(p.key, p.allowed) for p in err.problems if p.key.startswith("quintas-crm-infr:")] == [
        ("quintas-crm-infr:instanceType", "a namespace something reads: did you mean quintas-crm-infra:instanceType?")
    ]


def test_a_setting_under_an_unknown_namespace_lists_the_namespaces_read() -> None:
    err = problems(**{"gcp:project": "x"})
    assert [p.allowed for p in err.problems if p.key == "gcp:project"] == [
        "a namespace something reads: aws, command, docker, pulumi, quintas-crm-infra, random"
    ]


def test_a_waf_needs_the_load_balancer_it_attaches_to() -> None:
    """edge: host has no load balancer: a WAF setting other than off is refused, naming both ways out."""
    error = problems("staging", waf="block")
    assert error.keys == [f"{P}:waf"]
    assert "set waf: off or edge: alb" in str(error)
    assert read("staging", waf="off").waf == "off"
    assert read("staging", edge="alb", waf="count").waf == "count"
    assert read("prod").waf == "block"
