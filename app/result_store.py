"""The result store: every table a page asks for, kept on disk per data version and shared by
all dashboard server processes and their sessions (README "Serving many users", issue 12).

Why: Streamlit's `st.cache_data` lives in one process. Behind a load balancer each server, and
each restart, computed every view again, and a country view at a million teachers costs seconds;
read back from here it costs milliseconds. `python -m app.warm` fills the store with every page's
default views after an import, so the first officer of the day does not wait either.

Layout: `<database>.results/<data version>/<table key>.arrow` beside the database file (or the
published pointer). The version folder is named after `sustain.db.version_id` (the published
version, or the file's modification time), so a new import is never answered from an older one.
A table's key hashes everything its figures depend on besides the data: the table's name, its
`by`, every field of its `Filters` (the viewer's district scope included), the config file's
content (thresholds, practices, ...) and the source of the code that computes it (`metrics/`,
`sustain/`), so an upgrade of Sustain or a changed threshold is never answered from an older
result either.

Models: the fit a view's figures rest on, made once per data version (retention's latent model,
metrics/as_scored.py: 3.3 s at a million teachers), is kept too, in the version folder's `models`
subfolder (`ModelKeeper`), so a server process that has not fitted it (a restart, another server)
reads it (0.3 s) instead of fitting it again.

Format: Arrow IPC files compressed with LZ4 (the country's 166,667-row schools
table at a million teachers: 50-80 ms to read, against 175-480 ms as Parquet, for a file half again as
big).

Safety: Arrow files hold data, never code (no pickle): a file someone slipped into the folder can
only be wrong data for a key they can compute, and the folder sits beside the database, which is
the data. Each file is written under a temporary name and renamed into place, so a reader sees a
whole file or none. A file that cannot be read is recomputed; a folder that cannot be written (a
read-only disk) only means the table is computed each time. The store keeps at most
`MAX_TABLES` tables per version (new filter combinations beyond it are computed, not kept), and a
folder of an older version is removed once it has gone unused for the publish grace period.
"""
from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Sequence

import pandas as pd
import pyarrow as pa

from metrics import Filters, as_scored
from metrics.lookups import filter_choices
from metrics.registry import TABLES
from sustain.config import Config
from sustain.db import read_only, version_id
from sustain.fingerprints import config_digest, source_digest

# the code a stored table's figures come from (its source is part of every key)
CODE_PACKAGES = ("metrics", "sustain")
MAX_TABLES = 20_000
SUFFIX = ".results"
SUFFIX_TABLE = ".arrow"
WRITE_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")
# the key, as JSON, in each file's schema metadata: what the table is (for `stored_keys`)
KEY_FIELD = b"sustain_key"
ATTRS_FIELD = b"sustain_attrs"
# the key name of the sidebar's choices (not a table of metrics.registry.TABLES)
CHOICES = "filter_choices"
# the subfolder of a version's folder where fitted models are kept (`ModelKeeper`)
MODELS = "models"

log = logging.getLogger(__name__)


def code_fingerprint() -> str:
    """A hash of the source of the packages that compute the tables (read once per process)."""
    return source_digest(CODE_PACKAGES)


def store_folder(db: str | Path) -> Path:
    db = Path(db)
    return db.with_name(db.name + SUFFIX)


def _version_folder(db: str | Path, version: str) -> Path:
    return store_folder(db) / hashlib.sha256(version.encode()).hexdigest()[:20]


def table_key(name: str, filters: Filters, by: Sequence[str], config: Config) -> dict:
    """What a table's figures depend on, besides the data version (JSON-ready)."""
    key = {"name": name, "by": list(by), "filters": dataclasses.asdict(filters),
           "config": config_digest(config),
           "code": code_fingerprint()}
    return _as_read_back(key)


def _as_read_back(key: dict) -> dict:
    """`key` as it reads back from a kept file's metadata (JSON: tuples as lists)."""
    return json.loads(json.dumps(key, sort_keys=True))


def _kept_path(db: str | Path, version: str, key: dict, part: str = "") -> Path:
    """Where the table for `key` is kept at `version` (in the version folder's subfolder `part`)."""
    return _version_folder(db, version) / part / _file_name(key)


def _file_name(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32] + SUFFIX_TABLE


def read_stored(db: str | Path, version: str, key: dict) -> pd.DataFrame | None:
    """The stored table for `key` at `version`, or None (not stored, or unreadable)."""
    table = _read_table(_kept_path(db, version, key), key)
    return None if table is None else _frame_of(table)


def _read_table(path: Path, key: dict) -> pa.Table | None:
    """The Arrow table kept at `path` for `key`, or None (not kept, unreadable, or another key's)."""
    try:
        # memory-mapped: the compressed buffers are decompressed straight from the page cache (a
        # buffered read of the country's 24 MB schools table at a million teachers took 30-190 ms,
        # the map 18 ms). A kept file is never written in place (`write_stored` replaces it whole),
        # so a buffer left uncompressed and still mapped stays valid when the file is replaced or
        # removed
        with pa.memory_map(str(path), "r") as source:
            table = pa.ipc.open_file(source).read_all()
    except FileNotFoundError:
        return None
    except Exception as exc:  # a damaged or foreign file: computed again (and rewritten)
        log.warning("result store: %s unreadable (%s); computing the table", path.name, exc)
        return None
    if json.loads((table.schema.metadata or {}).get(KEY_FIELD, b"null")) != key:  # a hash collision or a planted file
        return None
    return table


# the type a list column of nothing but missing values (list<null>) is read as: pd.ArrowDtype gives
# such a column broken offsets (pyarrow 26); typed as numbers, its cells read back the same
LIST_OF_NOTHING_AS = pa.list_(pa.float64())


def _frame_of(table: pa.Table) -> pd.DataFrame:
    """The pandas table of a stored Arrow table. List columns (school_trends' retention by round)
    stay Arrow arrays (`pd.ArrowDtype`): a cell still reads back as a list (None where a round has no
    value), and the country's 166,667 schools at a million teachers convert in 1 ms instead of the
    280 ms of building a Python list per cell."""
    for index, field in enumerate(table.schema):
        if pa.types.is_list(field.type) and pa.types.is_null(field.type.value_type):
            table = table.set_column(index, field.with_type(LIST_OF_NOTHING_AS),
                                     table.column(index).cast(LIST_OF_NOTHING_AS))
    # the text columns become one Python string per cell (about a million objects for that
    # table): the cyclic garbage collector, which they would set off several times over the
    # server's whole heap, waits until they are made (none of them can be part of a cycle)
    collecting = gc.isenabled()
    gc.disable()
    try:
        frame = table.to_pandas(types_mapper=lambda arrow_type: pd.ArrowDtype(arrow_type)
                                if pa.types.is_list(arrow_type) else None)
    finally:
        if collecting:
            gc.enable()
    frame.attrs.update(json.loads((table.schema.metadata or {}).get(ATTRS_FIELD, b"{}")))
    return frame


def _as_arrow(frame: pd.DataFrame, key: dict) -> pa.Table:
    return _keyed(pa.Table.from_pandas(frame, preserve_index=True), key, frame.attrs)


def _keyed(table: pa.Table, key: dict, attrs: dict | None = None) -> pa.Table:
    """`table` with `key` (and a frame's `attrs`) in its schema's metadata, as every kept file."""
    metadata = dict(table.schema.metadata or {})
    metadata[KEY_FIELD] = json.dumps(key, sort_keys=True).encode()
    metadata[ATTRS_FIELD] = json.dumps(attrs or {}, default=str).encode()
    return table.replace_schema_metadata(metadata)


def write_stored(db: str | Path, version: str, key: dict, frame: pd.DataFrame | pa.Table,
                 grace_seconds: float, part: str = "") -> bool:
    """Keep `frame` (or its Arrow table, `_as_arrow`) for `key` at `version` (in its subfolder
    `part`, e.g. MODELS); False when it was not kept (folder full or not writable: the caller has
    the table anyway)."""
    version_folder = _version_folder(db, version)
    path = _kept_path(db, version, key, part)
    folder = path.parent
    try:
        if not version_folder.exists():
            version_folder.mkdir(parents=True, exist_ok=True)
            _remove_unused_versions(version_folder, grace_seconds)
        if not folder.exists():
            folder.mkdir(parents=True, exist_ok=True)
        elif sum(1 for _ in os.scandir(folder)) >= MAX_TABLES:
            return False
        table = frame if isinstance(frame, pa.Table) else _as_arrow(frame, key)
        draft = folder / f".{path.name}.{os.getpid()}.{time.monotonic_ns()}"
        with pa.ipc.new_file(str(draft), table.schema, options=WRITE_OPTIONS) as writer:
            writer.write_table(table)
        os.replace(draft, path)
        return True
    except OSError as exc:
        log.warning("result store: could not keep a table in %s (%s)", folder, exc)
        return False


def _remove_unused_versions(current: Path, grace_seconds: float) -> None:
    """Folders of other versions untouched for the grace period (their readers are gone)."""
    for other in current.parent.iterdir():
        if other != current and other.is_dir():
            try:
                if time.time() - other.stat().st_mtime > grace_seconds:
                    shutil.rmtree(other, ignore_errors=True)
            except FileNotFoundError:  # another server removed it first
                pass


def is_kept(db: str | Path, version: str, key: dict) -> bool:
    """A file is kept for `key` at `version` (without reading it)."""
    return _kept_path(db, version, key).exists()


class ModelKeeper:
    """Keeps the models metrics fits once per data version (metrics/as_scored.py `models_kept_by`)
    in the store's subfolder MODELS of that version, as Arrow tables like the pages' tables (a
    file holds numbers, never code), keyed with the code's fingerprint: every server process reads
    a model one of them (or the warm step) fitted, instead of fitting it again."""

    def __init__(self, db: str | Path, version: str, grace_seconds: float):
        self.db, self.version, self.grace_seconds = db, version, grace_seconds

    def _key(self, key: dict) -> dict:
        return _as_read_back(key | {"code": code_fingerprint()})

    def load(self, key: dict) -> pa.Table | None:
        key = self._key(key)
        return _read_table(_kept_path(self.db, self.version, key, MODELS), key)

    def save(self, key: dict, table: pa.Table) -> None:
        key = self._key(key)
        write_stored(self.db, self.version, key, _keyed(table, key), self.grace_seconds, part=MODELS)


def _kept_or_computed(db: str | Path, version: str | None, key: dict, config: Config, compute) -> pd.DataFrame:
    """The table kept for `key` at `version` (None: the data's current one), else `compute(con)`
    on a read-only connection (with the models kept beside the tables), kept."""
    version = version_id(db) if version is None else version
    stored = read_stored(db, version, key)
    if stored is not None:
        return stored
    keeper = ModelKeeper(db, version, config.publish.grace_seconds)
    with read_only(db) as con, as_scored.models_kept_by(keeper):
        table = _as_arrow(compute(con), key)
    write_stored(db, version, key, table, config.publish.grace_seconds)
    return _frame_of(table)  # as a later read gives it back: the first viewer sees the same types


def stored_table(name: str, filters: Filters, by: Sequence[str], db: str | Path, config: Config,
                 version: str | None = None) -> pd.DataFrame:
    """The table `TABLES[name](connection, filters, by, config)` at the data's current version:
    read from the store when kept, else computed and kept. `version` is the caller's
    `version_id(db)` when it keys its own cache on it (resolved before reading, so a key never
    names a newer version than the data it holds)."""
    return _kept_or_computed(db, version, table_key(name, filters, by, config), config,
                             lambda con: TABLES[name](con, filters, list(by), config))


def stored_choices(db: str | Path, scope: tuple[str, ...] | None, config: Config,
                   version: str | None = None) -> dict[str, list[str]]:
    """The sidebar's roster choices for a viewer's `scope` (metrics.lookups.filter_choices), kept
    like a table, one row per dimension and value (at a million teachers they cost half a second,
    on every server's first page)."""
    def as_table(con) -> pd.DataFrame:
        choices = filter_choices(con, scope)
        frame = pd.DataFrame([(name, value) for name, values in choices.items() for value in values],
                             columns=["dimension", "value"])
        frame.attrs["dimensions"] = list(choices)
        return frame

    table = _kept_or_computed(db, version, table_key(CHOICES, Filters(scope=scope), (), config), config, as_table)
    values = table.groupby("dimension", sort=False)["value"].agg(list)
    return {name: values.get(name, []) for name in table.attrs["dimensions"]}


def stored_keys(db: str | Path, version: str | None = None) -> list[dict]:
    """The keys of every table kept for the data's current version (oldest first)."""
    folder = _version_folder(db, version_id(db) if version is None else version)
    if not folder.is_dir():
        return []
    paths = sorted(folder.glob("*" + SUFFIX_TABLE), key=lambda p: p.stat().st_mtime_ns)
    return [json.loads(pa.ipc.open_file(str(p)).schema.metadata[KEY_FIELD]) for p in paths]
