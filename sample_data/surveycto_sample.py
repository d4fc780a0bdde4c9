"""Write sample_data/surveycto_followup_sample.csv: a small SurveyCTO CSV export (30 rows) for the
sample roster's Thatta teachers, as SurveyCTO writes it (`,`-separated, no group paths, dates like
`Nov 5, 2026`, KEY = `uuid:...`, review_status). It shows the SurveyCTO reader on real sample
teachers; the first-start build does not import it (sustain/samples.py says why).

Rows 1-27: one visit each at month 3 or 6 after the teacher's programme ended; rows 28-29: one
submission pending, then approved after a review correction (same KEY: the approved one is kept);
row 30: deliberately bad (a date SurveyCTO never writes: `31/12/2024`, quarantined as bad_date).

    python -m sample_data.surveycto_sample      # rewrites the file (deterministic)
"""
from __future__ import annotations

import csv
import datetime as dt
import random
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "surveycto_followup_sample.csv"
PRACTICES = ["group_work", "questioning", "teaching_aids", "lesson_planning", "learning_environment", "peer_feedback"]
HEADER = (["SubmissionDate", "starttime", "endtime", "deviceid", "visit_date", "observer_id", "district", "cluster",
           "school_id", "teacher_id", "teacher_status"] + PRACTICES
          + ["hindrances", "cop_active", "cop_meetings_3m", "comments", "instanceID", "formdef_version",
             "review_status", "review_quality", "KEY"])
END = {"CBM": dt.date(2023, 12, 15), "CBT": dt.date(2024, 6, 14)}  # config.yaml programmes


def scto_date(day: dt.date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def scto_time(moment: dt.datetime) -> str:
    return f"{scto_date(moment.date())} {int(moment.strftime('%I'))}:{moment:%M:%S} {moment:%p}"


def main() -> None:
    rng = random.Random(2026)
    with (HERE / "roster.csv").open(encoding="utf-8", newline="") as handle:
        teachers = [row for row in csv.DictReader(handle) if row["district"] == "Thatta"][:28]
    rows = []
    for index, t in enumerate(teachers):
        month = 3 if index % 2 == 0 else 6
        day = END[t["programme"]] + dt.timedelta(days=round(month * 30.44) + rng.randint(-5, 5))
        moment = dt.datetime.combine(day, dt.time(rng.randint(8, 15), rng.randint(0, 59), rng.randint(0, 59)))
        key = f"uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        scores = [rng.choice(["1", "2", "3", "3", "4", "na"]) for _ in PRACTICES]
        rows.append([scto_time(moment + dt.timedelta(hours=2)), scto_time(moment), scto_time(moment + dt.timedelta(minutes=40)),
                     f"collect:{rng.getrandbits(40):x}", scto_date(day), "OBS-07", t["district"], t["cluster"],
                     t["school_id"], t["teacher_id"], "present", *scores,
                     rng.choice(["", "", "low_pay", "no_resources no_followup"]), rng.choice(["yes", "no"]),
                     str(rng.randint(0, 3)), "", key, "2409011200", "approved", "", key])
    # the last teacher's visit: pending first, then corrected and approved in review (same KEY)
    pending = list(rows[-1])
    pending[HEADER.index("group_work")] = "1" if rows[-1][HEADER.index("group_work")] != "1" else "2"
    pending[HEADER.index("review_status")] = ""
    rows[-1:] = [pending, rows[-1]]
    bad = list(rows[0])
    key = f"uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
    bad[HEADER.index("visit_date")] = "31/12/2024"
    bad[HEADER.index("instanceID")] = bad[HEADER.index("KEY")] = key
    bad[HEADER.index("teacher_id")] = teachers[1]["teacher_id"]
    bad[HEADER.index("school_id")] = teachers[1]["school_id"]
    rows.append(bad)
    with OUT.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    print(f"{OUT.name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
