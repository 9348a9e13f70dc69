"""The taxonomy file marketers edit: every label needs enough examples to learn from."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inference_worker.taxonomy import MIN_EXAMPLES, TaxonomyError, load_taxonomy
from journeys_app.core.settings import Settings


def test_the_shipped_taxonomy_has_enough_examples_per_label() -> None:
    taxonomy = load_taxonomy(Settings().journeys_dir / "intents.yaml")
    for head in (taxonomy.intents, taxonomy.sentiment, taxonomy.urgency):
        assert all(len(spec.examples) >= MIN_EXAMPLES for spec in head.values())


def test_a_label_with_too_few_examples_is_named(tmp_path: Path) -> None:
    data = yaml.safe_load((Settings().journeys_dir / "intents.yaml").read_text())
    data["intents"]["praise"]["examples"] = data["intents"]["praise"]["examples"][:3]
    path = tmp_path / "intents.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(TaxonomyError, match=r"praise.*at least 8"):
        load_taxonomy(path)


def test_example_embeddings_are_cached_by_taxonomy_content(tmp_path: Path) -> None:
    """The heads retrain at every start; only the examples' embeddings are cached."""
    import numpy as np

    from inference_worker.intent import IntentClassifier

    calls: list[int] = []

    def embed(texts):  # a stand-in embedder: this tests the cache, not the model
        calls.append(len(texts))
        rng = np.random.default_rng(len(texts))
        vectors = rng.normal(size=(len(texts), 8))
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    taxonomy = load_taxonomy(Settings().journeys_dir / "intents.yaml")
    IntentClassifier(taxonomy, embed, min_confidence=0.4, cache_dir=tmp_path)
    IntentClassifier(taxonomy, embed, min_confidence=0.4, cache_dir=tmp_path)
    examples = sum(
        len(s.examples) for h in (taxonomy.intents, taxonomy.sentiment, taxonomy.urgency) for s in h.values()
    )
    assert calls == [examples]  # the second start read the cache
    [cached] = tmp_path.glob("intent-examples-*.npy")

    edited = taxonomy.model_copy(deep=True)
    edited.intents["praise"].examples.append("What a lovely parcel, thank you!")
    IntentClassifier(edited, embed, min_confidence=0.4, cache_dir=tmp_path)
    assert calls == [examples, examples + 1]  # a changed taxonomy is embedded again
    assert len(list(tmp_path.glob("intent-examples-*.npy"))) == 2 and cached.exists()
