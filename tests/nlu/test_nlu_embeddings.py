"""The ONNX MiniLM embedder: shapes, normalisation, meaning, sharing."""

from __future__ import annotations

import threading

import numpy as np

from nlu.embeddings import DIM, cosine, embed, get_embedder


def test_batch_shape_and_unit_norm():
    v = embed(["where is my order", "reset my password please", ""])
    assert v.shape == (3, DIM) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)


def test_empty_batch():
    assert embed([]).shape == (0, DIM)


def test_paraphrases_are_closer_than_unrelated():
    a, b, c = embed(["where is my package", "my order hasn't arrived", "i forgot my password"])
    assert cosine(a, b) > cosine(a, c) + 0.15


def test_batch_equals_single_despite_padding():
    texts = ["hi", "this is a much longer sentence about a late delivery of some shoes"]
    batch = embed(texts)
    singles = np.stack([get_embedder().embed_one(t) for t in texts])
    assert np.allclose(batch, singles, atol=1e-3)


def test_one_shared_model_across_threads():
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(get_embedder())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(e) for e in seen}) == 1


def test_cosine_of_zero_vector_is_zero():
    assert cosine(np.zeros(3), np.ones(3)) == 0.0
