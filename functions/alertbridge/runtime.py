"""Everything a function needs at run time, built once per process.

Tests build a Runtime pointed at the emulator and a tenants file of their own and
install it; production builds it from the environment on first use.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from alertbridge.auth.tokens import Keyring, VerifiedTokens
from alertbridge.logs import get_logger
from alertbridge.ops import Health, Metrics
from alertbridge.pubsub import Publisher
from alertbridge.ratelimit import TokenBuckets
from alertbridge.settings import Settings
from alertbridge.state import StateStore
from alertbridge.tenants import Tenants, load_tenants, loads_tenants

log = get_logger(__name__)


@dataclass
class Runtime:
    settings: Settings
    tenants: Tenants
    keyring: Keyring | None = field(repr=False)
    emulator_host: str | None = None
    clock: Callable[[], float] = time.time
    firestore_host: str | None = None
    metrics: Metrics = field(default_factory=Metrics, repr=False)
    health: Health = field(default_factory=Health, repr=False)
    limits: TokenBuckets = field(default_factory=TokenBuckets, repr=False)
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens, repr=False)
    _publisher: Publisher | None = field(default=None, repr=False)
    _state: StateStore | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_env(cls) -> Runtime:
        settings = Settings.from_env()
        if settings.tenants_inline:
            tenants = loads_tenants(settings.tenants_inline, origin="ALERTBRIDGE_TENANTS")
        elif settings.tenants_file:
            tenants = load_tenants(settings.tenants_file)
        else:
            raise RuntimeError("set ALERTBRIDGE_TENANTS_FILE or ALERTBRIDGE_TENANTS")
        keyring = (
            Keyring.from_json(settings.jwt_keys_json, settings.jwt_active_kid)
            if settings.jwt_keys_json
            else None
        )
        return cls(
            settings,
            tenants,
            keyring,
            os.environ.get("PUBSUB_EMULATOR_HOST"),
            firestore_host=os.environ.get("FIRESTORE_EMULATOR_HOST"),
        )

    @property
    def publisher(self) -> Publisher:
        if self._publisher is None:
            with self._lock:
                if self._publisher is None:
                    self._publisher = Publisher(
                        self.settings.project_id,
                        self.emulator_host,
                        timeout_s=self.settings.publish_timeout_s,
                        max_latency_s=self.settings.publish_max_latency_s,
                    )
        return self._publisher

    @property
    def state(self) -> StateStore:
        """Durable per-key state (Firestore), created on first use."""
        if self._state is None:
            with self._lock:
                if self._state is None:
                    from alertbridge.state import FirestoreStore

                    self._state = FirestoreStore(
                        self.settings.project_id,
                        self.firestore_host,
                        database=self.settings.firestore_database,
                    )
        return self._state

    @state.setter
    def state(self, store: StateStore) -> None:
        self._state = store

    def close(self) -> None:
        self.health.stop()
        if self._publisher is not None:
            self._publisher.stop()
        self._publisher = None


_current: Runtime | None = None
_current_lock = threading.Lock()


def get_runtime() -> Runtime:
    global _current
    if _current is None:
        with _current_lock:
            if _current is None:
                _current = Runtime.from_env()
                log.info(
                    "runtime ready",
                    tenants=len(_current.tenants),
                    project=_current.settings.project_id,
                )
    return _current


def set_runtime(runtime: Runtime | None) -> None:
    global _current
    with _current_lock:
        _current = runtime
