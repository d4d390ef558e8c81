"""StackConfig: every bad setting is named with its key, all at once, before any resource exists."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError, StackConfig
from ops.sim import engine
from tests.conftest import simulate

P = "quintas-crm-infra"

BAD_SETTINGS: list[tuple[str, dict[str, Any], str]] = [
    ("staging", {"aws:region": "useast1"}, "aws:region"),
    ("staging", {"appHost": "App_Server"}, f"{P}:appHost"),
    ("staging", {"cmsHost": "app.staging.quintas-crm.example"}, f"{P}:cmsHost"),
    ("prod", {"route53ZoneId": "zone-1"}, f"{P}:route53ZoneId"),
    ("staging", {"instanceType": "t2.micro"}, f"{P}:instanceType"),
    ("staging", {"dataVolumeSizeGb": 5}, f"{P}:dataVolumeSizeGb"),
    ("staging", {"dataVolumeSizeGb": "big"}, f"{P}:dataVolumeSizeGb"),
    ("staging", {"backupTime": "25:00"}, f"{P}:backupTime"),
    ("staging", {"timeZone": "Mars/Olympus_Mons"}, f"{P}:timeZone"),
    ("prod", {"recoveryWindowDays": 14}, f"{P}:recoveryWindowDays"),
    ("staging", {"recoveryWindowDays": 3}, f"{P}:recoveryWindowDays"),
    ("staging", {"sshMode": "direct", "adminCidrs": ["0.0.0.0/0"]}, f"{P}:adminCidrs"),
    ("staging", {"sshMode": "direct", "adminCidrs": ["::/0"]}, f"{P}:adminCidrs"),
    ("staging", {"adminCidrs": ["10.0.0.1/24"]}, f"{P}:adminCidrs"),
    ("staging", {"sshMode": "direct", "adminCidrs": []}, f"{P}:adminCidrs"),
    ("staging", {"sshMode": "telnet"}, f"{P}:sshMode"),
    ("staging", {"alertEmails": ["not-an-email"]}, f"{P}:alertEmails"),
    ("staging", {"alertEmails": []}, f"{P}:alertEmails"),
    ("staging", {"monthlyBudgetUsd": 0}, f"{P}:monthlyBudgetUsd"),
    ("prod", {"imageTags": {"frontend": "latest", "postgres": "16-3.4-barman-1"}}, f"{P}:imageTags.frontend"),
    ("staging", {"imageTags": {"frontend": "1.0.0"}}, f"{P}:imageTags.postgres"),
    ("staging", {"operatorPublicKey": "hello"}, f"{P}:operatorPublicKey"),
    ("staging", {"logRetentionDays": 10}, f"{P}:logRetentionDays"),
    ("staging", {"environment": None}, f"{P}:environment"),
    ("staging", {"replicateBackups": True}, f"{P}:replicaRegion"),
    ("staging", {"instanceTyp": "t3.large"}, f"{P}:instanceTyp"),
    ("staging", {"noncurrentVersionExpirationDays": 3}, f"{P}:noncurrentVersionExpirationDays"),
]


@pytest.mark.parametrize(
    ("stack", "overrides", "key"), BAD_SETTINGS, ids=[c[2].split(":")[-1] + "-" + c[0] for c in BAD_SETTINGS]
)
def test_bad_setting_is_named_and_nothing_is_registered(stack: str, overrides: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        simulate(stack, **overrides)
    assert caught.value.keys == [key]
    assert key in str(caught.value)
    assert engine.registered_before(caught.value) == []


def test_every_problem_is_listed_in_one_error() -> None:
    with pytest.raises(ConfigError) as caught:
        simulate("staging", instanceType="t2.nano", backupTime="2am", alertEmails=["x"], monthlyBudgetUsd=-5)
    assert sorted(caught.value.keys) == sorted(
        [f"{P}:instanceType", f"{P}:backupTime", f"{P}:alertEmails", f"{P}:monthlyBudgetUsd"]
    )
    message = str(caught.value)
    assert "4 problems" in message
    assert "'t2.nano'" in message and "t3.medium" in message  # the bad value and what is allowed


def test_error_says_how_to_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        simulate("prod", backupTime="24:00")
    assert "pulumi config set <key> <value> --stack prod" in str(caught.value)
    assert "HH:MM" in str(caught.value)


def _loaded(stack: str, **overrides: Any) -> StackConfig:
    found: list[StackConfig] = []
    simulate(stack, lambda: found.append(StackConfig.load()), **overrides)
    return found[0]


def test_shipped_stacks_load_with_their_values() -> None:
    prod = _loaded("prod")
    staging = _loaded("staging")
    assert prod.is_prod and not staging.is_prod
    assert prod.recovery_window_days == 30 and staging.recovery_window_days == 7
    assert prod.archive_timeout_seconds == 50
    assert prod.ssh_mode == "ssm" and prod.admin_cidrs == ()
    assert prod.tags == {
        "project": "quintas-crm-infra",
        "stack": "prod",
        "owner": "platform-team",
        "managed-by": "pulumi",
    }
    assert staging.noncurrent_version_expiration_days == staging.recovery_window_days + 7


def test_direct_ssh_mode_keeps_normalised_admin_cidrs() -> None:
    config = _loaded("staging", sshMode="direct", adminCidrs=["203.0.113.10/32", "2001:db8::/48"])
    assert config.ssh_mode == "direct"
    assert config.admin_cidrs == ("203.0.113.10/32", "2001:db8::/48")


def test_latest_tag_is_allowed_outside_prod() -> None:
    config = _loaded("staging", imageTags={"frontend": "latest", "postgres": "16-3.4-barman-1"})
    assert config.image_tags.frontend == "latest"


def test_config_is_frozen() -> None:
    config = _loaded("staging")
    with pytest.raises(AttributeError):
        config.instance_type = "t3.xlarge"  # type: ignore[misc]
