"""`python -m ops component-docs > docs/components.md`: every component of the program (class,
type token, module, what it makes) and the fields of its arguments (name, type, default,
docstring), read from the source with `ast`, so the document cannot drift from the code.
`--check` exits 1 if the committed file differs.

An argument dataclass is a dataclass of components/aws or components/workload whose name
ends in `Args` or `Inputs`, or that a component's method takes as a parameter, and any
dataclass of those packages that one of their fields names (LoadBalancerArgs -> Route);
not the specs a component takes in a collection (ServiceSpec, documented in its module).
Its fields are documented by attribute docstrings: a string literal right after the field.

Examples:
  python -m ops component-docs > docs/components.md
  python -m ops component-docs --check
"""

from __future__ import annotations

import argparse
import ast
import inspect
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ops.cli.doc_file import print_or_check, table_cell
from ops.sim import engine

DOC_PATH = engine.ROOT / "docs" / "components.md"
COMMAND = "python -m ops component-docs > docs/components.md"
PACKAGES = ("components/aws", "components/workload")
ARGUMENT_SUFFIXES = ("Args", "Inputs")
REQUIRED = "required"
# default_factory values shown as the value they make
FACTORY_VALUES = {"tuple": "()", "list": "[]", "dict": "{}"}


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    default: str
    doc: str
    """The field's docstring, one paragraph; empty when it has none."""
    line: int


@dataclass(frozen=True)
class ArgumentClass:
    name: str
    module: str
    fields: tuple[Field, ...]
    users: tuple[str, ...]
    """What takes it: `Component.method`, `function()` or `OtherArgs.field`."""


@dataclass(frozen=True)
class Component:
    name: str
    type_token: str
    module: str
    summary: str
    arguments: tuple[str, ...]
    """Argument dataclasses its methods take, in the order they appear."""


@dataclass(frozen=True)
class Catalogue:
    components: tuple[Component, ...]
    arguments: dict[str, ArgumentClass]

    def undocumented(self) -> list[str]:
        """`module:Class.field` of every argument field without a docstring."""
        return [
            f"{cls.module}:{cls.name}.{f.name} (line {f.line})"
            for cls in self.arguments.values()
            for f in cls.fields
            if not f.doc
        ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {DOC_PATH.name} is not current")


# ----------------------------------------------------------------- reading the source


def _first_paragraph(doc: str | None) -> str:
    return " ".join(inspect.cleandoc(doc or "").split("\n\n")[0].split())


def _is_dataclass(node: ast.ClassDef) -> bool:
    return any(ast.unparse(d).split("(")[0] in ("dataclass", "dataclasses.dataclass") for d in node.decorator_list)


def _is_component(node: ast.ClassDef) -> bool:
    return any(ast.unparse(b).endswith("ComponentResource") for b in node.bases)


def _default(value: ast.expr | None) -> str:
    if value is None:
        return REQUIRED
    if isinstance(value, ast.Call) and ast.unparse(value.func) in ("field", "dataclasses.field"):
        for keyword in value.keywords:
            if keyword.arg == "default":
                return ast.unparse(keyword.value)
            if keyword.arg == "default_factory":
                factory = keyword.value
                if isinstance(factory, ast.Lambda):
                    return ast.unparse(factory.body)
                return FACTORY_VALUES.get(ast.unparse(factory), f"{ast.unparse(factory)}()")
        return REQUIRED
    return ast.unparse(value)


def fields_of(node: ast.ClassDef) -> tuple[Field, ...]:
    """The dataclass fields of `node` with their docstrings (the string literal right after each)."""
    found = []
    body = node.body
    for index, statement in enumerate(body):
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
            continue
        if ast.unparse(statement.annotation).startswith(("ClassVar", "typing.ClassVar")):
            continue
        after = body[index + 1] if index + 1 < len(body) else None
        doc = ""
        if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
            doc = " ".join(inspect.cleandoc(after.value.value).split())
        annotation = ast.unparse(statement.annotation)
        found.append(Field(statement.target.id, annotation, _default(statement.value), doc, statement.lineno))
    return tuple(found)


def _names_in(node: ast.AST | None) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} if node is not None else set()


def _type_token(node: ast.ClassDef) -> str:
    for call in ast.walk(node):
        if (
            isinstance(call, ast.Call)
            and ast.unparse(call.func) == "super().__init__"
            and call.args
            and isinstance(call.args[0], ast.Constant)
        ):
            return str(call.args[0].value)
    return "?"


def _public_methods(node: ast.ClassDef) -> Iterator[ast.FunctionDef]:
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and (item.name == "__init__" or not item.name.startswith("_")):
            yield item


def _parameters(function: ast.FunctionDef) -> list[ast.arg]:
    return [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]


def read(sources: Mapping[str, str], order_hint: str = "") -> Catalogue:
    """The components and argument dataclasses of `sources` (module path -> source text).

    Components are listed in the order `order_hint` (the program) first calls them.
    """
    trees = {module: ast.parse(text) for module, text in sources.items()}
    dataclasses: dict[str, tuple[str, ast.ClassDef]] = {}
    classes: list[tuple[str, ast.ClassDef]] = []
    functions: list[ast.FunctionDef] = []
    for module, tree in trees.items():
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                classes.append((module, node))
                if _is_dataclass(node):
                    dataclasses[node.name] = (module, node)
            elif isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                functions.append(node)

    users: dict[str, list[str]] = {name: [] for name in dataclasses}
    components, taken_by_components = [], set()
    for module, node in classes:
        if not _is_component(node):
            continue
        taken = []
        for method in _public_methods(node):
            for param in _parameters(method):
                if isinstance(param.annotation, ast.Name) and param.annotation.id in dataclasses:
                    taken.append(param.annotation.id)
                    taken_by_components.add(param.annotation.id)
                    users[param.annotation.id].append(f"{node.name}.{method.name}")
        summary = _first_paragraph(ast.get_docstring(trees[module]))
        if own := _first_paragraph(ast.get_docstring(node)):
            summary = f"{summary} {own}"
        components.append(Component(node.name, _type_token(node), module, summary, tuple(taken)))
    chosen = [name for name in dataclasses if name.endswith(ARGUMENT_SUFFIXES) or name in taken_by_components]
    for function in functions:  # shown as users; taking an argument dataclass makes none of its own
        for param in _parameters(function):
            for name in _names_in(param.annotation) & set(chosen):
                users[name].append(f"{function.name}()")
    for name in chosen:  # grows while it is walked: the dataclasses an argument's fields name
        for f in fields_of(dataclasses[name][1]):
            for named in sorted(_names_in(ast.parse(f.type, mode="eval")) & dataclasses.keys()):
                users[named].append(f"{name}.{f.name}")
                if named not in chosen:
                    chosen.append(named)
    arguments = {
        name: ArgumentClass(name, dataclasses[name][0], fields_of(dataclasses[name][1]), tuple(users[name]))
        for name in chosen
    }

    def position(component: Component) -> tuple[int, str]:
        found = order_hint.find(f"{component.name}(")
        return (found if found >= 0 else len(order_hint), component.module)

    return Catalogue(tuple(sorted(components, key=position)), arguments)


def scan(root: Path = engine.ROOT) -> Catalogue:
    """The catalogue of the program under `root`."""
    sources = {
        str(path.relative_to(root)): path.read_text()
        for package in PACKAGES
        for path in sorted((root / package).glob("*.py"))
    }
    program = root / "__main__.py"
    return read(sources, program.read_text() if program.is_file() else "")


# ----------------------------------------------------------------- rendering


def _anchor(name: str) -> str:
    return name.lower()


def _code(text: str) -> str:
    return f"`{text}`"


def _table(cls: ArgumentClass) -> list[str]:
    lines = ["| Field | Type | Default | Meaning |", "|---|---|---|---|"]
    for f in cls.fields:
        default = f.default if f.default == REQUIRED else _code(f.default)
        row = [_code(f.name), _code(f.type), default, f.doc]
        lines.append("| " + " | ".join(table_cell(c) for c in row) + " |")
    return lines


def render(catalogue: Catalogue | None = None) -> str:
    catalogue = catalogue or scan()
    taken = {name for c in catalogue.components for name in c.arguments}
    others = [a for name, a in catalogue.arguments.items() if name not in taken]
    lines = [
        "# Components",
        "",
        f"<!-- Generated by `{COMMAND}` from components/; do not edit. -->",
        "",
        f"The program (`__main__.py`) is built from {len(catalogue.components)} components, each a "
        "`pulumi.ComponentResource` in a file of its own: components/aws makes the infrastructure, "
        "components/workload the containers. Each takes its arguments as a dataclass whose every field is "
        "documented where it is declared. Flags are named after the behaviour they switch and default to the "
        "safe choice; a stack turns one off explicitly (each Args' `for_stack` passes `config.is_prod`).",
        "",
        "| Component | Type token | Module | Arguments |",
        "|---|---|---|---|",
    ]
    for c in catalogue.components:
        args = ", ".join(f"[{a}](#{_anchor(a)})" for a in c.arguments) or "-"
        lines.append(f"| [{c.name}](#{_anchor(c.name)}) | {_code(c.type_token)} | {c.module} | {args} |")
    for c in catalogue.components:
        lines += ["", f"## {c.name}", "", f"{_code(c.type_token)} in {c.module}.", "", c.summary]
        for name in c.arguments:
            cls = catalogue.arguments[name]
            lines += ["", f"### {name}", "", f"Taken by {', '.join(map(_code, cls.users))}.", "", *_table(cls)]
    if others:
        lines += ["", "## Other argument types"]
        for cls in others:
            lines += ["", f"### {cls.name}", "", f"In {cls.module}; taken by {', '.join(map(_code, cls.users))}."]
            lines += ["", *_table(cls)]
    return "\n".join(lines) + "\n"


def main(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    catalogue = scan()
    what = f"{len(catalogue.components)} components, {len(catalogue.arguments)} argument types"
    return print_or_check(render(catalogue), DOC_PATH, COMMAND, args.check, out, err, what)
