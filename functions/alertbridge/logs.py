"""structlog JSON in Cloud Logging's structured shape, with secrets scrubbed.

Cloud Logging reads ``severity`` and ``message`` from a JSON line on stdout and
``logging.googleapis.com/trace`` for the trace. A processor drops any value whose
key names a secret, as a second line of defence behind never logging them.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = ("password", "secret", "token", "authorization", "signature", "hash", "key")
_configured = False


@functools.lru_cache(maxsize=1024)
def _names_a_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_KEYS) and key not in ("dedup_key",)


def _scrub(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if _names_a_secret(key):
            event[key] = "[redacted]"
    return event


class _StdoutLogger:
    """Writes each rendered line to ``sys.stdout`` as it is at that moment, so the bound
    loggers can be cached (cheaper per line) while tests that swap stdout still see every
    line."""

    def msg(self, message: str) -> None:
        out = sys.stdout
        out.write(message + "\n")
        out.flush()

    debug = info = warning = warn = error = critical = exception = fatal = failure = msg


def _stdout_logger(*_: Any) -> _StdoutLogger:
    return _StdoutLogger()


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
        logger_factory=_stdout_logger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    configure()
    return structlog.get_logger(name)
