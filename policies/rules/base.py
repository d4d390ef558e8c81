"""The rule record every policy of the pack is declared with, and the helpers rules share.

A `Rule` keeps everything about one policy in one place: what it checks, why,
its severity, its enforcement level (advisory only with a written reason), its
compliance references and its config schema. `Rule.policy()` turns it into the
pulumi_policy object the real pack serves, and docs/policies.md is generated
from the same records, so the table cannot drift from the code.

Property access goes through `get`, which treats a value that is unknown during
`pulumi preview` as UNKNOWN instead of raising: a rule that cannot see a value
yet skips it rather than reporting a violation or crashing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

MANDATORY = EnforcementLevel.MANDATORY
PROJECT_RULE = "project rule: "
"""How a rule that no CIS, FSBP or checkov control matches cites itself, followed by why."""
ADVISORY = EnforcementLevel.ADVISORY


class Report(Protocol):
    """How a rule reports a violation: the engine's callback, whose `urn` is optional."""

    def __call__(self, message: str, urn: str | None = None) -> None: ...


ResourceCheck = Callable[[ResourceValidationArgs, Report], None]
StackCheck = Callable[[StackValidationArgs, Report], None]

ENVIRONMENT_SCHEMA: dict[str, Any] = {
    "type": "string",
    "enum": ["prod", "staging"],
    "default": "prod",
    "description": "the stack's environment; prod-only requirements apply when it is prod",
}


class _Unknown:
    """A value `pulumi preview` cannot know yet (it depends on a resource not created)."""

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()


def is_unknown(value: object) -> bool:
    return value is UNKNOWN


def get(props: Any, *path: str | int, default: Any = None) -> Any:
    """`props[path...]`, UNKNOWN if any step is unknown at preview, `default` if absent."""
    value = props
    for step in path:
        if value is UNKNOWN:
            return UNKNOWN
        try:
            if isinstance(step, int):
                if not _is_list(value):
                    return default
                value = value[step] if -len(value) <= step < len(value) else None
            else:
                if not isinstance(value, Mapping):
                    return default
                value = value[step] if step in value else None
        except UnknownValueError:
            return UNKNOWN
        if value is None:
            return default
    return value


def items(props: Any, *path: str) -> list[Any]:
    """The list at `path`, elements unknown at preview as UNKNOWN; [UNKNOWN] if the whole list
    is unknown (so "is it empty?" is never answered yes by mistake); [] if absent."""
    value = get(props, *path)
    if is_unknown(value):
        return [UNKNOWN]
    if not _is_list(value):
        return []
    out: list[Any] = []
    for i in range(len(value)):
        try:
            out.append(value[i])
        except UnknownValueError:
            out.append(UNKNOWN)
    return out


def _is_list(value: object) -> bool:
    # The engine wraps lists in a read-only Sequence proxy, not a list.
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def number(value: Any) -> float | None:
    """A numeric input (the engine passes every number as float); None if not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def json_doc(value: Any) -> Any:
    """A policy document given either as a JSON string or as a structure; UNKNOWN stays UNKNOWN."""
    if is_unknown(value) or value is None:
        return value
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if _is_list(value):
        return items({"v": value}, "v")
    return [value]


def is_prod(config: Mapping[str, Any]) -> bool:
    return config.get("environment", ENVIRONMENT_SCHEMA["default"]) == "prod"


def label(resource: PolicyResource | ResourceValidationArgs) -> str:
    return f"{resource.resource_type.split(':')[-1]} {resource.name!r}"


# ----------------------------------------------------------------- stack helpers


def of_type(args: StackValidationArgs, *types: str) -> list[PolicyResource]:
    return [r for r in args.resources if r.resource_type in types]


def depends_on(resource: PolicyResource, prop: str, target: PolicyResource) -> bool:
    """True if `resource.prop` was computed from `target` (works while values are unknown)."""
    return any(dep.urn == target.urn for dep in resource.property_dependencies.get(prop, []))


def refers_to(resource: PolicyResource, prop: str, target: PolicyResource, *target_values: Any) -> bool:
    """`resource.prop` points at `target`: by a known value equal to one of `target_values`,
    or by a property dependency when the value is not known yet."""
    value = get(resource.props, prop)
    if value is not None and not is_unknown(value) and any(value == v for v in target_values if v):
        return True
    return depends_on(resource, prop, target)


def walk_strings(value: Any) -> Iterator[str]:
    """Every known string inside a property value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key in list(value):
            yield from walk_strings(get(value, key))
    elif _is_list(value):
        for item in items({"v": value}, "v"):
            yield from walk_strings(item)


# ----------------------------------------------------------------- the rule record


@dataclass(frozen=True)
class Rule:
    """One policy: its metadata for people and docs, and its check."""

    name: str
    description: str
    why: str
    severity: Severity
    check: ResourceCheck | StackCheck
    kind: Literal["resource", "stack"] = "resource"
    resource_types: tuple[str, ...] = ()
    level: EnforcementLevel = MANDATORY
    advisory_reason: str = ""
    references: tuple[str, ...] = ()
    config: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.level is ADVISORY and not self.advisory_reason:
            raise ValueError(f"rule {self.name}: an advisory rule needs the written reason why it is not mandatory")
        if self.kind == "resource" and not self.resource_types:
            raise ValueError(f"rule {self.name}: a resource rule names the resource types it checks")

    @property
    def citations(self) -> tuple[str, ...]:
        """The references that name a control of a framework (not the "project rule: why" note)."""
        return tuple(r for r in self.references if not r.startswith(PROJECT_RULE))

    @property
    def area(self) -> str:
        return self.check.__module__.rsplit(".", 1)[-1]

    def defaults(self) -> dict[str, Any]:
        return {key: schema["default"] for key, schema in self.config.items() if "default" in schema}

    def policy(self) -> Policy:
        """The pulumi_policy object the real pack serves for this rule."""
        framework = _framework(self.citations)
        common: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "enforcement_level": self.level,
            "config_schema": PolicyConfigSchema(properties=dict(self.config)) if self.config else None,
            "severity": self.severity,
            "framework": framework,
            "tags": list(self.citations) or None,
        }
        if self.kind == "stack":
            return StackValidationPolicy(validate=self._stack_check(), **common)
        return ResourceValidationPolicy(validate=self._resource_check(), **common)

    def _resource_check(self) -> ResourceValidation:
        types = frozenset(self.resource_types)
        check: Any = self.check

        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if args.resource_type in types:
                check(_WithDefaults(args, self.defaults()), report)

        return validate

    def _stack_check(self) -> StackValidation:
        check: Any = self.check

        def validate(args: StackValidationArgs, report: ReportViolation) -> None:
            check(_WithDefaults(args, self.defaults()), report)

        return validate


def _framework(references: Iterable[str]) -> PolicyComplianceFramework | None:
    for ref in references:
        if ref.startswith(PROJECT_RULE):
            continue
        name, _, control = ref.partition(" ")
        if control:
            return PolicyComplianceFramework(name=name, reference=control)
    return None


class _WithDefaults:
    """The engine's args with `get_config()` filled from the schema defaults, as the CLI does."""

    def __init__(self, args: Any, defaults: Mapping[str, Any]) -> None:
        self._args = args
        self._config = {**defaults, **dict(args.get_config() or {})}

    def get_config(self) -> Mapping[str, Any]:
        return self._config

    def __getattr__(self, name: str) -> Any:
        return getattr(self._args, name)
