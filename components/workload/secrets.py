"""ServiceSecrets: the generated passwords and tokens the containers need, kept as Pulumi secrets.

Each value comes from pulumi-random and is marked secret, so it is encrypted in
the state and never printed. Containers receive them as files under
/run/secrets (components/workload/containers.py), never as environment values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_random as random

from components.workload.catalogue import SECRET_NAMES

# Longer for the values that sign tokens; letters and digits only, so a value is
# safe in a connection string, a URL or a shell without quoting.
DEFAULT_LENGTHS = {"directus_secret": 64, "metrics_token": 48}


@dataclass
class ServiceSecretsArgs:
    names: tuple[str, ...] = SECRET_NAMES
    """The generated values, one RandomPassword each (default: every secret the catalogue refers to)."""
    lengths: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LENGTHS))
    """Length in characters per name, overriding `default_length` (default: longer for token-signing values)."""
    default_length: int = 40
    """Length in characters of a value not in `lengths` (letters and digits: about 238 bits at 40)."""


class ServiceSecrets(pulumi.ComponentResource):
    values: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ServiceSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:secrets:ServiceSecrets", name, None, opts)
        self.values = {}
        for secret in args.names:
            password = random.RandomPassword(
                secret.replace("_", "-"),
                length=args.lengths.get(secret, args.default_length),
                special=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.values[secret] = pulumi.Output.secret(password.result)
        self.register_outputs({"names": list(args.names)})
