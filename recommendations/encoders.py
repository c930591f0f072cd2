"""Per-process cache of loaded encoders, keyed by model version.

TensorFlow is imported only when an encoder is first needed, never at import
time, so a web or Celery parent that forks never carries TF state.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

_lock = threading.Lock()
_encoders: dict[str, object] = {}


def local_encoder_dir(storage_prefix: str) -> Path:
    """A local directory with the encoder files; downloads from remote storage once."""
    try:
        return Path(default_storage.path(storage_prefix))
    except NotImplementedError:  # e.g. S3: copy into a local cache
        target = Path(settings.VAR_DIR) / "cache" / storage_prefix
        if not (target / "config.json").exists():
            target.mkdir(parents=True, exist_ok=True)
            _dirs, files = default_storage.listdir(storage_prefix)
            for name in files:
                with default_storage.open(f"{storage_prefix}/{name}", "rb") as src, (target / name).open("wb") as dst:
                    shutil.copyfileobj(src, dst)
        return target


def get_encoder(encoder_path: str = ""):
    """The encoder for a version ('' = the sha256-verified base model)."""
    from recommendations.ml.encoder import Encoder

    key = f"{os.getpid()}:{encoder_path}"
    with _lock:
        if key not in _encoders:
            _encoders.clear()  # one model in memory at a time: ~1 GB each
            path = local_encoder_dir(encoder_path) if encoder_path else None
            _encoders[key] = Encoder.load(path)
        return _encoders[key]


@contextmanager
def scratch_dir(storage_prefix: str) -> Iterator[Path]:
    """An empty local directory for files on their way to ``storage_prefix``; removed after."""
    tmp = Path(settings.VAR_DIR) / "tmp" / storage_prefix.replace("/", "_")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def upload_encoder_dir(directory: Path, storage_prefix: str) -> str:
    """Copy the files an ``Encoder.save`` wrote through the storage API."""
    for file in sorted(directory.iterdir()):
        name = f"{storage_prefix}/{file.name}"
        if default_storage.exists(name):
            default_storage.delete(name)
        with file.open("rb") as handle:
            default_storage.save(name, handle)
    return storage_prefix

