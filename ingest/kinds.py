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

from .read import FileRefused, py_strip
from .survey import FORM_FIELDS
from .tables import COP_FIELDS, COP_REQUIRED, ROSTER_FIELDS, ROSTER_REQUIRED

Identity = Callable[[object], None]  # makes temp table `staged` from `staged_base` (a DuckDB connection)


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
    identity: Identity | None = None  # survey kinds: staged meta columns -> submission_id, instance_id, edit_rank, version_time (SQL)
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


def _no_prefix(column: str) -> str:
    """SQL: the column stripped (as Python's str.strip()) and one leading `uuid:` removed."""
    return f"regexp_replace({_strip(column)}, '^uuid:', '')"


_strip = py_strip


def _restage(con, derived: str, source: str = "staged_base") -> None:
    """`staged` = `source` without its meta columns (instance_id and submitted_at kept, as derived
    by `derived`, a select list over the CTE `ids`)."""
    kept = ", ".join(["_row", *FORM_FIELDS,
                      *(c[0] for c in con.execute(f"select name from pragma_table_info('{source}')").fetchall()
                        if c[0].startswith("practice__"))])
    con.execute("drop table if exists staged")
    con.execute(f"create temp table staged as select {kept}, {derived} from ids")


def _kobo_identity(con) -> None:
    """Identity = `meta/rootUuid`, else `_uuid`, else `meta/instanceID`. edit_rank 1 when the row
    carries `meta/deprecatedID` or its instance id differs from its root (an edit), else 0;
    version_time = `end`."""
    con.execute(f"""create or replace temp view ids as
        with bare as (
            select *, {_no_prefix('root_uuid')} as root_bare, {_no_prefix('uuid')} as uuid_bare,
                   {_no_prefix('instance_id')} as instance_bare from staged_base
        ),
        chosen as (
            select *, case when instance_bare <> '' then instance_bare else uuid_bare end as instance_chosen
            from bare
        ),
        identified as (
            select *, case when root_bare <> '' then root_bare when uuid_bare <> '' then uuid_bare
                           else instance_chosen end as submission_key
            from chosen
        )
        select * from identified""")
    _restage(con, """case when instance_chosen <> '' then instance_chosen else submission_key end as instance_id,
                     submitted_at, submission_key as submission_id,
                     case when """ + _strip("deprecated_id") + """ <> ''
                               or (root_bare <> '' and instance_chosen <> '' and root_bare <> instance_chosen)
                          then '1' else '0' end as edit_rank,
                     "end" as version_time""")
    con.execute("drop view ids")


def _odk_identity(con) -> None:
    """Identity = `KEY` (the root of the instance id chain), else `meta-instanceID`;
    edit_rank = `Edits`; version_time = `SubmissionDate` (UTC ISO)."""
    con.execute(f"""create or replace temp view ids as
        with bare as (
            select *, {_no_prefix('key')} as key_bare, {_no_prefix('instance_id')} as instance_bare from staged_base
        )
        select *, case when key_bare <> '' then key_bare else instance_bare end as submission_key from bare""")
    _restage(con, f"""case when instance_bare <> '' then instance_bare else submission_key end as instance_id,
                      submitted_at, submission_key as submission_id, {_strip('edits')} as edit_rank,
                      submitted_at as version_time""")
    con.execute("drop view ids")


# SurveyCTO writes its timestamps as "Nov 25, 2026 10:15:30 AM" (server time, no zone)
SURVEYCTO_TIME = "%b %d, %Y %I:%M:%S %p"
REVIEWED = {"approved", "rejected"}


def _surveycto_time(value: str) -> str:
    text = value.strip()
    try:
        return dt.datetime.strptime(text, SURVEYCTO_TIME).isoformat()
    except ValueError:
        return text  # an ISO time passes through; anything else leaves version_time empty (null)


def _surveycto_identity(con) -> None:
    """Identity = `KEY` without `uuid:` (else `instanceID`). A correction made in SurveyCTO's review
    workflow keeps the KEY and the SubmissionDate, so neither can order versions: edit_rank is the
    review stage (0 not reviewed or pending, 1 approved or rejected: a reviewer may have corrected
    it), and version_time = SubmissionDate. Two exports of one KEY at the same stage with different
    content are therefore a conflict (quarantined, the stored row kept), never a silent overwrite.
    `formdef_version` is the form's version, not the submission's: it is read but not ranked on.
    The times are converted in Python, once per distinct value."""
    distinct = [value for (value,) in con.execute("select distinct submitted_at from staged_base").fetchall()]
    times = pd.DataFrame({"submitted_at": pd.Series(distinct, dtype=object),
                          "submitted_iso": pd.Series([_surveycto_time(v) for v in distinct], dtype=object)})
    con.register("surveycto_times", times)
    try:
        con.execute(f"""create or replace temp view ids as
            with bare as (
                select b.*, {_no_prefix('key')} as key_bare, {_no_prefix('instance_id')} as instance_bare,
                       t.submitted_iso
                from staged_base b join surveycto_times t using (submitted_at)
            )
            select *, case when key_bare <> '' then key_bare else instance_bare end as submission_key from bare""")
        _restage(con, f"""case when instance_bare <> '' then instance_bare else submission_key end as instance_id,
                          submitted_iso as submitted_at, submission_key as submission_id,
                          case when lower({_strip('review_status')}) in ({', '.join(repr(v) for v in sorted(REVIEWED))}) then '1' else '0' end
                              as edit_rank,
                          submitted_iso as version_time""")
        con.execute("drop view ids")
    finally:
        con.unregister("surveycto_times")


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
