"""The stack settings file is read as the Pulumi CLI reads it, and every malformed file is named.

The CLI reads YAML 1.2 (core schema) and refuses a key given twice; the file is a
mapping whose `config` maps `namespace:key` strings to values. Each case here is a
file a user can write; the reader answers with one SettingsFileError, never a
traceback, and never with a setting silently changed or lost.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops.sim import engine
from ops.sim.engine import PROJECT, SettingsFileError, load_stack_settings


def settings(tmp_path: Path, body: str | bytes, stack: str = "dev") -> Path:
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    return path


def read(tmp_path: Path, body: str | bytes) -> dict[str, str]:
    settings(tmp_path, body)
    return load_stack_settings("dev", tmp_path)[0]


def refused(tmp_path: Path, body: str | bytes) -> str:
    settings(tmp_path, body)
    with pytest.raises(SettingsFileError) as err:
        load_stack_settings("dev", tmp_path)
    return str(err.value)


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "y", "n"])
def test_yaml_1_1_booleans_are_strings_as_the_cli_reads_them(tmp_path: Path, word: str) -> None:
    # YAML 1.1 turned these into true/false: a bad boolean would have read as a valid one.
    assert read(tmp_path, f"config:\n  {PROJECT}:replicateBackups: {word}\n")[f"{PROJECT}:replicateBackups"] == word


def test_an_unquoted_time_stays_the_time_written(tmp_path: Path) -> None:
    # YAML 1.1 read 12:30 as the sexagesimal number 750.
    assert read(tmp_path, f"config:\n  {PROJECT}:backupTime: 12:30\n")[f"{PROJECT}:backupTime"] == "12:30"


def test_a_leading_zero_is_decimal(tmp_path: Path) -> None:
    # YAML 1.1 read 012 as octal 10.
    assert read(tmp_path, f"config:\n  {PROJECT}:recoveryWindowDays: 012\n")[f"{PROJECT}:recoveryWindowDays"] == "12"


def test_yaml_1_2_scalars_keep_their_types(tmp_path: Path) -> None:
    config = read(
        tmp_path,
        f"config:\n  {PROJECT}:replicateBackups: true\n  {PROJECT}:dataVolumeSizeGb: 30\n"
        f"  {PROJECT}:monthlyBudgetUsd: 49.5\n  {PROJECT}:route53ZoneId: null\n  {PROJECT}:owner: 0x1F\n",
    )
    assert [config[f"{PROJECT}:{k}"] for k in ("replicateBackups", "dataVolumeSizeGb", "monthlyBudgetUsd")] == [
        "true",
        "30",
        "49.5",
    ]
    assert config[f"{PROJECT}:route53ZoneId"] == "null"
    assert config[f"{PROJECT}:owner"] == "31"


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    message = refused(tmp_path, f"config:\n  {PROJECT}:owner: a\n  aws:region: us-east-1\n  {PROJECT}:owner: b\n")
    assert message == f"Pulumi.dev.yaml line 4: not valid YAML: key '{PROJECT}:owner' appears twice (first on line 2)"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("- a\n- b\n", "Pulumi.dev.yaml: must be a mapping with a `config` key, not a list"),
        ("just text\n", "Pulumi.dev.yaml: must be a mapping with a `config` key, not a string"),
        ("config: [a, b]\n", "Pulumi.dev.yaml: `config` must be a mapping of `namespace:key` settings, not a list"),
        ("config: 3\n", "Pulumi.dev.yaml: `config` must be a mapping of `namespace:key` settings, not a number"),
        ("config:\n  12: x\n", "Pulumi.dev.yaml: config key 12 is not a `namespace:key` string; quote it"),
        (
            "config:\n  owner: x\n",
            f"Pulumi.dev.yaml: config key 'owner' must be `namespace:key` (e.g. {PROJECT}:owner)",
        ),
        (
            f"config:\n  {PROJECT}:owner: {{secure: 1}}\n",
            f"Pulumi.dev.yaml: {PROJECT}:owner: a secret is `secure: <ciphertext>` and nothing else",
        ),
        (
            f"config:\n  {PROJECT}:monthlyBudgetUsd: .nan\n",
            f"Pulumi.dev.yaml: {PROJECT}:monthlyBudgetUsd: .nan and .inf are not setting values",
        ),
    ],
)
def test_a_file_of_the_wrong_shape_is_named(tmp_path: Path, body: str, expected: str) -> None:
    assert refused(tmp_path, body) == expected


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    message = refused(tmp_path, f"config:\n  {PROJECT}:owner: equipo-se\xf1al\n".encode("latin-1"))
    assert message == "Pulumi.dev.yaml line 2: not UTF-8 text; save the file as UTF-8"


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    message = refused(tmp_path, f"config:\n  {PROJECT}:owner: [unclosed\n")
    assert message.startswith("Pulumi.dev.yaml line 3: not valid YAML: ")


def test_a_misspelt_project_namespace_names_the_key_meant(tmp_path: Path) -> None:
    # Read as an unknown namespace, the setting would be ignored and its default used.
    message = refused(tmp_path, "config:\n  quintas-crm-infr:instanceType: t3.small\n")
    assert message == (
        "Pulumi.dev.yaml: quintas-crm-infr:instanceType: nothing reads the namespace 'quintas-crm-infr'; "
        f"did you mean {PROJECT}:instanceType?"
    )


def test_an_unknown_namespace_with_nothing_close_lists_the_namespaces_read(tmp_path: Path) -> None:
    message = refused(tmp_path, "config:\n  gcp:project: x\n")
    assert message == (
        "Pulumi.dev.yaml: gcp:project: nothing reads the namespace 'gcp'; "
        f"namespaces read: aws, command, docker, pulumi, {PROJECT}, random"
    )


def test_provider_namespaces_and_secrets_are_read(tmp_path: Path) -> None:
    settings(tmp_path, f"config:\n  aws:region: us-east-2\n  {PROJECT}:owner:\n    secure: AAABAC0ffee\n")
    config, secret_keys = load_stack_settings("dev", tmp_path)
    assert config["aws:region"] == "us-east-2"
    assert secret_keys == [f"{PROJECT}:owner"] and "AAABAC0ffee" not in config[f"{PROJECT}:owner"]


@pytest.mark.parametrize("stack", ["../prod", "a/b", "", "x" * 101, "staging\n"])
def test_a_stack_name_that_is_not_a_file_name_is_refused_before_any_file_is_read(tmp_path: Path, stack: str) -> None:
    with pytest.raises(SettingsFileError, match="letters, digits, '-', '_' and '.' only, at most 100 characters"):
        load_stack_settings(stack, tmp_path)


def test_the_shipped_stack_files_read_unchanged() -> None:
    for stack in engine.available_stacks():
        config, secret_keys = load_stack_settings(stack)
        assert config[f"{PROJECT}:environment"] == stack.split("-")[0] and secret_keys == []
        # Times stay text (YAML 1.2), also inside a map: staging's office hours.
        assert config[f"{PROJECT}:backupTime"] == {"staging": "07:30"}.get(stack, "02:00")
    staging, _ = load_stack_settings("staging")
    assert json.loads(staging[f"{PROJECT}:schedule"]) == {"days": "MON-FRI", "start": "07:00", "stop": "21:00"}
