"""AppHost: the instance's settings, its least-privilege role, key pair, Elastic IP and user data."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from components.aws.host import DATA_MOUNT, TEMPLATES, nvme_device
from ops.sim import cloud, engine
from tests.conftest import require_tool, simulate
from tests.helpers.platform_helpers import (
    INSTANCE,
    ROLE_POLICY,
    as_list,
    bucket_name,
    doc,
    iam_documents,
    statement,
    statements,
)


def _host(run: engine.Run) -> engine.Resource:
    return run.one(INSTANCE, "host")


def _host_policy(run: engine.Run) -> dict[str, Any]:
    return doc(run.one(ROLE_POLICY, "host").inputs["policy"])


def _user_data(run: engine.Run) -> str:
    return _host(run).inputs["userData"]


def test_ami_lookup_pins_canonical_and_the_configured_architecture(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    real = cloud.INVOKES["aws:ec2/getAmi:getAmi"]

    def recording(args: dict[str, Any], region: str) -> dict[str, Any]:
        seen.append(args)
        return real(args, region)

    monkeypatch.setitem(cloud.INVOKES, "aws:ec2/getAmi:getAmi", recording)
    run = simulate("staging", instanceType="t4g.medium")
    (args,) = seen
    assert args["owners"] == ["099720109477"] and args["mostRecent"] is True
    filters = {f["name"]: f["values"] for f in args["filters"]}
    assert filters["architecture"] == ["arm64"]
    assert filters["name"] == ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-*"]
    assert _host(run).inputs["ami"] == real(args, "us-east-1")["id"]


def test_instance_type_comes_from_config(staging: engine.Run, prod: engine.Run) -> None:
    assert (_host(staging).inputs["instanceType"], _host(prod).inputs["instanceType"]) == ("t3.medium", "t3.large")


def test_root_volume_is_encrypted_gp3_and_instance_is_ebs_optimized(stack_run: engine.Run) -> None:
    host = _host(stack_run)
    root = host.inputs["rootBlockDevice"]
    assert (root["volumeType"], root["encrypted"], host.inputs["ebsOptimized"]) == ("gp3", True, True)


def test_imdsv2_is_required_with_hop_limit_two(stack_run: engine.Run) -> None:
    meta = _host(stack_run).inputs["metadataOptions"]
    assert (meta["httpTokens"], meta["httpPutResponseHopLimit"], meta["httpEndpoint"]) == ("required", 2, "enabled")


def test_prod_has_detailed_monitoring_and_termination_protection(prod: engine.Run, staging: engine.Run) -> None:
    assert (_host(prod).inputs["monitoring"], _host(prod).inputs["disableApiTermination"]) == (True, True)
    assert (_host(staging).inputs["monitoring"], _host(staging).inputs["disableApiTermination"]) == (False, False)


def test_a_newer_ami_does_not_replace_the_running_host(stack_run: engine.Run) -> None:
    assert set(_host(stack_run).ignore_changes) == {"ami", "userData"}


def test_instance_profile_carries_the_host_role_with_ssm_core(stack_run: engine.Run) -> None:
    role = stack_run.one("aws:iam/role:Role", "host")
    profile = stack_run.one("aws:iam/instanceProfile:InstanceProfile", "host")
    attachment = stack_run.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ssm-core")
    assert _host(stack_run).inputs["iamInstanceProfile"] == profile.outputs["name"]
    assert profile.inputs["role"] == role.outputs["name"] == attachment.inputs["role"]
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    assert [s["Principal"] for s in statements(doc(role.inputs["assumeRolePolicy"]))] == [
        {"Service": "ec2.amazonaws.com"}
    ]


def test_no_iam_statement_grants_a_wildcard_action(stack_run: engine.Run) -> None:
    actions = [a for _, d in iam_documents(stack_run) for s in statements(d) for a in as_list(s["Action"])]
    assert actions and not [a for a in actions if "*" in a]


def test_wildcard_resources_only_where_aws_allows_nothing_else(stack_run: engine.Run) -> None:
    wildcard = sorted(
        a
        for _, d in iam_documents(stack_run)
        for s in statements(d)
        if "*" in as_list(s.get("Resource", []))
        for a in as_list(s["Action"])
    )
    assert wildcard == [
        "ec2:DescribeInstances",
        "ec2:DescribeSnapshots",
        "ec2:DescribeVolumes",
        "ecr:GetAuthorizationToken",
    ]


def test_host_reads_and_writes_only_the_uploads_bucket_objects(stack_run: engine.Run) -> None:
    arn = f"arn:aws:s3:::{bucket_name(stack_run, 'uploads')}"
    objects = statement(_host_policy(stack_run), "UploadsObjects")
    assert objects["Resource"] == f"{arn}/*"
    assert set(objects["Action"]) == {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}
    assert statement(_host_policy(stack_run), "UploadsList")["Resource"] == arn


def test_host_reaches_the_backups_bucket_only_under_its_prefixes(stack_run: engine.Run) -> None:
    arn = f"arn:aws:s3:::{bucket_name(stack_run, 'backups')}"
    policy = _host_policy(stack_run)
    prefixes = [f"postgres/{stack_run.stack}/*", f"dumps/{stack_run.stack}/*"]  # its own stack's dumps only
    assert statement(policy, "BackupsObjects")["Resource"] == [f"{arn}/{p}" for p in prefixes]
    listing = statement(policy, "BackupsListPrefixes")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": prefixes}}
    head = statement(policy, "BackupsHeadBucket")
    assert (head["Resource"], head["Condition"]) == (arn, {"Null": {"s3:prefix": "true"}})


def test_host_pulls_only_from_the_project_ecr_repositories(stack_run: engine.Run) -> None:
    pull = statement(_host_policy(stack_run), "EcrPull")
    assert pull["Resource"] == f"arn:aws:ecr:us-east-1:{cloud.ACCOUNT_ID}:repository/quintas-crm/{stack_run.stack}/*"
    assert set(pull["Action"]) == {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"}


def test_host_writes_only_to_the_stack_log_groups_and_alert_topic(stack_run: engine.Run) -> None:
    telemetry = doc(stack_run.one(ROLE_POLICY, "host-telemetry").inputs["policy"])
    assert stack_run.one(ROLE_POLICY, "host-telemetry").inputs["role"] == stack_run.one("aws:iam/role:Role", "host").id
    monitoring = stack_run.one("quintas:monitoring:Monitoring", "monitoring").urn
    groups = [g.outputs["arn"] for g in stack_run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.parent == monitoring]
    assert groups, "the container log groups are Monitoring's children"
    logs = statement(telemetry, "ContainerLogs")
    assert sorted(logs["Resource"]) == sorted(groups + [f"{g}:log-stream:*" for g in groups])
    assert all(f":log-group:/quintas-crm/{stack_run.stack}/" in r for r in logs["Resource"])
    publish = statement(telemetry, "PublishAlerts")
    assert (publish["Action"], publish["Resource"]) == (["sns:Publish"], stack_run.outputs["alertTopicArn"])
    key = statement(telemetry, "PublishAlertsEncrypted")
    assert key["Resource"] == stack_run.one("aws:kms/key:Key", "telemetry").outputs["arn"]
    assert key["Condition"] == {"StringLike": {"kms:ViaService": "sns.*.amazonaws.com"}}


def test_key_pair_holds_the_operator_public_key(stack_run: engine.Run) -> None:
    key = stack_run.one("aws:ec2/keyPair:KeyPair", "operator")
    assert key.inputs["publicKey"].startswith("ssh-ed25519 AAAA")
    assert _host(stack_run).inputs["keyName"] == key.outputs["keyName"]


def test_elastic_ip_belongs_to_the_host_and_is_the_exported_address(stack_run: engine.Run) -> None:
    eip = stack_run.one("aws:ec2/eip:Eip", "host")
    assert (eip.inputs["instance"], eip.inputs["domain"]) == (_host(stack_run).id, "vpc")
    assert stack_run.outputs["hostPublicIp"] == eip.outputs["publicIp"]
    assert _host(stack_run).inputs["associatePublicIpAddress"] is False


def test_data_volume_is_attached_to_the_host_and_detached_first_on_replacement(stack_run: engine.Run) -> None:
    attachment = stack_run.one("aws:ec2/volumeAttachment:VolumeAttachment", "data")
    volume = stack_run.one("aws:ebs/volume:Volume", "data")
    assert (attachment.inputs["instanceId"], attachment.inputs["volumeId"]) == (_host(stack_run).id, volume.id)
    assert attachment.delete_before_replace and attachment.inputs["stopInstanceBeforeDetaching"]


@pytest.mark.slow  # drives a real tool or process
def test_user_data_is_valid_cloud_config(stack_run: engine.Run, tmp_path) -> None:
    cloud_init = require_tool("cloud-init", "apt-get install cloud-init")
    path = tmp_path / "user-data.yaml"
    path.write_text(_user_data(stack_run))
    result = subprocess.run([cloud_init, "schema", "--config-file", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout


def test_user_data_mounts_the_data_volume_by_its_stable_device_id(stack_run: engine.Run) -> None:
    config = yaml.safe_load(_user_data(stack_run))
    volume_id = stack_run.one("aws:ebs/volume:Volume", "data").id
    assert volume_id and volume_id.startswith("vol-")
    device = f"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_{volume_id.replace('-', '')}"
    assert nvme_device(volume_id) == device
    assert ["/usr/local/sbin/mount-data-volume", device, DATA_MOUNT] in config["runcmd"]


def test_user_data_embeds_the_tested_mount_script_verbatim(stack_run: engine.Run) -> None:
    files = {f["path"]: f for f in yaml.safe_load(_user_data(stack_run))["write_files"]}
    script = files["/usr/local/sbin/mount-data-volume"]
    assert script["content"] == (TEMPLATES / "mount-data-volume.sh").read_text()
    assert script["permissions"] == "0755"


def test_user_data_installs_docker_and_enables_the_ssm_agent(stack_run: engine.Run) -> None:
    config = yaml.safe_load(_user_data(stack_run))
    assert ["docker-ce", config["packages"][0][1]] in config["packages"]  # pinned: tests/program/test_host_engine.py
    commands = [" ".join(c) if isinstance(c, list) else c for c in config["runcmd"]]
    assert any("enable --now snap.amazon-ssm-agent.amazon-ssm-agent.service" in c for c in commands)
    assert "usermod -aG docker ubuntu" in commands


def test_user_data_sets_docker_default_log_driver_and_requires_the_data_mount(stack_run: engine.Run) -> None:
    import json

    files = {f["path"]: f["content"] for f in yaml.safe_load(_user_data(stack_run))["write_files"]}
    daemon = json.loads(files["/etc/docker/daemon.json"])
    assert daemon["log-driver"] == "local" and daemon["log-opts"]["max-size"] == "20m"
    assert f"RequiresMountsFor={DATA_MOUNT}" in files["/etc/systemd/system/docker.service.d/data-volume.conf"]


def test_user_data_writes_the_ready_marker_last_and_only_when_ready(stack_run: engine.Run) -> None:
    last = yaml.safe_load(_user_data(stack_run))["runcmd"][-1]
    assert last[:2] == ["sh", "-ec"]
    assert last[2].startswith(f"mountpoint -q {DATA_MOUNT} && systemctl is-active --quiet docker")
    assert last[2].endswith("> /var/lib/quintas-crm/host-ready")


def test_user_data_fits_the_ec2_limit(stack_run: engine.Run) -> None:
    assert len(_user_data(stack_run).encode()) < 16 * 1024
