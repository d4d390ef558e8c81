"""ImageRepositories: the ECR repositories of the project's own images (frontend, postgres, directus).

Every push is scanned for vulnerabilities; untagged images expire after a week
and only the newest 20 tagged images are kept, enough to roll back weeks of
releases. Tags are immutable by default: a tag always names the image that was
tested, and a rollback by tag gets exactly that image back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from pulumi.resource import create_urn

from components.workload.catalogue import PRIVATE_IMAGES

# Where the image repositories and generated secrets live in each topology (component type, name).
# Each topology's component aliases the other's, so changing `topology` moves them instead of
# replacing them: pushed images stay, and every generated password keeps its value.
HOST_WORKLOAD = ("quintas:containers:ContainerStack", "containers")
ECS_WORKLOAD = ("quintas:ecs:EcsWorkload", "ecs")


def moved_from(workload: tuple[str, str]) -> pulumi.Alias:
    """An alias to the same child under the other topology's top-level workload component."""
    type_, name = workload
    return pulumi.Alias(parent=create_urn(name, type_))


def repository_prefix(stack: str) -> str:
    """Each stack has its own repositories, so staging and prod can share an AWS account."""
    return f"quintas-crm/{stack}/"


def lifecycle_policy(keep: int, untagged_days: int = 7) -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"expire untagged images after {untagged_days} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": untagged_days,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"keep the last {keep} tagged images",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": ["*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": keep,
                    },
                    "action": {"type": "expire"},
                },
            ]
        },
        sort_keys=True,
    )


@dataclass
class ImageRepositoriesArgs:
    stack: str
    """Stack name: each repository is named quintas-crm/<stack>/<image>."""
    tags: Mapping[str, str]
    """Tags of the repositories."""
    names: Sequence[str] = PRIVATE_IMAGES
    """The project's own images, one repository each (default: frontend, postgres, directus)."""
    keep_tagged: int = 20
    """Tagged images kept per repository; older ones expire (untagged ones after 7 days)."""
    mutable_tags: bool = False
    """Opt-out for a stack that re-pushes a moving tag. Default off: a pushed tag always names the same image."""


class ImageRepositories(pulumi.ComponentResource):
    urls: dict[str, pulumi.Output[str]]
    registry: pulumi.Output[str]

    def __init__(self, name: str, args: ImageRepositoriesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:registry:ImageRepositories", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.urls = {}
        for image in args.names:
            repo = aws.ecr.Repository(
                image,
                name=f"{repository_prefix(args.stack)}{image}",
                image_tag_mutability="MUTABLE" if args.mutable_tags else "IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
                encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="AES256")],
                tags=dict(args.tags),
                opts=child,
            )
            aws.ecr.LifecyclePolicy(image, repository=repo.name, policy=lifecycle_policy(args.keep_tagged), opts=child)
            self.urls[image] = repo.repository_url
        first = self.urls[args.names[0]]
        self.registry = first.apply(lambda url: url.split("/", 1)[0])
        self.register_outputs({"urls": self.urls, "registry": self.registry})
