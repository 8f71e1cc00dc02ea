"""Decoding request bodies: JSON or form-encoded, UTF-8, with clear errors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from alertbridge.errors import ApiError, FieldProblem, bad_request

if TYPE_CHECKING:
    from flask import Request

MAX_JSON_DEPTH = 32


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "payload_too_large",
        f"the body is larger than {limit} bytes (254 KB)",
        [FieldProblem("body", f"<= {limit} bytes", "payload too large")],
    )


def check_declared_size(request: Request, limit: int) -> None:
    """Refuse on the Content-Length header alone, before reading anything."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)


def read_body(request: Request, limit: int) -> bytes:
    check_declared_size(request, limit)
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise too_large(limit)
    return body


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _reject_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def json_depth(value: Any, limit: int) -> int:
    """How deep ``value`` nests (iteratively), counting stops once past ``limit``."""
    if isinstance(value, dict) and not any(isinstance(v, dict | list) for v in value.values()):
        return 2 if value else 1  # a flat object, most bodies: nothing to walk
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def decode_text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(
            "the body is not UTF-8",
            [FieldProblem("body", "utf-8", f"invalid byte at offset {exc.start}")],
        ) from None


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no duplicate keys, bounded depth."""
    text = decode_text(body)
    try:
        value = json.loads(text, parse_constant=_reject_constants, object_pairs_hook=_unique_keys)
    except RecursionError:  # nested past the interpreter's limit: the same refusal
        raise too_deep() from None
    except ValueError as exc:
        raise bad_request(
            "the body is not valid JSON", [FieldProblem("body", "json", str(exc)[:200])]
        ) from None
    if json_depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise too_deep()
    return value


def too_deep() -> ApiError:
    return bad_request(
        "the body is nested too deeply",
        [FieldProblem("body", f"depth<={MAX_JSON_DEPTH}", "JSON nesting is too deep")],
    )


def parse_form(body: bytes) -> dict[str, str]:
    text = decode_text(body)
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=100
        )
    except ValueError as exc:
        raise bad_request(
            "the body is not form-encoded", [FieldProblem("body", "form", str(exc)[:200])]
        ) from None
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise bad_request(
                f"field {key!r} appears twice",
                [FieldProblem(key, "unique", "each field may appear once")],
            )
        out[key] = value
    return out


def looks_like_form(body: bytes) -> bool:
    head = body.lstrip()[:1]
    return bool(head) and head not in (b"{", b"[", b'"') and b"=" in body


def parse_object(body: bytes, content_type: str | None, allow_form: bool) -> dict[str, Any]:
    """A JSON object, or with ``allow_form`` a form body (also under a JSON content type:
    the seed's ``requests.post(..., headers={'Content-Type': 'application/json'}, data=dict)``
    sends a form-encoded body with a JSON header)."""
    media = media_type(content_type)
    if allow_form and (
        media == "application/x-www-form-urlencoded"
        or (media in ("application/json", "") and looks_like_form(body))
    ):
        return parse_form(body)
    if media not in ("application/json", "") and not media.endswith("+json"):
        raise unsupported(
            content_type,
            ["application/json"] + (["application/x-www-form-urlencoded"] if allow_form else []),
        )
    value = parse_json(body)
    if not isinstance(value, dict):
        raise bad_request(
            "the body must be a JSON object", [FieldProblem("body", "object", "expected {...}")]
        )
    return value


def unsupported(content_type: str | None, accepted: list[str]) -> ApiError:
    return ApiError(
        415,
        "unsupported_media_type",
        f"Content-Type {media_type(content_type) or '(none)'!r} is not accepted; use "
        + " or ".join(accepted),
        [FieldProblem("Content-Type", "one of " + ", ".join(accepted), "unsupported media type")],
    )
