"""What the Pub/Sub emulator delivers to an ordered subscriber that replaces one that left.

    .venv/bin/python bench/emulator_ordered_restart.py      # ~1.5 min, its own emulator

On each case's subscription a first subscriber takes ``FIRST`` messages over 64 ordering
keys, acks them, waits 3 s (its acks are sent) and stops. Then a second subscriber, with a
client of its own, takes ``N`` more over the same keys: on the same subscription, on one
deleted and made again under the same name, and on one under a new name. Prints how many
the second subscriber got within ``WAIT`` seconds (README: "Against the emulator, restart
the whole stack"). Measures, asserts nothing.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from alertbridge.pubsub import (
    ensure_subscription,
    make_publisher_client,
    make_subscriber_client,
)
from alertbridge_dev.emulator import Emulator, wait_until

PROJECT, TOPIC, KEYS = "restart-probe", "orders", 64
FIRST, N = int(os.environ.get("FIRST", "300")), int(os.environ.get("N", "1000"))
WAIT = float(os.environ.get("WAIT", "15"))


def take(host: str, publisher: Any, subscription: str, label: str, count: int, leave: bool) -> int:
    """Subscribe, publish ``count`` messages over the keys, return how many came in time,
    then stop (``leave``: as a subscriber that goes away, once its acks are sent)."""
    subscriber = make_subscriber_client(host)
    path = ensure_subscription(
        subscriber, PROJECT, subscription, TOPIC, ordering=True, ack_deadline_s=120
    )
    got: set[bytes] = set()
    lock = threading.Lock()

    def on_message(message: Any) -> None:
        with lock:
            got.add(message.data)
        message.ack()

    future = subscriber.subscribe(path, on_message)
    topic = publisher.topic_path(PROJECT, TOPIC)
    sent = [
        publisher.publish(topic, f"{label}-{i}".encode(), ordering_key=f"key-{i % KEYS}")
        for i in range(count)
    ]
    for published in sent:
        published.result()
    wait_until(lambda: len(got) >= count, WAIT, 0.1)
    if leave:
        time.sleep(3)  # the acks go out before the stream closes
    future.cancel()
    future.result(timeout=10)
    subscriber.close()
    return len(got)


def main() -> None:
    emulator = Emulator(project=PROJECT).start()
    try:
        publisher = make_publisher_client(emulator.host)  # ordering on
        publisher.create_topic(name=publisher.topic_path(PROJECT, TOPIC))
        admin = make_subscriber_client(emulator.host)
        for case, first, second, remake in (
            ("same subscription", "sub-same", "sub-same", False),
            ("deleted, made again", "sub-remade", "sub-remade", True),
            ("a new name", "sub-old-name", "sub-new-name", False),
        ):
            took = take(emulator.host, publisher, first, f"{second}-a", FIRST, leave=True)
            if remake:
                admin.delete_subscription(subscription=admin.subscription_path(PROJECT, first))
            got = take(emulator.host, publisher, second, f"{second}-b", N, leave=False)
            print(
                f"{case}: first subscriber got {took} of {FIRST}; the next got {got} of {N}"
                f" within {WAIT:g} s",
                flush=True,
            )
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
