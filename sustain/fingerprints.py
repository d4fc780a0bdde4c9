"""Fingerprints of what a result depends on besides the data: the configuration's content and the
source of the code that computed it. A kept result is reused only under the same fingerprints: the
result store's tables (app/result_store.py) and an import's reading of a file whose exact content
was imported before (ingest/core.py `reading_fingerprint`)."""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from .config import Config

ROOT = Path(__file__).resolve().parent.parent


def config_digest(config: Config) -> str:
    """A hash of the whole configuration's content (every setting, as validated)."""
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def source_digest(packages: tuple[str, ...]) -> str:
    """A hash of the source of `packages` (folders of the project, their `*.py` files), read once
    per process."""
    digest = hashlib.sha256()
    for package in packages:
        for path in sorted((ROOT / package).glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
