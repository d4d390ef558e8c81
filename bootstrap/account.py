"""AccountBootstrap: the state bucket, the secrets-provider KMS key and the GitHub OIDC roles.

- State bucket `quintas-crm-pulumi-state-<account>`: the one secure-bucket builder of
  components/aws/buckets.py (versioned, SSE-KMS with the key below, every public-access
  block, TLS only), protected and retained: losing it loses every stack's state.
- KMS key `alias/quintas-crm-pulumi` with rotation: `pulumi stack init
  --secrets-provider awskms://alias/quintas-crm-pulumi?region=<region>`.
- GitHub's OIDC provider and two roles, trusted only by this repository's workflows:
  `quintas-crm-ci-preview` for pull requests and pushes to main/develop (read the state,
  decrypt its secrets, the program's look-ups: nothing that changes the account), and
  `quintas-crm-ci-deploy` for the `staging` and `prod` environments and `v*` tags (what the
  stacks create, scoped to their `quintas-crm-<stack>-*` names where AWS allows it; it
  cannot change the CI roles, and attaches no managed policy but SSM's instance core).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.host import SSM_CORE_POLICY
from components.aws.iam import policy_document
from components.aws.secure_bucket import SecureBucketArgs, secure_bucket

GITHUB_OIDC = "token.actions.githubusercontent.com"
KEY_ALIAS = "alias/quintas-crm-pulumi"
PREFIX = "quintas-crm"
STACKS = ("staging", "prod")
PROJECT_TAG = "quintas-crm-infra"  # the stacks' `project` tag: SSM sessions only to their instances


@dataclass
class AccountBootstrapArgs:
    repository: str
    """owner/name of the infrastructure repository on GitHub."""
    owner: str
    state_noncurrent_days: int = 90
    """How long an overwritten state file stays recoverable."""


def preview_subjects(repository: str) -> list[str]:
    return [f"repo:{repository}:pull_request", *(f"repo:{repository}:ref:refs/heads/{b}" for b in ("main", "develop"))]


def deploy_subjects(repository: str) -> list[str]:
    # Environments gate `pulumi up` (prod can require an approval); the images job runs on the tag.
    return [
        f"repo:{repository}:environment:staging",
        f"repo:{repository}:environment:prod",
        f"repo:{repository}:ref:refs/tags/v*",
    ]


def github_trust(provider_arn: str, subjects: list[str]) -> str:
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{GITHUB_OIDC}:aud": "sts.amazonaws.com"},
                    "StringLike": {f"{GITHUB_OIDC}:sub": subjects},
                },
            }
        ]
    )


def state_access(bucket_arn: str, key_arn: str, *, write: bool) -> list[dict[str, Any]]:
    objects = ["s3:GetObject", *(["s3:PutObject", "s3:DeleteObject"] if write else [])]
    crypto = ["kms:Decrypt", *(["kms:Encrypt", "kms:GenerateDataKey"] if write else [])]
    return [
        {"Sid": "StateList", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn},
        {"Sid": "StateObjects", "Effect": "Allow", "Action": objects, "Resource": f"{bucket_arn}/*"},
        # The state bucket's SSE-KMS and the stacks' secrets provider use the same key.
        {"Sid": "StateKey", "Effect": "Allow", "Action": crypto, "Resource": key_arn},
    ]


# What the stacks' EC2, ALB, ACM, alarm and snapshot resources need: create, change, read, delete.
PLATFORM_ACTIONS = [
    "ec2:Describe*", "ec2:Get*", "ec2:CreateTags", "ec2:DeleteTags",
    "ec2:*Vpc", "ec2:ModifyVpcAttribute", "ec2:*Subnet", "ec2:ModifySubnetAttribute",
    "ec2:*InternetGateway", "ec2:*RouteTable", "ec2:*Route",
    "ec2:*SecurityGroup", "ec2:*SecurityGroupIngress", "ec2:*SecurityGroupEgress", "ec2:ModifySecurityGroupRules",
    "ec2:UpdateSecurityGroupRuleDescriptions*",
    "ec2:RunInstances", "ec2:TerminateInstances", "ec2:StartInstances", "ec2:StopInstances", "ec2:RebootInstances",
    "ec2:ModifyInstance*", "ec2:MonitorInstances", "ec2:UnmonitorInstances", "ec2:*IamInstanceProfile*",
    "ec2:*Volume", "ec2:ImportKeyPair", "ec2:DeleteKeyPair", "ec2:*Address",
    "elasticloadbalancing:Describe*", "elasticloadbalancing:Create*", "elasticloadbalancing:Delete*",
    "elasticloadbalancing:Modify*", "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
    "elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:Set*",
    "acm:RequestCertificate", "acm:DeleteCertificate", "acm:DescribeCertificate", "acm:List*",
    "acm:AddTagsToCertificate", "acm:RemoveTagsFromCertificate",
    "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
    "cloudwatch:ListTagsForResource", "cloudwatch:TagResource", "cloudwatch:UntagResource",
    "dlm:*LifecyclePolic*", "dlm:TagResource", "dlm:UntagResource", "dlm:ListTagsForResource",
]  # fmt: skip

# Look-ups the program makes even in a preview (AMI, zones, ECR login): AWS accepts only "*" for them.
LOOKUPS = ["ec2:DescribeImages", "ec2:DescribeAvailabilityZones", "ecr:GetAuthorizationToken"]


def preview_permissions(bucket_arn: str, key_arn: str) -> list[dict[str, Any]]:
    return [
        *state_access(bucket_arn, key_arn, write=False),
        {"Sid": "Lookups", "Effect": "Allow", "Action": LOOKUPS, "Resource": "*"},
    ]


def deploy_permissions(bucket_arn: str, key_arn: str, account: str, region: str) -> list[dict[str, Any]]:
    """What `pulumi up` of a stack creates and changes; named resources are limited to quintas-crm-*."""
    return [
        *state_access(bucket_arn, key_arn, write=True),
        *_platform(region),
        *_stack_roles(account),
        *_buckets_and_registry(account, region),
        *_logs_and_alerts(account, region),
        *_dns(),
        *_ssh_over_ssm(account, region),
    ]


def _platform(region: str) -> list[dict[str, Any]]:
    return [
        {
            # EC2, the ALB, ACM, CloudWatch alarms and DLM give little resource-level control at create time.
            "Sid": "Platform",
            "Effect": "Allow",
            "Action": PLATFORM_ACTIONS,
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
        },
    ]


def _stack_roles(account: str) -> list[dict[str, Any]]:
    """The stacks' own roles and instance profiles, the one managed policy they attach, and whom they pass to."""
    iam = f"arn:aws:iam::{account}"
    stack_roles = [f"{iam}:{kind}/{PREFIX}-{stack}-*" for stack in STACKS for kind in ("role", "instance-profile")]
    return [
        {
            # The stacks' own roles only (quintas-crm-<stack>-*): never the CI roles themselves.
            "Sid": "StackRoles",
            "Effect": "Allow",
            "Action": [
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:UpdateRole*",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:GetRolePolicy",
                "iam:ListRole*",
                "iam:*InstanceProfile*",
                "iam:DetachRolePolicy",
                "iam:ListAttachedRolePolicies",
            ],
            "Resource": stack_roles,
        },
        {
            "Sid": "AttachOnlyKnownManagedPolicies",
            "Effect": "Allow",
            "Action": ["iam:AttachRolePolicy"],
            "Resource": stack_roles,
            "Condition": {"ArnEquals": {"iam:PolicyARN": [SSM_CORE_POLICY]}},
        },
        {
            "Sid": "PassOnlyStackRoles",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": [r for r in stack_roles if ":role/" in r],
            "Condition": {
                "StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "dlm.amazonaws.com", "s3.amazonaws.com"]}
            },
        },
        {
            "Sid": "ServiceLinkedRoles",
            "Effect": "Allow",
            "Action": ["iam:CreateServiceLinkedRole"],
            "Resource": f"{iam}:role/aws-service-role/*",
        },
    ]


def _buckets_and_registry(account: str, region: str) -> list[dict[str, Any]]:
    regional = f"{region}:{account}"
    return [
        {
            "Sid": "Buckets",
            "Effect": "Allow",
            "Action": [
                "s3:*Bucket*",
                "s3:*Object*",
                "s3:*Lifecycle*",
                "s3:*Replication*",
                "s3:*Encryption*",
                "s3:GetAccelerateConfiguration",
            ],
            "Resource": [f"arn:aws:s3:::{PREFIX}-*", f"arn:aws:s3:::{PREFIX}-*/*"],
        },
        {
            "Sid": "Registry",
            "Effect": "Allow",
            "Action": [
                "ecr:*Repositor*",
                "ecr:*LifecyclePolicy*",
                "ecr:*Image*",
                "ecr:*Layer*",
                "ecr:*Upload*",
                "ecr:*Tag*",
            ],
            "Resource": f"arn:aws:ecr:{regional}:repository/{PREFIX}/*",
        },
        {"Sid": "RegistryLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
    ]


def _logs_and_alerts(account: str, region: str) -> list[dict[str, Any]]:
    regional = f"{region}:{account}"
    return [
        {
            "Sid": "LogsAndAlerts",
            "Effect": "Allow",
            "Action": [
                "logs:*LogGroup*",
                "logs:*RetentionPolicy",
                "logs:*Resource",
                "logs:ListTags*",
                "sns:*Topic*",
                "sns:*Subscri*",
                "sns:*TagResource",
                "sns:ListTagsForResource",
            ],
            "Resource": [f"arn:aws:logs:{regional}:log-group:/{PREFIX}/*", f"arn:aws:sns:{regional}:{PREFIX}-*"],
        },
        {
            "Sid": "LogsList",
            "Effect": "Allow",
            "Action": ["logs:DescribeLogGroups"],
            "Resource": f"arn:aws:logs:{regional}:log-group:*",
        },
    ]


def _dns() -> list[dict[str, Any]]:
    return [
        {
            "Sid": "Dns",
            "Effect": "Allow",
            "Action": [
                "route53:Get*",
                "route53:List*",
                "route53:ChangeResourceRecordSets",
                "route53:*HealthCheck",
                "route53:ChangeTagsForResource",
            ],
            "Resource": [
                "arn:aws:route53:::hostedzone/*",
                "arn:aws:route53:::change/*",
                "arn:aws:route53:::healthcheck/*",
            ],
        },
        {"Sid": "DnsHealthChecks", "Effect": "Allow", "Action": ["route53:CreateHealthCheck"], "Resource": "*"},
    ]


def _ssh_over_ssm(account: str, region: str) -> list[dict[str, Any]]:
    regional = f"{region}:{account}"
    return [
        {
            # The deploy path: SSH over SSM, only to the stacks' own instances, only as SSH.
            "Sid": "SshOverSsm",
            "Effect": "Allow",
            "Action": ["ssm:StartSession"],
            "Resource": f"arn:aws:ec2:{regional}:instance/*",
            "Condition": {"StringEquals": {"ssm:resourceTag/project": PROJECT_TAG}},
        },
        {
            "Sid": "SshDocument",
            "Effect": "Allow",
            "Action": ["ssm:StartSession"],
            "Resource": f"arn:aws:ssm:{region}::document/AWS-StartSSHSession",
        },
        {
            "Sid": "OwnSessions",
            "Effect": "Allow",
            "Action": ["ssm:TerminateSession", "ssm:ResumeSession"],
            "Resource": f"arn:aws:ssm:{regional}:session/${{aws:userid}}-*",
        },
    ]


class AccountBootstrap(pulumi.ComponentResource):
    state_bucket: pulumi.Output[str]
    secrets_provider: pulumi.Output[str]
    preview_role_arn: pulumi.Output[str]
    deploy_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AccountBootstrapArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:bootstrap:AccountBootstrap", name, None, opts)
        tags = {"project": PROJECT_TAG, "stack": "bootstrap", "owner": args.owner, "managed-by": "pulumi"}
        account = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=self)).account_id
        region = aws.get_region(opts=pulumi.InvokeOptions(parent=self)).region
        # Losing the key loses every stack secret: protected, rotated, 30 days to undo a deletion.
        keep = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)
        key = aws.kms.Key(
            "secrets",
            description="Quintas CRM: Pulumi state encryption and stack secrets",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags={**tags, "component": "bootstrap"},
            opts=keep,
        )
        aws.kms.Alias("secrets", name=KEY_ALIAS, target_key_id=key.key_id, opts=pulumi.ResourceOptions(parent=self))
        state = secure_bucket(
            "state",
            SecureBucketArgs(
                bucket=f"{PREFIX}-pulumi-state-{account}",
                tags={**tags, "component": "bootstrap"},
                noncurrent_version_expiration_days=args.state_noncurrent_days,
                kms_key_arn=key.arn,
            ),
            parent=self,
        )
        github = aws.iam.OpenIdConnectProvider(
            "github",
            url=f"https://{GITHUB_OIDC}",
            client_id_lists=["sts.amazonaws.com"],
            tags={**tags, "component": "bootstrap"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.preview_role_arn = self._role(
            "preview", github, preview_subjects(args.repository), tags,
            pulumi.Output.all(state.arn, key.arn).apply(lambda v: preview_permissions(v[0], v[1])),
        )  # fmt: skip
        self.deploy_role_arn = self._role(
            "deploy", github, deploy_subjects(args.repository), tags,
            pulumi.Output.all(state.arn, key.arn).apply(lambda v: deploy_permissions(v[0], v[1], account, region)),
        )  # fmt: skip
        self.state_bucket = state.name
        self.secrets_provider = pulumi.Output.from_input(f"awskms://{KEY_ALIAS}?region={region}")
        self.register_outputs({"stateBucket": state.name, "deployRoleArn": self.deploy_role_arn})

    def _role(
        self,
        name: str,
        github: aws.iam.OpenIdConnectProvider,
        subjects: list[str],
        tags: dict[str, str],
        statements: pulumi.Output[list[dict[str, Any]]],
    ) -> pulumi.Output[str]:
        role = aws.iam.Role(
            name,
            name=f"{PREFIX}-ci-{name}",
            description=f"GitHub Actions of this repository: {name}",
            assume_role_policy=github.arn.apply(lambda arn: github_trust(arn, subjects)),
            max_session_duration=3600,
            tags={**tags, "component": "bootstrap"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            name, role=role.id, policy=statements.apply(policy_document), opts=pulumi.ResourceOptions(parent=self)
        )
        return role.arn
