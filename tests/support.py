"""Write small, hand-readable export files in the exact formats the servers write.

Tests build their fixtures from plain dicts with these writers, then load them through the real
ingest into a temporary DuckDB file.
"""
from __future__ import annotations

import copy
import csv
import datetime as dt
import functools
from pathlib import Path

import yaml

from sustain.config import DAYS_PER_MONTH, DEFAULT_CONFIG, PROJECT_ROOT as ROOT_DIR, parse_yaml

PRACTICES = ["group_work", "questioning", "teaching_aids", "lesson_planning", "learning_environment", "peer_feedback"]
HINDRANCES = ["no_followup", "teacher_resistance", "management_resistance", "parent_resistance", "low_pay",
              "political_interference", "no_resources", "other"]
END = {"CBM": dt.date(2023, 12, 15), "CBT": dt.date(2024, 6, 14)}

ROSTER_HEADER = ["teacher_id", "teacher_name", "gender", "subject", "school_id", "school_name", "school_type",
                 "cluster", "district", "province", "programme"]


def write_config(tmp_path: Path, **changes) -> Path:
    """A copy of the project's config.yaml with its database in tmp_path; `changes` are merged in
    by dotted key, e.g. write_config(tmp, **{"thresholds.min_group_n": 1})."""
    data = _default_config()
    data["database"] = str(tmp_path / "sustain.duckdb")
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.dump(data, Dumper=YAML_DUMPER, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# libyaml's C dumper when installed: the pure-Python one costs milliseconds a config, and tests
# write hundreds (the text is the same)
YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _default_config() -> dict:
    """A fresh copy of the project's config.yaml as data (parsed once per file version)."""
    stat = DEFAULT_CONFIG.stat()
    return copy.deepcopy(_parsed_config(stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=2)
def _parsed_config(mtime_ns: int, size: int) -> dict:
    return parse_yaml(DEFAULT_CONFIG.read_text(encoding="utf-8"))


def teacher(teacher_id, school_id, cluster="THA-C1", district="Thatta", province="Sindh", programme="CBM",
            gender="female", subject="maths", school_type="primary", name=None, school_name=None) -> dict:
    return {"teacher_id": teacher_id, "teacher_name": name or f"Name of {teacher_id}", "gender": gender,
            "subject": subject, "school_id": school_id, "school_name": school_name or f"School {school_id}",
            "school_type": school_type, "cluster": cluster, "district": district, "province": province,
            "programme": programme}


def write_roster(path: Path, teachers: list[dict]) -> Path:
    """The roster's columns, plus any other key the rows carry (e.g. valid_from), in that order."""
    extra = [k for row in teachers for k in row if k not in ROSTER_HEADER]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=ROSTER_HEADER + list(dict.fromkeys(extra)))
        writer.writeheader()
        writer.writerows(teachers)
    return path


def visit(uid, teacher_id, school_id, month=0, programme="CBM", scores=None, status="present", hindrances="",
          district="Thatta", cluster="THA-C1", cop_active="yes", cop_meetings="2", comments="", visit_date=None,
          edits=0, root=None, end_time="2024-01-01T10:00:00.000+05:00") -> dict:
    """One visit; `scores` maps practice -> '1'..'4'/'na' (missing practices are left empty)."""
    date = visit_date or (END[programme] + dt.timedelta(days=round(month * DAYS_PER_MONTH))).isoformat()
    return {"uid": uid, "root": root or uid, "teacher_id": teacher_id, "school_id": school_id, "visit_date": date,
            "status": status, "scores": scores or {}, "hindrances": hindrances, "district": district,
            "cluster": cluster, "cop_active": cop_active, "cop_meetings": cop_meetings, "comments": comments,
            "edits": edits, "end": end_time}


def kobo_header() -> list[str]:
    return (["start", "end", "visit/visit_date", "visit/observer_id", "school/district", "school/cluster",
             "school/school_id", "teacher/teacher_id", "teacher/teacher_status"]
            + [f"practices/{p}" for p in PRACTICES]
            + ["context/hindrances"] + [f"context/hindrances/{h}" for h in HINDRANCES]
            + ["context/cop_active", "context/cop_meetings_3m", "comments", "meta/instanceID", "meta/rootUuid",
               "meta/deprecatedID", "_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status",
               "_submitted_by", "__version__", "_tags", "_index"])


def kobo_row(v: dict, index: int) -> list[str]:
    chosen = v["hindrances"].split()
    deprecated = "" if v["root"] == v["uid"] else f"uuid:{v['root']}"
    return ([v["end"], v["end"], v["visit_date"], "OBS-01", v["district"], v["cluster"], v["school_id"],
             v["teacher_id"], v["status"]]
            + [v["scores"].get(p, "") for p in PRACTICES]
            + [v["hindrances"]] + [("1" if h in chosen else "0") for h in HINDRANCES]
            + [v["cop_active"], v["cop_meetings"], v["comments"], f"uuid:{v['uid']}", f"uuid:{v['root']}",
               deprecated, str(1000 + index), v["uid"], "2024-01-02T09:00:00", "", "[]", "submitted_via_web",
               "enum1", "vAbc123", "[]", str(index)])


def write_kobo(path: Path, visits: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_ALL)
        writer.writerow(kobo_header())
        for index, v in enumerate(visits, start=1):
            writer.writerow(kobo_row(v, index))
    return path


def write_kobo_xlsx(path: Path, visits: list[dict]) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(kobo_header())
    for index, v in enumerate(visits, start=1):
        sheet.append(kobo_row(v, index))
    workbook.save(path)
    return path


ODK_HEADER = (["SubmissionDate", "start", "end", "visit-visit_date", "visit-observer_id", "school-district",
               "school-cluster", "school-school_id", "teacher-teacher_id", "teacher-teacher_status"]
              + [f"practices-{p}" for p in PRACTICES]
              + ["context-hindrances", "context-cop_active", "context-cop_meetings_3m", "comments",
                 "meta-instanceID", "KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent",
                 "AttachmentsExpected", "Status", "ReviewState", "DeviceID", "Edits", "FormVersion"])


def write_odk(path: Path, visits: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ODK_HEADER)
        for v in visits:
            submitted = f"2024-01-02T0{min(v['edits'], 9)}:00:00.000Z"
            writer.writerow([submitted, v["end"], v["end"], v["visit_date"], "OBS-02", v["district"], v["cluster"],
                             v["school_id"], v["teacher_id"], v["status"]]
                            + [v["scores"].get(p, "") for p in PRACTICES]
                            + [v["hindrances"], v["cop_active"], v["cop_meetings"], v["comments"],
                               f"uuid:{v['uid']}", f"uuid:{v['root']}", "5", "enumerator", "0", "0", "",
                               "edited" if v["edits"] else "", "collect:abc", str(v["edits"]), "2024010101"])
    return path


SURVEYCTO_HEADER = (["SubmissionDate", "starttime", "endtime", "deviceid", "subscriberid", "visit_date",
                     "observer_id", "district", "cluster", "school_id", "teacher_id", "teacher_status"]
                    + PRACTICES
                    + ["hindrances", "cop_active", "cop_meetings_3m", "comments", "instanceID", "formdef_version",
                       "review_status", "review_quality", "KEY"])


def surveycto_date(day: dt.date) -> str:
    """SurveyCTO's default date export: `Nov 5, 2026` (day not padded)."""
    return f"{day:%b} {day.day}, {day.year}"


def surveycto_time(moment: dt.datetime) -> str:
    """SurveyCTO's timestamps: `Nov 25, 2026 10:15:30 AM`."""
    return f"{surveycto_date(moment.date())} {int(moment.strftime('%I'))}:{moment:%M:%S} {moment:%p}"


def write_surveycto(path: Path, visits: list[dict], header: list[str] = SURVEYCTO_HEADER) -> Path:
    """SurveyCTO's CSV export: `,`-separated, field names without group paths, dates like
    `Nov 5, 2026`, KEY = instanceID = `uuid:...`. A visit's `review` (default: `approved` when it
    has edits, else empty) is its review_status; `submitted` its SubmissionDate (datetime)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for v in visits:
            submitted = v.get("submitted") or dt.datetime(2024, 1, 2, 9, 0, 0)
            day = dt.date.fromisoformat(v["visit_date"]) if "-" in v["visit_date"] else None
            cells = {"SubmissionDate": surveycto_time(submitted), "starttime": surveycto_time(submitted),
                     "endtime": surveycto_time(submitted), "deviceid": "collect:xyz", "subscriberid": "",
                     "visit_date": surveycto_date(day) if day else v["visit_date"], "observer_id": "OBS-03",
                     "district": v["district"], "cluster": v["cluster"], "school_id": v["school_id"],
                     "teacher_id": v["teacher_id"], "teacher_status": v["status"],
                     "hindrances": v["hindrances"], "cop_active": v["cop_active"],
                     "cop_meetings_3m": v["cop_meetings"], "comments": v["comments"],
                     "instanceID": f"uuid:{v['root']}", "formdef_version": v.get("formdef", "2401011200"),
                     "review_status": v.get("review", "approved" if v["edits"] else ""),
                     "review_quality": "", "KEY": f"uuid:{v['root']}"}
            cells |= {p: v["scores"].get(p, "") for p in PRACTICES}
            writer.writerow([cells[h] for h in header])
    return path


def rows(config, sql: str, params=None) -> list[tuple]:
    """Rows of a query on the config's database, opened read-only for just this query."""
    import duckdb

    con = duckdb.connect(str(config.database_path()), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def run_cli(module: str, argv: list[str], process: bool = False, timeout: float = 120) -> tuple[int, str, str]:
    """`python -m MODULE ARGV` (ingest, metrics, report): (exit code, stdout, stderr). In this
    process (the module's `main(argv)`, as the console entry points call it) unless `process`:
    a new interpreter per run cost seconds each; a test of the command line itself runs once with
    process=True."""
    import contextlib
    import importlib
    import io
    import subprocess
    import sys

    if process:
        run = subprocess.run([sys.executable, "-m", module, *argv], cwd=ROOT_DIR, capture_output=True, text=True,
                             timeout=timeout)
        return run.returncode, run.stdout, run.stderr
    main = importlib.import_module(f"{module}.__main__").main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse errors
            code = exit_.code if isinstance(exit_.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def with_min_group_n(config, n: int):
    """`config` with thresholds.min_group_n = n (a copy; suppression is applied when reading)."""
    return config.model_copy(update={"thresholds": config.thresholds.model_copy(update={"min_group_n": n})})
