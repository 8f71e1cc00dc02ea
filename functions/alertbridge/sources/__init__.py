"""The sources alertbridge receives: one folder each, one line each in ``PACKAGES``.

A source's folder holds everything about it: ``config.py`` (its block in the tenants
file), ``ingress.py`` (its HTTP handler), ``adapter.py`` (the pure ``parse``), its
signature or auth check, ``samples/`` and ``openapi.yaml`` (its paths). Its
``__init__.py`` declares a ``SourceSpec``; the HTTP routes, ``main.py``'s entry points,
the normaliser's adapters, the tenants file's model, the OpenAPI document and the tests'
endpoint lists are all derived from these specs. Handlers and adapters are named by
dotted path and imported on first use, so a function that never serves a source (the
token function) never loads its code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from alertbridge.vocabulary import DeadLetterReason

if TYPE_CHECKING:
    from pydantic import BaseModel

    from alertbridge.alert import Alert
    from alertbridge.pipeline.envelope import IngestEnvelope
    from alertbridge.tenants import Tenants

# The registry: the package of every source under alertbridge.sources, in route order.
PACKAGES = ("subtask", "informatica", "adobe", "dbt_cloud")

Adapter = Callable[["IngestEnvelope", "Tenants"], "list[Alert]"]


class AdapterError(ValueError):
    """The payload can never become an alert (malformed, missing fields)."""

    reason: DeadLetterReason = "unparseable"


class UnroutableError(AdapterError):
    """The payload is fine but no tenant in the tenants file owns it."""

    reason: DeadLetterReason = "unroutable"


@dataclass(frozen=True)
class SourceSpec:
    """What the rest of alertbridge needs to know about a source, and nothing more."""

    name: str
    """The alert's ``source`` and the ingest envelope's ``source`` attribute."""
    function: str
    """Its Cloud Function (entry point in main.py, key of Terraform's functions map)."""
    path: str
    methods: tuple[str, ...]
    handler: str
    """``module:function`` answering ``(runtime, request, request_id) -> Reply``."""
    adapter: str
    """``module:function``, the pure ``parse(envelope, tenants) -> list[Alert]``."""
    config_key: str
    """Its block in each tenant of the tenants file."""
    config: str
    """``module:Class``, the pydantic model of that block (imported by the tenants model)."""
    run_ordered: bool = False
    """Its alerts carry run start times: resolve and re-open by run order."""
    description: str = field(default="", compare=False)

    def load_handler(self) -> Callable[..., Any]:
        handler: Callable[..., Any] = _load(self.handler)
        return handler

    def load_config(self) -> type[BaseModel]:
        config: type[BaseModel] = _load(self.config)
        return config

    def load_adapter(self) -> Adapter:
        adapter: Adapter = _load(self.adapter)
        return adapter


def _load(dotted: str) -> Any:
    module, _, attribute = dotted.partition(":")
    return getattr(importlib.import_module(module), attribute)


@cache
def specs() -> tuple[SourceSpec, ...]:
    """Every registered source, importing only each package's small ``__init__``."""
    found = tuple(importlib.import_module(f"{__name__}.{package}").SPEC for package in PACKAGES)
    _check_unique(found)
    return found


def _check_unique(found: tuple[SourceSpec, ...]) -> None:
    for attribute in ("name", "function", "path", "config_key"):
        values = [getattr(spec, attribute) for spec in found]
        duplicates = {value for value in values if values.count(value) > 1}
        if duplicates:
            raise RuntimeError(f"sources share a {attribute}: {sorted(duplicates)}")


@cache
def _specs_by_name() -> dict[str, SourceSpec]:
    return {spec.name: spec for spec in specs()}


def by_name(name: str) -> SourceSpec | None:
    """Looked up per message by the normaliser: a dict, not a scan of every spec."""
    return _specs_by_name().get(name)


_EXTRA: dict[str, Adapter] = {}


def register(source: str, adapter: Adapter) -> None:
    """Add an adapter outside the registry (a test's deliberately faulty one)."""
    _EXTRA[source] = adapter


def unregister(source: str) -> None:
    _EXTRA.pop(source, None)


def adapter_for(source: str) -> Adapter | None:
    """The adapter for an envelope's ``source`` attribute, imported on first use."""
    extra = _EXTRA.get(source)
    if extra is not None:
        return extra
    spec = by_name(source)
    return spec.load_adapter() if spec else None
