"""``alertbridge replay``: re-drive dead letters, or a time range of raw ingest, through the
current adapters. Idempotent: alert ids are deterministic, so a replayed event yields the
same alert id as its first run.

Dead letters are read from a subscription on the dead-letter topic; each is stripped of
the ``dead_letter_*`` attributes and handled again by the stage that gave up on it
(normalise or notify), then acknowledged. A time range of ingest is read through a
temporary subscription seeked to ``since`` (the ingest topic retains 7 days).
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alertbridge.normalize import handle_message
from alertbridge.pubsub import ensure_subscription, make_subscriber_client
from alertbridge.runtime import Runtime

DEAD_LETTER_ATTRIBUTES = (
    "dead_letter_reason",
    "dead_letter_detail",
    "dead_lettered_at",
    "failed_stage",
    "original_message_id",
    "destination",
)


@dataclass
class ReplayReport:
    seen: int = 0
    alerts: int = 0
    dead_lettered_again: int = 0
    alert_ids: list[str] = field(default_factory=list)


def original_attributes(attributes: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in attributes.items() if k not in DEAD_LETTER_ATTRIBUTES}


def _redrive(
    runtime: Runtime,
    data: bytes,
    attributes: dict[str, str],
    message_id: str | None,
    report: ReplayReport,
) -> None:
    stage = attributes.get("failed_stage", "normalize")
    clean = original_attributes(attributes)
    if stage == "notify":
        from alertbridge.notify.handler import handle_alert

        outcomes = handle_alert(runtime, data, clean, message_id)
        report.dead_lettered_again += sum(o.action == "dead_lettered" for o in outcomes)
        return
    outcome = handle_message(runtime, data, clean, message_id)
    report.alerts += len(outcome.alerts)
    report.alert_ids.extend(a.id for a in outcome.alerts)
    report.dead_lettered_again += outcome.dead_letter_reason is not None


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
        _drain(runtime, subscriber, path, limit, dry_run, None, report)
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
