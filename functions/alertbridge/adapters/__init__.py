"""Source adapters: pure functions ``parse(envelope, tenants) -> list[Alert]``.

No I/O here: they are tested on the seeds' own sample payloads without a server.
An adapter raises ``AdapterError`` for input it can never handle (the normaliser
dead-letters it) and ``UnroutableError`` when no tenant owns the event.
"""

from __future__ import annotations

from collections.abc import Callable

from alertbridge.alert import Alert
from alertbridge.envelope import IngestEnvelope
from alertbridge.tenants import Tenants

Adapter = Callable[[IngestEnvelope, Tenants], list[Alert]]


class AdapterError(ValueError):
    """The payload can never become an alert (malformed, missing fields)."""

    reason = "unparseable"


class UnroutableError(AdapterError):
    """The payload is fine but no tenant in the tenants file owns it."""

    reason = "unroutable"


_EXTRA: dict[str, Adapter] = {}


def register(source: str, adapter: Adapter) -> None:
    """Add an adapter for a new source (a plugin, or a test's deliberately faulty one)."""
    _EXTRA[source] = adapter


def unregister(source: str) -> None:
    _EXTRA.pop(source, None)


def registry() -> dict[str, Adapter]:
    """Source name (the envelope's ``source`` attribute) → adapter."""
    from alertbridge.adapters import adobe, informatica, subtask

    return {
        **_EXTRA,
        subtask.SOURCE: subtask.parse,
        informatica.SOURCE: informatica.parse,
        adobe.SOURCE: adobe.parse,
    }
