"""The ``alertbridge`` command: dev, demo, tail, send, hash-secret, schema, worker."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alertbridge.runtime import Runtime

DEFAULT_CONFIG = "config/tenants.example.yaml"
DEFAULT_PROJECT = "alertbridge-local"
DEMO_CREDENTIALS = {
    "4242": ("acme-etl", "acme-demo-secret"),
    "5151": ("globex-etl", "globex-demo-secret"),
}


def _config_path(value: str | None) -> Path:
    path = Path(value or os.environ.get("ALERTBRIDGE_TENANTS_FILE") or DEFAULT_CONFIG)
    if not path.exists():
        sys.exit(f"alertbridge: tenants file {path} not found (use --config PATH)")
    return path


class CliError(Exception):
    """A user-facing failure: printed as one line on stderr, exit status 2."""


def _stack_runtime(args: argparse.Namespace) -> Runtime:
    """The runtime of the stack the operator means, found as ``tail`` finds it: options,
    then the environment (a deployed project, or a shell set up by hand), then the running
    ``alertbridge dev`` (its state file)."""
    import dataclasses

    from alertbridge.runtime import Runtime
    from alertbridge.settings import Settings
    from alertbridge.tenants import load_tenants, loads_tenants
    from alertbridge_dev.devstack import read_state

    state = read_state() or {}
    env = os.environ
    settings = Settings.from_env()
    project = (
        getattr(args, "project", None)
        or env.get("ALERTBRIDGE_PROJECT")
        or env.get("GOOGLE_CLOUD_PROJECT")
        or state.get("project")
    )
    if not project:
        raise CliError(
            "no project: start `alertbridge dev`, or set ALERTBRIDGE_PROJECT (or --project)"
        )
    config = getattr(args, "config", None) or env.get("ALERTBRIDGE_TENANTS_FILE")
    if config is None and not settings.tenants_inline:
        config = state.get("config")
    if config is None and not settings.tenants_inline:
        raise CliError(
            "no tenants file: start `alertbridge dev`, or set ALERTBRIDGE_TENANTS_FILE "
            "(or --config PATH)"
        )
    if config is not None:
        tenants = load_tenants(_config_path(config))
    else:
        tenants = loads_tenants(str(settings.tenants_inline), origin="ALERTBRIDGE_TENANTS")
    local = state.get("project") == project  # the dev stack's emulators serve this project
    return Runtime(
        dataclasses.replace(
            settings, project_id=project, tenants_file=Path(config) if config else None
        ),
        tenants,
        None,
        env.get("PUBSUB_EMULATOR_HOST") or (state.get("emulator_host") if local else None),
        firestore_host=env.get("FIRESTORE_EMULATOR_HOST")
        or (state.get("firestore_host") if local else None),
    )


def _one_line(exc: BaseException) -> str:
    """An exception as one line: its type and first words, never a traceback."""
    text = " ".join(str(exc).split())
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:500]


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def cmd_dev(args: argparse.Namespace) -> int:
    from alertbridge.tenants import load_tenants
    from alertbridge_dev.capture import CaptureServer, capture_env, describe
    from alertbridge_dev.devstack import DevStack

    config = _config_path(args.config)
    capture: CaptureServer | None = None
    extra_env: dict[str, str] = {}
    if args.capture:  # tenants' PagerDuty/Slack destinations go to a local capture server
        capture = CaptureServer(on_request=lambda c: print("  capture: " + describe(c), flush=True))
        capture.start()
        extra_env = capture_env(capture.url, load_tenants(config))
    stack = DevStack(config, port=args.port, project=args.project, extra_env=extra_env)
    stack.start()
    try:
        print(
            f"alertbridge dev ready: {stack.base_url} (Pub/Sub emulator {stack.emulator_host}, "
            f"project {stack.project})"
            + (f"; notifications captured at {capture.url}" if capture else "")
            + "; Ctrl-C stops everything",
            flush=True,
        )
        _wait_for_signal()
    finally:
        stack.stop()
        if capture is not None:
            capture.stop()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from alertbridge.tenants import load_tenants
    from alertbridge_dev.adobe_keys import KeyServer, SigningKey
    from alertbridge_dev.capture import CaptureServer, capture_env, describe
    from alertbridge_dev.devstack import DevStack
    from alertbridge_dev.tail import Tail, format_alert

    key_server = KeyServer().start()  # stands in for Adobe's key host
    adobe_key = key_server.publish(SigningKey())
    capture = CaptureServer().start()  # stands in for PagerDuty and Slack
    config = _config_path(args.config)
    stack = DevStack(
        config,
        port=args.port,
        project=args.project,
        extra_env={
            "ALERTBRIDGE_ADOBE_KEY_HOST": key_server.url,
            # the demo's signed samples are addressed to this client id, as Adobe's are
            "ALERTBRIDGE_ADOBE_CLIENT_ID": "alertbridge-demo-client",
            **capture_env(capture.url, load_tenants(config)),
        },
    )
    stack.start()
    tails: list[Tail] = []
    try:
        assert stack.tenants is not None and stack.emulator_host is not None
        print(
            f"alertbridge demo: stack up at {stack.base_url} "
            f"(Pub/Sub emulator {stack.emulator_host}, Firestore emulator "
            f"{stack.firestore_host})",
            flush=True,
        )
        seen: list[str] = []
        lock = threading.Lock()

        def show(data: bytes, attributes: dict[str, str]) -> None:
            with lock:
                seen.append(attributes.get("ce-id", ""))
                print(
                    f"  alert on {attributes.get('tenant_id')}'s topic: "
                    f"{format_alert(data, attributes)}",
                    flush=True,
                )

        for tenant in stack.tenants:
            tails.append(Tail(stack.emulator_host, stack.project, tenant.topic_name).start(show))

        def wait_for(count: int) -> bool:
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline and len(seen) < count:
                time.sleep(0.05)
            return len(seen) >= count

        expected = _send_demo_events(stack.base_url)
        ok = wait_for(expected)
        expected += _send_adobe_and_informatica(stack.base_url, adobe_key, wait_for, expected)
        ok = ok and wait_for(expected)
        print(
            f"alertbridge demo: {len(seen)}/{expected} alerts landed on tenant topics"
            + ("" if ok else " (timed out)"),
            flush=True,
        )
        # tenant 4242 pages PagerDuty (>= error) and Slack (>= warning): 4 triggers and the
        # 2 resolves of what was open, each to both destinations; tenant 5151's 2 failures
        # go to Teams, Opsgenie and its signed webhook.
        sent = capture.wait_for(18, timeout=args.timeout)
        print(
            f"alertbridge demo: what on-call received at the capture server ({capture.url}):",
            flush=True,
        )
        for captured in sent:
            print("  " + describe(captured), flush=True)
        ok = ok and len(sent) >= 18
        if args.keep_running:
            print("alertbridge demo: stack stays up; Ctrl-C stops it", flush=True)
            _wait_for_signal()
        return 0 if ok else 1
    finally:
        for tail in tails:
            tail.close()
        stack.stop()
        key_server.stop()
        capture.stop()


def _send_demo_events(base_url: str) -> int:
    """Send the packaged samples; returns how many alerts they should produce."""
    import requests

    from alertbridge_dev.client import SubTaskClient

    samples = json.loads(
        resources.files("alertbridge").joinpath("sources/subtask/samples/messages.json").read_text()
    )
    clients = {
        tenant: SubTaskClient(base_url, user, secret, tenant)
        for tenant, (user, secret) in DEMO_CREDENTIALS.items()
    }
    for sample in samples:
        result = clients[sample["tenant"]].send(sample["body"])
        print(
            f"  sent sub-task message for tenant {sample['tenant']}: 202 {result['request_id']}",
            flush=True,
        )
    # The seed's own example: requests.post(..., headers={JSON}, data=dict) sends a form body.
    token = clients["5151"].token()
    form = dict(samples[-1]["body"], msgCode=42, stepId=4)
    response = requests.post(
        base_url + "/analytics-environment/v1/job-pub-sub-messages",
        headers={
            "Content-Type": "application/json",
            "Tenant-ID": "5151",
            "Authorization": f"Bearer {token}",
        },
        data=form,
        timeout=10,
    )
    print(
        f"  sent the seed's form-encoded example for tenant 5151: {response.status_code}",
        flush=True,
    )
    bad = dict(samples[0]["body"], envId=10, gitVersion="1.0")
    response = requests.post(
        base_url + "/analytics-environment/v1/job-pub-sub-messages",
        json=bad,
        headers={"Tenant-ID": "4242", "Authorization": f"Bearer {clients['4242'].token()}"},
        timeout=10,
    )
    print(f"  sent an invalid message: {response.status_code} {response.text}", flush=True)
    return len(samples) + 1


def _send_adobe_and_informatica(
    base_url: str, adobe_key: Any, wait_for: Any, landed_so_far: int
) -> int:
    """A signed Adobe failure, then the next good run of the same flow resolving it; the
    Informatica seed event, then its follow-up completing cleanly."""
    import requests

    from alertbridge_dev.adobe_keys import signed_headers
    from alertbridge_dev.client import SubTaskClient

    sources = resources.files("alertbridge").joinpath("sources")
    adobe = json.loads(sources.joinpath("adobe/samples/flow_runs.json").read_text())
    for name in ("failure", "success"):
        body = json.dumps(adobe[name]).encode()
        response = requests.post(
            base_url + "/adobe/v1/flow-run-notifications",
            data=body,
            headers=signed_headers(body, adobe_key),
            timeout=10,
        )
        print(
            f"  Adobe I/O Events delivered the flow-run {name} (signed): {response.status_code}",
            flush=True,
        )
        landed_so_far += 1
        wait_for(landed_so_far)
    user, secret = DEMO_CREDENTIALS["4242"]
    token = SubTaskClient(base_url, user, secret, "4242").token()
    cih = json.loads(sources.joinpath("informatica/samples/events.json").read_text())
    for sample in cih:
        response = requests.post(
            base_url + "/informatica/v1/events",
            json=sample["event"],
            timeout=10,
            headers={"Tenant-ID": sample["tenant"], "Authorization": f"Bearer {token}"},
        )
        print(
            f"  Informatica CIH event {sample['event']['eventId']} posted: {response.status_code}",
            flush=True,
        )
        landed_so_far += 2  # each sample is a publication with one subscription
        wait_for(landed_so_far)
    return 2 + 2 * len(cih)


def cmd_tail(args: argparse.Namespace) -> int:
    from alertbridge.tenants import load_tenants
    from alertbridge_dev.devstack import read_state
    from alertbridge_dev.tail import Tail, format_alert

    state = read_state() or {}
    emulator = os.environ.get("PUBSUB_EMULATOR_HOST") or state.get("emulator_host")
    project = args.project or os.environ.get("ALERTBRIDGE_PROJECT") or state.get("project")
    config = args.config or os.environ.get("ALERTBRIDGE_TENANTS_FILE") or state.get("config")
    if not project:
        sys.exit(
            "alertbridge tail: no project (start `alertbridge dev`, or set ALERTBRIDGE_PROJECT)"
        )
    tenants = load_tenants(_config_path(config))
    tenant = tenants.get(args.tenant)
    if tenant is None:
        sys.exit(f"alertbridge tail: tenant {args.tenant!r} is not in {config}")
    filter_ = f'attributes.severity = "{args.severity}"' if args.severity else ""
    tail = Tail(emulator, project, tenant.topic_name, filter_)
    print(
        f"tailing {tenant.topic_name} (tenant {tenant.id}, {tenant.name}); Ctrl-C stops", flush=True
    )

    def show(data: bytes, attributes: dict[str, str]) -> None:
        print(
            json.dumps(json.loads(data)) if args.json else format_alert(data, attributes),
            flush=True,
        )

    try:
        tail.start(show)
        _wait_for_signal()
    finally:
        tail.close()
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    from alertbridge_dev.client import SendError, SubTaskClient

    password = os.environ.get("ALERTBRIDGE_PASSWORD") or getpass.getpass("secret: ")
    client = SubTaskClient(args.url, args.username, password, args.tenant)
    body: dict[str, Any] = json.loads(
        Path(args.file).read_text() if args.file else sys.stdin.read()
    )
    try:
        print(json.dumps(client.send(body)))
    except SendError as exc:
        print(json.dumps(exc.body), file=sys.stderr)
        return 1
    return 0


def cmd_hash_secret(_: argparse.Namespace) -> int:
    from alertbridge.auth.passwords import hash_secret

    secret = (
        sys.stdin.readline().rstrip("\r\n")
        if not sys.stdin.isatty()
        else getpass.getpass("secret: ")
    )
    if not secret:
        sys.exit("alertbridge hash-secret: empty secret on stdin")
    print(hash_secret(secret))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from alertbridge import alert, tenants

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in (
        ("alert.v1.json", alert.json_schema()),
        ("tenants.schema.json", tenants.json_schema()),
    ):
        (out / name).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        print(out / name)
    from alertbridge_dev import openapi

    (out / "openapi.yaml").write_text(openapi.render())
    print(out / "openapi.yaml")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from alertbridge.runtime import get_runtime
    from alertbridge_dev.worker import NormalizeWorker, NotifyWorker, PullWorker

    runtime = get_runtime()
    worker: PullWorker = (
        NotifyWorker(runtime) if args.role == "notify" else NormalizeWorker(runtime)
    ).start()
    try:
        _wait_for_signal()
    finally:
        worker.stop()
    return 0


def _when(option: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"{option} {value!r} is not an RFC 3339 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_replay(args: argparse.Namespace) -> int:
    from alertbridge_dev.replay import replay_dead_letters, replay_ingest

    if not args.from_dead_letter and not args.since:
        raise CliError("give --from-dead-letter or --since TIME")
    since = _when("--since", args.since) if args.since else None
    until = _when("--until", args.until) if args.until else None
    runtime = _stack_runtime(args)
    try:
        if since is None:
            report = replay_dead_letters(runtime, args.subscription, args.limit, args.dry_run)
        else:
            report = replay_ingest(runtime, since, until, args.limit, args.dry_run)
    finally:
        runtime.close()
    labels = {"redriven": "re-driven", "failed_again": "failed again", "seen": "would re-drive"}
    for entry in report.entries:
        print(
            f"{labels.get(entry.result, entry.result)}: {entry.message_id} "
            f"stage={entry.stage} was={entry.reason} {entry.detail}".rstrip(),
            flush=True,
        )
    print(
        json.dumps(
            {
                "seen": report.seen,
                "redriven": report.redriven,
                "failed_again": report.failed_again,
                "alerts": report.alerts,
                "dead_lettered_again": report.dead_lettered_again,
                "dry_run": args.dry_run,
            }
        ),
        flush=True,
    )
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from alertbridge.notify.autoresolve import sweep

    runtime = _stack_runtime(args)
    try:
        resolved = sweep(runtime)
    finally:
        runtime.close()
    for alert in resolved:
        print(json.dumps({"tenant": alert.tenant_id, "dedup_key": alert.dedup_key, "id": alert.id}))
    return 0


def cmd_silence(args: argparse.Namespace) -> int:
    """Silences on the stack's state store: add prints the id, list one line each."""
    from alertbridge.durations import parse_duration
    from alertbridge.notify import silences

    runtime = _stack_runtime(args)
    try:
        now = time.time()
        if args.action == "add":
            try:
                match = silences.parse_match(args.match or [])
                ends_at = _silence_end(args, now, parse_duration)
                record = silences.add(
                    runtime.state, runtime.tenants, args.tenant, match, ends_at, args.comment, now
                )
            except ValueError as exc:
                raise CliError(str(exc)) from None
            print(record["id"], flush=True)
        elif args.action == "list":
            for silence in silences.listed(runtime.state, args.tenant):
                print(silences.describe(silence, now), flush=True)
        else:
            try:
                silences.expire(runtime.state, args.id, now)
            except silences.SilenceError as exc:
                raise CliError(str(exc)) from None
            print(f"expired {args.id}", flush=True)
    finally:
        runtime.close()
    return 0


def _silence_end(args: argparse.Namespace, now: float, parse_duration: Any) -> float:
    """``--for 2h`` or ``--until RFC3339`` → the end as a timestamp; errors name the option."""
    if args.for_:
        try:
            return now + float(parse_duration(args.for_).total_seconds())
        except ValueError as exc:
            raise ValueError(f"for: {exc}") from None
    try:
        until = datetime.fromisoformat(args.until)
    except ValueError:
        raise ValueError(f"until: {args.until!r} is not an RFC 3339 time") from None
    if until.tzinfo is None:
        raise ValueError("until: give a time zone (Z or +00:00)")
    return until.timestamp()


def cmd_expectations_suggest(args: argparse.Namespace) -> int:
    """Print proposed ``expectations`` (YAML to paste) from the runs the notifier has seen."""
    from alertbridge.durations import format_duration
    from alertbridge.expectations.check import HISTORY, suggest

    runtime = _stack_runtime(args)
    try:
        if runtime.tenants.get(args.tenant) is None:
            raise CliError(f"tenant {args.tenant!r} is not in the tenants file")
        proposals = suggest(runtime, args.tenant)
    finally:
        runtime.close()
    print(
        f"# tenant {args.tenant}: {len(proposals)} dedup key(s) seen often enough "
        f"(from the last {HISTORY} runs of each)"
    )
    if not proposals:
        return 0
    print("expectations:")
    for p in proposals:
        seen = datetime.fromtimestamp(p.last_seen_at, UTC).isoformat().replace("+00:00", "Z")
        declared = f"; declared: {', '.join(p.declared)}" if p.declared else ""
        print(f"  - name: {p.name}")
        print(f"    match: {{dedup_key: {json.dumps(p.dedup_key)}}}")
        print(f"    every: {format_duration(p.every)}")
        print(f"    grace: {format_duration(p.grace)}")
        print(
            f"    # {p.runs} runs, median interval {p.median_s:.0f}s, spread {p.spread_s:.0f}s, "
            f"last {seen}{declared}"
        )
    return 0


def cmd_poll_cih(args: argparse.Namespace) -> int:
    from alertbridge.sources.informatica.poller import poll_all

    runtime = _stack_runtime(args)
    try:
        results = poll_all(runtime)
    finally:
        runtime.close()
    for result in results:
        print(
            json.dumps(
                {
                    "tenant": result.tenant_id,
                    "fetched": result.fetched,
                    "published": result.published,
                    "refused": len(result.refused_ids),
                    "retry_after": result.retry_after,
                    "error": result.error,
                }
            )
        )
    return 1 if any(r.error is not None for r in results) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alertbridge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="run the whole stack on the Pub/Sub emulator")
    dev.add_argument("--config", help=f"tenants file (default {DEFAULT_CONFIG})")
    dev.add_argument("--port", type=int, default=8080)
    dev.add_argument("--project", default=DEFAULT_PROJECT, help="emulator project id")
    dev.add_argument(
        "--capture",
        action="store_true",
        help="send on-call notifications (PagerDuty, Slack, Teams, Opsgenie, signed webhook) "
        "to a local capture server and print them",
    )
    dev.set_defaults(func=cmd_dev)

    demo = sub.add_parser("demo", help="the dev stack plus sample events, printing alerts")
    demo.add_argument("--config")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--project", default=DEFAULT_PROJECT, help="emulator project id")
    demo.add_argument("--timeout", type=float, default=60.0)
    demo.add_argument("--keep-running", action="store_true")
    demo.set_defaults(func=cmd_demo)

    tail = sub.add_parser("tail", help="print a tenant's alerts as they land")
    tail.add_argument("--tenant", required=True)
    tail.add_argument("--config")
    tail.add_argument("--project")
    tail.add_argument("--severity", choices=["critical", "error", "warning", "info"])
    tail.add_argument("--json", action="store_true", help="print the alert JSON")
    tail.set_defaults(func=cmd_tail)

    send = sub.add_parser("send", help="post a sub-task message (secret from ALERTBRIDGE_PASSWORD)")
    send.add_argument("--url", required=True)
    send.add_argument("--username", required=True)
    send.add_argument("--tenant", required=True)
    send.add_argument("--file", help="JSON body (default: stdin)")
    send.set_defaults(func=cmd_send)

    hs = sub.add_parser("hash-secret", help="read a secret on stdin, print its scrypt hash")
    hs.set_defaults(func=cmd_hash_secret)

    schema = sub.add_parser("schema", help="write the JSON Schemas and the OpenAPI")
    schema.add_argument("--out", default="schemas")
    schema.set_defaults(func=cmd_schema)

    replay = sub.add_parser("replay", help="re-drive dead letters or a time range of ingest")
    replay.add_argument("--from-dead-letter", action="store_true")
    replay.add_argument("--subscription", default="alertbridge-dead-letter-inspect")
    replay.add_argument("--since", help="RFC 3339 start of the ingest range (seek)")
    replay.add_argument("--until", help="RFC 3339 end of the ingest range")
    replay.add_argument("--limit", type=int)
    replay.add_argument("--dry-run", action="store_true", help="count, do not re-drive")
    replay.add_argument("--config", help="tenants file (default: the running dev stack's)")
    replay.add_argument("--project", help="project (default: the running dev stack's)")
    replay.set_defaults(func=cmd_replay)

    poll = sub.add_parser("poll-cih", help="one round of the Informatica CIH events poller")
    poll.add_argument("--config", help="tenants file (default: the running dev stack's)")
    poll.add_argument("--project", help="project (default: the running dev stack's)")
    poll.set_defaults(func=cmd_poll_cih)
    sweep = sub.add_parser("sweep", help="one auto-resolve sweep (incidents quiet long enough)")
    sweep.add_argument("--config", help="tenants file (default: the running dev stack's)")
    sweep.add_argument("--project", help="project (default: the running dev stack's)")
    sweep.set_defaults(func=cmd_sweep)

    silence = sub.add_parser("silence", help="hold back matching firing alerts for a while")
    silence_sub = silence.add_subparsers(dest="action", required=True)
    s_add = silence_sub.add_parser("add", help="add a silence; prints its id")
    s_add.add_argument("--tenant", required=True)
    s_add.add_argument(
        "--match",
        action="append",
        metavar="FIELD=VALUE",
        help="source, dedup_key, severity, "
        "resource_id or labels.<name>; * matches any run of characters; repeat to narrow",
    )
    span = s_add.add_mutually_exclusive_group(required=True)
    span.add_argument("--for", dest="for_", metavar="DURATION", help="e.g. 90m, 2h")
    span.add_argument("--until", metavar="RFC3339", help="e.g. 2026-11-28T06:00:00Z")
    s_add.add_argument("--comment", required=True, help="why, for the next on-call")
    s_list = silence_sub.add_parser("list", help="a tenant's silences, active and expired")
    s_list.add_argument("--tenant", required=True)
    s_expire = silence_sub.add_parser("expire", help="end a silence now")
    s_expire.add_argument("id")
    for one in (s_add, s_list, s_expire):
        one.add_argument("--config", help="tenants file (default: the running dev stack's)")
        one.add_argument("--project", help="project (default: the running dev stack's)")
    silence.set_defaults(func=cmd_silence)
    expectations = sub.add_parser("expectations", help="missing and late runs")
    expectations_sub = expectations.add_subparsers(dest="action", required=True)
    suggest = expectations_sub.add_parser(
        "suggest", help="propose every/grace from the runs already seen"
    )
    suggest.add_argument("--tenant", required=True)
    suggest.add_argument("--config", help="tenants file (default: the running dev stack's)")
    suggest.add_argument("--project", help="project (default: the running dev stack's)")
    suggest.set_defaults(func=cmd_expectations_suggest)

    worker = sub.add_parser("worker", help="run the normaliser or the notifier (streaming pull)")
    worker.add_argument("--role", choices=["normalize", "notify"], default="normalize")
    worker.set_defaults(func=cmd_worker)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Every failure is one line on stderr and a non-zero status, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:  # sys.exit("message"): the same one line, in-process too
        if not isinstance(exc.code, str):
            raise
        print(exc.code, file=sys.stderr)
        return 1
    except CliError as exc:
        print(f"alertbridge {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"alertbridge {args.command}: {_one_line(exc)}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
