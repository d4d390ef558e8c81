"""AppHost: the EC2 host of every container, its IAM role and instance profile, key pair, Elastic IP
and cloud-init user data; it also attaches the data volume.

The instance runs the newest Ubuntu LTS AMI of Canonical's pinned account at
creation, with IMDSv2 required (hop limit 2, so containers can use the instance
role), an encrypted gp3 root volume and EBS optimization, detailed monitoring
and termination protection (both on unless the stack turns them off: staging). A newer AMI or a changed template does
not replace a running host (they are ignored changes): rebuilding the host is a
deliberate `pulumi up --replace`.

The role grants SSM Session Manager, read/write on the uploads bucket, the
backup prefixes of the backups bucket and ECR pull on the project's
repositories. Monitoring adds CloudWatch Logs on the stack's log groups and
publishing to the alert topic (the grants live with the resources they name).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components.aws.buckets import Buckets
from components.aws.iam import host_role_name, policy_document, service_role
from components.aws.network import Network
from components.aws.security import SecurityGroups
from components.aws.volume import DataVolume
from components.backups import stack_prefixes
from components.config import StackConfig
from components.engine_versions import DOCKER_ENGINE, docker_apt_version

TEMPLATES = Path(__file__).resolve().parent / "templates"
UBUNTU_OWNER = "099720109477"  # Canonical: only its images match the look-up
UBUNTU_RELEASE = "noble-24.04"
SSH_USER = "ubuntu"
DATA_MOUNT = "/srv/data"
DATA_DEVICE_NAME = "/dev/sdf"
READY_MARKER = "/var/lib/quintas-crm/host-ready"
SSM_CORE_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def nvme_device(volume_id: str) -> str:
    """The stable path of an EBS volume on a Nitro instance: udev names it after the volume id."""
    return f"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_{volume_id.replace('-', '')}"


def render_user_data(volume_id: str, *, ssh_user: str = SSH_USER, default_log_driver: str = "local") -> str:
    """cloud-config from templates/cloud-init.yaml, with the mount script embedded."""
    values = {
        "data_device": nvme_device(volume_id),
        "data_mount": DATA_MOUNT,
        "ssh_user": ssh_user,
        "ready_marker": READY_MARKER,
        "default_log_driver": default_log_driver,
        "ubuntu_codename": UBUNTU_RELEASE.split("-")[0],
        "docker_apt_version": docker_apt_version(DOCKER_ENGINE, UBUNTU_RELEASE),
        "mount_script": (TEMPLATES / "mount-data-volume.sh").read_text(),
    }
    return render_template((TEMPLATES / "cloud-init.yaml").read_text(), values)


def render_template(text: str, values: Mapping[str, str]) -> str:
    """string.Template substitution where a multi-line value keeps its placeholder's indentation."""

    def indent(match: re.Match[str]) -> str:
        margin, key = match.group(1), match.group(2)
        lines = values[key].rstrip("\n").split("\n")
        return "\n".join(margin + line if line else "" for line in lines)

    multi = "|".join(re.escape(k) for k, v in values.items() if "\n" in v.rstrip("\n"))
    if multi:
        text = re.sub(rf"^([ \t]*)\$\{{({multi})\}}[ \t]*$", lambda m: indent(m).replace("$", "$$"), text, flags=re.M)
    return string.Template(text).substitute(values)


@dataclass
class AppHostArgs:
    name: str
    """Prefix of physical names, e.g. quintas-crm-prod."""
    tags: Mapping[str, str]
    """Tags of every resource the host makes (the instance, its root volume, role, key pair and Elastic IP)."""
    region: str
    """AWS region of the host: the ECR repositories it may pull from are in it."""
    subnet_id: pulumi.Input[str]
    """The public subnet the instance is launched in."""
    availability_zone: str
    """The subnet's zone; the data volume must be in the same one."""
    security_group_id: pulumi.Input[str]
    """The host's security group (SecurityGroups.host_security_group_id)."""
    instance_type: str
    """EC2 instance type, e.g. t3.medium; changing it stops and resizes the host."""
    architecture: Literal["x86_64", "arm64"]
    """CPU architecture of `instance_type`: picks the Ubuntu AMI (amd64 or arm64)."""
    public_key: str
    """OpenSSH public key of the operator key pair, authorized for the `ubuntu` login."""
    data_volume_id: pulumi.Input[str]
    """The EBS data volume (DataVolume.volume_id), attached as /dev/sdf and mounted at /srv/data."""
    uploads_bucket_arn: pulumi.Input[str]
    """The uploads bucket: the host role may read, write and delete its objects (Directus' S3 driver)."""
    backups_bucket_arn: pulumi.Input[str]
    """The backups bucket: the host role may use only `backup_prefixes` of it."""
    backup_prefixes: Sequence[str]
    """Key prefixes of the backups bucket the host reads, writes and deletes under (components/backups.py)."""
    image_repository_prefix: str
    """Name prefix of the ECR repositories the host may pull from."""
    termination_protection: bool = True
    """EC2 API termination protection (disableApiTermination): a stray terminate fails. Default on;
    False lets a teardown terminate the host (staging)."""
    detailed_monitoring: bool = True
    """1-minute CloudWatch metrics, so the status-check and recovery alarms react within minutes (billed
    per metric). Default on; False keeps the free 5-minute metrics (staging)."""
    root_volume_gb: int = 30
    """Size of the encrypted gp3 root volume in GiB (OS, Docker images, container logs)."""

    @classmethod
    def for_stack(
        cls,
        config: StackConfig,
        network: Network,
        security: SecurityGroups,
        data: DataVolume,
        buckets: Buckets,
        image_repository_prefix: str,
    ) -> AppHostArgs:
        """In the network's first subnet with the data volume attached; prod's host resists termination
        and reports 1-minute metrics."""
        return cls(
            name=config.name_prefix,
            tags=config.tags_for("host"),
            region=config.region,
            subnet_id=network.subnet_ids[0],
            availability_zone=network.availability_zones[0],
            security_group_id=security.host_security_group_id,
            instance_type=config.instance_type,
            architecture=config.instance_shape.architecture,
            public_key=config.operator_public_key,
            data_volume_id=data.volume_id,
            uploads_bucket_arn=buckets.uploads.arn,
            backups_bucket_arn=buckets.backups.arn,
            backup_prefixes=stack_prefixes(config.stack),
            image_repository_prefix=image_repository_prefix,
            termination_protection=config.is_prod,
            detailed_monitoring=config.is_prod,
        )


class AppHost(pulumi.ComponentResource):
    instance_id: pulumi.Output[str]
    public_ip: pulumi.Output[str]
    availability_zone: pulumi.Output[str]
    ssh_user: str
    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]
    ready_marker: str

    def __init__(self, name: str, args: AppHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:host:AppHost", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=self)).account_id
        role = service_role(
            "host",
            name=host_role_name(args.name),
            service="ec2.amazonaws.com",
            description="The Quintas CRM host and its containers (through IMDSv2)",
            tags=args.tags,
            parent=self,
        )
        aws.iam.RolePolicyAttachment("ssm-core", role=role.name, policy_arn=SSM_CORE_POLICY, opts=child)
        aws.iam.RolePolicy(
            "host",
            role=role.id,
            policy=pulumi.Output.all(args.uploads_bucket_arn, args.backups_bucket_arn).apply(
                lambda arns: policy_document(host_permissions(args, arns[0], arns[1], account))
            ),
            opts=child,
        )
        profile = aws.iam.InstanceProfile(
            "host", name=f"{args.name}-host", role=role.name, tags=dict(args.tags), opts=child
        )
        key = aws.ec2.KeyPair(
            "operator", key_name=f"{args.name}-operator", public_key=args.public_key, tags=dict(args.tags), opts=child
        )
        instance = self._instance(args, profile, key)
        eip = aws.ec2.Eip(
            "host", domain="vpc", instance=instance.id, tags={**args.tags, "Name": f"{args.name}-host"}, opts=child
        )
        aws.ec2.VolumeAttachment(
            "data",
            instance_id=instance.id,
            volume_id=args.data_volume_id,
            device_name=DATA_DEVICE_NAME,
            # Stop the host before detaching, so PostgreSQL's files are never cut off mid-write.
            stop_instance_before_detaching=True,
            # A volume attaches to one instance at a time: a new host gets it only after the old one let go.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.instance_id = instance.id
        self.public_ip = eip.public_ip
        self.availability_zone = instance.availability_zone
        self.ssh_user = SSH_USER
        self.role_arn = role.arn
        self.role_name = role.name
        self.ready_marker = READY_MARKER
        self.register_outputs({"instanceId": instance.id, "publicIp": eip.public_ip, "roleArn": role.arn})

    def _instance(self, args: AppHostArgs, profile: aws.iam.InstanceProfile, key: aws.ec2.KeyPair) -> aws.ec2.Instance:
        arch = "amd64" if args.architecture == "x86_64" else "arm64"
        ami = aws.ec2.get_ami(
            most_recent=True,
            owners=[UBUNTU_OWNER],
            filters=[
                {"name": "name", "values": [f"ubuntu/images/hvm-ssd-gp3/ubuntu-{UBUNTU_RELEASE}-{arch}-server-*"]},
                {"name": "architecture", "values": [args.architecture]},
                {"name": "virtualization-type", "values": ["hvm"]},
                {"name": "root-device-type", "values": ["ebs"]},
            ],
            opts=pulumi.InvokeOptions(parent=self),
        )
        return aws.ec2.Instance(
            "host",
            ami=ami.id,
            instance_type=args.instance_type,
            subnet_id=args.subnet_id,
            availability_zone=args.availability_zone,
            vpc_security_group_ids=[args.security_group_id],
            # The Elastic IP is the host's public address; no second, changing one.
            associate_public_ip_address=False,
            iam_instance_profile=profile.name,
            key_name=key.key_name,
            ebs_optimized=True,
            monitoring=args.detailed_monitoring,
            disable_api_termination=args.termination_protection,
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                # 2, not 1: containers sit one network hop behind the host and use the instance role.
                "http_put_response_hop_limit": 2,
                "instance_metadata_tags": "disabled",
            },
            root_block_device={
                "volume_type": "gp3",
                "volume_size": args.root_volume_gb,
                "encrypted": True,
                "delete_on_termination": True,
                "tags": {**args.tags, "Name": f"{args.name}-root"},
            },
            user_data=pulumi.Output.from_input(args.data_volume_id).apply(render_user_data),
            tags={**args.tags, "Name": f"{args.name}-host"},
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["ami", "userData"]),
        )


def host_permissions(args: AppHostArgs, uploads_arn: str, backups_arn: str, account: str) -> list[dict[str, Any]]:
    """The host role's own statements (SSM comes from the AWS managed AmazonSSMManagedInstanceCore)."""
    prefixes = list(args.backup_prefixes)
    region = args.region
    object_rw = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    return [
        # Directus' S3 storage driver: read, write, replace and delete files.
        {"Sid": "UploadsObjects", "Effect": "Allow", "Action": object_rw, "Resource": f"{uploads_arn}/*"},
        {"Sid": "UploadsList", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": uploads_arn},
        # Barman Cloud archives WAL and base backups and deletes expired ones; the dump job writes dumps/.
        {
            "Sid": "BackupsObjects",
            "Effect": "Allow",
            "Action": object_rw,
            "Resource": [f"{backups_arn}/{p}*" for p in prefixes],
        },
        {
            "Sid": "BackupsListPrefixes",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": backups_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
        },
        {
            # barman-cloud-* start with HeadBucket, authorized as s3:ListBucket with no prefix.
            "Sid": "BackupsHeadBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": backups_arn,
            "Condition": {"Null": {"s3:prefix": "true"}},
        },
        {
            "Sid": "EcrPull",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            "Resource": f"arn:aws:ecr:{region}:{account}:repository/{args.image_repository_prefix}*",
        },
        {
            # GetAuthorizationToken is account-wide: AWS accepts only "*" as its resource.
            "Sid": "EcrLogin",
            "Effect": "Allow",
            "Action": ["ecr:GetAuthorizationToken"],
            "Resource": "*",
        },
    ]
