"""Source kinds: every kind of file the ingest reads is ONE entry of `KINDS`.

An entry says how the kind is recognised from its header set (tests run by descending
`priority`, the first that matches wins), which family it belongs to (survey | roster | cop_log:
the family decides the tables it is written to), the order files are imported in (rosters first,
so a visit is checked against the roster given in the same command), its meta fields (header
after the group path -> staged column), its identity-and-edit rule (survey kinds: how
submission_id, instance_id, edit_rank and version_time come from the staged meta columns) and its
config key under `sources` (group separator, date formats, column mapping).

Adding a kind = one entry here (+ a default under `sources` in sustain/config.py if it needs one).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable, Mapping

import pandas as pd

from .read import FileRefused
from .tables import COP_FIELDS, COP_REQUIRED, ROSTER_FIELDS, ROSTER_REQUIRED

Identity = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass(frozen=True)
class SourceKind:
    name: str
    label: str
    family: str  # survey | roster | cop_log
    order: int  # import order within one command (lower first)
    priority: int  # detection: higher is tested first
    detect: Callable[[frozenset[str]], bool]
    signature: str  # the headers that identify it, for the refusal message
    config_key: str  # sources.<config_key>
    meta_fields: Mapping[str, str] = field(default_factory=dict)  # header (group path stripped) -> staged column
    identity: Identity | None = None  # survey kinds: staged meta columns -> submission_id, instance_id, edit_rank, version_time
    fields: tuple[str, ...] = ()  # roster / CoP log: canonical fields kept
    required: tuple[str, ...] = ()  # roster / CoP log: fields a file must have

    def source(self, config):
        return getattr(config.sources, self.config_key)

    def header_parts(self, header: str, source) -> list[str]:
        """A survey header split on its group path (`/` always, as select_multiple splits use it)."""
        return [p for chunk in header.split(source.group_separator) for p in chunk.split("/")]

    def field_of(self, header: str, config) -> str:
        """The canonical field a header is read as (config mapping first, then the group path stripped)."""
        source = self.source(config)
        mapped = source.columns.get(header)
        if mapped or self.family != "survey":
            return mapped or header
        return self.header_parts(header, source)[-1]


def _no_prefix(series: pd.Series) -> pd.Series:
    return series.astype(str).str.strip().str.removeprefix("uuid:")


def _kobo_identity(staged: pd.DataFrame) -> pd.DataFrame:
    """Identity = `meta/rootUuid`, else `_uuid`, else `meta/instanceID`. edit_rank 1 when the row
    carries `meta/deprecatedID` or its instance id differs from its root (an edit), else 0;
    version_time = `end`."""
    root, uuid = _no_prefix(staged["root_uuid"]), _no_prefix(staged["uuid"])
    instance = _no_prefix(staged["instance_id"]).where(lambda s: s != "", uuid)
    staged["submission_id"] = root.where(root != "", uuid).where(lambda s: s != "", instance)
    staged["instance_id"] = instance.where(instance != "", staged["submission_id"])
    edited = (staged["deprecated_id"].str.strip() != "") | ((root != "") & (instance != "") & (root != instance))
    staged["edit_rank"] = edited.astype(int).astype(str)
    staged["version_time"] = staged["end"]
    return staged


def _odk_identity(staged: pd.DataFrame) -> pd.DataFrame:
    """Identity = `KEY` (the root of the instance id chain), else `meta-instanceID`;
    edit_rank = `Edits`; version_time = `SubmissionDate` (UTC ISO)."""
    key, instance = _no_prefix(staged["key"]), _no_prefix(staged["instance_id"])
    staged["submission_id"] = key.where(key != "", instance)
    staged["instance_id"] = instance.where(instance != "", staged["submission_id"])
    staged["edit_rank"] = staged["edits"].str.strip()
    staged["version_time"] = staged["submitted_at"]
    return staged


# SurveyCTO writes its timestamps as "Nov 25, 2026 10:15:30 AM" (server time, no zone)
SURVEYCTO_TIME = "%b %d, %Y %I:%M:%S %p"
REVIEWED = {"approved", "rejected"}


def _surveycto_time(value: str) -> str:
    text = value.strip()
    try:
        return dt.datetime.strptime(text, SURVEYCTO_TIME).isoformat()
    except ValueError:
        return text  # an ISO time passes through; anything else leaves version_time empty (null)


def _surveycto_identity(staged: pd.DataFrame) -> pd.DataFrame:
    """Identity = `KEY` without `uuid:` (else `instanceID`). A correction made in SurveyCTO's review
    workflow keeps the KEY and the SubmissionDate, so neither can order versions: edit_rank is the
    review stage (0 not reviewed or pending, 1 approved or rejected: a reviewer may have corrected
    it), and version_time = SubmissionDate. Two exports of one KEY at the same stage with different
    content are therefore a conflict (quarantined, the stored row kept), never a silent overwrite.
    `formdef_version` is the form's version, not the submission's: it is read but not ranked on."""
    key, instance = _no_prefix(staged["key"]), _no_prefix(staged["instance_id"])
    staged["submission_id"] = key.where(key != "", instance)
    staged["instance_id"] = instance.where(instance != "", staged["submission_id"])
    reviewed = staged["review_status"].str.strip().str.lower().isin(REVIEWED)
    staged["edit_rank"] = reviewed.astype(int).astype(str)
    staged["submitted_at"] = staged["submitted_at"].map(_surveycto_time)
    staged["version_time"] = staged["submitted_at"]
    return staged


ODK_MARKERS = frozenset({"meta-instanceID", "FormVersion", "ReviewState"})

KINDS: dict[str, SourceKind] = {kind.name: kind for kind in (
    SourceKind(
        name="roster", label="roster", family="roster", order=0, priority=10, config_key="roster",
        detect=lambda names: {"teacher_id", "school_id", "programme"} <= names,
        signature="a roster (teacher_id, school_id, programme)",
        fields=tuple(ROSTER_FIELDS), required=tuple(ROSTER_REQUIRED),
    ),
    SourceKind(
        name="cop_log", label="CoP meeting log", family="cop_log", order=1, priority=5, config_key="cop_log",
        detect=lambda names: {"cluster", "meeting_date"} <= names,
        signature="a CoP log (cluster, meeting_date)",
        fields=tuple(COP_FIELDS), required=tuple(COP_REQUIRED),
    ),
    SourceKind(
        name="kobo", label="KoboToolbox export", family="survey", order=2, priority=40, config_key="kobo",
        detect=lambda names: bool(names & {"_uuid", "meta/rootUuid", "_submission_time"}),
        signature="a KoboToolbox export (_uuid, _submission_time)",
        meta_fields={"instanceID": "instance_id", "rootUuid": "root_uuid", "deprecatedID": "deprecated_id",
                     "_uuid": "uuid", "_submission_time": "submitted_at", "end": "end"},
        identity=_kobo_identity,
    ),
    # SurveyCTO and ODK Central both write SubmissionDate and KEY: SurveyCTO is tested first and
    # needs `formdef_version` (in every SurveyCTO export) and none of ODK's own system columns, so
    # an ODK form with a question named review_status or formdef_version stays ODK.
    SourceKind(
        name="surveycto", label="SurveyCTO export", family="survey", order=2, priority=30, config_key="surveycto",
        detect=lambda names: {"KEY", "formdef_version"} <= names and not names & ODK_MARKERS,
        signature="a SurveyCTO export (KEY, formdef_version)",
        meta_fields={"instanceID": "instance_id", "KEY": "key", "SubmissionDate": "submitted_at",
                     "review_status": "review_status"},
        identity=_surveycto_identity,
    ),
    SourceKind(
        name="odk", label="ODK Central export", family="survey", order=2, priority=20, config_key="odk",
        detect=lambda names: bool(names & {"meta-instanceID", "SubmissionDate"}),
        signature="an ODK Central export (meta-instanceID, SubmissionDate)",
        meta_fields={"instanceID": "instance_id", "KEY": "key", "SubmissionDate": "submitted_at", "Edits": "edits"},
        identity=_odk_identity,
    ),
)}

KIND_LABELS = {name: kind.label for name, kind in KINDS.items()}
SURVEY_KINDS = [name for name, kind in KINDS.items() if kind.family == "survey"]


def detect_kind(headers: list[str]) -> str:
    """Tell the kind of file from its headers alone (the highest-priority kind that matches)."""
    names = frozenset(headers)
    for kind in sorted(KINDS.values(), key=lambda k: -k.priority):
        if kind.detect(names):
            return kind.name
    expected = ", ".join(k.signature for k in sorted(KINDS.values(), key=lambda k: -k.priority))
    raise FileRefused(f"could not tell the kind of file from its headers; expected {expected}")
