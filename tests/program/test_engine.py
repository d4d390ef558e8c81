"""The simulated engine: records options, marks secrets, fails loudly on unknown types."""

from __future__ import annotations

import gc
import json
import threading
import time

import pulumi
import pulumi_aws as aws
import pulumi_random as random
import pytest

from ops.cli import plan
from ops.sim import engine
from tests.conftest import simulate


def test_engine_records_protect_and_retain_on_delete() -> None:
    def program() -> None:
        aws.s3.Bucket("kept", opts=pulumi.ResourceOptions(protect=True, retain_on_delete=True))
        aws.s3.Bucket("plain")

    run = simulate("staging", program)
    kept = run.one("aws:s3/bucket:Bucket", "kept")
    plain = run.one("aws:s3/bucket:Bucket", "plain")
    assert (kept.protect, kept.retain_on_delete) == (True, True)
    assert (plain.protect, plain.retain_on_delete) == (False, False)
    assert kept.options["protect"] is True


def test_engine_records_replacement_options_dependencies_and_parent() -> None:
    def program() -> None:
        first = aws.s3.Bucket("first")
        parent = pulumi.ComponentResource("quintas:test:Group", "group")
        aws.s3.Bucket(
            "second",
            opts=pulumi.ResourceOptions(
                parent=parent, depends_on=[first], delete_before_replace=True, ignore_changes=["tags"]
            ),
        )

    run = simulate("staging", program)
    first = run.one("aws:s3/bucket:Bucket", "first")
    second = run.one("aws:s3/bucket:Bucket", "second")
    group = run.one("quintas:test:Group", "group")
    assert second.delete_before_replace is True
    assert second.ignore_changes == ("tags",)
    assert first.urn in second.depends_on
    assert second.parent == group.urn
    assert second.urn.endswith("quintas:test:Group$aws:s3/bucket:Bucket::second")


def test_engine_tells_an_unset_delete_before_replace_from_one_set_false() -> None:
    def program() -> None:
        aws.s3.Bucket("unset")
        aws.s3.Bucket("create-first", opts=pulumi.ResourceOptions(delete_before_replace=False))
        aws.s3.Bucket("delete-first", opts=pulumi.ResourceOptions(delete_before_replace=True))

    run = simulate("staging", program)
    recorded = {r.name: r.delete_before_replace for r in run.of_type("aws:s3/bucket:Bucket")}
    # Unset, the provider decides; False is the program asking for create-before-delete.
    assert recorded == {"unset": None, "create-first": False, "delete-first": True}
    assert run.one("aws:s3/bucket:Bucket", "unset").options["delete_before_replace"] is None


def test_unmocked_resource_type_fails_loudly_naming_it() -> None:
    def program() -> None:
        aws.ec2.VpnGateway("vgw")

    with pytest.raises(engine.EngineError, match=r"aws:ec2/vpnGateway:VpnGateway \(vgw\)"):
        simulate("staging", program)


def test_unmocked_invoke_fails_loudly_naming_it() -> None:
    def program() -> None:
        aws.ec2.get_vpc(default=True)

    with pytest.raises(Exception, match="aws:ec2/getVpc:getVpc"):
        simulate("staging", program)


def test_outputs_are_realistic_and_stable_between_runs() -> None:
    def program() -> None:
        bucket = aws.s3.Bucket("uploads")
        pulumi.export("arn", bucket.arn)
        pulumi.export("zones", aws.get_availability_zones().names)

    first, second = simulate("staging", program), simulate("staging", program)
    assert first.outputs == second.outputs
    assert first.outputs["arn"].startswith("arn:aws:s3:::uploads-")
    assert first.outputs["zones"][:2] == ["us-east-1a", "us-east-1b"]


def test_two_runs_of_the_same_code_give_the_same_plan(staging: engine.Run) -> None:
    """Registrations arrive in a different order each run; the plan CI posts must not."""
    again = simulate("staging")
    assert [r.urn for r in again.resources] == sorted(r.urn for r in again.resources)
    assert json.dumps(plan.build_plan(again)) == json.dumps(plan.build_plan(staging))


def test_generated_password_is_secret_in_outputs_and_plan_text() -> None:
    def program() -> None:
        password = random.RandomPassword("db", length=24, special=False)
        pulumi.export("password", password.result)

    run = simulate("staging", program)
    secret = run.outputs["password"]
    assert isinstance(secret, engine.Secret)
    assert len(secret.value) == 24 and secret.value.isalnum()
    assert engine.redact(run.outputs) == {"password": "[secret]"}
    recorded = run.one("random:index/randomPassword:RandomPassword", "db")
    assert isinstance(recorded.outputs["result"], engine.Secret)


def test_secure_setting_becomes_a_placeholder_that_stays_secret(tmp_path) -> None:
    (tmp_path / "Pulumi.demo.yaml").write_text(
        "config:\n  aws:region: us-east-1\n  quintas-crm-infra:apiKey:\n    secure: v1:AAAA\n"
    )

    def program() -> None:
        pulumi.export("key", pulumi.Config().require_secret("apiKey"))

    run = engine.run("demo", program, root=tmp_path)
    assert isinstance(run.outputs["key"], engine.Secret)
    assert run.outputs["key"].value.startswith("simulated-secret-for-")


def test_missing_stack_file_names_the_stacks_that_exist() -> None:
    with pytest.raises(engine.SettingsFileError, match="Pulumi.qa.yaml.*prod, prod-ecs, staging, staging-ecs"):
        simulate("qa")


def test_runs_do_not_leak_into_each_other() -> None:
    def one() -> None:
        aws.s3.Bucket("only-here")

    assert [r.name for r in simulate("staging", one).resources] == ["only-here"]
    assert all(r.name != "only-here" for r in simulate("staging", lambda: None).resources)


def test_secret_outputs_stay_secret_when_registrations_interleave() -> None:
    """Registrations run on concurrent worker threads; each keeps its own secret output names."""

    def program() -> None:
        for i in range(120):
            random.RandomPassword(f"pw{i}", length=16, special=False)
            aws.s3.Bucket(f"b{i}")

    run = simulate("staging", program)
    passwords = run.of_type("random:index/randomPassword:RandomPassword")
    assert len(passwords) == 120
    assert all(isinstance(p.outputs["result"], engine.Secret) for p in passwords)
    assert not any(
        isinstance(v, engine.Secret) for b in run.of_type("aws:s3/bucket:Bucket") for v in b.outputs.values()
    )


def test_collector_is_paused_during_a_run_and_back_on_after() -> None:
    seen: list[bool] = []

    def program() -> None:
        seen.append(gc.isenabled())
        aws.s3.Bucket("b")

    assert gc.isenabled()
    simulate("staging", program)
    assert seen == [False]
    assert gc.isenabled()


def test_collector_stays_off_after_a_run_when_the_caller_had_it_off() -> None:
    gc.disable()
    try:
        simulate("staging", lambda: None)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_runs_started_on_two_threads_take_turns() -> None:
    """The Pulumi runtime's state is process-wide: a second run waits for the first to end."""
    active: list[int] = []
    overlap: list[int] = []

    def program() -> None:
        active.append(1)
        overlap.append(len(active))
        aws.s3.Bucket("b")
        time.sleep(0.2)
        active.pop()

    results: list[engine.Run] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(simulate("staging", program))
        except BaseException as exc:  # noqa: BLE001 reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert overlap == [1, 1]
    assert [[r.name for r in run.resources] for run in results] == [["b"], ["b"]]
    assert gc.isenabled()
