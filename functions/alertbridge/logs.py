"""structlog JSON in Cloud Logging's structured shape, with secrets scrubbed.

Cloud Logging reads ``severity`` and ``message`` from a JSON line on stdout and
``logging.googleapis.com/trace`` for the trace. A processor drops any value whose
key names a secret, as a second line of defence behind never logging them.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = ("password", "secret", "token", "authorization", "signature", "hash", "key")
_configured = False


def _scrub(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        lowered = key.lower()
        if any(word in lowered for word in _SECRET_KEYS) and key not in ("dedup_key",):
            event[key] = "[redacted]"
    return event


def _cloud_logging_shape(
    _: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    level = event.pop("level", method)
    event["severity"] = {"warn": "WARNING", "exception": "ERROR"}.get(level, level.upper())
    event["message"] = event.pop("event", "")
    trace = event.pop("trace", None)
    if trace:
        event["logging.googleapis.com/trace"] = trace
    return event


def configure(level: int = logging.INFO) -> None:
    global _configured
    if _configured:
        return
    _configured = True
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
            _scrub,
            structlog.processors.format_exc_info,
            _cloud_logging_shape,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(),  # the current sys.stdout, always
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    configure()
    return structlog.get_logger(name)
