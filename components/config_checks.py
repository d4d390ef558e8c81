"""The checks StackConfig reads its settings with (components/config.py).

A `Reader` returns each setting as a typed value and never raises: a bad value is
recorded as a ConfigProblem (key, value, what is allowed) and a fallback is
returned, so reading goes on and every problem of a settings file is reported
together. Which settings exist and how they relate is config.py's business; this
module knows only what a valid value of each kind looks like.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi

T = TypeVar("T")

# Every pattern is anchored with \A...\Z (`$` also matches before a final newline) and
# compiled with re.ASCII (`\d` would take Arabic-Indic or full-width digits); the readers
# call fullmatch all the same.
REGION = re.compile(r"\A[a-z]{2}(-gov)?-[a-z]+-[0-9]\Z", re.ASCII)
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOSTNAME = re.compile(rf"\A(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})+\Z", re.ASCII)
ZONE_ID = re.compile(r"\AZ[A-Z0-9]{1,31}\Z", re.ASCII)
HHMM = re.compile(r"\A([01][0-9]|2[0-3]):([0-5][0-9])\Z", re.ASCII)
EMAIL = re.compile(r"\A[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\Z", re.ASCII)
IMAGE_TAG = re.compile(r"\A([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[0-9a-f]{64})\Z", re.ASCII)
PUBLIC_KEY = re.compile(
    r"\A(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]{40,}={0,2}( [^\r\n]*[^\s])?\Z", re.ASCII
)
TAG_VALUE = re.compile(r"\A[A-Za-z0-9_.:/=+@-](?:[A-Za-z0-9 _.:/=+@-]{0,254}[A-Za-z0-9_.:/=+@-])?\Z", re.ASCII)
"""An AWS tag value: letters, digits, spaces and _ . : / = + - @, at most 256, no space at either end."""

# The region codes pulumi-aws knows (its `Region` enum; a unit test keeps the two equal).
AWS_REGIONS = frozenset(
    {
        "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
        "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
        "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1",
        "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3",
        "il-central-1", "me-central-1", "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2",
        "us-west-1", "us-west-2", "cn-north-1", "cn-northwest-1", "eusc-de-east-1", "us-gov-east-1",
        "us-gov-west-1", "us-iso-east-1", "us-iso-west-1", "us-isob-east-1", "us-isob-west-1", "eu-isoe-west-1",
        "us-isof-east-1", "us-isof-south-1",
    }
)  # fmt: skip


def is_region(value: str) -> bool:
    """An AWS region that exists, e.g. us-east-1 (`us-east-9` has the shape of one but is not)."""
    return value in AWS_REGIONS


_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*-----|PRIVATE KEY", re.ASCII)
_BLOB = re.compile(r"[A-Za-z0-9+/_=-]{40,}", re.ASCII)


def key_material(value: object) -> str | None:
    """What a value looks like when it looks like key material (so it is never echoed), else None.

    A PEM block (a private key pasted where a public key belongs), or a long base64-ish
    run mixing upper case, lower case and digits (an access key secret, a token, a key body).
    """
    for text in _strings(value):
        if _PEM.search(text):
            return "looks like a private key; give the public half (the .pub file's one line)"
        for run in _BLOB.findall(text):
            if any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run):
                return "looks like key material (a long encoded blob)"
    return None


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _strings(item)]
    return []


@dataclass(frozen=True)
class ConfigProblem:
    key: str
    value: object
    """The rejected value; None when it is not shown (`shown` false): a secret or key material is never kept."""
    allowed: str
    shown: bool = True

    def __str__(self) -> str:
        if not self.shown:
            return f"{self.key} (value not shown): {self.allowed}"
        return f"{self.key} = {self.value!r}: {self.allowed}"


def is_time_zone(value: str) -> bool:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return "/" in value or value == "UTC"


class Reader:
    """Reads raw values of one namespace (and `aws:`) and records every problem instead of stopping at the first.

    No setting is ever shown in a problem when it arrived as a secret (a `secure:` value)
    or looks like key material. A setting that arrives as a secret is itself a problem:
    every value read here ends up in plain resource inputs, tags, names or outputs, so
    it is reported with the reason `plain_because` gives for its key (value not shown).
    """

    def __init__(self, namespace: str, plain_because: Mapping[str, str] | None = None) -> None:
        self.cfg = pulumi.Config(namespace)
        self.aws = pulumi.Config("aws")
        self.problems: list[ConfigProblem] = []
        self._plain_because = plain_because or {}
        self._secrets_reported: set[str] = set()

    def bad(self, key: str, value: object, allowed: str) -> None:
        if self.is_secret(key):
            self.problems.append(ConfigProblem(key, None, allowed, shown=False))
        elif (looks := key_material(value)) is not None:
            self.problems.append(ConfigProblem(key, None, f"{looks}; {allowed}", shown=False))
        else:
            self.problems.append(ConfigProblem(key, value, allowed))

    @staticmethod
    def is_secret(key: str) -> bool:
        """Whether the setting `key` (or the one `key` is a part of, e.g. imageTags.frontend) is a secret."""
        return pulumi.runtime.config.is_config_secret(key.split(".", 1)[0])

    def has_problem(self, name: str, config: pulumi.Config | None = None) -> bool:
        full = self.key(name, config)
        return any(p.key == full or p.key.startswith(f"{full}.") for p in self.problems)

    def key(self, name: str, config: pulumi.Config | None = None) -> str:
        return f"{(config or self.cfg).name}:{name}"

    def raw(self, name: str, config: pulumi.Config | None = None) -> Any:
        c = config or self.cfg
        full = self.key(name, c)
        if full not in self._secrets_reported and self.is_secret(full):
            self._secrets_reported.add(full)
            because = self._plain_because.get(full, "it is written into plain resource settings")
            self.problems.append(ConfigProblem(full, None, f"must not be a secret: {because}", shown=False))
        try:
            return c.get_object(name)
        except Exception:  # noqa: BLE001 not JSON: a plain string value
            return c.get(name)

    def string(
        self,
        name: str,
        check: Callable[[str], object],
        allowed: str,
        default: str | None = None,
        config: pulumi.Config | None = None,
    ) -> str:
        """A string that passes `check`; unset means `default`, or a problem when there is none."""
        value = self.raw(name, config)
        if value is None and default is not None:
            return default
        if not isinstance(value, str) or not check(value):
            self.bad(self.key(name, config), value, allowed)
            return default or ""
        return value

    def optional(self, name: str, check: Callable[[str], object], allowed: str) -> str | None:
        """A string that passes `check`, or None when unset (or invalid: then a problem is recorded)."""
        if self.raw(name) is None:
            return None
        return self.string(name, check, allowed) or None

    def one_of(self, name: str, choices: Sequence[T], default: T | None = None, allowed: str = "") -> T | None:
        """One of `choices`, of the same type (so `true` is not 1); None when invalid or unset without default."""
        value = self.raw(name)
        if value is None and default is not None:
            return default
        if not any(type(value) is type(choice) and value == choice for choice in choices):
            self.bad(self.key(name), value, allowed or f"one of: {', '.join(map(str, choices))}")
            return default
        return value

    def integer(self, name: str, low: int, high: int, default: int | None = None, allowed: str = "") -> int:
        """A whole number from `low` to `high`; unset means `default`, or a problem when there is none."""
        value = self.raw(name)
        if value is None and default is not None:
            return default
        if type(value) is not int or not low <= value <= high:
            self.bad(self.key(name), value, allowed or f"a whole number from {low} to {high}")
            return default if default is not None else low
        return value

    def positive_number(self, name: str, allowed: str) -> float:
        value = self.raw(name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            self.bad(self.key(name), value, allowed)
            return 0.0
        return float(value)

    def boolean(self, name: str, default: bool = False) -> bool:
        """true or false; unset means `default`."""
        value = self.raw(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.bad(self.key(name), value, "true or false")
            return default
        return value

    def emails(self, name: str) -> tuple[str, ...]:
        value = self.raw(name)
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(e, str) and EMAIL.fullmatch(e) for e in value)
        ):
            self.bad(self.key(name), value, "a non-empty list of e-mail addresses")
            return ()
        return tuple(value)
