"""The wire between the unchanged function and the simulated AWS: botocore's own event hooks.

The function builds its clients through `rds_snapshot_dr.aws.CLIENTS`. We register, on that factory's
boto3 session (so every client it builds inherits them):

- `before-parameter-build.rds`: remembers the operation's parameters for the calling thread (the
  request body is already query-encoded by the time `before-send` runs);
- `before-send.rds`: answers the HTTP request with a real `botocore.awsrequest.AWSResponse` whose body
  is the query-protocol XML AWS would send (or an `<ErrorResponse>` with status 400), serialized from
  the operation's output shape. botocore's parser, its error handling and its retry handler (standard
  mode, ThrottlingException included) therefore run for real; only the socket is skipped.

- `before-send` for every other service: the simulation models RDS only, so any other request (the
  drill's SSM parameter, when a scenario's settings turn the drill on) fails at once as an unreachable
  endpoint would (`EndpointConnectionError`), instead of leaving the process and waiting on the network.

botocore sleeps between retries with `time.sleep` in `botocore.endpoint`; that module's `time` is
replaced by one whose `sleep` lets the simulated clock advance instead.

Two shortcuts keep a 1,000-database month affordable, neither changing what the function receives:
the timestamp parser is `datetime.fromisoformat` for the one ISO 8601 form the model writes (botocore's
default goes through dateutil, most of the parse time), and the query parser remembers the parse of
a successful response body it has seen before (hourly listings repeat page for page) and returns a
fresh top level of it (the listed items are shared: nothing after the parser changes them).
"""

from __future__ import annotations

import json
import threading
import time as _real_time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

import botocore.endpoint
import botocore.exceptions
import botocore.parsers
from botocore.awsrequest import AWSResponse

_NS = "http://rds.amazonaws.com/doc/2014-10-31/"


class ApiError(Exception):
    """An error answer: code and message as AWS sends them (HTTP 400 unless said otherwise)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class _Raw(dict):
    """A response item that already knows its XML (a snapshot serialized once per change)."""

    xml: str = ""


def _timestamp(value: Any) -> str:
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def serialize(shape: Any, value: Any, tag: str) -> str:
    """XML of `value` under element `tag`, following the query protocol's rules for `shape`."""
    type_name = shape.type_name
    if type_name == "structure":
        if isinstance(value, _Raw) and value.xml:
            return f"<{tag}>{value.xml}</{tag}>"
        parts = []
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                parts.append(serialize(member, value[name], member.serialization.get("name", name)))
        return f"<{tag}>{''.join(parts)}</{tag}>"
    if type_name == "list":
        member_tag = shape.member.serialization.get("name", "member")
        return f"<{tag}>{''.join(serialize(shape.member, item, member_tag) for item in value)}</{tag}>"
    if type_name == "timestamp":
        return f"<{tag}>{_timestamp(value)}</{tag}>"
    if type_name == "boolean":
        return f"<{tag}>{'true' if value else 'false'}</{tag}>"
    return f"<{tag}>{escape(str(value))}</{tag}>"


def structure_body(shape: Any, value: dict[str, Any]) -> str:
    """The inner XML of a structure (what `_Raw.xml` caches)."""
    return serialize(shape, value, "x")[3:-4]


def response_xml(operation_model: Any, result: dict[str, Any]) -> bytes:
    name = operation_model.name
    shape = operation_model.output_shape
    inner = ""
    if shape is not None:
        inner = serialize(shape, result, shape.serialization.get("resultWrapper", f"{name}Result"))
    return (
        f'<{name}Response xmlns="{_NS}">{inner}'
        f"<ResponseMetadata><RequestId>sim</RequestId></ResponseMetadata></{name}Response>"
    ).encode()


def error_xml(error: ApiError) -> bytes:
    return (
        f'<ErrorResponse xmlns="{_NS}"><Error><Type>Sender</Type><Code>{escape(error.code)}</Code>'
        f"<Message>{escape(error.message)}</Message></Error><RequestId>sim</RequestId></ErrorResponse>"
    ).encode()


# Answers an RDS operation: (region, operation name, params) -> result dict, or raises ApiError.
Backend = Callable[[str, str, dict[str, Any]], dict[str, Any]]


def _unsigned(**_: Any) -> Any:
    return botocore.UNSIGNED


# The services the simulation answers; any other request fails as an unreachable endpoint would.
SIMULATED = ("rds", "scheduler", "kms")
# Those answered as JSON (EventBridge Scheduler's rest-json, KMS's json 1.1): service -> its content type
JSON_SERVICES = {"scheduler": "application/json", "kms": "application/x-amz-json-1.1"}


def _unreachable(request: Any, event_name: str = "", **_: Any) -> None:
    """Any service but those simulated: never sent (their own hooks answer them)."""
    if not event_name.startswith(tuple(f"before-send.{service}." for service in SIMULATED)):
        raise botocore.exceptions.EndpointConnectionError(endpoint_url=request.url)


class Wire:
    """Connects a ClientFactory's session to a backend, and botocore's retry sleep to a clock."""

    def __init__(
        self, backend: Backend, sleep: Callable[[float], None], json_services: dict[str, Backend] | None = None
    ) -> None:
        self.backend = backend
        # the backends of the JSON services (JSON_SERVICES) the run answers; any other is unreachable
        self.json_services = dict(json_services or {})
        self.sleep = sleep
        self._pending = threading.local()
        self._models: dict[str, Any] = {}

    def install(self, factory: Any) -> None:
        events = factory.session.events
        events.register("before-parameter-build.rds", self._remember, unique_id="simulation-params")
        # last: the function's own before-send hooks (its rate budget's pacing) run first, as they would
        # before a real request leaves
        events.register_last("before-send.rds", self._answer, unique_id="simulation-send")
        events.register_last("before-send", _unreachable, unique_id="simulation-unreachable")
        # No request leaves the process, so none is signed (signing was a tenth of a run's time).
        events.register("choose-signer.rds", _unsigned, unique_id="simulation-unsigned")
        # EventBridge Scheduler (the copy-waiting schedule the function switches) and KMS (the destination key's
        # state), answered as JSON
        for service in JSON_SERVICES:
            events.register(
                f"before-parameter-build.{service}", self._remember, unique_id=f"simulation-{service}-params"
            )
            events.register_last(f"before-send.{service}", self._answer_json, unique_id=f"simulation-{service}-send")
            events.register(f"choose-signer.{service}", _unsigned, unique_id=f"simulation-{service}-unsigned")
        factory.clear()  # clients built from now on carry the handlers
        botocore.endpoint.time = _SimTime(self.sleep)  # type: ignore[attr-defined]
        self._saved = (botocore.parsers.DEFAULT_TIMESTAMP_PARSER, botocore.parsers.QueryParser.parse)
        botocore.parsers.DEFAULT_TIMESTAMP_PARSER = _fast_timestamp
        botocore.parsers.QueryParser.parse = _remembering(self._saved[1])  # type: ignore[method-assign]

    def uninstall(self, factory: Any) -> None:
        events = factory.session.events
        events.unregister("before-parameter-build.rds", unique_id="simulation-params")
        events.unregister("before-send.rds", unique_id="simulation-send")
        events.unregister("before-send", unique_id="simulation-unreachable")
        events.unregister("choose-signer.rds", unique_id="simulation-unsigned")
        for service in JSON_SERVICES:
            events.unregister(f"before-parameter-build.{service}", unique_id=f"simulation-{service}-params")
            events.unregister(f"before-send.{service}", unique_id=f"simulation-{service}-send")
            events.unregister(f"choose-signer.{service}", unique_id=f"simulation-{service}-unsigned")
        factory.clear()
        botocore.endpoint.time = _real_time  # type: ignore[attr-defined]
        botocore.parsers.DEFAULT_TIMESTAMP_PARSER, botocore.parsers.QueryParser.parse = self._saved

    def _remember(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._pending.call = (model, dict(params))

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        model, params = self._pending.call
        region = request.url.split(".")[1]  # https://rds.<region>.amazonaws.com/
        try:
            result = self.backend(region, model.name, params)
            status, body = 200, response_xml(model, result)
        except ApiError as error:
            status, body = error.status, error_xml(error)
        return AWSResponse(request.url, status, {"Content-Type": "text/xml"}, _Body(body))

    def _answer_json(self, request: Any, **_: Any) -> AWSResponse:
        model, params = self._pending.call
        service, region = request.url.split("/")[2].split(".")[:2]  # https://<service>.<region>.amazonaws.com/
        backend = self.json_services.get(service)
        if backend is None:
            raise botocore.exceptions.EndpointConnectionError(endpoint_url=request.url)
        content_type = JSON_SERVICES[service]
        try:
            body = json.dumps(backend(region, model.name, params), default=str)
        except ApiError as error:
            return AWSResponse(
                request.url,
                error.status,
                {"Content-Type": content_type, "x-amzn-ErrorType": error.code},
                _Body(json.dumps({"__type": error.code, "message": error.message}).encode()),
            )
        return AWSResponse(request.url, 200, {"Content-Type": content_type}, _Body(body.encode()))


class _Body:
    """The raw body botocore reads from an AWSResponse."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Any:
        yield self._content

    def read(self, *_: Any) -> bytes:
        content, self._content = self._content, b""
        return content


class _SimTime:
    """`time` as botocore.endpoint sees it: everything real except `sleep`."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        self.sleep = sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(_real_time, name)


_default_timestamp_parser = botocore.parsers.DEFAULT_TIMESTAMP_PARSER


def _fast_timestamp(value: Any) -> datetime:
    if isinstance(value, str) and value.endswith("Z") and "T" in value:
        return datetime.fromisoformat(value)
    return _default_timestamp_parser(value)


def _copy(parsed: dict[str, Any]) -> dict[str, Any]:
    """A fresh top level (botocore adds response metadata to it) and fresh lists; the items in the lists
    are shared, as nothing after the parser changes a listed item."""
    fresh = {key: list(value) if isinstance(value, list) else value for key, value in parsed.items()}
    if "ResponseMetadata" in fresh:
        fresh["ResponseMetadata"] = dict(fresh["ResponseMetadata"])
    return fresh


def _remembering(parse: Callable[..., Any]) -> Callable[..., Any]:
    seen: dict[tuple[str, bytes], Any] = {}

    def remembered(self: Any, response: dict[str, Any], shape: Any) -> Any:
        if response["status_code"] != 200 or shape is None:
            return parse(self, response, shape)
        key = (shape.name, response["body"])
        parsed = seen.get(key)
        if parsed is None:
            if len(seen) > 4000:
                seen.clear()
            parsed = seen[key] = parse(self, response, shape)
        return _copy(parsed)

    return remembered
