"""The local backend makes idle OpenMP threads sleep, unless the operator chose otherwise."""

from __future__ import annotations

import os

from inference_worker.encoder import passive_openmp


def test_idle_openmp_threads_sleep_by_default(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    passive_openmp()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_an_operators_policy_is_kept(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    passive_openmp()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
