"""``alertbridge replay``: re-drive dead letters, or a time range of raw ingest, through the
current adapters. Idempotent: alert ids are deterministic, so a replayed event yields the
same alert id as its first run.

Dead letters are read from a subscription on the dead-letter topic and re-driven by the
stage that gave up on them: a normaliser dead letter goes through the normaliser again; a
notify-stage one (``failed_stage=notify``, or moved there by a notify subscription's
dead-letter policy) is published back to its tenant's topic, where the notifier, which holds
the destination secrets, takes it (its page-once record keeps it from sending twice).

A replay drains what was there when it started: a message published after that (a dead
letter that failed again, re-dead-lettered by this very replay) or one it already tried is
held, not handled, and given back when the replay ends; it ends when a pull finds nothing
else. A time range of ingest is read through a temporary subscription seeked to ``since``
(the ingest topic retains 7 days).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alertbridge.pipeline.normalize import CE_TYPE_PREFIX, handle_message
from alertbridge.pubsub import OutgoingMessage, ensure_subscription, make_subscriber_client
from alertbridge.runtime import Runtime

DEAD_LETTER_ATTRIBUTES = (
    "dead_letter_reason",
    "dead_letter_detail",
    "dead_lettered_at",
    "failed_stage",
    "original_message_id",
    "destination",
)
# Added by Pub/Sub when a subscription's dead-letter policy moves a message.
POLICY_PREFIX = "CloudPubSubDeadLetter"
NOTIFY_SUBSCRIPTION_MARK = "-notify-"
IDLE_PULLS = 3  # consecutive pulls that bring nothing new: the backlog is drained
PULL_TIMEOUT_S = 2.0  # the emulator answers an empty pull after ~1 s of it


@dataclass(frozen=True)
class ReplayEntry:
    """One dead letter handled: by which stage, what it had failed with, what happened."""

    message_id: str
    stage: str
    reason: str
    result: str  # "redriven" | "failed_again" | "seen" (dry run)
    detail: str = ""


@dataclass
class ReplayReport:
    seen: int = 0
    alerts: int = 0
    dead_lettered_again: int = 0
    alert_ids: list[str] = field(default_factory=list)
    entries: list[ReplayEntry] = field(default_factory=list)

    @property
    def redriven(self) -> int:
        return sum(e.result == "redriven" for e in self.entries)

    @property
    def failed_again(self) -> int:
        return sum(e.result == "failed_again" for e in self.entries)


def original_attributes(attributes: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in attributes.items()
        if k not in DEAD_LETTER_ATTRIBUTES and not k.startswith(POLICY_PREFIX)
    }


def failed_stage(attributes: Mapping[str, str]) -> str:
    """The stage that gave up: ours say so; a dead-letter policy names its subscription; an
    alert (CloudEvents type of ours) can only have failed in the notifier."""
    stage = attributes.get("failed_stage")
    if stage:
        return stage
    source = attributes.get(f"{POLICY_PREFIX}SourceSubscription", "")
    if NOTIFY_SUBSCRIPTION_MARK in source:
        return "notify"
    if attributes.get("ce-type", "").startswith(CE_TYPE_PREFIX):
        return "notify"
    return "normalize"


def _redrive(
    runtime: Runtime,
    data: bytes,
    attributes: Mapping[str, str],
    message_id: str,
    report: ReplayReport,
) -> bool:
    """Re-drive one dead letter; True when it may be acknowledged (re-driven, or failed
    again and dead-lettered anew), False to leave it where it is."""
    stage = failed_stage(attributes)
    reason = attributes.get("dead_letter_reason", "unknown")
    clean = original_attributes(attributes)
    if stage == "notify":
        tenant = runtime.tenants.get(clean.get("tenant_id", ""))
        if tenant is None:
            detail = f"tenant {clean.get('tenant_id')!r} is not in the tenants file"
            report.entries.append(ReplayEntry(message_id, stage, reason, "failed_again", detail))
            return False
        runtime.publisher.publish_and_wait(
            [OutgoingMessage(tenant.topic_name, data, clean, clean.get("dedup_key", ""))]
        )
        report.entries.append(
            ReplayEntry(
                message_id, stage, reason, "redriven", f"to the notifier via {tenant.topic_name}"
            )
        )
        return True
    original_id = attributes.get("original_message_id") or message_id
    outcome = handle_message(runtime, data, clean, original_id)
    report.alerts += len(outcome.alerts)
    report.alert_ids.extend(a.id for a in outcome.alerts)
    if outcome.dead_letter_reason is not None:
        report.dead_lettered_again += 1
        report.entries.append(
            ReplayEntry(
                message_id,
                stage,
                reason,
                "failed_again",
                f"{outcome.dead_letter_reason}: {str(outcome.dead_letter_detail)[:200]}",
            )
        )
    else:
        report.entries.append(
            ReplayEntry(message_id, stage, reason, "redriven", f"{len(outcome.alerts)} alert(s)")
        )
    return True


def _drain_dead_letters(
    runtime: Runtime,
    subscriber: Any,
    path: str,
    limit: int | None,
    dry_run: bool,
    report: ReplayReport,
) -> None:
    """Handle each message published before the start once; hold the rest (leased, so
    further pulls reach what is behind them) and give them back at the end."""
    from google.api_core import exceptions as gexc

    started = datetime.now(UTC)
    tried: set[str] = set()
    held: list[str] = []
    idle = 0
    try:
        while idle < IDLE_PULLS and (limit is None or report.seen < limit):
            try:
                response = subscriber.pull(
                    request={"subscription": path, "max_messages": 100}, timeout=PULL_TIMEOUT_S
                )
            except gexc.DeadlineExceeded:
                response = None
            fresh = [
                item
                for item in (response.received_messages if response else [])
                if item.message.message_id not in tried and item.message.publish_time < started
            ]
            if response is not None:
                fresh_ids = {i.ack_id for i in fresh}
                held.extend(
                    i.ack_id for i in response.received_messages if i.ack_id not in fresh_ids
                )
            if not fresh:
                idle += 1
                time.sleep(0.1 * idle)  # an empty pull may be answered at once
                continue
            idle = 0
            done: list[str] = []
            for item in fresh:
                if limit is not None and report.seen >= limit:
                    held.append(item.ack_id)
                    continue
                message = item.message
                tried.add(message.message_id)
                report.seen += 1
                attributes = dict(message.attributes)
                if dry_run:
                    report.entries.append(
                        ReplayEntry(
                            message.message_id,
                            failed_stage(attributes),
                            attributes.get("dead_letter_reason", "unknown"),
                            "seen",
                        )
                    )
                    held.append(item.ack_id)
                elif _redrive(runtime, message.data, attributes, message.message_id, report):
                    done.append(item.ack_id)
                else:
                    held.append(item.ack_id)
            if done:
                subscriber.acknowledge(request={"subscription": path, "ack_ids": done})
    finally:
        for start in range(0, len(held), 1000):  # give back everything held, at once
            with contextlib.suppress(Exception):
                subscriber.modify_ack_deadline(
                    request={
                        "subscription": path,
                        "ack_ids": held[start : start + 1000],
                        "ack_deadline_seconds": 0,
                    }
                )


def _drain(
    runtime: Runtime,
    subscriber: Any,
    path: str,
    limit: int | None,
    dry_run: bool,
    until: datetime | None,
    report: ReplayReport,
) -> None:
    from google.api_core import exceptions as gexc

    idle = 0
    while (limit is None or report.seen < limit) and idle < 3:
        try:
            response = subscriber.pull(
                request={"subscription": path, "max_messages": 100}, timeout=5
            )
        except gexc.DeadlineExceeded:
            idle += 1
            continue
        if not response.received_messages:
            idle += 1
            continue
        idle = 0
        done: list[str] = []
        for item in response.received_messages:
            message = item.message
            published = message.publish_time
            in_range = until is None or published <= until
            if (limit is not None and report.seen >= limit) or not in_range:
                continue
            report.seen += 1
            if not dry_run:
                _redrive(
                    runtime, message.data, dict(message.attributes), message.message_id, report
                )
                done.append(item.ack_id)
        if done:
            subscriber.acknowledge(request={"subscription": path, "ack_ids": done})
        rest = [i.ack_id for i in response.received_messages if i.ack_id not in done]
        if rest:  # give back what we did not handle (dry run, over the limit, out of range)
            subscriber.modify_ack_deadline(
                request={"subscription": path, "ack_ids": rest, "ack_deadline_seconds": 0}
            )
        if dry_run or (
            until is not None
            and all(i.message.publish_time > until for i in response.received_messages)
        ):
            break


def replay_dead_letters(
    runtime: Runtime,
    subscription: str = "alertbridge-dead-letter-inspect",
    limit: int | None = None,
    dry_run: bool = False,
) -> ReplayReport:
    report = ReplayReport()
    subscriber = make_subscriber_client(runtime.emulator_host)
    try:
        path = subscriber.subscription_path(runtime.settings.project_id, subscription)
        _drain_dead_letters(runtime, subscriber, path, limit, dry_run, report)
    finally:
        subscriber.close()
    return report


def replay_ingest(
    runtime: Runtime,
    since: datetime,
    until: datetime | None = None,
    limit: int | None = None,
    dry_run: bool = False,
) -> ReplayReport:
    from google.protobuf import timestamp_pb2

    report = ReplayReport()
    subscriber = make_subscriber_client(runtime.emulator_host)
    name = f"alertbridge-replay-{uuid.uuid4().hex[:8]}"
    path = ensure_subscription(
        subscriber,
        runtime.settings.project_id,
        name,
        runtime.settings.ingest_topic,
        ack_deadline_s=60,
    )
    try:
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(since)
        subscriber.seek(request={"subscription": path, "time": stamp})
        _drain(runtime, subscriber, path, limit, dry_run, until, report)
    finally:
        with contextlib.suppress(Exception):
            subscriber.delete_subscription(subscription=path)
        subscriber.close()
    return report
