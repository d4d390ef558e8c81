"""What a simulated run records: resources, their options and values, with secrets kept apart.

Plain data with no Pulumi import and nothing else of `ops`: the engine fills it,
the plan, cost and policy runners and the tests read it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

PROJECT = "quintas-crm-infra"  # the program's project (Pulumi.yaml), the namespace of its settings
SECRET_TEXT = "[secret]"  # noqa: S105 the placeholder shown instead of a secret
# How the Pulumi wire format marks a secret value (pulumi.runtime.rpc).
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # noqa: S105
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105


REGISTERED_ATTR = "simulated_resources"


def registered_before(exc: BaseException) -> list[Resource]:
    """The resources a failed run had registered when it raised `exc`."""
    return list(getattr(exc, REGISTERED_ATTR, []))


class EngineError(Exception):
    """The simulated engine could not run the program (an unmocked type or invoke...)."""


class SettingsFileError(EngineError):
    """The stack's settings file is missing or unreadable: bad input, not a program error."""


@dataclass(frozen=True)
class Secret:
    """A value the program marked secret. It prints as `[secret]`; tests may read `.value`."""

    value: Any

    def __repr__(self) -> str:
        return SECRET_TEXT


@dataclass
class Resource:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool | None = None  # None: the program left it unset
    ignore_changes: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    provider: str | None = None
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    """The URNs the program says this resource had before (`aliases`): the engine moves, not replaces, it."""

    @property
    def options(self) -> dict[str, Any]:
        return {
            "protect": self.protect,
            "retain_on_delete": self.retain_on_delete,
            "delete_before_replace": self.delete_before_replace,
            "ignore_changes": list(self.ignore_changes),
            "depends_on": list(self.depends_on),
            "provider": self.provider,
        }


@dataclass
class Run:
    """What one program run registered, and the stack outputs it exported."""

    stack: str
    resources: list[Resource]
    outputs: dict[str, Any]
    config: dict[str, str]

    def of_type(self, type_token: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> Resource:
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_token)]
            raise LookupError(f"expected one {type_token} named {name!r}, found {len(found)} among {names}")
        return found[0]

    def by_urn(self, urn: str) -> Resource:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise LookupError(urn)

    def children(self, parent: Resource) -> list[Resource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def components(self) -> dict[str, list[Resource]]:
        """Every resource under the name of the top-level component it belongs to, in run order.

        A top-level component is a resource whose parent is the stack (or not recorded);
        it is listed under its own name, first.
        """
        by_urn = {r.urn: r for r in self.resources}
        grouped: dict[str, list[Resource]] = {}
        for r in self.resources:
            top = r
            while top.parent in by_urn:
                top = by_urn[top.parent]
            grouped.setdefault(top.name, []).append(r)
        return grouped


def decode(value: Any) -> Any:
    """Turn deserialized RPC values into plain Python, with secrets as Secret."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return Secret(decode(value.get("value")))
        return {k: decode(v) for k, v in value.items() if k != SECRET_SIG_KEY}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def redact(value: Any) -> Any:
    """The printable form of a value: every secret becomes `[secret]`."""
    if isinstance(value, Secret):
        return SECRET_TEXT
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def reveal(value: Any) -> Any:
    """The value with secrets unwrapped (for tests that check what a secret holds)."""
    if isinstance(value, Secret):
        return reveal(value.value)
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [reveal(v) for v in value]
    return value


def plain_strings(value: Any) -> Iterator[str]:
    """Every string reachable without passing through a secret."""
    if isinstance(value, Secret):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from plain_strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from plain_strings(v)
