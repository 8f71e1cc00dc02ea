"""Process configuration, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PROJECT = "alertbridge-local"
INGEST_TOPIC = "alertbridge-ingest"
DEAD_LETTER_TOPIC = "alertbridge-dead-letter"
MAX_BODY_BYTES = 254 * 1024
# Adobe I/O Events publishes its signing keys here (developer.adobe.com/events/docs/guides,
# "Digital signatures"); configurable so tests and the local stack run a key server.
ADOBE_KEY_HOST = "https://static.adobeioevents.com"  # seed 004: "maximum payload size to 254 kb"


def _bool(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _hops(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise ValueError(f"{name} must be a whole number of proxies >= 0, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Settings:
    project_id: str = DEFAULT_PROJECT
    ingest_topic: str = INGEST_TOPIC
    dead_letter_topic: str = DEAD_LETTER_TOPIC
    tenants_file: Path | None = None
    tenants_inline: str | None = field(default=None, repr=False)
    jwt_keys_json: str | None = field(default=None, repr=False)
    jwt_active_kid: str | None = None
    publish_timeout_s: float = 5.0
    publish_max_latency_s: float = 0.001
    max_body_bytes: int = MAX_BODY_BYTES
    max_delivery_attempts: int = 5
    firestore_database: str = "(default)"
    adobe_client_id: str | None = None
    adobe_client_secret: str | None = field(default=None, repr=False)
    adobe_key_host: str = ADOBE_KEY_HOST
    adobe_key_ttl_s: float = 24 * 3600.0
    # Proxies whose X-Forwarded-For entries are trusted, counted from the right: 1 on Cloud
    # Functions (Google's front end appends the caller's address), 0 = the socket peer.
    trusted_proxy_hops: int = 1
    adobe_allow_missing_recipient: bool = False
    run_time_max_skew_s: float = 3600.0
    # One hop (pipeline/inline.py): normalise in the ingress; the run-order store's budget.
    inline_normalize: bool = True
    inline_state_budget_s: float = 2.0

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        tenants_file = env.get("ALERTBRIDGE_TENANTS_FILE")
        if not tenants_file and not env.get("ALERTBRIDGE_TENANTS"):
            bundled = Path(__file__).resolve().parent.parent / "tenants.yaml"
            tenants_file = str(bundled) if bundled.exists() else None
        return cls(
            project_id=env.get("ALERTBRIDGE_PROJECT")
            or env.get("GOOGLE_CLOUD_PROJECT")
            or env.get("GCP_PROJECT")
            or DEFAULT_PROJECT,
            ingest_topic=env.get("ALERTBRIDGE_INGEST_TOPIC", INGEST_TOPIC),
            dead_letter_topic=env.get("ALERTBRIDGE_DEAD_LETTER_TOPIC", DEAD_LETTER_TOPIC),
            tenants_file=Path(tenants_file) if tenants_file else None,
            tenants_inline=env.get("ALERTBRIDGE_TENANTS"),
            jwt_keys_json=env.get("ALERTBRIDGE_JWT_KEYS"),
            jwt_active_kid=env.get("ALERTBRIDGE_JWT_ACTIVE_KID"),
            publish_timeout_s=_float("ALERTBRIDGE_PUBLISH_TIMEOUT", 5.0),
            publish_max_latency_s=_float("ALERTBRIDGE_PUBLISH_MAX_LATENCY", 0.001),
            max_delivery_attempts=int(env.get("ALERTBRIDGE_MAX_DELIVERY_ATTEMPTS", "5")),
            firestore_database=env.get("ALERTBRIDGE_FIRESTORE_DATABASE", "(default)"),
            adobe_client_id=env.get("ALERTBRIDGE_ADOBE_CLIENT_ID") or None,
            adobe_client_secret=env.get("ALERTBRIDGE_ADOBE_CLIENT_SECRET") or None,
            adobe_key_host=env.get("ALERTBRIDGE_ADOBE_KEY_HOST", ADOBE_KEY_HOST).rstrip("/"),
            adobe_key_ttl_s=_float("ALERTBRIDGE_ADOBE_KEY_TTL", 24 * 3600.0),
            trusted_proxy_hops=_hops("ALERTBRIDGE_TRUSTED_PROXY_HOPS", 1),
            adobe_allow_missing_recipient=_bool("ALERTBRIDGE_ADOBE_ALLOW_MISSING_RECIPIENT"),
            run_time_max_skew_s=_float("ALERTBRIDGE_RUN_TIME_MAX_SKEW", 3600.0),
            inline_normalize=env.get("ALERTBRIDGE_INLINE_NORMALIZE", "1").strip() != "0",
            inline_state_budget_s=_float("ALERTBRIDGE_INLINE_STATE_BUDGET", 2.0),
        )
