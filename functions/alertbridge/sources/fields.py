"""Reading a sender's JSON with the types checked where a field is read: every surprise
(a string where an object belongs, nesting past the limit) is an ``AdapterError`` naming the
field, never an AttributeError the normaliser would retry blindly."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from alertbridge.bodies import MAX_JSON_DEPTH, json_depth
from alertbridge.sources import AdapterError

# A \uD800-\uDFFF escape: a lone one decodes to a string that cannot be encoded as UTF-8.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def load_json(data: bytes, what: str) -> Any:
    """Lenient JSON (what the ingress canonicalised, or the poller fetched) for an adapter:
    whatever fails, including nesting past the recursion limit or beyond the ingress's
    depth and text that is not valid Unicode, is an ``AdapterError``."""
    try:
        value = json.loads(data)
        if _SURROGATE_ESCAPE.search(data):
            json.dumps(value, ensure_ascii=False).encode()
    except RecursionError:
        raise AdapterError(f"{what} is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, UnicodeEncodeError
        raise AdapterError(f"{what} is not valid JSON: {exc}"[:300]) from None
    if json_depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise AdapterError(f"{what} is nested deeper than {MAX_JSON_DEPTH}")
    return value


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def get_object(container: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    """``container[key]`` as an object; absent or null is empty, another type is refused."""
    value = container.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AdapterError(f"{where}{key} must be an object, got {_kind(value)}")
    return value


def get_list(container: Mapping[str, Any], key: str, where: str) -> list[Any]:
    """``container[key]`` as a list; absent or null is empty, another type is refused."""
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise AdapterError(f"{where}{key} must be a list, got {_kind(value)}")
    return value


def get_text(
    container: Mapping[str, Any], key: str, where: str, numbers: bool = False
) -> str | None:
    """``container[key]`` as text (``numbers``: an integer id too); absent, null or empty
    is None, another type is refused."""
    value = container.get(key)
    if value is None or value == "":
        return None
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise AdapterError(f"{where}{key} must be a string, got {_kind(value)}")
    return value
