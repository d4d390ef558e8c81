"""Offline policy evaluation: every rule of the pack on the resources a simulated run recorded.

The arguments are built the way the Pulumi engine builds them for a policy pack
(pulumi_policy's analyzer): camelCase inputs wrapped in the unknown-checking
proxy, secrets unwrapped, resource options, the provider with its properties,
parent, dependencies and property dependencies as PolicyResource objects, and
`get_config()` from the stack's policy config file (policies/config/<stack>.json,
the file CI passes as `--policy-pack-config`). With `preview=True` every input
computed from another custom resource is replaced by the engine's "unknown"
sentinel, as in the first `pulumi preview` of a new stack.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
    unknown_checking_proxy,
)

from ops.sim import engine
from policies.rules import RULES
from policies.rules.base import Rule

CONFIG_DIR = engine.ROOT / "policies" / "config"
SEVERITY_ORDER = ("critical", "high", "medium", "low")
NOT_APPLICABLE = "not-applicable"
# Keys of a policy's config entry that set how it is enforced, not what it checks.
SETTING_KEYS_OF_THE_ENGINE = ("enforcementLevel", "enforcementReason")
ADVISORY = EnforcementLevel.ADVISORY.value


class PolicyConfigError(Exception):
    """The stack's policy config file is missing or does not match the rules' schemas."""


@dataclass(frozen=True)
class Finding:
    """One policy result worth showing: a violation, or a rule that could not be evaluated."""

    policy: str
    level: str  # mandatory | advisory | not-applicable
    severity: str
    resource: str | None
    message: str
    urn: str | None = None
    # Why a violation only advises: the stack config's enforcementReason, else the rule's own.
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "level": self.level,
            "severity": self.severity,
            "resource": self.resource,
            "message": self.message,
        }


# ----------------------------------------------------------------- config


def config_path(stack: str) -> Path:
    return CONFIG_DIR / f"{stack}.json"


def load_config(stack: str, path: Path | None = None) -> dict[str, dict[str, Any]]:
    """The policy config of a stack, checked against every rule's schema."""
    path = path or config_path(stack)
    if not path.is_file():
        raise PolicyConfigError(f"no policy config {path} for stack {stack!r}; create it (see policies/config/)")
    try:
        doc = json.loads(path.read_text())
    except ValueError as exc:
        raise PolicyConfigError(f"{path.name} is not valid JSON: {exc}") from exc
    return validate_config(doc, path.name)


def validate_config(doc: Any, source: str = "policy config") -> dict[str, dict[str, Any]]:
    if not isinstance(doc, dict):
        raise PolicyConfigError(f"{source}: expected an object of policy name -> settings")
    by_name = {r.name: r for r in RULES}
    problems: list[str] = []
    for name, value in doc.items():
        rule = by_name.get(name)
        if rule is None:
            problems.append(f"{name}: no such policy")
            continue
        if isinstance(value, str):
            value = {"enforcementLevel": value}
        schema = {
            "type": "object",
            "properties": {
                **rule.config,
                "enforcementLevel": {"enum": [e.value for e in EnforcementLevel]},
                "enforcementReason": {"type": "string", "minLength": 20},
            },
            "additionalProperties": False,
        }
        for error in jsonschema.Draft7Validator(schema).iter_errors(value):
            where = ".".join(str(p) for p in error.absolute_path)
            problems.append(f"{name}{'.' + where if where else ''}: {error.message}")
        # As in the pack itself: a rule is weakened for a stack only with a written reason.
        weaker = value.get("enforcementLevel") in ("advisory", "disabled") and rule.level.value == "mandatory"
        if weaker and not value.get("enforcementReason"):
            problems.append(
                f"{name}: enforcementLevel {value['enforcementLevel']} needs an enforcementReason saying why"
            )
    if problems:
        raise PolicyConfigError(f"{source}: " + "; ".join(problems))
    return {k: ({"enforcementLevel": v} if isinstance(v, str) else dict(v)) for k, v in doc.items()}


# ----------------------------------------------------------------- arguments


def _unknown_for(value: Any) -> str:
    if isinstance(value, bool):
        return UNKNOWN_BOOLEAN_VALUE
    if isinstance(value, (int, float)):
        return UNKNOWN_NUMBER_VALUE
    if isinstance(value, (list, tuple)):
        return UNKNOWN_ARRAY_VALUE
    if isinstance(value, dict):
        return UNKNOWN_OBJECT_VALUE
    return UNKNOWN_STRING_VALUE


def props_of(resource: engine.Resource, custom_urns: set[str], preview: bool) -> dict[str, Any]:
    """The inputs as the analyzer sees them: secrets unwrapped; at preview, computed ones unknown."""
    props = engine.reveal(resource.inputs)
    if preview:
        for key, deps in resource.property_dependencies.items():
            if key in props and any(d in custom_urns for d in deps):
                props[key] = _unknown_for(props[key])
    return props


def _options(resource: engine.Resource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=list(resource.ignore_changes),
        delete_before_replace=resource.delete_before_replace,  # None when unset, as the real analyzer
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent,
    )


class ArgBuilder:
    """Builds the engine-shaped arguments for one run (providers resolved once)."""

    def __init__(self, run: engine.Run, preview: bool = False) -> None:
        self.run = run
        self.preview = preview
        self.custom_urns = {r.urn for r in run.resources if r.custom and not r.type.startswith("pulumi:providers:")}
        self._by_urn = {r.urn: r for r in run.resources}

    def props(self, resource: engine.Resource) -> Any:
        return unknown_checking_proxy(props_of(resource, self.custom_urns, self.preview))

    def provider(self, resource: engine.Resource) -> PolicyProviderResource | None:
        if not resource.custom or resource.type.startswith("pulumi:providers:"):
            return None
        package = resource.type.split(":", 1)[0]
        if resource.provider:
            urn = resource.provider.rsplit("::", 1)[0]
            explicit = self._by_urn.get(urn)
            if explicit is not None:
                return PolicyProviderResource(explicit.type, self.props(explicit), explicit.urn, explicit.name)
        # The default provider takes its settings from the stack config (`aws:region`, `aws:defaultTags`...).
        settings: dict[str, Any] = {}
        for key, raw in self.run.config.items():
            if key.startswith(f"{package}:"):
                try:
                    settings[key.split(":", 1)[1]] = json.loads(raw)
                except ValueError:
                    settings[key.split(":", 1)[1]] = raw
        urn = f"urn:pulumi:{self.run.stack}::{engine.PROJECT}::pulumi:providers:{package}::default"
        return PolicyProviderResource(f"pulumi:providers:{package}", unknown_checking_proxy(settings), urn, "default")

    def resource_args(self, resource: engine.Resource, config: Mapping[str, Any] | None) -> ResourceValidationArgs:
        return ResourceValidationArgs(
            resource.type,
            self.props(resource),
            resource.urn,
            resource.name,
            _options(resource),
            self.provider(resource),
            dict(config) if config else None,
        )

    def stack_resources(self) -> list[PolicyResource]:
        built = {
            r.urn: PolicyResource(r.type, self.props(r), r.urn, r.name, _options(r), self.provider(r), None, [], {})
            for r in self.run.resources
        }
        for r in self.run.resources:
            policy_resource = built[r.urn]
            if r.parent in built:
                policy_resource.parent = built[r.parent]
            policy_resource.dependencies = [built[d] for d in r.depends_on if d in built]
            policy_resource.property_dependencies = {
                k: [built[d] for d in deps if d in built] for k, deps in r.property_dependencies.items()
            }
        return list(built.values())


# ----------------------------------------------------------------- evaluation


def evaluate(
    run: engine.Run,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    rules: Iterable[Rule] = RULES,
    preview: bool = False,
) -> list[Finding]:
    """Every finding of `rules` on the run, as the pack would report them to the engine."""
    config = config if config is not None else load_config(run.stack)
    builder = ArgBuilder(run, preview)
    findings: list[Finding] = []
    names = {r.urn: r.name for r in run.resources}
    stack_resources: list[PolicyResource] = []
    for rule in rules:
        entry = config.get(rule.name) or {}
        settings = {k: v for k, v in entry.items() if k not in SETTING_KEYS_OF_THE_ENGINE}
        level = entry.get("enforcementLevel", rule.level.value)
        if level == EnforcementLevel.DISABLED.value:
            continue
        # As the engine does: a remediation that still finds a violation reports it as mandatory.
        level = EnforcementLevel.MANDATORY.value if level == EnforcementLevel.REMEDIATE.value else level
        policy = rule.policy()
        reason = (entry.get("enforcementReason") or rule.advisory_reason) if level == ADVISORY else ""

        def report(
            message: str, urn: str | None, *, _rule: Rule = rule, _level: str = level, _why: str = reason
        ) -> None:
            findings.append(Finding(_rule.name, _level, _rule.severity.value, names.get(urn or ""), message, urn, _why))

        if rule.kind == "stack":
            stack_resources = stack_resources or builder.stack_resources()
            args = StackValidationArgs(stack_resources, settings or None)
            _guarded(rule, findings, policy, args, report)
            continue
        # The engine analyzes each resource on its own: an unknown value stops only that one.
        for resource in (r for r in run.resources if r.type in rule.resource_types):
            _guarded(rule, findings, policy, builder.resource_args(resource, settings), report, resource.urn)
    return findings


def _guarded(
    rule: Rule,
    findings: list[Finding],
    policy: Any,
    args: ResourceValidationArgs | StackValidationArgs,
    report: Callable[[str, str | None], None],
    resource_urn: str | None = None,
) -> None:
    """Run one validation as the engine does: a resource validation's violations land on the
    resource analyzed; an unknown value or "not applicable" becomes a finding, not a crash."""

    def report_violation(message: str, urn: str | None = None) -> None:
        report(message, resource_urn or urn)

    try:
        policy.validate(args, report_violation)
    except UnknownValueError as exc:
        message = f"can't run policy {rule.name!r} during preview: {exc.message}"
        findings.append(Finding(rule.name, EnforcementLevel.ADVISORY.value, rule.severity.value, None, message))
    except _NotApplicableError as exc:
        findings.append(Finding(rule.name, NOT_APPLICABLE, rule.severity.value, None, exc.reason or "not applicable"))


def mandatory(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == EnforcementLevel.MANDATORY.value]


def advisory(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == ADVISORY]


def counts_text(findings: list[Finding], stack: str) -> str:
    """How many rules ran with which config, and how many violations of each level they found."""
    return (
        f"{len(RULES)} rules of the pack, config {config_path(stack).relative_to(engine.ROOT)}: "
        f"{len(mandatory(findings))} mandatory and {len(advisory(findings))} advisory violation(s)"
    )


def render_text(findings: list[Finding], stack: str, out: Any) -> None:
    violations = [f for f in findings if f.level != NOT_APPLICABLE]
    out.write(f"\nPolicies: {counts_text(findings, stack)}.\n")
    for severity in SEVERITY_ORDER:
        group = [f for f in violations if f.severity == severity]
        if group:
            out.write(f"  {severity.upper()}\n")
        for f in sorted(group, key=lambda f: (f.level != "mandatory", f.policy, f.resource or "")):
            out.write(f"    [{f.level}] {f.policy}  {f.resource or '(stack)'}: {f.message}\n")
    for f in findings:
        if f.level == NOT_APPLICABLE:
            out.write(f"  NOT EVALUATED {f.policy}: {f.message}\n")
