"""The wire between the unchanged function and the simulated AWS: botocore's own event hooks.

The function builds its clients through `rds_snapshot_dr.gateway.aws.CLIENTS`. We register, on that factory's
boto3 session (so every client it builds inherits them):

- `before-parameter-build.rds`: remembers the operation's parameters for the calling invocation (the
  request body is already query-encoded by the time `before-send` runs);
- `before-send.rds`: answers the HTTP request with a real `botocore.awsrequest.AWSResponse`: for an
  error, the `<ErrorResponse>` XML AWS would send with its status; for a success, the operation's
  output as botocore's query parser would read it from AWS's XML (below). botocore's error handling
  and its retry handler (standard mode, ThrottlingException included) therefore run for real; only
  the socket is skipped.

- `before-send` for every other service: the simulation models RDS only, so any other request (the
  drill's SSM parameter, when a scenario's settings turn the drill on) fails at once as an unreachable
  endpoint would (`EndpointConnectionError`), instead of leaving the process and waiting on the network.

botocore sleeps between retries with `time.sleep` in `botocore.endpoint`; that module's `time` is
replaced by one whose `sleep` lets the simulated clock advance instead.

A successful RDS answer skips the XML both ways: the wire turns the backend's result into what
botocore's query parser makes of that XML (`parsed`: members by name, timestamps as UTC datetimes,
integers, booleans, lists; the `ResponseMetadata` the parser reads), hands botocore an `AWSResponse`
whose body is a token for it, and the query parser returns it for the token. Everything around the
parse (status and header metadata, error handling, retries) still runs in botocore. Building and
parsing the XML was most of a large fleet's run. `Wire(check=True)` builds the XML too, gives the
function what botocore's own parser makes of it, and records every answer whose direct form differs
(`tests/simulation/test_wire.py` runs scenarios both ways and requires no difference and identical
figures). Errors always travel as XML.

The timestamp parser of the XML path is `datetime.fromisoformat` for the one ISO 8601 form the model
writes (botocore's default goes through dateutil). No request is signed, and every request carries
one fixed User-Agent (botocore builds the real one twice per request; nothing here reads it).
"""

from __future__ import annotations

import itertools
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
import botocore.useragent
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
    """A response item that keeps its XML and its parsed form once made (a snapshot's, until it changes:
    the model then builds a new one)."""

    xml: str = ""
    parsed: dict[str, Any] | None = None


def _timestamp(value: Any) -> str:
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, UTC)
    elif value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def serialize(shape: Any, value: Any, tag: str) -> str:
    """XML of `value` under element `tag`, following the query protocol's rules for `shape`."""
    type_name = shape.type_name
    if type_name == "structure":
        if isinstance(value, _Raw):
            if not value.xml:
                value.xml = "".join(_members_xml(shape, value))
            return f"<{tag}>{value.xml}</{tag}>"
        return f"<{tag}>{''.join(_members_xml(shape, value))}</{tag}>"
    if type_name == "list":
        member_tag = shape.member.serialization.get("name", "member")
        return f"<{tag}>{''.join(serialize(shape.member, item, member_tag) for item in value)}</{tag}>"
    if type_name == "timestamp":
        return f"<{tag}>{_timestamp(value)}</{tag}>"
    if type_name == "boolean":
        return f"<{tag}>{'true' if value else 'false'}</{tag}>"
    return f"<{tag}>{escape(str(value))}</{tag}>"


def _members_xml(shape: Any, value: dict[str, Any]) -> Any:
    for name, member in shape.members.items():
        if value.get(name) is not None:
            yield serialize(member, value[name], member.serialization.get("name", name))


def parsed(shape: Any, value: Any) -> Any:
    """What botocore's query parser makes of `serialize(shape, value, ...)`, without the XML between."""
    type_name = shape.type_name
    if type_name == "structure":
        if isinstance(value, _Raw):
            if value.parsed is None:
                value.parsed = _members(shape, value)
            return value.parsed
        return _members(shape, value)
    if type_name == "list":
        return [parsed(shape.member, item) for item in value]
    if type_name == "timestamp":
        return _fast_timestamp(_timestamp(value))
    if type_name == "boolean":
        return bool(value)
    if type_name in ("integer", "long"):
        return int(str(value))
    if type_name in ("float", "double"):
        return float(str(value))
    if type_name == "string":
        return str(value)
    raise NotImplementedError(f"the simulation does not answer {type_name} members")


def _members(shape: Any, value: dict[str, Any]) -> dict[str, Any]:
    return {name: parsed(member, value[name]) for name, member in shape.members.items() if value.get(name) is not None}


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


def response_parsed(operation_model: Any, result: dict[str, Any]) -> dict[str, Any]:
    """What botocore's query parser returns for `response_xml(operation_model, result)`: a fresh top level and
    fresh lists, whose snapshot items are shared between answers until the snapshot changes (nothing after
    the parser changes a listed item; a checking run would see it if something did)."""
    shape = operation_model.output_shape
    answer = _members(shape, result) if shape is not None else {}
    answer["ResponseMetadata"] = {"RequestId": "sim"}
    return answer


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 == True == 1.0 would hide a wrong type)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, datetime):
        return isinstance(b, datetime) and a == b and a.utcoffset() == b.utcoffset()
    return type(a) is type(b) and a == b


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
    """Connects a ClientFactory's session to a backend, and botocore's retry sleep to a clock.

    `local`: where the operation a request carries is kept between its parameters and its send (the
    function's own before-send hooks may pause it meanwhile): per thread unless the caller's invocations
    share a thread. `check`: each successful answer travels as XML through botocore's parser, and
    `mismatches` records every one whose direct form differs from that parse (`compared` counts them)."""

    def __init__(
        self,
        backend: Backend,
        sleep: Callable[[float], None],
        json_services: dict[str, Backend] | None = None,
        local: Any = None,
        check: bool = False,
    ) -> None:
        self.backend = backend
        # the backends of the JSON services (JSON_SERVICES) the run answers; any other is unreachable
        self.json_services = dict(json_services or {})
        self.sleep = sleep
        self._pending = threading.local() if local is None else local
        self.check = check
        self.compared = 0
        self.mismatches: list[str] = []
        # successful answers sent and not yet parsed: token -> (parsed form, its XML when checking)
        self._answers: dict[bytes, tuple[dict[str, Any], bytes | None]] = {}
        self._tokens = itertools.count()

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
        self._saved = (
            botocore.parsers.DEFAULT_TIMESTAMP_PARSER,
            botocore.parsers.QueryParser._do_parse,
            botocore.useragent.UserAgentString.to_string,
        )
        botocore.parsers.DEFAULT_TIMESTAMP_PARSER = _fast_timestamp
        botocore.parsers.QueryParser._do_parse = self._parse_answer(self._saved[1])  # type: ignore[method-assign]
        # Nothing reads a request's User-Agent here, and botocore builds it twice per request.
        botocore.useragent.UserAgentString.to_string = _user_agent  # type: ignore[method-assign]

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
        (
            botocore.parsers.DEFAULT_TIMESTAMP_PARSER,
            botocore.parsers.QueryParser._do_parse,
            botocore.useragent.UserAgentString.to_string,
        ) = self._saved

    def _remember(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._pending.call = (model, dict(params))

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        model, params = self._pending.call
        region = request.url.split(".")[1]  # https://rds.<region>.amazonaws.com/
        try:
            result = self.backend(region, model.name, params)
        except ApiError as error:
            return AWSResponse(request.url, error.status, {"Content-Type": "text/xml"}, _Body(error_xml(error)))
        token = b"simulation-answer-%d" % next(self._tokens)
        self._answers[token] = (response_parsed(model, result), response_xml(model, result) if self.check else None)
        return AWSResponse(request.url, 200, {"Content-Type": "text/xml"}, _Body(token))

    def _parse_answer(self, parse: Callable[..., Any]) -> Callable[..., Any]:
        """QueryParser._do_parse: an answer's parsed form for its token; any other body parsed as botocore does."""
        wire = self

        def do_parse(parser: Any, response: dict[str, Any], shape: Any) -> Any:
            answer = wire._answers.pop(response["body"], None)
            if answer is None:
                return parse(parser, response, shape)
            direct, xml = answer
            if xml is None:
                return direct
            # checking: the function gets what botocore's parser made of the XML, as it did before this shortcut
            wire.compared += 1
            botocore_parsed = parse(parser, {**response, "body": xml}, shape)
            if not same(direct, botocore_parsed):
                wire.mismatches.append(f"{shape.name if shape else None}: {direct!r} != {botocore_parsed!r}")
            return botocore_parsed

        return do_parse

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


def _user_agent(self: Any) -> str:
    return "rds-snapshot-dr-simulation"


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
