"""National-scale synthetic exports, vectorised: a roster, KoboToolbox CSVs and ODK Central CSVs.

    python -m sample_data.national --teachers N --out DIR [--seed S] [--split district|month|none]
                                   [--config config.yaml]

For load and ingest benchmarks (1,000,000 teachers in minutes, memory bounded): teachers are drawn
in chunks of `CHUNK_TEACHERS` with numpy (no per-teacher Python loop) and each chunk's rows are
appended to the files, so memory does not grow with N. The files have the column layouts and CSV
dialects of `sample_data/generate.py` (its header constants are imported): Kobo `;`, every field
quoted, `\\r\\n`; ODK Central `,`, standard quoting, `\\n`. The process is the same in kind (the
schedule, practices and hindrances of config.yaml, exponential decay of practice use with
hindrance and CoP hazard multipliers, missed rounds, teachers who leave or transfer, double-sent
submissions, a few quarantinable rows) but the base hazards are NOT calibrated and no truth.json is
written: use `sample_data.generate` for data whose truth the tests check. Deterministic for a given
seed, N and config.
"""
from __future__ import annotations

import argparse
import csv
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .generate import (
    COMMENTS_EN, COMMENTS_UR, COP_ACTIVE_SHARE, COP_MULTIPLIER, DEFAULT_CONFIG, DEFAULT_HALF_LIFE,
    DEFAULT_P0, DEFAULT_SEED, DISTRICTS, FEMALE, FORM_VERSION, HALF_LIFE, HINDRANCES, KOBO_VERSION,
    LATE_ADOPTION, LATENT_NOT_USING, LATENT_USING, MALE, NA_RATE, NOISE_SD, P0, RATES, REPORT_FALSE,
    REPORT_TRUE, ROSTER_HEADERS, SCHOOL_PREFIX, SUBJECTS, SURNAMES, kobo_headers, load_config,
    odk_headers,
)

CHUNK_TEACHERS = 50_000  # teachers drawn and written at a time (bounds memory; part of the seed's meaning)
TEACHERS_PER_SCHOOL = 6
SCHOOLS_PER_CLUSTER = 10
TEACHERS_PER_DISTRICT = 10_000  # beyond the six sample districts, one more district per this many teachers
OBSERVERS_PER_DISTRICT = 3
# the extra provinces' districts; Kobo serves Sindh and Punjab, ODK Central the other two
PROVINCES = ["Punjab", "Sindh", "Khyber Pakhtunkhwa", "Balochistan"]
KOBO_PROVINCES = {"Sindh", "Punjab"}
DUPLICATE_RATE = 0.002  # double-sent submissions (exact copies in the same file; at least 1 a chunk)
BAD_RATE = 0.0005  # quarantinable rows: one bad cell each (a score 7, an unknown school, 31 February)
DAYS_PER_MONTH = 30.44
UTC_OFFSET_HOURS = 5
FILE_PREFIX = {"kobo": "kobo_followup", "odk": "odk_followup"}
SPLITS = ("district", "month", "none")


def _districts(teachers: int) -> pd.DataFrame:
    count = max(len(DISTRICTS), math.ceil(teachers / TEACHERS_PER_DISTRICT))
    rows = [(p, d, pre) for p, d, pre in DISTRICTS]
    for k in range(len(DISTRICTS), count):
        province = PROVINCES[k % len(PROVINCES)]
        rows.append((province, f"{province} District {k + 1:03d}", f"D{k + 1:03d}"))
    frame = pd.DataFrame(rows, columns=["province", "district", "prefix"])
    frame["tool"] = np.where(frame["province"].isin(KOBO_PROVINCES), "kobo", "odk")
    return frame


class National:
    """The population (schools, clusters, districts) and each chunk's teachers and visits."""

    def __init__(self, teachers: int, seed: int, config: dict):
        if teachers < 24:
            raise ValueError("--teachers must be at least 24")
        self.n, self.seed = teachers, seed
        self.practices = [p["code"] for p in config["practices"]]
        self.hindrances = [h["code"] for h in config["hindrances"]]
        self.school_level = np.array([h["level"] == "school" for h in config["hindrances"]])
        self.end = {p["code"]: np.datetime64(str(p["end_date"]), "D") for p in config["programmes"]}
        self.months = np.array(config["schedule"]["months"], dtype=float)
        self.districts = _districts(teachers)
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
        n_schools = math.ceil(teachers / TEACHERS_PER_SCHOOL)
        n_clusters = max(2 * len(self.districts), math.ceil(n_schools / SCHOOLS_PER_CLUSTER))
        # clusters spread evenly over districts; programmes alternate within a district
        cluster_district = np.arange(n_clusters) * len(self.districts) // n_clusters
        first_in_district = np.searchsorted(cluster_district, cluster_district)
        rank = np.arange(n_clusters) - first_in_district
        prefixes = self.districts["prefix"].to_numpy()[cluster_district]
        self.clusters = pd.DataFrame({
            "cluster": pd.Series(prefixes, dtype=object) + "-C" + pd.Series(rank + 1).astype(str),
            "district_index": cluster_district,
            "programme": np.where(rank % 2 == 0, "CBM", "CBT"),
            "cop_active": rng.random(n_clusters) < COP_ACTIVE_SHARE,
        })
        school_cluster = np.arange(n_schools) * n_clusters // n_schools
        types = np.array(["primary", "middle", "high"])[rng.choice(3, n_schools, p=[0.7, 0.18, 0.12])]
        genders = np.array(["boys", "girls", "mixed"])[rng.choice(3, n_schools, p=[0.4, 0.35, 0.25])]
        prefix = np.array([SCHOOL_PREFIX[(t, g)] for t, g in zip(types, genders)]) if n_schools < 50 else \
            pd.Series(types).str.cat(pd.Series(genders), sep="|").map(
                {f"{t}|{g}": v for (t, g), v in SCHOOL_PREFIX.items()}).to_numpy()
        number = pd.Series(np.arange(1, n_schools + 1)).astype(str).str.zfill(7)
        self.schools = pd.DataFrame({
            "school_id": "SCH-" + number,
            "school_name": pd.Series(prefix, dtype=object) + " No. " + number.str.lstrip("0"),
            "school_type": types, "gender_type": genders, "cluster_index": school_cluster,
        })
        hind_prevalence = np.array([HINDRANCES.get(h, (0.10, 1.0))[0] for h in self.hindrances])
        self.hazard_ratio = np.array([HINDRANCES.get(h, (0.10, 1.0))[1] for h in self.hindrances])
        self.school_hind = (rng.random((n_schools, len(self.hindrances))) < hind_prevalence) & self.school_level
        self.hind_prevalence = hind_prevalence
        # the hazard normaliser: the expected multiplier, so M has mean about 1
        expected = np.prod(1 + hind_prevalence * (self.hazard_ratio - 1))
        self.norm = float(expected * (1 - COP_ACTIVE_SHARE * (1 - COP_MULTIPLIER)))

    def chunk(self, start: int, stop: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(roster rows, visit rows) of teachers start..stop-1 (0-based), each from its own stream."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1, start]))
        idx = np.arange(start, stop)
        n = len(idx)
        school = idx * len(self.schools) // self.n
        sch = self.schools.iloc[school].reset_index(drop=True)
        clu = self.clusters.iloc[sch["cluster_index"].to_numpy()].reset_index(drop=True)
        dis = self.districts.iloc[clu["district_index"].to_numpy()].reset_index(drop=True)
        girls, boys = (sch["gender_type"] == "girls").to_numpy(), (sch["gender_type"] == "boys").to_numpy()
        female = girls | (rng.random(n) >= np.where(boys, 0.8, 0.5))
        primary = (sch["school_type"] == "primary").to_numpy()
        subject_draw = rng.random(n)
        cuts_primary, cuts_other = np.cumsum([0.2, 0.25, 0.15]), np.cumsum([0.3, 0.3, 0.3])
        subject = np.where(primary, np.searchsorted(cuts_primary, subject_draw),
                           np.searchsorted(cuts_other, subject_draw))
        first = np.where(female, np.array(FEMALE, dtype=object)[rng.integers(0, len(FEMALE), n)],
                         np.array(MALE, dtype=object)[rng.integers(0, len(MALE), n)])
        surnames = np.array(SURNAMES["Sindh"] + SURNAMES["Balochistan"], dtype=object)
        teacher_id = "T-" + pd.Series(idx + 1).astype(str).str.zfill(7)
        roster = pd.DataFrame({
            "teacher_id": teacher_id,
            "teacher_name": pd.Series(first) + " " + surnames[rng.integers(0, len(surnames), n)],
            "gender": np.where(female, "female", "male"),
            "subject": np.array(SUBJECTS)[subject],
            "school_id": sch["school_id"], "school_name": sch["school_name"], "school_type": sch["school_type"],
            "cluster": clu["cluster"], "district": dis["district"], "province": dis["province"],
            "programme": clu["programme"],
            "years_experience": np.minimum(38, rng.gamma(2.0, 5.0, n).astype(int)).astype(str),
        })[ROSTER_HEADERS]

        # hindrances and the hazard multiplier M
        H, P, R = len(self.hindrances), len(self.practices), len(self.months)
        own = (rng.random((n, H)) < self.hind_prevalence) & ~self.school_level
        hind = own | self.school_hind[school]
        multiplier = np.prod(np.where(hind, self.hazard_ratio, 1.0), axis=1)
        multiplier *= np.where(clu["cop_active"].to_numpy(), COP_MULTIPLIER, 1.0)
        multiplier /= self.norm
        programme = clu["programme"].to_numpy()
        half_life = np.stack([np.where(programme == "CBM", HALF_LIFE["CBM"].get(p, DEFAULT_HALF_LIFE["CBM"]),
                                       HALF_LIFE["CBT"].get(p, DEFAULT_HALF_LIFE["CBT"]))
                              for p in self.practices], axis=1)  # (n, P)
        rate = math.log(2) / half_life * multiplier[:, None]
        retained0 = rng.random((n, P)) < np.array([P0.get(p, DEFAULT_P0) for p in self.practices])
        lasts = rng.exponential(1.0, (n, P)) / rate  # months of use after adoption
        late = rng.geometric(LATE_ADOPTION, (n, P))  # round index of a late adoption (>= R: never)

        # visits: one per teacher and round, minus missed rounds and rounds after leaving
        u = rng.random((n, R))
        left = u < RATES["left"]
        transferred = (~left) & (u < RATES["left"] + RATES["transferred"])
        gone_before = np.cumsum(left | transferred, axis=1) - (left | transferred) > 0
        missed = (~(left | transferred)) & (rng.random((n, R)) < RATES["missed"])
        keep = ~gone_before & ~missed
        teacher_of, round_of = np.nonzero(keep)
        v = len(teacher_of)
        status_draw = rng.random(v)
        status = np.where(status_draw < RATES["absent"], "absent",
                          np.where(status_draw < RATES["absent"] + RATES["on_leave"], "on_leave", "present"))
        status = np.where(left[teacher_of, round_of], "left",
                          np.where(transferred[teacher_of, round_of], "transferred", status)).astype(object)
        present = status == "present"
        ends = np.where(programme[teacher_of] == "CBM", self.end["CBM"], self.end["CBT"]).astype("datetime64[D]")
        offset = np.round(self.months[round_of] * DAYS_PER_MONTH).astype(int) + rng.integers(-14, 15, v)
        visit_date = ends + offset.astype("timedelta64[D]")
        elapsed = offset / DAYS_PER_MONTH
        adopt_month = np.where(late[teacher_of] < R, self.months[np.minimum(late[teacher_of], R - 1)], np.inf)
        using = np.where(retained0[teacher_of], lasts[teacher_of] > np.maximum(elapsed, 0)[:, None],
                         (elapsed[:, None] >= adopt_month - 0.5) & (elapsed[:, None] - adopt_month < lasts[teacher_of]))
        latent = np.where(using, LATENT_USING, LATENT_NOT_USING) + rng.normal(0, NOISE_SD, (v, P))
        scores = np.clip(np.floor(latent + 0.5), 1, 4).astype(int).astype(str).astype(object)
        scores[rng.random((v, P)) < NA_RATE] = "na"
        scores[~present] = ""
        reported = rng.random((v, H)) < np.where(hind[teacher_of], REPORT_TRUE, REPORT_FALSE)
        reported &= present[:, None]
        # each visit's answer is one of 2**H texts: build those once, then index by the ticked bits
        bits = reported.astype(np.int64) @ (1 << np.arange(H, dtype=np.int64))
        texts = np.array([" ".join(c for h, c in enumerate(self.hindrances) if mask >> h & 1)
                          for mask in range(1 << H)], dtype=object)
        hindrance_text = texts[bits]
        split = np.where(reported, "1", "0").astype(object)
        split[~present] = ""
        cop = clu["cop_active"].to_numpy()[teacher_of]
        cop_yes = rng.random(v) < np.where(cop, 0.6, 0.15)
        cop_active = np.where(present, np.where(cop_yes, "yes", "no"), "")
        meetings = rng.binomial(3, np.where(cop, 0.7, 0.2))
        cop_meetings = np.where(present, meetings.astype(str), "")
        comment_draw = rng.random(v)
        comments = np.where(comment_draw < 0.12, np.array(COMMENTS_EN, dtype=object)[rng.integers(0, len(COMMENTS_EN), v)],
                            np.where(comment_draw < 0.2, np.array(COMMENTS_UR, dtype=object)[rng.integers(0, len(COMMENTS_UR), v)], ""))
        district_index = clu["district_index"].to_numpy()[teacher_of]
        observer = district_index * OBSERVERS_PER_DISTRICT + rng.integers(0, OBSERVERS_PER_DISTRICT, v) + 1
        observers = np.array([f"{n:04d}" for n in range(len(self.districts) * OBSERVERS_PER_DISTRICT + 1)], dtype=object)
        start_time = (visit_date.astype("datetime64[ms]") + np.timedelta64(8, "h")
                      + rng.integers(0, int(4.5 * 3600 * 1000), v).astype("timedelta64[ms]"))
        end_time = start_time + rng.integers(12 * 60_000, 45 * 60_000, v).astype("timedelta64[ms]")
        delay = np.where(rng.random(v) < 0.7, rng.integers(60_000, 1_800_000, v), rng.integers(7_200_000, 108_000_000, v))
        submitted = end_time - np.timedelta64(UTC_OFFSET_HOURS, "h") + delay.astype("timedelta64[ms]")
        visits = pd.DataFrame({
            "tool": dis["tool"].to_numpy()[teacher_of], "district": dis["district"].to_numpy()[teacher_of],
            "province": dis["province"].to_numpy()[teacher_of], "round": round_of,
            "visit_date": np.datetime_as_string(visit_date, unit="D"),
            "observer_id": "OBS-" + observers[observer], "observer": observer,
            "submitted_by": ("sustain_" + self.districts["province"].str.lower().str.replace(" ", "_")).to_numpy()[
                clu["district_index"].to_numpy()[teacher_of]],
            "cluster": clu["cluster"].to_numpy()[teacher_of], "school_id": sch["school_id"].to_numpy()[teacher_of],
            "teacher_id": teacher_id.to_numpy()[teacher_of], "teacher_status": status,
            "hindrances": hindrance_text, "cop_active": cop_active, "cop_meetings_3m": cop_meetings,
            "comments": comments, "start": np.datetime_as_string(start_time, unit="ms"),
            "end": np.datetime_as_string(end_time, unit="ms"), "submitted": np.datetime_as_string(submitted, unit="ms"),
            "uuid": _uuids(rng, v), "review": np.where(rng.random(v) < 0.1, "approved", ""),
        })
        for p, code in enumerate(self.practices):
            visits[f"practice__{code}"] = scores[:, p]
        for h, code in enumerate(self.hindrances):
            visits[f"split__{code}"] = split[:, h]
        _spoil(visits, rng, self.practices)
        doubled = rng.choice(len(visits), size=max(1, round(DUPLICATE_RATE * len(visits))), replace=False)
        duplicates = visits.iloc[np.sort(doubled)]
        visits = pd.concat([visits, duplicates]).sort_index(kind="stable").reset_index(drop=True)
        return roster, visits

    def kobo_rows(self, visits: pd.DataFrame, first_index: int) -> pd.DataFrame:
        iid = "uuid:" + visits["uuid"]
        index = pd.Series(np.arange(first_index, first_index + len(visits))).astype(str).to_numpy()
        columns = ([visits["start"] + "+05:00", visits["end"] + "+05:00", visits["visit_date"],
                    visits["observer_id"], visits["district"], visits["cluster"], visits["school_id"],
                    visits["teacher_id"], visits["teacher_status"]]
                   + [visits[f"practice__{p}"] for p in self.practices] + [visits["hindrances"]]
                   + [visits[f"split__{h}"] for h in self.hindrances]
                   + [visits["cop_active"], visits["cop_meetings_3m"], visits["comments"], iid, iid, "",
                      pd.Series(310_400_000 + np.arange(first_index, first_index + len(visits))).astype(str).to_numpy(),
                      visits["uuid"], visits["submitted"].str.slice(0, 19), "", "", "submitted_via_web",
                      visits["submitted_by"], KOBO_VERSION, "", index])
        return _frame(kobo_headers(self.practices, self.hindrances), columns, len(visits))

    def odk_rows(self, visits: pd.DataFrame) -> pd.DataFrame:
        iid = "uuid:" + visits["uuid"]
        number = visits["observer"].to_numpy()
        text = visits["observer_id"].str.slice(4)
        columns = ([visits["submitted"] + "Z", visits["start"] + "+05:00", visits["end"] + "+05:00",
                    visits["visit_date"], visits["observer_id"], visits["district"], visits["cluster"],
                    visits["school_id"], visits["teacher_id"], visits["teacher_status"]]
                   + [visits[f"practice__{p}"] for p in self.practices]
                   + [visits["hindrances"], visits["cop_active"], visits["cop_meetings_3m"], visits["comments"],
                      iid, iid, (40 + number).astype(str), "obs" + text, "0", "0", "",
                      visits["review"], "collect:000000000000" + text, "0", FORM_VERSION])
        return _frame(odk_headers(self.practices), columns, len(visits))


def _frame(headers: list[str], columns: list, rows: int) -> pd.DataFrame:
    return pd.DataFrame({h: (np.asarray(c, dtype=object) if not isinstance(c, str) else np.full(rows, c, dtype=object))
                         for h, c in zip(headers, columns)})


def _write(path: Path, frame: pd.DataFrame, new: bool, **dialect) -> None:
    """Append the rows (with the header when the file is new) as generate.py's csv writers do."""
    with open(path, "w" if new else "a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, **dialect)
        if new:
            writer.writerow(frame.columns)
        writer.writerows(zip(*(frame[c].tolist() for c in frame.columns)))


def _uuids(rng: np.random.Generator, count: int) -> np.ndarray:
    """Random version-4 UUIDs as text, without a per-row loop."""
    raw = rng.integers(0, 256, (count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype=np.uint8).reshape(count, 32)
    dash = np.full((count, 1), ord("-"), dtype=np.uint8)
    parts = [hexed[:, :8], dash, hexed[:, 8:12], dash, hexed[:, 12:16], dash, hexed[:, 16:20], dash, hexed[:, 20:]]
    return np.ascontiguousarray(np.hstack(parts)).view("S36").ravel().astype(str).astype(object)


def _spoil(visits: pd.DataFrame, rng: np.random.Generator, practices: list[str]) -> None:
    """BAD_RATE of the present visits (at least 3 a chunk) get one bad cell each (quarantined on import)."""
    present = np.nonzero((visits["teacher_status"] == "present").to_numpy())[0]
    rows = np.sort(rng.choice(present, size=min(len(present), max(3, round(BAD_RATE * len(present)))), replace=False))
    kind = rng.integers(0, 3, len(rows))
    column = visits.columns.get_loc(f"practice__{practices[0]}")
    visits.iloc[rows[kind == 0], column] = "7"
    visits.iloc[rows[kind == 1], visits.columns.get_loc("school_id")] = "SCH-9999999"
    visits.iloc[rows[kind == 2], visits.columns.get_loc("visit_date")] = "2024-02-31"


def _file_key(visits: pd.DataFrame, split: str, months: np.ndarray) -> pd.Series:
    if split == "district":
        return visits["tool"] + "|" + visits["district"].str.lower().str.replace(" ", "_")
    if split == "month":
        return visits["tool"] + "|month" + pd.Series(months[visits["round"].to_numpy()].astype(int)).astype(str).str.zfill(2)
    return visits["tool"] + "|all"


def generate_national(out_dir, teachers: int, seed: int = DEFAULT_SEED, split: str = "district",
                      config_path=DEFAULT_CONFIG, log=None) -> dict:
    """Write the roster and the exports into `out_dir`; return {file name: data rows}."""
    if split not in SPLITS:
        raise ValueError(f"--split must be one of {', '.join(SPLITS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = National(teachers, seed, load_config(Path(config_path)))
    counts: dict[str, int] = {}
    kobo_index = 1
    roster_path = out / "roster.csv"
    for start in range(0, teachers, CHUNK_TEACHERS):
        stop = min(teachers, start + CHUNK_TEACHERS)
        roster, visits = model.chunk(start, stop)
        _write(roster_path, roster, start == 0, delimiter=",", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        counts[roster_path.name] = counts.get(roster_path.name, 0) + len(roster)
        keys = _file_key(visits, split, model.months)
        for key, rows in visits.groupby(keys, sort=True):
            tool, part = key.split("|")
            path = out / f"{FILE_PREFIX[tool]}_{part}.csv"
            new = path.name not in counts
            if tool == "kobo":
                frame = model.kobo_rows(rows.reset_index(drop=True), kobo_index)
                kobo_index += len(frame)
                _write(path, frame, new, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n")
            else:
                frame = model.odk_rows(rows.reset_index(drop=True))
                _write(path, frame, new, delimiter=",", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
            counts[path.name] = counts.get(path.name, 0) + len(frame)
        if log:
            log(f"{stop:,} of {teachers:,} teachers written")
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sample_data.national", description=__doc__.splitlines()[0])
    parser.add_argument("--teachers", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--split", choices=SPLITS, default="district",
                        help="one export per tool and district (default), per tool and round, or one per tool")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = generate_national(args.out, args.teachers, args.seed, args.split, args.config,
                               log=lambda text: print(text, flush=True))
    for name, rows in sorted(counts.items()):
        print(f"{name}: {rows:,} rows")
    print(f"{len(counts)} files in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
