"""Everything a function needs at run time, built once per process.

Tests build a Runtime pointed at the emulator and a tenants file of their own and
install it; production builds it from the environment on first use. The tenants model
is built on first use too: the token function reads only the service accounts
(``auth/accounts.py``) and so never imports pydantic or the Pub/Sub client.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from alertbridge.auth.accounts import Accounts, load_accounts, read_tenants_text
from alertbridge.auth.tokens import Keyring, VerifiedTokens
from alertbridge.logs import get_logger
from alertbridge.ops import Health, Metrics
from alertbridge.ratelimit import TokenBuckets
from alertbridge.settings import Settings
from alertbridge.state import StateStore

if TYPE_CHECKING:
    from alertbridge.pubsub import Publisher
    from alertbridge.tenants import Tenants

log = get_logger(__name__)


@dataclass
class Runtime:
    settings: Settings
    _tenants: Tenants | None = field(repr=False)  # None: loaded from settings on first use
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
    _accounts: Accounts | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # its own lock: the health probe builds the publisher (a 0.3 s import) under ``_lock``
    _tenants_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_env(cls) -> Runtime:
        settings = Settings.from_env()
        if not settings.tenants_inline and not settings.tenants_file:
            raise RuntimeError("set ALERTBRIDGE_TENANTS_FILE or ALERTBRIDGE_TENANTS")
        keyring = (
            Keyring.from_json(settings.jwt_keys_json, settings.jwt_active_kid)
            if settings.jwt_keys_json
            else None
        )
        return cls(
            settings,
            None,
            keyring,
            os.environ.get("PUBSUB_EMULATOR_HOST"),
            firestore_host=os.environ.get("FIRESTORE_EMULATOR_HOST"),
        )

    @property
    def tenants(self) -> Tenants:
        """The validated tenants file, read on first use (every function but the token one)."""
        if self._tenants is None:
            with self._tenants_lock:
                if self._tenants is None:
                    from alertbridge.tenants import loads_tenants

                    text, origin = read_tenants_text(
                        self.settings.tenants_inline, self.settings.tenants_file
                    )
                    self._tenants = loads_tenants(text, origin=origin)
                    log.info("tenants loaded", tenants=len(self._tenants), origin=origin)
        return self._tenants

    @tenants.setter
    def tenants(self, tenants: Tenants) -> None:
        self._tenants = tenants

    @property
    def accounts(self) -> Accounts:
        """Service accounts: the loaded tenants' own, or read alone from the same file."""
        if self._tenants is not None:
            return self._tenants.accounts
        if self._accounts is None:
            with self._tenants_lock:
                if self._accounts is None:
                    self._accounts = load_accounts(
                        self.settings.tenants_inline, self.settings.tenants_file
                    )
        return self._accounts

    @property
    def publisher(self) -> Publisher:
        if self._publisher is None:
            with self._lock:
                if self._publisher is None:
                    from alertbridge.pubsub import Publisher

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
                log.info("runtime ready", project=_current.settings.project_id)
    return _current


def set_runtime(runtime: Runtime | None) -> None:
    global _current
    with _current_lock:
        _current = runtime
