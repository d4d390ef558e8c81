"""Realistic provider outputs per resource type: the table the simulated cloud answers from.

Each resource type token maps to a template that returns the outputs the real
provider would compute (ids, ARNs, DNS names, addresses...). Values are derived
from the stack and the resource's type and name, so every run of a stack gives
the same plan. The invokes (look-ups) and the Mocks that serve both are in
ops/sim/cloud.py.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Callable
from typing import Any

ACCOUNT_ID = "123456789012"
# The hosted zone id of every ALB in us-east-1 (AWS publishes one per region).
ALB_ZONE_IDS = {"us-east-1": "Z35SXDOTRQ7X7K", "us-east-2": "Z3AADJGX6KTTL2", "us-west-2": "Z1H1FL5HABSF5"}


class Ctx:
    """What an output template sees: the resource's identity, inputs and stack."""

    def __init__(self, stack: str, region: str, type_: str, name: str, inputs: dict[str, Any]) -> None:
        self.stack = stack
        self.type = type_
        self.name = name
        self.inputs = inputs
        self.region = region

    def hex(self, n: int, salt: str = "") -> str:
        digest = hashlib.sha256(f"{self.stack}/{self.type}/{self.name}/{salt}".encode()).hexdigest()
        while len(digest) < n:
            digest += hashlib.sha256(digest.encode()).hexdigest()
        return digest[:n]

    def arn(self, service: str, resource: str, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"

    def physical_name(self, key: str = "name", max_len: int = 63) -> str:
        """The name the provider would pick: the given one, or auto-naming's name + 7 hex."""
        given = self.inputs.get(key)
        if isinstance(given, str) and given:
            return given
        prefix = self.inputs.get(f"{key}Prefix")
        base = prefix if isinstance(prefix, str) else f"{self.name}-"
        return (base + self.hex(7))[:max_len]

    def ip(self, salt: str, first: int = 54) -> str:
        h = self.hex(6, salt)
        return f"{first}.{int(h[0:2], 16) % 250 + 1}.{int(h[2:4], 16)}.{int(h[4:6], 16) % 254 + 1}"


Template = Callable[[Ctx], dict[str, Any]]


def _vpc(c: Ctx) -> dict[str, Any]:
    vpc_id = f"vpc-{c.hex(17)}"
    return {
        "id": vpc_id,
        "arn": c.arn("ec2", f"vpc/{vpc_id}"),
        "defaultSecurityGroupId": f"sg-{c.hex(17, 'default')}",
        "mainRouteTableId": f"rtb-{c.hex(17, 'main')}",
        "ownerId": ACCOUNT_ID,
    }


def _prefixed(prefix: str, service: str = "ec2", kind: str | None = None) -> Template:
    def template(c: Ctx) -> dict[str, Any]:
        rid = f"{prefix}-{c.hex(17)}"
        out: dict[str, Any] = {"id": rid, "ownerId": ACCOUNT_ID}
        if kind:
            out["arn"] = c.arn(service, f"{kind}/{rid}")
        return out

    return template


def _instance(c: Ctx) -> dict[str, Any]:
    iid = f"i-{c.hex(17)}"
    private_ip = f"10.40.{int(c.hex(2), 16) % 2}.{int(c.hex(2, 'ip'), 16) % 200 + 10}"
    public_ip = c.ip("public")
    return {
        "id": iid,
        "arn": c.arn("ec2", f"instance/{iid}"),
        "privateIp": private_ip,
        "publicIp": public_ip,
        "publicDns": f"ec2-{public_ip.replace('.', '-')}.compute-1.amazonaws.com",
        "privateDns": f"ip-{private_ip.replace('.', '-')}.ec2.internal",
        "availabilityZone": c.inputs.get("availabilityZone") or f"{c.region}a",
        "primaryNetworkInterfaceId": f"eni-{c.hex(17, 'eni')}",
        "instanceState": "running",
    }


def _eip(c: Ctx) -> dict[str, Any]:
    alloc = f"eipalloc-{c.hex(17)}"
    ip = c.ip("eip", first=3)
    return {
        "id": alloc,
        "allocationId": alloc,
        "publicIp": ip,
        "publicDns": f"ec2-{ip.replace('.', '-')}.compute-1.amazonaws.com",
        "domain": "vpc",
        "arn": c.arn("ec2", f"elastic-ip/{alloc}"),
    }


def _key_pair(c: Ctx) -> dict[str, Any]:
    name = c.physical_name("keyName")
    return {
        "id": name,
        "keyName": name,
        "keyPairId": f"key-{c.hex(17)}",
        "arn": c.arn("ec2", f"key-pair/{name}"),
        "fingerprint": ":".join(c.hex(32, "fp")[i : i + 2] for i in range(0, 32, 2)),
    }


def _volume(c: Ctx) -> dict[str, Any]:
    vid = f"vol-{c.hex(17)}"
    return {"id": vid, "arn": c.arn("ec2", f"volume/{vid}")}


def _iam_named(kind: str) -> Template:
    def template(c: Ctx) -> dict[str, Any]:
        name = c.physical_name(max_len=64)
        return {
            "id": name,
            "name": name,
            "arn": c.arn("iam", f"{kind}/{name}", regional=False),
            "uniqueId": "ARO" + c.hex(17).upper(),
        }

    return template


def _bucket(c: Ctx) -> dict[str, Any]:
    name = c.physical_name("bucket")
    return {
        "id": name,
        "bucket": name,
        "arn": f"arn:aws:s3:::{name}",
        "bucketDomainName": f"{name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{name}.s3.{c.region}.amazonaws.com",
        "hostedZoneId": "Z3AQBSTGFYJSTF",
        "region": c.region,
    }


def _by_bucket(c: Ctx) -> dict[str, Any]:
    return {"id": str(c.inputs.get("bucket", c.name))}


def _kms_key(c: Ctx) -> dict[str, Any]:
    key_id = f"{c.hex(8)}-{c.hex(4, 'a')}-{c.hex(4, 'b')}-{c.hex(4, 'c')}-{c.hex(12, 'd')}"
    return {"id": key_id, "keyId": key_id, "arn": c.arn("kms", f"key/{key_id}")}


def _load_balancer(c: Ctx) -> dict[str, Any]:
    name = c.physical_name(max_len=32)
    suffix = f"app/{name}/{c.hex(16)}"
    arn = c.arn("elasticloadbalancing", f"loadbalancer/{suffix}")
    return {
        "id": arn,
        "arn": arn,
        "arnSuffix": suffix,
        "name": name,
        "dnsName": f"{name}-{int(c.hex(8), 16) % 10**10}.{c.region}.elb.amazonaws.com",
        "zoneId": ALB_ZONE_IDS.get(c.region, "Z35SXDOTRQ7X7K"),
        "vpcId": "vpc-" + c.hex(17, "vpc"),
    }


def _target_group(c: Ctx) -> dict[str, Any]:
    name = c.physical_name(max_len=32)
    suffix = f"targetgroup/{name}/{c.hex(16)}"
    arn = c.arn("elasticloadbalancing", suffix)
    return {"id": arn, "arn": arn, "arnSuffix": suffix, "name": name}


def _elb_arn(kind: str) -> Template:
    def template(c: Ctx) -> dict[str, Any]:
        arn = c.arn("elasticloadbalancing", f"{kind}/app/{c.name}/{c.hex(16)}/{c.hex(16, 'l')}")
        return {"id": arn, "arn": arn}

    return template


def _certificate(c: Ctx) -> dict[str, Any]:
    arn = c.arn("acm", f"certificate/{c.hex(8)}-{c.hex(4, 'a')}-{c.hex(4, 'b')}-{c.hex(4, 'c')}-{c.hex(12, 'd')}")
    names = [c.inputs.get("domainName", "")] + list(c.inputs.get("subjectAlternativeNames") or [])
    options = [
        {
            "domainName": n,
            "resourceRecordName": f"_{c.hex(32, n)}.{n}.",
            "resourceRecordType": "CNAME",
            "resourceRecordValue": f"_{c.hex(32, 'v' + n)}.mhbtsbpdnt.acm-validations.aws.",
        }
        for n in names
        if n
    ]
    return {"id": arn, "arn": arn, "domainValidationOptions": options, "status": "PENDING_VALIDATION"}


def _route53_record(c: Ctx) -> dict[str, Any]:
    return {
        "id": f"{c.inputs.get('zoneId')}_{c.inputs.get('name')}_{c.inputs.get('type')}",
        "fqdn": c.inputs.get("name"),
    }


def _health_check(c: Ctx) -> dict[str, Any]:
    hid = f"{c.hex(8)}-{c.hex(4, 'a')}-{c.hex(4, 'b')}-{c.hex(4, 'c')}-{c.hex(12, 'd')}"
    return {"id": hid, "arn": f"arn:aws:route53:::healthcheck/{hid}"}


def _alarm(c: Ctx) -> dict[str, Any]:
    name = c.physical_name()
    return {"id": name, "name": name, "arn": c.arn("cloudwatch", f"alarm:{name}")}


def _schedule(c: Ctx) -> dict[str, Any]:
    """EventBridge Scheduler: the id is `<group>/<name>`; a schedule without a group is in `default`."""
    name, group = c.physical_name(), str(c.inputs.get("groupName") or "default")
    return {
        "id": f"{group}/{name}",
        "name": name,
        "groupName": group,
        "arn": c.arn("scheduler", f"schedule/{group}/{name}"),
    }


def _log_group(c: Ctx) -> dict[str, Any]:
    name = c.physical_name(max_len=512)
    return {"id": name, "name": name, "arn": c.arn("logs", f"log-group:{name}")}


def _topic(c: Ctx) -> dict[str, Any]:
    name = c.physical_name(max_len=256)
    arn = c.arn("sns", name)
    return {"id": arn, "arn": arn, "name": name}


def _subscription(c: Ctx) -> dict[str, Any]:
    arn = f"{c.inputs.get('topic')}:{c.hex(8)}-{c.hex(4, 'a')}-{c.hex(4, 'b')}-{c.hex(4, 'c')}-{c.hex(12, 'd')}"
    return {"id": arn, "arn": arn, "pendingConfirmation": True}


def _ecr_repository(c: Ctx) -> dict[str, Any]:
    name = c.physical_name()
    return {
        "id": name,
        "name": name,
        "arn": c.arn("ecr", f"repository/{name}"),
        "registryId": ACCOUNT_ID,
        "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{c.region}.amazonaws.com/{name}",
    }


def _dlm_policy(c: Ctx) -> dict[str, Any]:
    pid = f"policy-{c.hex(17)}"
    return {"id": pid, "arn": c.arn("dlm", f"policy/{pid}")}


def _web_acl(c: Ctx) -> dict[str, Any]:
    wid = f"{c.hex(8)}-{c.hex(4, 'a')}-{c.hex(4, 'b')}-{c.hex(4, 'c')}-{c.hex(12, 'd')}"
    arn = c.arn("wafv2", f"regional/webacl/{c.physical_name()}/{wid}")
    return {"id": wid, "arn": arn, "capacity": 1300, "lockToken": c.hex(36, "lock"), "applicationIntegrationUrl": ""}


def _just_id(prefix: str) -> Template:
    return lambda c: {"id": f"{prefix}{c.hex(17)}"}


def _random_password(c: Ctx) -> dict[str, Any]:
    length = int(c.inputs.get("length", 32))
    alphabet = string.ascii_letters + string.digits
    if c.inputs.get("special", True):
        alphabet += str(c.inputs.get("overrideSpecial") or "!#$%&*()-_=+[]{}<>:?")
    seed = c.hex(length * 2, "password")
    result = "".join(alphabet[int(seed[i * 2 : i * 2 + 2], 16) % len(alphabet)] for i in range(length))
    return {"id": "none", "result": result, "bcryptHash": "$2a$10$" + c.hex(53, "bcrypt")}


def _docker_image(c: Ctx) -> dict[str, Any]:
    name = str(c.inputs.get("name", c.name))
    digest = "sha256:" + c.hex(64, name)
    return {"id": f"{digest}{name}", "imageId": digest, "repoDigest": f"{name.split(':')[0]}@{digest}"}


def _docker_container(c: Ctx) -> dict[str, Any]:
    cid = c.hex(64)
    return {"id": cid, "name": c.physical_name(), "exitCode": None, "networkDatas": []}


def _docker_named(c: Ctx) -> dict[str, Any]:
    return {"id": c.hex(64), "name": c.physical_name()}


def _remote_command(c: Ctx) -> dict[str, Any]:
    return {"id": f"{c.name}{c.hex(8)}", "stdout": "", "stderr": ""}


def _provider(c: Ctx) -> dict[str, Any]:
    return {"id": f"{c.hex(8)}-{c.hex(4, 'a')}-{c.hex(4, 'b')}-{c.hex(4, 'c')}-{c.hex(12, 'd')}"}


RESOURCES: dict[str, Template] = {
    "pulumi:providers:aws": _provider,
    "pulumi:providers:docker": _provider,
    "pulumi:providers:random": _provider,
    "pulumi:providers:command": _provider,
    "aws:ec2/vpc:Vpc": _vpc,
    "aws:ec2/subnet:Subnet": lambda c: {
        **_prefixed("subnet", kind="subnet")(c),
        "arn": c.arn("ec2", f"subnet/subnet-{c.hex(17)}"),
    },
    "aws:ec2/internetGateway:InternetGateway": _prefixed("igw", kind="internet-gateway"),
    "aws:ec2/routeTable:RouteTable": _prefixed("rtb", kind="route-table"),
    "aws:ec2/route:Route": _just_id("r-rtb-"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _just_id("rtbassoc-"),
    "aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation": _just_id("rtbassoc-"),
    "aws:ec2/securityGroup:SecurityGroup": _prefixed("sg", kind="security-group"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _prefixed("sg", kind="security-group"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _prefixed("sgr", kind="security-group-rule"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _prefixed("sgr", kind="security-group-rule"),
    "aws:ec2/instance:Instance": _instance,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/eipAssociation:EipAssociation": _just_id("eipassoc-"),
    "aws:ec2/keyPair:KeyPair": _key_pair,
    "aws:ebs/volume:Volume": _volume,
    "aws:ec2/volumeAttachment:VolumeAttachment": _just_id("vai-"),
    "aws:dlm/lifecyclePolicy:LifecyclePolicy": _dlm_policy,
    "aws:iam/role:Role": _iam_named("role"),
    "aws:iam/policy:Policy": _iam_named("policy"),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": lambda c: {
        "id": c.arn("iam", f"oidc-provider/{str(c.inputs.get('url', '')).removeprefix('https://')}", regional=False),
        "arn": c.arn("iam", f"oidc-provider/{str(c.inputs.get('url', '')).removeprefix('https://')}", regional=False),
    },
    "aws:iam/instanceProfile:InstanceProfile": _iam_named("instance-profile"),
    "aws:iam/rolePolicy:RolePolicy": lambda c: {
        "id": f"{c.inputs.get('role')}:{c.physical_name()}",
        "name": c.physical_name(),
    },
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": lambda c: {"id": f"{c.inputs.get('role')}-{c.hex(20)}"},
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketVersioning:BucketVersioning": _by_bucket,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _by_bucket,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _by_bucket,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _by_bucket,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _by_bucket,
    "aws:s3/bucketPolicy:BucketPolicy": _by_bucket,
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": _by_bucket,
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": _by_bucket,
    "aws:s3/bucketLogging:BucketLogging": _by_bucket,
    "aws:ec2/flowLog:FlowLog": _prefixed("fl", kind="vpc-flow-log"),
    "aws:wafv2/webAcl:WebAcl": _web_acl,
    "aws:wafv2/webAclAssociation:WebAclAssociation": lambda c: {
        "id": f"{c.inputs.get('webAclArn')},{c.inputs.get('resourceArn')}"
    },
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": lambda c: {
        "id": str(c.inputs.get("resourceArn"))
    },
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": lambda c: {"id": str(c.inputs.get("name")), "arn": c.arn("kms", str(c.inputs.get("name")))},
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:lb/listener:Listener": _elb_arn("listener"),
    "aws:lb/listenerRule:ListenerRule": _elb_arn("listener-rule"),
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": lambda c: {
        "id": f"{c.inputs.get('targetGroupArn')}-{c.hex(20)}"
    },
    "aws:acm/certificate:Certificate": _certificate,
    "aws:acm/certificateValidation:CertificateValidation": lambda c: {"id": str(c.inputs.get("certificateArn"))},
    "aws:route53/record:Record": _route53_record,
    "aws:route53/healthCheck:HealthCheck": _health_check,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:scheduler/schedule:Schedule": _schedule,
    "aws:sns/topic:Topic": _topic,
    "aws:sns/topicSubscription:TopicSubscription": _subscription,
    "aws:sns/topicPolicy:TopicPolicy": lambda c: {"id": str(c.inputs.get("arn"))},
    "aws:ecr/repository:Repository": _ecr_repository,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": lambda c: {
        "id": str(c.inputs.get("repository")),
        "registryId": ACCOUNT_ID,
    },
    "random:index/randomPassword:RandomPassword": _random_password,
    "docker:index/remoteImage:RemoteImage": _docker_image,
    "docker:index/container:Container": _docker_container,
    "docker:index/network:Network": _docker_named,
    "docker:index/volume:Volume": _docker_named,
    "command:remote:Command": _remote_command,
    "command:local:Command": _remote_command,
}
