"""The one reader of `Pulumi.<stack>.yaml`, with the rules the Pulumi CLI applies to it.

The CLI reads a stack file as YAML 1.2 (core schema): `yes`, `no`, `on` and `off` are
strings, `12:30` is a string and `012` is twelve; a key given twice is an error. The
file is a mapping whose `config` is a mapping of `namespace:key` strings. A key under
a namespace nothing reads (a typo in the project name) would be ignored and its
setting silently lost, so it is an error naming the closest key that is read.

Values reach the program as the CLI hands them over: strings, JSON for structured
values; a `secure:` value is replaced by a placeholder and its key listed as secret,
so a run never needs the stack's passphrase or KMS key.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from ops.sim.model import SettingsFileError

# What Pulumi allows in a stack name; it also becomes a file name here, so no path separator.
STACK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema scalars and duplicate keys refused."""


Yaml12Loader.yaml_implicit_resolvers = {}
_CORE_SCALARS = (
    ("tag:yaml.org,2002:null", r"~|null|Null|NULL", "~nN"),
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("tag:yaml.org,2002:int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+.0123456789",
    ),
)
for _tag, _pattern, _first in _CORE_SCALARS:
    Yaml12Loader.add_implicit_resolver(_tag, re.compile(rf"^(?:{_pattern})$", re.ASCII), list(_first) or None)
# The empty plain scalar is null too (a key with no value).
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^$"), [""])


def _construct_int(loader: Yaml12Loader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    return int(text[2:], 8 if text.startswith("0o") else 16) if text.startswith(("0o", "0x")) else int(text, 10)


def _construct_mapping(loader: Yaml12Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, yaml.Mark] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(None, None, "a key must be a plain value", key_node.start_mark)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice (first on line {seen[key].line + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
Yaml12Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def load_yaml(text: str, name: str) -> Any:
    """A YAML 1.2 document; SettingsFileError names the file, the line and the problem."""
    try:
        return yaml.load(text, Loader=Yaml12Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SettingsFileError(f"{name}{where}: not valid YAML: {problem}") from exc


def project_name(root: Path, default: str) -> str:
    """The `name` of the project in `root` (its Pulumi.yaml): the namespace of its own settings."""
    path = root / "Pulumi.yaml"
    if not path.is_file():
        return default
    doc = load_yaml(path.read_text(encoding="utf-8", errors="replace"), path.name)
    name = doc.get("name") if isinstance(doc, dict) else None
    return name if isinstance(name, str) and name else default


def read(path: Path, project: str) -> tuple[dict[str, str], list[str]]:
    """The settings of one stack file as the CLI hands them to the program, and its secret keys."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SettingsFileError(f"{path.name} line {line}: not UTF-8 text; save the file as UTF-8") from exc
    doc = load_yaml(text, path.name)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise SettingsFileError(f"{path.name}: must be a mapping with a `config` key, not a {_kind(doc)}")
    raw = doc.get("config")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SettingsFileError(
            f"{path.name}: `config` must be a mapping of `namespace:key` settings, not a {_kind(raw)}"
        )
    from components.config import PROVIDER_NAMESPACES  # the one list, shared with the program's own check

    namespaces = {project, *PROVIDER_NAMESPACES}
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        full = _checked_key(path.name, key, project, namespaces)
        if isinstance(value, dict) and "secure" in value:
            if set(value) != {"secure"} or not isinstance(value["secure"], str):
                raise SettingsFileError(f"{path.name}: {full}: a secret is `secure: <ciphertext>` and nothing else")
            config[full] = f"simulated-secret-for-{full}"
            secret_keys.append(full)
        elif isinstance(value, str):
            config[full] = value
        elif not _finite(value):
            raise SettingsFileError(f"{path.name}: {full}: .nan and .inf are not setting values")
        else:
            config[full] = json.dumps(value)
    return config, secret_keys


def _checked_key(file: str, key: Any, project: str, namespaces: set[str]) -> str:
    if not isinstance(key, str):
        raise SettingsFileError(f"{file}: config key {key!r} is not a `namespace:key` string; quote it")
    namespace, sep, name = key.partition(":")
    if not sep or not namespace or not name:
        raise SettingsFileError(f"{file}: config key {key!r} must be `namespace:key` (e.g. {project}:{key})")
    if namespace not in namespaces:
        from components.config import closest_key  # the program's own suggestion, for the same typo
        from ops.sim.model import PROJECT

        close = closest_key(key, project_keys=project == PROJECT)
        hint = f"; did you mean {close}?" if close else f"; namespaces read: {', '.join(sorted(namespaces))}"
        raise SettingsFileError(f"{file}: {key}: nothing reads the namespace {namespace!r}{hint}")
    return key


def _finite(value: Any) -> bool:
    """False for a NaN or infinity anywhere in the value: JSON cannot carry them."""
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "value")
