"""How the connection settings become TLS for a Temporal cluster: what each combination means, and
a clear error for the ones that contradict each other."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from journeys_app.core.settings import Settings
from journeys_app.core.temporal import TemporalSettingsError, tls_config


def _files(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name in ("ca", "cert", "key"):
        paths[name] = tmp_path / f"{name}.pem"
        paths[name].write_bytes(f"-----BEGIN {name}-----".encode())
    return paths


def test_plain_unless_a_key_or_files_ask_for_tls():
    assert tls_config(Settings()) is False
    assert tls_config(Settings(temporal_api_key="cloud-key")) is True  # Temporal Cloud: system CAs
    assert tls_config(Settings(temporal_tls=True)) is True
    assert tls_config(Settings(temporal_api_key="k", temporal_tls=False)) is False  # a proxy ends TLS


def test_files_make_mutual_tls_with_a_private_ca(tmp_path: Path):
    files = _files(tmp_path)
    config = tls_config(
        Settings(
            temporal_tls_ca_file=files["ca"],
            temporal_tls_cert_file=files["cert"],
            temporal_tls_key_file=files["key"],
            temporal_tls_server_name="temporal.internal",
        )
    )
    assert isinstance(config, TLSConfig)
    assert config.server_root_ca_cert == b"-----BEGIN ca-----"
    assert (
        config.client_cert == b"-----BEGIN cert-----" and config.client_private_key == b"-----BEGIN key-----"
    )
    assert config.domain == "temporal.internal"
    only_name = tls_config(Settings(temporal_tls=True, temporal_tls_server_name="t.example"))
    assert isinstance(only_name, TLSConfig) and only_name.server_root_ca_cert is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"temporal_tls_cert_file": "cert"}, "go together"),
        ({"temporal_tls_key_file": "key"}, "go together"),
        ({"temporal_tls_ca_file": "ca", "temporal_tls": False}, "JOURNEYS_TEMPORAL_TLS is false"),
        ({"temporal_tls_ca_file": "missing.pem"}, "JOURNEYS_TEMPORAL_TLS_CA_FILE: cannot read"),
    ],
)
def test_contradictions_and_unreadable_files_are_named(
    tmp_path: Path, settings: dict[str, str], message: str
):
    files = _files(tmp_path)
    values = {k: files.get(v, tmp_path / v) for k, v in settings.items() if k != "temporal_tls"}
    if "temporal_tls" in settings:
        values["temporal_tls"] = settings["temporal_tls"]  # type: ignore[assignment]
    with pytest.raises(TemporalSettingsError, match=message):
        tls_config(Settings(**values))
