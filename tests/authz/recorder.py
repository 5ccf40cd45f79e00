"""Record every AWS request the function really makes, with the state AWS would authorize it against.

moto enforces no policy, so the authorization stage replays what the function did against the policies
Terraform rendered. What it needs from each request is what AWS's authorization sees at that moment:
the operation and its parameters, the region, and the tags (and key) of every existing resource the
request names, read *before* the request runs (a delete is authorized against the tags the snapshot
had, not against nothing).

The recorder wraps botocore's one entry point for API calls (`BaseClient._make_api_call`), so
paginators, retries and every client the package builds are covered without touching the package.
Only requests made while `recording()` is active are kept; the recorder's own lookups are not.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

# (region, arn) -> what AWS knows of the resource: {"tags": {...}, "kms_key_id": ..., "exists": bool}
Lookup = Callable[[str, str], dict[str, Any]]
# A recorded call -> the (region, arn) of each existing resource it names (authorizations.existing_resources)
Named = Callable[["Call"], list[tuple[str, str]]]


@dataclass
class Call:
    """One API request as the function sent it."""

    label: str  # what the function was doing: "backup", "snapshot-created", "restore command", ...
    service: str
    operation: str
    region: str
    params: dict[str, Any]
    error: str | None = None  # the AWS error code the stand-in answered, if any
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # arn -> state before the call

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Call:
        return cls(**data)


def _plain(value: Any) -> Any:
    """Parameters as JSON would carry them (datetimes as ISO text, bytes dropped)."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime | date) else None))


class _Shared:
    """One label for every thread."""

    label: str | None = None


class Recorder:
    """Wraps botocore while `recording(label)` is active; `calls` holds what was sent."""

    def __init__(self, lookup: Lookup, named: Named, all_threads: bool = False) -> None:
        """`all_threads`: a recording covers every thread, not only the one that opened it (the fleet
        simulation runs each invocation in its own thread)."""
        self.lookup = lookup
        self.named = named
        self.calls: list[Call] = []
        # "service:Operation" -> a function of the request's parameters that answers it instead of the
        # stand-in (for what moto does not implement, e.g. iam:SimulatePrincipalPolicy)
        self.responders: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self._local: Any = _Shared() if all_threads else threading.local()
        self._original: Callable[..., Any] | None = None

    @property
    def _label(self) -> str | None:
        return getattr(self._local, "label", None)

    @contextlib.contextmanager
    def recording(self, label: str) -> Iterator[Recorder]:
        """Record the requests made inside this block under `label`."""
        previous = self._label
        self._local.label = label
        installed = self._install()
        try:
            yield self
        finally:
            self._local.label = previous
            if installed:
                self._uninstall()

    @contextlib.contextmanager
    def unrecorded(self) -> Iterator[None]:
        """The recorder's (and the harness's) own requests inside a recording: not the function's."""
        previous = self._label
        self._local.label = None
        try:
            yield
        finally:
            self._local.label = previous

    def _install(self) -> bool:
        if self._original is not None:
            return False
        original = BaseClient._make_api_call
        recorder = self

        def make_api_call(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
            label = recorder._label
            if label is None:
                return original(client, operation_name, api_params)
            call = Call(
                label=label,
                service=client.meta.service_model.service_name,
                operation=operation_name,
                region=client.meta.region_name,
                params=_plain(api_params),
            )
            with recorder.unrecorded():
                for region, arn in recorder.named(call):
                    call.resources[arn] = recorder.lookup(region, arn)
            recorder.calls.append(call)
            responder = recorder.responders.get(f"{call.service}:{operation_name}")
            if responder is not None:
                return responder(api_params)
            try:
                return original(client, operation_name, api_params)
            except ClientError as error:
                call.error = str(error.response.get("Error", {}).get("Code", "Unknown"))
                raise

        self._original = original
        BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
        return True

    def _uninstall(self) -> None:
        if self._original is not None:
            BaseClient._make_api_call = self._original  # type: ignore[method-assign]
            self._original = None

    def dump(self) -> list[dict[str, Any]]:
        return [call.to_json() for call in self.calls]
