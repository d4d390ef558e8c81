"""RecordingMonitor: the mock resource monitor that also keeps resource options.

`pulumi.runtime.mocks.MockMonitor` hands the mocks only a resource's inputs. The
options that decide whether data survives a `pulumi up` (protect,
retain_on_delete, delete_before_replace, ...) travel in the RegisterResource
request itself, so this subclass reads them there before delegating.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import empty_pb2
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor, Mocks

from ops.sim.cloud import SimulatedCloud
from ops.sim.model import Resource, decode


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self._recorded: dict[str, Resource] = {}
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:
        # The real engine marks additionalSecretOutputs (a RandomPassword's
        # `result`, say) secret; MockMonitor does not, so the cloud does it.
        if isinstance(self.mocks, SimulatedCloud):
            self.mocks.serve(list(request.additionalSecretOutputs))
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        urn = response.urn
        record = Resource(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=bool(request.custom),
            inputs=decode(rpc.deserialize_properties(request.object)),
            outputs=decode(rpc.deserialize_properties(response.object)) if request.custom else {},
            id=response.id or None,
            protect=request.HasField("protect") and request.protect,
            retain_on_delete=request.HasField("retainOnDelete") and request.retainOnDelete,
            # Unset (None) is not False: the provider then chooses, and for some resources
            # (a container among them) it chooses delete-first.
            delete_before_replace=request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
            ignore_changes=tuple(request.ignoreChanges),
            depends_on=tuple(sorted(request.dependencies)),
            provider=request.provider or None,
            property_dependencies={k: tuple(sorted(v.urns)) for k, v in request.propertyDependencies.items()},
            aliases=tuple(alias_urn(urn, request.type, request.name, request.parent, a) for a in request.aliases),
        )
        self._recorded[urn] = record
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        outputs = decode(rpc.deserialize_properties(request.outputs))
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.stack_outputs = outputs
        elif request.urn in self._recorded:
            self._recorded[request.urn].outputs = outputs
        return empty_pb2.Empty()

    def SignalAndWaitForShutdown(self, request: Any) -> Any:
        return empty_pb2.Empty()

    def recorded(self) -> list[Resource]:
        """Every resource, ordered by URN (and dependencies sorted) so that a plan is stable.

        Registrations arrive from concurrent worker threads in an order that changes
        from one run to the next; two plans of the same code must read the same.
        """
        return sorted(self._recorded.values(), key=lambda r: r.urn)


def alias_urn(urn: str, type_: str, name: str, parent: str, alias: Any) -> str:
    """The URN an alias names, as the engine computes it: given whole, or from a spec that changes
    the name, the type or the parent of the resource registered as `urn`."""
    if alias.WhichOneof("alias") == "urn":
        return str(alias.urn)
    spec = alias.spec
    stack, project = urn.split("::")[0].removeprefix("urn:pulumi:"), urn.split("::")[1]
    parent_urn = "" if spec.noParent else (spec.parentUrn or parent)
    chain = parent_urn.split("::")[2] if parent_urn else ""
    chain = "" if chain == "pulumi:pulumi:Stack" else chain
    qualified = f"{chain}${spec.type or type_}" if chain else (spec.type or type_)
    return f"urn:pulumi:{spec.stack or stack}::{spec.project or project}::{qualified}::{spec.name or name}"
