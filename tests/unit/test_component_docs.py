"""Component arguments (issue 15): every field documented, flags named after behaviour with safe
defaults, and docs/components.md generated from the source (`python -m ops component-docs`)."""

from __future__ import annotations

import dataclasses
import re
import textwrap

import pytest

from components.aws.buckets import BucketsArgs
from components.aws.host import AppHostArgs
from components.aws.load_balancer import LoadBalancerArgs
from components.aws.secure_bucket import SecureBucketArgs
from components.aws.volume import DataVolumeArgs
from components.workload.containers import ContainersArgs
from components.workload.registry import ImageRepositoriesArgs
from ops.cli import component_docs

# A field added to a widget's arguments without a docstring, and one in a dataclass the
# component takes by another name: the check must name both, with their module and line.
SNIPPET = textwrap.dedent(
    '''
    @dataclass
    class WidgetArgs:
        size_gb: int
        """Size in GiB."""
        colour: str = "red"
        protect: bool = True
        """Pulumi protect. Default on."""


    @dataclass(frozen=True)
    class Mount:
        path: str


    class Widget(pulumi.ComponentResource):
        def __init__(self, name: str, args: WidgetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
            super().__init__("quintas:widget:Widget", name, None, opts)

        def attach(self, mount: Mount) -> None:
            pass
    '''
)

# Every flag that switches a protection, and the value that keeps it on.
SAFE_DEFAULTS = [
    (AppHostArgs, "termination_protection", True),
    (AppHostArgs, "detailed_monitoring", True),
    (DataVolumeArgs, "protect", True),
    (DataVolumeArgs, "retain_on_delete", True),
    (DataVolumeArgs, "final_snapshot", True),
    (SecureBucketArgs, "protect", True),
    (SecureBucketArgs, "retain_on_delete", True),
    (SecureBucketArgs, "force_destroy", False),
    (SecureBucketArgs, "versioning", True),
    (BucketsArgs, "protect_data", True),
    (BucketsArgs, "retain_data_on_delete", True),
    (BucketsArgs, "force_destroy_logs", False),
    (LoadBalancerArgs, "deletion_protection", True),
    (ImageRepositoriesArgs, "mutable_tags", False),
    (ContainersArgs, "immutable_image_tags", True),
]
# A flag named after where it is set (`is_prod`, `production`) or after a vague wish (`keep`).
STACK_WORDS = re.compile(r"(^|_)(prod|production|staging)(_|$)|^keep$")


def test_the_check_names_an_undocumented_field_with_its_module_and_line() -> None:
    found = component_docs.read({"components/aws/widget.py": SNIPPET})
    assert [c.type_token for c in found.components] == ["quintas:widget:Widget"]
    assert found.components[0].arguments == ("WidgetArgs", "Mount")
    assert found.undocumented() == [
        "components/aws/widget.py:WidgetArgs.colour (line 6)",
        "components/aws/widget.py:Mount.path (line 13)",
    ]


def test_every_argument_field_of_every_component_has_a_docstring() -> None:
    found = component_docs.scan()
    # The walk must reach the arguments it is meant to check, or an empty result would pass.
    assert {
        "NetworkArgs", "SecurityGroupsArgs", "BucketsArgs", "SecureBucketArgs", "DataVolumeArgs", "AppHostArgs",
        "LoadBalancerArgs", "Route", "MonitoringArgs", "ImageRepositoriesArgs", "ServiceSecretsArgs",
        "ContainersArgs", "HostConnection", "CatalogueInputs",
    } <= found.arguments.keys()  # fmt: skip
    assert found.undocumented() == [], "document these fields with a string literal right after each"


@pytest.mark.parametrize(("args", "name", "safe"), SAFE_DEFAULTS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_a_protection_flag_defaults_to_the_safe_choice(args: type, name: str, safe: bool) -> None:
    field = {f.name: f for f in dataclasses.fields(args)}[name]
    assert field.default is safe, f"{args.__name__}.{name} defaults to {field.default!r}; the safe choice is {safe}"


def test_no_argument_is_named_after_a_stack() -> None:
    named = [
        f"{cls.name}.{f.name}"
        for cls in component_docs.scan().arguments.values()
        for f in cls.fields
        if STACK_WORDS.search(f.name)
    ]
    assert named == [], "name a flag after the behaviour it switches; the stack passes config.is_prod to it"


def test_docs_components_md_is_current() -> None:
    assert component_docs.DOC_PATH.read_text() == component_docs.render(), (
        f"docs/components.md is out of date; regenerate it: {component_docs.COMMAND}"
    )
