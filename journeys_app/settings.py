"""One settings object for every process. Environment variables use the `JOURNEYS_` prefix;
`TEMPORAL_ADDRESS` and `DATABASE_URL` are also read without it, as operators expect."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
    embedded_temporal_port: int = 7233
    embedded_temporal_ui_port: int = 8233
    journey_task_queue: str = "journeys"
    inference_task_queue: str = "inference"

    # Database. Empty = SQLite file under state_dir.
    database_url: str = Field(
        default="", validation_alias=AliasChoices("JOURNEYS_DATABASE_URL", "DATABASE_URL")
    )

    # Inference worker.
    inference_backend: Literal["local"] = "local"
    model_threads: int = 2
    intent_min_confidence: float = 0.45  # below this the label is "unknown"
    copy_max_tokens: int = 48

    # Internal notification targets: name -> webhook URL (JSON), e.g. {"support-leads": "https://…"}.
    notify_targets: dict[str, str] = Field(default_factory=dict)

    # Tracing: none, console or otlp (OTEL_EXPORTER_OTLP_ENDPOINT picks the collector).
    tracing: Literal["none", "console", "otlp"] = "none"
    service_name: str = "ma-journeys"

    log_level: str = "INFO"

    # Audit log entries older than this many days go with `journeys audit purge` (customer asks ≥ 180).
    audit_retention_days: int = 180

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.state_dir / 'journeys.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
