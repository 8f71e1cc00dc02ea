"""The notifier with its page-once records in this process's memory instead of Firestore:
the PagerDuty row's counterfactual. Same worker, handler, subscription and receiver as
``alertbridge worker --role notify``; only ``runtime.state`` differs, so the row it gives
is the design's path without the state store's round trips (claim and record). Never a
way to run alertbridge: the records die with the process and other instances never see
them, which is exactly the guarantee the real notifier pays those round trips for.

It pulls from its own ordered subscription (``BENCH_NOTIFY_SUBSCRIPTION``, a full path),
not the tenant's notifier subscription: the Pub/Sub emulator keeps an ordered
subscription's keys bound to the streams of subscribers that have gone (a stopped
notifier's, here), so on that subscription half the pages would wait for a stream that
never comes back."""

from __future__ import annotations

import os

from alertbridge.runtime import get_runtime
from alertbridge.state import MemoryStore
from alertbridge_dev.cli import _wait_for_signal
from alertbridge_dev.worker import NotifyWorker


def main() -> None:
    runtime = get_runtime()
    runtime.state = MemoryStore()
    worker = NotifyWorker(runtime)
    worker.subscriptions = [os.environ["BENCH_NOTIFY_SUBSCRIPTION"]]
    worker.start()
    try:
        _wait_for_signal()  # as `alertbridge worker` waits
    finally:
        worker.stop()


if __name__ == "__main__":
    main()
