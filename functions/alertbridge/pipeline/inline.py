"""One hop: the ingress normalises what it can and publishes the alerts with the raw event.

The ingress already holds the tenant, the validated payload and the pure adapters, so it
builds the same alert messages the normaliser would (``alerts_for``, ``alert_message``)
and publishes them to the tenant topic in the same ``publish_and_wait`` as the raw event,
which carries ``normalized=inline``: the normaliser's subscription filters those out
(``NOT attributes:normalized``), and the raw copy stays on ``alertbridge-ingest`` for
replay and audit. Anything it cannot normalise — an adapter error, a bug, a run-order
store that is slow or down — goes raw *without* the attribute, and the normaliser handles
it as before (dead letters, retries). Alert ids are deterministic and the envelope is read
back from the attributes exactly as the normaliser reads it, so both paths give the same
alert and a replay gives the same ids.

Run order (sources with ``run_ordered``) needs the state store in the request path: its
compare-and-sets run on a small pool with a budget (``ALERTBRIDGE_INLINE_STATE_BUDGET``,
2 s, well inside Adobe's 10 s). Past the budget, on an error, or with every slot taken by
an earlier slow call, the event takes the slow path, and the store is left alone for
``COOLDOWN_S`` so a dead store costs one budget, not one per request. A compare-and-set
that completes after its budget is harmless: the normaliser then sees the same run again,
which is published and leaves the record as it is (``runorder.decide``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from alertbridge.alert import Alert
from alertbridge.logs import get_logger
from alertbridge.pipeline import runorder
from alertbridge.pipeline.envelope import NORMALIZED_ATTRIBUTE as ATTRIBUTE
from alertbridge.pipeline.envelope import NORMALIZED_INLINE as INLINE
from alertbridge.pipeline.envelope import SLOW_PATH_FILTER, IngestEnvelope
from alertbridge.pipeline.normalize import (
    Outcome,
    Plan,
    alert_message,
    alerts_for,
    failure_detail,
    settle,
)
from alertbridge.pubsub import OutgoingMessage
from alertbridge.runtime import Runtime
from alertbridge.sources import AdapterError

log = get_logger(__name__)

__all__ = ["ATTRIBUTE", "INLINE", "SLOW_PATH_FILTER", "batch", "gate", "plan", "settle_all"]
SLOTS = 8
COOLDOWN_S = 5.0


@dataclass
class StateGate:
    """Bounded, budgeted access to the run-order store from the request path."""

    slots: int = SLOTS
    cooldown_s: float = COOLDOWN_S
    closed_until: float = 0.0
    _free: threading.BoundedSemaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._free = threading.BoundedSemaphore(self.slots)

    def apply(self, runtime: Runtime, alerts: list[Alert], budget_s: float) -> list[Alert] | None:
        """``runorder.apply`` within ``budget_s``; None when the slow path must decide."""
        if runtime.clock() < self.closed_until or budget_s <= 0:
            return None
        if not self._free.acquire(blocking=False):
            return None  # every slot is held by a slow call: do not queue behind it
        result: Future[list[Alert]] = Future()

        def run() -> None:
            try:  # the store is created in here too: a client that cannot start is "down"
                result.set_result(runorder.apply(runtime.state, alerts))
            except BaseException as exc:
                result.set_exception(exc)
            finally:
                self._free.release()

        # A daemon thread, not a pool: a call stuck on a dead store (gRPC retries for a
        # minute) must neither hold the request nor keep the process from exiting.
        threading.Thread(target=run, name="inline-runorder", daemon=True).start()
        try:
            return result.result(timeout=budget_s)
        except FutureTimeout:
            problem = f"no answer within {budget_s:g} s"
        except Exception as exc:  # the store is down or misbehaving: the slow path retries
            problem = failure_detail(exc)
        self.closed_until = runtime.clock() + self.cooldown_s
        log.warning(
            "run-order store unavailable in the request path; normalising on the slow path",
            problem=problem,
            cooldown_s=self.cooldown_s,
        )
        runtime.metrics.count("inline_fallbacks", "state")
        return None


def gate(runtime: Runtime) -> StateGate:
    found = getattr(runtime, "_inline_gate", None)
    if found is None:
        found = StateGate()
        runtime._inline_gate = found  # type: ignore[attr-defined]
    return found


def plan(runtime: Runtime, envelope: IngestEnvelope, budget_s: float) -> Plan | None:
    """The alert messages for one event, or None when the normaliser must handle it."""
    raw = IngestEnvelope.from_message(envelope.data, envelope.attributes())
    try:
        routed = alerts_for(raw, runtime.tenants)
        if raw.source in runorder.ORDERED_SOURCES:
            runorder.check_times([a for a, _ in routed], runtime.settings.run_time_max_skew_s)
    except AdapterError:
        runtime.metrics.count("inline_fallbacks", "adapter_error")
        return None  # the normaliser dead-letters it with the reason, as before
    except Exception as exc:  # a bug: the normaliser retries and dead-letters it
        log.warning(
            "inline normalisation failed; slow path",
            error=failure_detail(exc),
            request_id=raw.request_id,
        )
        runtime.metrics.count("inline_fallbacks", "failed")
        return None
    if raw.source in runorder.ORDERED_SOURCES and routed:
        keep_alerts = gate(runtime).apply(runtime, [a for a, _ in routed], budget_s)
        if keep_alerts is None:
            return None
        keep = {a.id for a in keep_alerts}
        routed = [(a, t) for a, t in routed if a.id in keep]
    return Plan(
        [alert_message(alert, topic) for alert, topic in routed],
        Outcome(alerts=[alert for alert, _ in routed]),
        routed,
        source=raw.source,
        request_id=raw.request_id,
    )


@dataclass
class Batch:
    """Everything one request publishes: the raw events first (their ids are the answer),
    then the alerts normalised inline."""

    raw: list[OutgoingMessage]
    alerts: list[OutgoingMessage]
    plans: list[Plan]

    @property
    def messages(self) -> list[OutgoingMessage]:
        return [*self.raw, *self.alerts]


def batch(runtime: Runtime, envelopes: Sequence[IngestEnvelope]) -> Batch:
    """Plan every event of a request; the run-order budget covers the whole request."""
    settings = runtime.settings
    deadline = runtime.clock() + settings.inline_state_budget_s
    raw: list[OutgoingMessage] = []
    alerts: list[OutgoingMessage] = []
    plans: list[Plan] = []
    for e in envelopes:
        attributes = e.attributes()
        found = plan(runtime, e, deadline - runtime.clock()) if settings.inline_normalize else None
        if found is not None:
            attributes[ATTRIBUTE] = INLINE
            alerts.extend(found.messages)
            plans.append(found)
        raw.append(OutgoingMessage(settings.ingest_topic, e.data, attributes))
    return Batch(raw, alerts, plans)


def settle_all(runtime: Runtime, done: Batch) -> None:
    """After the publish was confirmed: count and log the inline alerts as the normaliser
    does."""
    for p in done.plans:
        settle(runtime, p)
