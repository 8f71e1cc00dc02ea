"""``POST /informatica/v1/events``: CIH event payloads, JSON (one event or an array) or XML.

XML is parsed with defusedxml with DTDs, entities and external references forbidden,
so billion-laughs and XXE payloads are refused with 400 before any expansion, and with
a depth guard in the tree builder, so nesting past the CIH limits is refused with 400
while expat reads it (expat and the builder are iterative; the conversion to dicts that
follows recurses, but only as deep as the guard let through). Each
top-level event becomes its own ingest message, stored as canonical JSON (the
request's content type is kept in the ``original_content_type`` attribute).
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError
from flask import Request

from alertbridge.bodies import check_declared_size, media_type, parse_json, read_body, unsupported
from alertbridge.errors import ApiError, FieldProblem, bad_request, forbidden
from alertbridge.http import Pending, Reply
from alertbridge.runtime import Runtime
from alertbridge.sources.common import (
    accept_events,
    authorize,
)
from alertbridge.sources.informatica import adapter as informatica
from alertbridge.sources.informatica.config import tenant_for_application

PATH = "/informatica/v1/events"
JSON_TYPES = ("application/json",)
XML_TYPES = ("application/xml", "text/xml")
MAX_EVENTS_PER_REQUEST = 100
INT_FIELDS = (
    "eventId",
    "parentEventId",
    "sourceSuccessCount",
    "sourceFailedCount",
    "targetSuccessCount",
    "targetFailedCount",
)
TEXT_FIELDS = ("eventType", "applicationName", "topicName", "pubSubName")
REQUIRED = ("eventId", "eventStatus", "eventType", "applicationName", "topicName", "pubSubName")
# <events><event> + 16 x <childEvents><event> + <eventHistory><entry><field>, and slack
MAX_XML_DEPTH = 2 + 2 * informatica.MAX_DEPTH + 3 + 3


class TooDeep(Exception):
    def __init__(self, problem: FieldProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class DepthGuard:
    """Tree-builder target that refuses, while expat parses, an ``<event>`` nested past
    ``MAX_DEPTH`` child levels or any element past ``MAX_XML_DEPTH``, naming its path as
    the JSON validation does (``events[0].childEvents[0]``)."""

    def __init__(self) -> None:
        self._builder = TreeBuilder()
        # per open element: its path, its event depth (-1 outside any event), <event>s seen
        self._open: list[tuple[str, int, list[int]]] = []

    def start(self, tag: str, attrs: dict[str, str]) -> Any:
        if not self._open:
            path, depth = ("events[0]", 0) if tag == "event" else ("", -1)
        else:
            parent_path, parent_depth, seen = self._open[-1]
            if tag == "event":
                index, seen[0] = seen[0], seen[0] + 1
                path = f"{parent_path or 'events'}[{index}]"
                depth = parent_depth + 1 if parent_path else 0
            else:
                path = f"{parent_path}.{tag}" if parent_path else tag
                depth = parent_depth
        if tag == "event" and depth > informatica.MAX_DEPTH:
            rule = f"depth<={informatica.MAX_DEPTH}"
            raise TooDeep(FieldProblem(path, rule, "childEvents nested too deeply"))
        if len(self._open) >= MAX_XML_DEPTH:
            rule = f"depth<={MAX_XML_DEPTH} elements"
            raise TooDeep(FieldProblem(path, rule, "XML nested too deeply"))
        self._open.append((path, depth, [0]))
        return self._builder.start(tag, attrs)

    def end(self, tag: str) -> Any:
        self._open.pop()
        return self._builder.end(tag)

    def data(self, text: str) -> None:
        self._builder.data(text)

    def close(self) -> Any:
        return self._builder.close()


def _xml_value(element: Any) -> Any:
    if element.tag == "childEvents":
        return [_xml_event(child) for child in element]
    if element.tag == "eventHistory":
        return [{sub.tag: _scalar(sub.tag, sub.text) for sub in entry} for entry in element]
    return _scalar(element.tag, element.text)


def _scalar(tag: str, text: str | None) -> Any:
    value = (text or "").strip()
    if tag in INT_FIELDS and value.lstrip("-").isdigit():
        return int(value)
    return value


def _xml_event(element: Any) -> dict[str, Any]:
    return {child.tag: _xml_value(child) for child in element}


def parse_xml(body: bytes) -> list[dict[str, Any]]:
    """``<event>…</event>`` or ``<events><event>…</event>…</events>``; children named as
    the JSON keys, ``<childEvents><event>…`` and ``<eventHistory><entry>…`` for lists."""
    parser = DefusedXMLParser(
        target=DepthGuard(), forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        parser.feed(body)
        root = parser.close()
    except TooDeep as exc:
        raise bad_request(
            f"the XML is nested too deeply at {exc.problem.field}"[:300], [exc.problem]
        ) from None
    except DefusedXmlException as exc:
        raise bad_request(
            "XML with a DTD, entities or external references is refused",
            [FieldProblem("body", "xml without DTD or entities", type(exc).__name__)],
        ) from None
    except (ParseError, ValueError) as exc:
        raise bad_request(
            "the body is not well-formed XML", [FieldProblem("body", "xml", str(exc)[:200])]
        ) from None
    if root.tag == "events":
        return [_xml_event(child) for child in root if child.tag == "event"]
    if root.tag == "event":
        return [_xml_event(root)]
    raise bad_request(
        "the XML root must be <event> or <events>",
        [FieldProblem("body", "root <event> or <events>", f"got <{root.tag}>")],
    )


def validate_event(event: Any, path: str, problems: list[FieldProblem], depth: int = 0) -> None:
    if not isinstance(event, dict):
        problems.append(FieldProblem(path, "object", "each event must be an object"))
        return
    if depth > informatica.MAX_DEPTH:
        problems.append(FieldProblem(path, f"depth<={informatica.MAX_DEPTH}", "nested too deeply"))
        return
    for name in REQUIRED:
        if event.get(name) in (None, ""):
            problems.append(FieldProblem(f"{path}.{name}", "required", f"{name} is required"))
    for name in INT_FIELDS:
        value = event.get(name)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            problems.append(
                FieldProblem(f"{path}.{name}", "integer >= 0", f"{name} must be an integer")
            )
    for name in (
        *TEXT_FIELDS,
        "eventStatus",
        "descendantState",
        "runId",
        "createTime",
        "completionTime",
    ):
        value = event.get(name)
        if value is not None and not isinstance(value, str):
            problems.append(FieldProblem(f"{path}.{name}", "string", f"{name} must be a string"))
    history = event.get("eventHistory")
    if history is not None and not isinstance(history, list | dict):
        problems.append(FieldProblem(f"{path}.eventHistory", "list of objects", "bad eventHistory"))
    children = event.get("childEvents")
    if children is None:
        return
    if not isinstance(children, list):
        problems.append(FieldProblem(f"{path}.childEvents", "list", "childEvents must be a list"))
        return
    for index, child in enumerate(children):
        validate_event(child, f"{path}.childEvents[{index}]", problems, depth + 1)


def events_from(body: bytes, content_type: str | None) -> list[dict[str, Any]]:
    media = media_type(content_type)
    if media in XML_TYPES:
        events: Any = parse_xml(body)
    elif media in JSON_TYPES:
        events = parse_json(body)
    else:
        raise unsupported(content_type, [*JSON_TYPES, *XML_TYPES])
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list) or not events:
        raise bad_request(
            "expected a CIH event or a non-empty array of events",
            [FieldProblem("body", "event or array of events", "nothing to accept")],
        )
    if len(events) > MAX_EVENTS_PER_REQUEST:
        raise bad_request(
            f"at most {MAX_EVENTS_PER_REQUEST} events per request",
            [FieldProblem("body", f"<= {MAX_EVENTS_PER_REQUEST} events", "too many")],
        )
    problems: list[FieldProblem] = []
    for index, event in enumerate(events):
        validate_event(event, f"events[{index}]", problems)
    if problems:
        raise ApiError(
            400,
            "invalid_request",
            "invalid CIH event: " + ", ".join(p.field for p in problems[:10]),
            problems,
        )
    return events


def handle(runtime: Runtime, request: Request, request_id: str) -> Reply | Pending:
    limit = runtime.settings.max_body_bytes
    check_declared_size(request, limit)
    claims, tenant_id = authorize(runtime, request)
    body = read_body(request, limit)
    events = events_from(body, request.content_type)
    for event in events:
        owner = tenant_for_application(runtime.tenants, str(event.get("applicationName")))
        if owner is not None and owner.id not in claims.tenants:
            raise forbidden(
                f"application {event.get('applicationName')!r} belongs to a tenant this token "
                "is not bound to"
            )
    original = media_type(request.content_type)
    return accept_events(
        runtime,
        informatica.SOURCE,
        events,
        request_id,
        202,
        tenant_id,
        claims.subject,
        {"original_content_type": original},
    )
