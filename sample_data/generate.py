"""Deterministic synthetic follow-up data for Sustain.

    python -m sample_data.generate [--teachers N] [--seed S] [--out DIR] [--config PATH]

Everything comes from one ``numpy.random.default_rng`` seed (split into independent streams with
``SeedSequence.spawn``); nothing reads the clock, so two runs with the same arguments write
byte-identical files (the XLSX is re-zipped with fixed timestamps). The generating process and its
true parameters are described in ``sample_data/README.md`` and written to ``truth.json``.
"""
from __future__ import annotations

import argparse
import copy
import csv
import datetime as dt
import json
import math
import re
import uuid
from pathlib import Path

import numpy as np
import yaml

from sustain.xlsx import save_workbook_deterministic

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config.yaml"
DEFAULT_OUT = Path(__file__).resolve().parent
DEFAULT_TEACHERS = 1200
DEFAULT_SEED = 20261125
FORM_VERSION = "2023112001"  # settings.version of forms/sustain_followup.xlsx
KOBO_VERSION = "vPzK7qMw3nXbR9tYc2LdJh"  # Kobo's own __version__ id of the deployed form
UTC_OFFSET = dt.timedelta(hours=5)  # Pakistan Standard Time, no DST

# ---------------------------------------------------------------------------------------------
# True parameters of the generating process (also written to truth.json and README.md)
# ---------------------------------------------------------------------------------------------
DISTRICTS = [  # province, district, cluster prefix
    ("Sindh", "Thatta", "THA"),
    ("Sindh", "Sanghar", "SAN"),
    ("Sindh", "Mirpurkhas", "MIR"),
    ("Balochistan", "Quetta", "QUE"),
    ("Balochistan", "Pishin", "PIS"),
    ("Balochistan", "Lasbela", "LAS"),
]
P0 = {  # P(practice in use at month 0)
    "group_work": 0.80, "questioning": 0.70, "teaching_aids": 0.90,
    "lesson_planning": 0.75, "learning_environment": 0.85, "peer_feedback": 0.65,
}
HALF_LIFE = {  # true half-life in months, by programme and practice: the half-life of the single
    # exponential that best fits the population retention curve (base hazards are calibrated so)
    "CBM": {"group_work": 12.0, "questioning": 10.0, "teaching_aids": 14.0,
            "lesson_planning": 11.0, "learning_environment": 13.0, "peer_feedback": 10.0},
    "CBT": {"group_work": 6.0, "questioning": 5.0, "teaching_aids": 7.0,
            "lesson_planning": 5.5, "learning_environment": 6.5, "peer_feedback": 5.0},
}
DEFAULT_P0, DEFAULT_HALF_LIFE = 0.75, {"CBM": 12.0, "CBT": 6.0}  # practices not listed above
HINDRANCES = {  # prevalence (share of schools / teachers) and ASSUMED hazard ratio
    "no_followup": (0.35, 2.0),
    "teacher_resistance": (0.20, 1.7),
    "management_resistance": (0.25, 1.0),
    "parent_resistance": (0.20, 1.0),
    "low_pay": (0.40, 1.3),
    "political_interference": (0.15, 1.5),
    "no_resources": (0.45, 1.4),
    "other": (0.10, 1.0),
}
COP_ACTIVE_SHARE = 0.5  # share of clusters (within each programme) with an active CoP
COP_MULTIPLIER = 0.6  # hazard multiplier for teachers in a cluster with an active CoP
COP_STOP_SHARE = 0.25  # active CoPs that stop meeting between months 15 and 22
LATENT_USING, LATENT_NOT_USING = 3.3, 1.8
NOISE_SD = 0.28  # SD of the Normal observation noise on the 1-4 rubric (before rounding)
NA_RATE = 0.02
LATE_ADOPTION = 0.03  # per later round, P(a practice not in use at month 0 is taken up)
REPORT_TRUE, REPORT_FALSE = 0.85, 0.03  # hindrance reporting: sensitivity, false-report rate
COP_ANSWER_FLIP = 0.05  # noise on the visit's cop_active answer
ATTEND_ACTIVE, ATTEND_INACTIVE = 0.8, 0.5  # P(teacher attends a held meeting)
RATES = {"left": 0.015, "transferred": 0.015, "missed": 0.08, "absent": 0.02, "on_leave": 0.01}
OBSERVERS_PER_DISTRICT = 3

# ---------------------------------------------------------------------------------------------
# Names and texts
# ---------------------------------------------------------------------------------------------
FEMALE = ["Ayesha", "Fatima", "Zainab", "Sana", "Nadia", "Rubina", "Shazia", "Samina", "Farzana",
          "Naseem", "Sadia", "Huma", "Kiran", "Saima", "Rukhsana", "Nasreen", "Bushra", "Amina",
          "Hina", "Parveen", "Shabana", "Uzma", "Nazia", "Mehwish", "Sobia", "Tahira", "Mahnoor",
          "Zarina", "Shahnaz", "Gul Bano", "Razia", "Khadija", "Asma", "Noreen", "Sumera"]
MALE = ["Muhammad", "Ali", "Ahmed", "Imran", "Bilal", "Asif", "Tariq", "Naveed", "Zahid",
        "Abdul Ghaffar", "Ghulam Rasool", "Allah Dino", "Niaz", "Shahid", "Rashid", "Faisal",
        "Kamran", "Waqar", "Sajid", "Javed", "Aslam", "Nadeem", "Irfan", "Abdul Qadir",
        "Noor Ahmed", "Sher Muhammad", "Abdul Wahid", "Habibullah", "Naseebullah", "Zafar",
        "Mumtaz Ali", "Ghulam Hussain", "Khair Muhammad", "Abdul Hameed", "Saeed"]
SURNAMES = {
    "Sindh": ["Memon", "Soomro", "Bhutto", "Shaikh", "Jatoi", "Mallah", "Khaskheli", "Channa",
              "Abbasi", "Qureshi", "Lashari", "Kolhi", "Bheel", "Rajput", "Mangrio", "Junejo",
              "Laghari", "Solangi", "Samejo", "Palijo"],
    "Balochistan": ["Baloch", "Kakar", "Achakzai", "Tareen", "Bugti", "Mengal", "Rind", "Jamali",
                    "Zehri", "Kasi", "Durrani", "Lasi", "Jamot", "Hazara", "Marri", "Notezai",
                    "Mandokhail", "Shahwani", "Raisani", "Gichki"],
}
URDU_NAMES = {"female": ["عائشہ بی بی", "فاطمہ سومرو", "نسرین میمن", "زینب بلوچ", "شازیہ کاکڑ"],
              "male": ["محمد علی سومرو", "غلام رسول کاکڑ", "عبدالقادر بلوچ", "نوید احمد شیخ",
                       "اللہ ڈنو ملاح"]}
INJECTION_PREFIXES = ['=HYPERLINK("https://example.org/x","{name}")', "+{name}"]
LOCALITIES = {
    "Thatta": ["Goth Allah Dino", "Jungshahi", "Gharo", "Mirpur Sakro", "Keti Bandar",
               "Ghorabari", "Dhabeji", "Sonda", "Jhimpir", "Buhara", "Chuhar Jamali", "Makli"],
    "Sanghar": ["Shahdadpur", "Tando Adam", "Jam Nawaz Ali", "Khipro", "Sinjhoro", "Berani",
                "Jhol", "Sarhari", "Kandiari", "Goth Haji Ismail", "Shahpur Chakar", "Bandhi"],
    "Mirpurkhas": ["Digri", "Kot Ghulam Muhammad", "Jhuddo", "Sindhri", "Hussain Bux Mari",
                   "Phuladyoon", "Naukot", "Satellite Town", "Jamesabad", "Mehran Colony",
                   "Goth Khan Muhammad", "Tando Jan Muhammad"],
    "Quetta": ["Kuchlak", "Sariab", "Nawa Killi", "Hanna Urak", "Brewery Road", "Kasi Road",
               "Satellite Town", "Pashtunabad", "Killi Shabo", "Eastern Bypass", "Spin Karez",
               "Samungli"],
    "Pishin": ["Huramzai", "Saranan", "Karezat", "Barshore", "Khanozai", "Bostan", "Yaru",
               "Killi Malik Yar", "Manzari", "Surkhab", "Batezai", "Toba Kakari"],
    "Lasbela": ["Hub", "Uthal", "Bela", "Winder", "Sonmiani", "Gadani", "Dureji", "Lakhra",
                "Kanraj", "Liari", "Sakran", "Goth Pir Bux"],
}
SCHOOL_PREFIX = {("primary", "boys"): "GBPS", ("primary", "girls"): "GGPS",
                 ("primary", "mixed"): "GPS", ("middle", "boys"): "GBMS",
                 ("middle", "girls"): "GGMS", ("middle", "mixed"): "GMS",
                 ("high", "boys"): "GBHS", ("high", "girls"): "GGHS", ("high", "mixed"): "GHS"}
SUBJECTS = ["maths", "languages", "science", "general_pedagogy"]
COMMENTS_EN = [
    "Good use of group work in a large class",
    "Teacher used local materials as teaching aids",
    "Class was overcrowded (68 students), group work difficult",
    "Head teacher asked for more follow-up visits",
    "No charts on the walls; materials were taken home",
    "Teacher said the CoP meeting was cancelled this month",
    "Lesson plan prepared jointly with a colleague",
    "Teacher asked open questions, students answered in Sindhi and Urdu",
    "Electricity outage, class held outside",
    'Teacher said "we have no chalk", asked for supplies',
]
COMMENTS_UR = [
    "استاد نے گروپ ورک کروایا",
    "بچوں کو سوالات کرنے کا موقع دیا",
    "تدریسی چارٹ استعمال کیا گیا",
    "ہیڈ ماسٹر نے تعاون نہیں کیا",
    "کمرۂ جماعت میں بچوں کی تعداد بہت زیادہ تھی",
    "استاد نے ساتھی استاد سے مشورہ کیا",
]
SPECIAL_COMMENTS = [
    "<script>alert(1)</script>",
    "Two observers present;\nsecond visit planned next month",
    'Teacher said "no books yet", used the board only',
]
COP_ROLES = ["cluster mentor", "head teacher", "lead teacher", "teacher", "LTRC coordinator"]
COP_TOPICS = ["Group work in large classes", "Higher-order questioning", "Low-cost teaching aids",
              "Joint lesson planning for science", "Classroom displays", "Peer observation feedback",
              "Assessment for learning", "Managing multigrade classes", "Parent involvement",
              "سبق کی منصوبہ بندی", "Reading with young learners", "Sharing successes and challenges"]
# Each bad-row case: (file key, canonical column, rule, bad value); rows are ADDED, never replacing
BAD_CASES = [
    ("kobo", "instance_id", "missing_instance_id", ""),
    ("kobo", "school_id", "unknown_school", "SCH-9999"),
    ("kobo", "visit_date", "impossible_date", "2024-02-31"),
    ("kobo", "group_work", "bad_score", "7"),
    ("kobo", "hindrances", "unknown_option", "flood"),
    ("kobo", "cop_meetings_3m", "bad_integer", "-2"),
    ("kobo", "visit_date", "date_outside_programme", None),
    ("odk", "instance_id", "missing_instance_id", ""),
    ("odk", "teacher_id", "unknown_teacher", "T-99999"),
    ("odk", "district", "school_not_in_district", None),
    ("odk", "visit_date", "bad_date", "next week"),
    ("odk", "questioning", "bad_score", "x"),
    ("odk", "teacher_status", "bad_status", "retired"),
    ("odk", "cop_meetings_3m", "bad_integer", "three"),
    ("xlsx", "teacher_id", "unknown_teacher", "T-99998"),
    ("xlsx", "teaching_aids", "bad_score", "x"),
    ("xlsx", "hindrances", "unknown_option", "flood"),
    ("xlsx", "visit_date", "bad_date", "next week"),
    ("xlsx", "district", "school_not_in_district", None),
    ("xlsx", "visit_date", "date_outside_programme", None),
    ("xlsx", "lesson_planning", "bad_score", "7"),
]
FILES = {
    "roster": "roster.csv",
    "cop": "cop_meetings.csv",
    "kobo": "kobo_followup_sindh.csv",
    "kobo_earlier": "kobo_followup_sindh_earlier.csv",
    "odk": "odk_followup_balochistan.csv",
    "odk_earlier": "odk_followup_balochistan_earlier.csv",
    "xlsx": "kobo_followup_month24.xlsx",
}
ROSTER_HEADERS = ["teacher_id", "teacher_name", "gender", "subject", "school_id", "school_name",
                  "school_type", "cluster", "district", "province", "programme", "years_experience"]
COP_HEADERS = ["cluster", "meeting_date", "attendees", "facilitator_role", "topic"]
KOBO_TAIL = ["meta/instanceID", "meta/rootUuid", "meta/deprecatedID", "_id", "_uuid",
             "_submission_time", "_validation_status", "_notes", "_status", "_submitted_by",
             "__version__", "_tags", "_index"]
ODK_TAIL = ["meta-instanceID", "KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent",
            "AttachmentsExpected", "Status", "ReviewState", "DeviceID", "Edits", "FormVersion"]


# ---------------------------------------------------------------------------------------------
def load_config(path: Path = DEFAULT_CONFIG) -> dict:
    with open(path, encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh)
    progs = {p["code"]: p for p in cfg["programmes"]}
    for code in ("CBM", "CBT"):
        if code not in progs:
            raise SystemExit(f"{path}: programmes must contain {code} for the sample data")
    return cfg


def to_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def rng_uuid(rng: np.random.Generator) -> str:
    b = bytearray(rng.integers(0, 256, 16, dtype=np.uint8).tobytes())
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(b)))


def iso_local(t: dt.datetime) -> str:
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}+05:00"


def kobo_headers(practices: list[str], hindrances: list[str]) -> list[str]:
    return (["start", "end", "visit/visit_date", "visit/observer_id", "school/district",
             "school/cluster", "school/school_id", "teacher/teacher_id", "teacher/teacher_status"]
            + [f"practices/{p}" for p in practices]
            + ["context/hindrances"] + [f"context/hindrances/{h}" for h in hindrances]
            + ["context/cop_active", "context/cop_meetings_3m", "comments"] + KOBO_TAIL)


def odk_headers(practices: list[str]) -> list[str]:
    return (["SubmissionDate", "start", "end", "visit-visit_date", "visit-observer_id",
             "school-district", "school-cluster", "school-school_id", "teacher-teacher_id",
             "teacher-teacher_status"]
            + [f"practices-{p}" for p in practices]
            + ["context-hindrances", "context-cop_active", "context-cop_meetings_3m", "comments"]
            + ODK_TAIL)


def fit_exponential_rate(t, s, w) -> float:
    """Rate λ of retention(t) = exp(-λ t) fitted to shares ``s`` at months ``t`` (t > 0) by maximum
    likelihood of a binomial GLM with log link, no intercept and weights ``w`` (the number of
    teacher-practices at each t) -- the indicator's fit. Solves the score equation
    sum w t [(1 - s) / expm1(λ t) - s] = 0, which falls strictly in λ."""
    from scipy.optimize import brentq

    t, s, w = (np.asarray(x, dtype=float) for x in (t, s, w))
    if np.all(s >= 1.0):
        return 0.0

    def score(lam):
        with np.errstate(over="ignore"):  # expm1 -> inf at a huge trial rate: the term is then 0
            return float(np.sum(w * t * ((1.0 - s) / np.expm1(lam * t) - s)))

    return brentq(score, 1e-9, 50.0, xtol=1e-14, rtol=1e-13, maxiter=500)


def population_retention(M, lam_base: float, t) -> np.ndarray:
    """Noise-free population retention E_M[exp(-lam_base M t)] at months ``t``, over multipliers M."""
    return np.mean(np.exp(-lam_base * np.outer(np.asarray(M, dtype=float), np.asarray(t, dtype=float))),
                   axis=0)


# ---------------------------------------------------------------------------------------------
class Generator:
    def __init__(self, teachers: int, seed: int, config: dict):
        if teachers < 24:
            raise ValueError("--teachers must be at least 24")
        self.n_teachers, self.seed, self.cfg = teachers, seed, config
        streams = np.random.SeedSequence(seed).spawn(8)
        (self.r_pop, self.r_cop, self.r_hind, self.r_prac, self.r_visit, self.r_meta,
         self.r_files, self.r_names) = [np.random.default_rng(s) for s in streams]
        self.practices = [p["code"] for p in config["practices"]]
        self.hindrances = [h["code"] for h in config["hindrances"]]
        self.h_level = {h["code"]: h["level"] for h in config["hindrances"]}
        self.end = {p["code"]: to_date(p["end_date"]) for p in config["programmes"]}
        self.months = list(config["schedule"]["months"])
        self.p0 = {p: P0.get(p, DEFAULT_P0) for p in self.practices}
        self.half_life = {g: {p: HALF_LIFE[g].get(p, DEFAULT_HALF_LIFE[g]) for p in self.practices}
                          for g in ("CBM", "CBT")}
        self.hind = {h: HINDRANCES.get(h, (0.10, 1.0)) for h in self.hindrances}

    # -- population ----------------------------------------------------------------------
    def population(self):
        rng, n = self.r_pop, self.n_teachers
        n_schools = math.ceil(n / 2)
        per_district = max(2, 2 * round(n / 600))
        self.clusters = []
        for prov, dist, pre in DISTRICTS:
            for k in range(per_district):
                self.clusters.append({"cluster": f"{pre}-C{k + 1}", "district": dist,
                                      "province": prov, "programme": "CBM" if k % 2 == 0 else "CBT",
                                      "observers": []})
        obs = 1
        for d_i, (_, dist, _) in enumerate(DISTRICTS):
            ids = [f"OBS-{obs + j:02d}" for j in range(OBSERVERS_PER_DISTRICT)]
            obs += OBSERVERS_PER_DISTRICT
            for c in self.clusters:
                if c["district"] == dist:
                    c["observers"] = ids
        self.schools = []
        used_names: dict[str, int] = {}
        chunks = np.array_split(np.arange(n_schools), len(self.clusters))
        for c, chunk in zip(self.clusters, chunks):
            c["main_observer"] = c["observers"][int(rng.integers(len(c["observers"])))]
            for s in chunk:
                stype = ["primary", "middle", "high"][int(rng.choice(3, p=[0.7, 0.18, 0.12]))]
                sgender = ["boys", "girls", "mixed"][int(rng.choice(3, p=[0.4, 0.35, 0.25]))]
                loc = LOCALITIES[c["district"]][int(rng.integers(len(LOCALITIES[c["district"]])))]
                name = f"{SCHOOL_PREFIX[(stype, sgender)]} {loc}"
                used_names[name] = used_names.get(name, 0) + 1
                if used_names[name] > 1:
                    name = f"{name} No. {used_names[name]}"
                self.schools.append({"school_id": f"SCH-{s + 1:04d}", "school_name": name,
                                     "school_type": stype, "gender_type": sgender, **{
                                         k: c[k] for k in ("cluster", "district", "province",
                                                           "programme")}})
        self.teachers = []
        for t in range(n):
            sch = self.schools[t // 2]
            if sch["gender_type"] == "girls":
                gender = "female"
            else:
                gender = "male" if rng.random() < (0.8 if sch["gender_type"] == "boys" else 0.5) \
                    else "female"
            subj_p = [0.2, 0.25, 0.15, 0.4] if sch["school_type"] == "primary" else [0.3, 0.3, 0.3, 0.1]
            subject = SUBJECTS[int(rng.choice(4, p=subj_p))]
            self.teachers.append({"teacher_id": f"T-{t + 1:05d}", "gender": gender,
                                  "subject": subject, "school": sch})
        # years of teaching experience: a stream of their own (the 9th child of the seed), so the
        # earlier draws and files stay as they were
        r_exp = np.random.default_rng(np.random.SeedSequence(self.seed).spawn(9)[8])
        for t in self.teachers:
            t["years_experience"] = min(38, int(r_exp.gamma(2.0, 5.0)))
        # names: their own stream so that population draws do not depend on name lists
        rn = self.r_names
        for t in self.teachers:
            first = FEMALE if t["gender"] == "female" else MALE
            sur = SURNAMES[t["school"]["province"]]
            t["teacher_name"] = f"{first[int(rn.integers(len(first)))]} {sur[int(rn.integers(len(sur)))]}"
        special = rn.choice(n, size=max(3, n // 100) + 2, replace=False)
        for i in special[:-2]:
            t = self.teachers[int(i)]
            pool = URDU_NAMES[t["gender"]]
            t["teacher_name"] = pool[int(rn.integers(len(pool)))]
        for i, tmpl in zip(special[-2:], INJECTION_PREFIXES):
            t = self.teachers[int(i)]
            t["teacher_name"] = tmpl.format(name=t["teacher_name"])

    # -- communities of practice ---------------------------------------------------------
    def cop(self):
        rng = self.r_cop
        for prog in ("CBM", "CBT"):
            cl = [c for c in self.clusters if c["programme"] == prog]
            active = set(rng.permutation(len(cl))[: round(len(cl) * COP_ACTIVE_SHARE)].tolist())
            for i, c in enumerate(cl):
                c["cop_active"] = i in active
        n_by_cluster = {}
        for t in self.teachers:
            n_by_cluster[t["school"]["cluster"]] = n_by_cluster.get(t["school"]["cluster"], 0) + 1
        self.meetings = []
        for c in self.clusters:
            end = self.end[c["programme"]]
            dates = []
            if c["cop_active"]:
                stop = 760
                if rng.random() < COP_STOP_SHARE:
                    stop = int(rng.integers(15, 23) * 30.44)
                d = int(rng.integers(20, 46))
                while d <= stop:
                    dates.append(d)
                    d += max(18, int(round(30 + rng.normal(0, 6))))
                p_att = 0.6
            else:
                dates = sorted(rng.integers(20, 240, size=int(rng.integers(0, 3))).tolist())
                p_att = 0.3
            c["meeting_dates"] = [end + dt.timedelta(days=int(x)) for x in dates]
            size = n_by_cluster.get(c["cluster"], 1)
            for md in c["meeting_dates"]:
                topic = COP_TOPICS[int(rng.integers(len(COP_TOPICS)))]
                role = COP_ROLES[int(rng.integers(len(COP_ROLES)))]
                self.meetings.append({"cluster": c["cluster"], "meeting_date": md.isoformat(),
                                      "attendees": max(3, int(rng.binomial(size, p_att))),
                                      "facilitator_role": role, "topic": topic})

    # -- hindrances and hazards ----------------------------------------------------------
    def hazards(self):
        rng = self.r_hind
        for s in self.schools:
            s["hind"] = {h for h in self.hindrances
                         if self.h_level[h] == "school" and rng.random() < self.hind[h][0]}
        cop = {c["cluster"]: c["cop_active"] for c in self.clusters}
        raw = []
        for t in self.teachers:
            own = {h for h in self.hindrances
                   if self.h_level[h] == "teacher" and rng.random() < self.hind[h][0]}
            t["hind"] = own | t["school"]["hind"]
            m = 1.0
            for h in t["hind"]:
                m *= self.hind[h][1]
            if cop[t["school"]["cluster"]]:
                m *= COP_MULTIPLIER
            raw.append(m)
        self.norm = float(np.mean(raw))
        for t, m in zip(self.teachers, raw):
            t["M"] = m / self.norm

    # -- calibration of the base hazards -------------------------------------------------
    def fit_months_weights(self):
        """Months > 0 of the schedule and the expected relative number of teacher-practices at each
        (present at month 0 and at round k): (1 - P(left) - P(transferred)) ** k."""
        t_fit = np.array([m for m in self.months if m > 0], dtype=float)
        stay = 1.0 - RATES["left"] - RATES["transferred"]
        w = np.array([stay ** k for k, m in enumerate(self.months) if m > 0], dtype=float)
        return t_fit, w

    def calibrate(self):
        """Per programme and practice, the factor c on the base hazard ln2/half_life such that the
        single exponential fitted (binomial ML, log link, no intercept, expected-n weights) to the
        noise-free population retention curve E_M[exp(-c ln2/half_life M t)] over the programme's
        teachers has exactly the stated half-life. Rounded to 6 decimals so the draws do not hang
        on the last bits of the root finder."""
        from scipy.optimize import brentq

        t_fit, w = self.fit_months_weights()
        progs = np.array([t["school"]["programme"] for t in self.teachers])
        M = np.array([t["M"] for t in self.teachers])
        self.hazard_scale = {}
        for g in ("CBM", "CBT"):
            mg = M[progs == g]
            self.hazard_scale[g] = {}
            for p in self.practices:
                lam0 = math.log(2) / self.half_life[g][p]

                def gap(c):
                    return fit_exponential_rate(t_fit, population_retention(mg, c * lam0, t_fit), w) - lam0

                c = brentq(gap, 0.05, 20.0, xtol=1e-12, rtol=1e-12, maxiter=500)
                self.hazard_scale[g][p] = round(c, 6)

    # -- practice use over time ----------------------------------------------------------
    def practice_paths(self):
        rng = self.r_prac
        R = len(self.months)
        for t in self.teachers:
            prog = t["school"]["programme"]
            t["path"] = {}
            for p in self.practices:
                lam = math.log(2) / self.half_life[prog][p] * self.hazard_scale[prog][p] * t["M"]
                retained0 = bool(rng.random() < self.p0[p])
                T = float(rng.exponential(1 / lam))
                adopt = None
                if not retained0:
                    for k in range(1, R):
                        if rng.random() < LATE_ADOPTION:
                            adopt = k
                            break
                t["path"][p] = (retained0, T, adopt)

    def using(self, t, p, elapsed: float) -> bool:
        retained0, T, adopt = t["path"][p]
        if retained0:
            return T > max(elapsed, 0.0)
        if adopt is None or elapsed < self.months[adopt] - 0.5:
            return False
        return (elapsed - self.months[adopt]) < T

    # -- visits --------------------------------------------------------------------------
    def visits(self):
        rng, rm = self.r_visit, self.r_meta
        self.records = []
        clusters = {c["cluster"]: c for c in self.clusters}
        for t in self.teachers:
            sch = t["school"]
            c = clusters[sch["cluster"]]
            end = self.end[sch["programme"]]
            for k, month in enumerate(self.months):
                u = rng.random()
                if u < RATES["left"]:
                    status = "left"
                elif u < RATES["left"] + RATES["transferred"]:
                    status = "transferred"
                elif rng.random() < RATES["missed"]:
                    continue
                else:
                    v = rng.random()
                    status = ("absent" if v < RATES["absent"] else
                              "on_leave" if v < RATES["absent"] + RATES["on_leave"] else "present")
                vdate = end + dt.timedelta(days=round(month * 30.44) + int(rng.integers(-14, 15)))
                elapsed = (vdate - end).days / 30.44
                observer = c["main_observer"] if rng.random() < 0.85 else \
                    c["observers"][int(rng.integers(len(c["observers"])))]
                rec = {"teacher_id": t["teacher_id"], "school_id": sch["school_id"],
                       "cluster": sch["cluster"], "district": sch["district"],
                       "province": sch["province"], "programme": sch["programme"],
                       "month": month, "visit_date": vdate.isoformat(), "observer_id": observer,
                       "teacher_status": status, "scores": None, "hindrances": None,
                       "cop_active": None, "cop_meetings_3m": None, "comments": "",
                       "using": None}
                if status == "present":
                    using, scores = {}, {}
                    for p in self.practices:
                        using[p] = self.using(t, p, elapsed)
                        x = (LATENT_USING if using[p] else LATENT_NOT_USING) + rng.normal(0, NOISE_SD)
                        s = int(min(4, max(1, math.floor(x + 0.5))))
                        scores[p] = "na" if rng.random() < NA_RATE else str(s)
                    rec["using"], rec["scores"] = using, scores
                    rec["hindrances"] = [h for h in self.hindrances if rng.random() < (
                        REPORT_TRUE if h in t["hind"] else REPORT_FALSE)]
                    last30 = sum(1 for d in c["meeting_dates"] if 0 <= (vdate - d).days < 30)
                    last91 = sum(1 for d in c["meeting_dates"] if 0 <= (vdate - d).days < 91)
                    yes = last30 > 0
                    if rng.random() < COP_ANSWER_FLIP:
                        yes = not yes
                    rec["cop_active"] = "yes" if yes else "no"
                    p_att = ATTEND_ACTIVE if c["cop_active"] else ATTEND_INACTIVE
                    rec["cop_meetings_3m"] = int(min(3, rng.binomial(last91, p_att)))
                w = rng.random()
                if w < 0.12:
                    rec["comments"] = COMMENTS_EN[int(rng.integers(len(COMMENTS_EN)))]
                elif w < 0.2:
                    rec["comments"] = COMMENTS_UR[int(rng.integers(len(COMMENTS_UR)))]
                # submission metadata
                start = dt.datetime.combine(vdate, dt.time(8)) + dt.timedelta(
                    seconds=int(rm.integers(0, 4.5 * 3600)), milliseconds=int(rm.integers(0, 1000)))
                fin = start + dt.timedelta(seconds=int(rm.integers(12 * 60, 45 * 60)),
                                           milliseconds=int(rm.integers(0, 1000)))
                d = rm.random()
                delay = (rm.integers(60, 1800) if d < 0.6 else rm.integers(2 * 3600, 30 * 3600)
                         if d < 0.9 else rm.integers(2 * 86400, 6 * 86400))
                sub = fin - UTC_OFFSET + dt.timedelta(seconds=int(delay),
                                                      milliseconds=int(rm.integers(0, 1000)))
                iid = rng_uuid(rm)
                rec.update({"start": start, "end": fin, "sub": sub, "uuid": iid, "root": iid,
                            "deprecated": "", "edits": 0, "review": "", "override": {},
                            "tiebreak": 0.0})
                if rm.random() < 0.1:
                    rec["review"] = "approved"
                self.records.append(rec)
                if status in ("left", "transferred"):
                    break
        # a few special comments, on deterministic records in each file
        sindh = [r for r in self.records if r["province"] == "Sindh" and r["month"] != 24]
        baloch = [r for r in self.records if r["province"] == "Balochistan" and r["month"] != 24]
        m24 = [r for r in self.records if r["month"] == 24]
        sindh[len(sindh) // 3]["comments"] = SPECIAL_COMMENTS[0]
        sindh[len(sindh) // 2]["comments"] = SPECIAL_COMMENTS[1]
        baloch[len(baloch) // 2]["comments"] = SPECIAL_COMMENTS[2]
        m24[len(m24) // 2]["comments"] = SPECIAL_COMMENTS[1]

    # -- files ---------------------------------------------------------------------------
    def canonical(self, r) -> dict:
        c = {k: r[k] for k in ("visit_date", "observer_id", "district", "cluster", "school_id",
                               "teacher_id", "teacher_status", "comments")}
        for p in self.practices:
            c[p] = r["scores"][p] if r["scores"] else ""
        c["hindrances"] = " ".join(r["hindrances"]) if r["hindrances"] is not None else ""
        c["cop_active"] = r["cop_active"] or ""
        c["cop_meetings_3m"] = "" if r["cop_meetings_3m"] is None else str(r["cop_meetings_3m"])
        c["instance_id"] = r["uuid"]
        c.update(r["override"])
        return c

    def kobo_row(self, r) -> list:
        c = self.canonical(r)
        iid = c["instance_id"]
        split = []
        for h in self.hindrances:
            split.append("" if r["hindrances"] is None else ("1" if h in r["hindrances"] else "0"))
        return ([iso_local(r["start"]), iso_local(r["end"]), c["visit_date"], c["observer_id"],
                 c["district"], c["cluster"], c["school_id"], c["teacher_id"], c["teacher_status"]]
                + [c[p] for p in self.practices] + [c["hindrances"]] + split
                + [c["cop_active"], c["cop_meetings_3m"], c["comments"],
                   f"uuid:{iid}" if iid else "", f"uuid:{r['root']}" if iid else "",
                   f"uuid:{r['deprecated']}" if r["deprecated"] else "", str(r["_id"]), iid,
                   f"{r['sub']:%Y-%m-%dT%H:%M:%S}", "", "", "submitted_via_web",
                   "sustain_" + r["province"].lower(), KOBO_VERSION, "", str(r["_index"])])

    def odk_row(self, r) -> list:
        c = self.canonical(r)
        iid = f"uuid:{c['instance_id']}" if c["instance_id"] else ""
        num = int(r["observer_id"].split("-")[1])
        return ([f"{r['sub']:%Y-%m-%dT%H:%M:%S}.{r['sub'].microsecond // 1000:03d}Z",
                 iso_local(r["start"]), iso_local(r["end"]), c["visit_date"], c["observer_id"],
                 c["district"], c["cluster"], c["school_id"], c["teacher_id"], c["teacher_status"]]
                + [c[p] for p in self.practices]
                + [c["hindrances"], c["cop_active"], c["cop_meetings_3m"], c["comments"],
                   iid, iid, str(40 + num), f"obs{num:02d}", "0", "0", "", r["review"],
                   self.devices[r["observer_id"]], str(r["edits"]), FORM_VERSION])

    def build_files(self):
        rng = self.r_files
        n = self.n_teachers
        self.devices = {}
        for i in range(1, 6 * OBSERVERS_PER_DISTRICT + 1):
            chars = "abcdefghijklmnopqrstuvwxyz0123456789"
            self.devices[f"OBS-{i:02d}"] = "collect:" + "".join(
                chars[int(x)] for x in rng.integers(0, len(chars), 16))
        sindh = [r for r in self.records if r["province"] == "Sindh" and r["month"] != 24]
        baloch = [r for r in self.records if r["province"] == "Balochistan" and r["month"] != 24]
        m24 = [r for r in self.records if r["month"] == 24]
        taken: set[int] = set()

        def pick(pool, k, cond=lambda r: True):
            cand = [i for i, r in enumerate(pool) if id(r) not in taken and cond(r)]
            k = min(k, len(cand))
            chosen = sorted(rng.choice(len(cand), size=k, replace=False).tolist()) if k else []
            out = [pool[cand[i]] for i in chosen]
            taken.update(id(r) for r in out)
            return out

        scored = lambda r: r["scores"] is not None and any(v != "na" for v in r["scores"].values())
        not_special = lambda r: r["comments"] not in SPECIAL_COMMENTS

        # Kobo edits: originals go to the earlier export, the edited version to the main export
        n_edit = max(3, round(15 * n / 1200))
        n_status = max(1, n_edit // 5)
        status_edits = pick(sindh, n_status, lambda r: r["teacher_status"] in ("absent", "on_leave"))
        score_edits = pick(sindh, n_edit - len(status_edits), lambda r: scored(r) and not_special(r))
        self.kobo_originals = []
        for r in status_edits + score_edits:
            orig = copy.deepcopy(r)
            if r["teacher_status"] in ("absent", "on_leave"):
                orig["teacher_status"] = "on_leave" if r["teacher_status"] == "absent" else "absent"
            else:
                self._corrupt_score(orig, rng)
            r["uuid"] = rng_uuid(rng)
            r["deprecated"] = orig["uuid"]
            r["end"] = r["end"] + dt.timedelta(days=int(rng.integers(1, 21)),
                                               seconds=int(rng.integers(0, 86400)))
            orig["is_original_of"] = r
            self.kobo_originals.append(orig)
        # ODK edits: same KEY, Edits incremented, content changed
        n_odk = max(2, round(5 * n / 1200))
        self.odk_originals = []
        for r in pick(baloch, n_odk, lambda r: scored(r) and not_special(r)):
            orig = copy.deepcopy(r)
            orig["review"] = ""
            self._corrupt_score(orig, rng)
            r["edits"], r["review"] = 1, "edited"
            r["end"] = r["end"] + dt.timedelta(days=int(rng.integers(1, 21)))
            self.odk_originals.append(orig)
        # exact duplicates (double-sent)
        n_dup = max(2, round(5 * n / 1200))
        kobo_dups = pick(sindh, n_dup)
        odk_dups = pick(baloch, n_dup)
        # unchanged copies in the earlier exports
        n_same = max(3, round(10 * n / 1200))
        kobo_same = pick(sindh, n_same)
        odk_same = pick(baloch, n_same)

        # bad rows (additional submissions, each one bad cell)
        bad = {"kobo": [], "odk": [], "xlsx": []}
        pools = {"kobo": sindh, "odk": baloch, "xlsx": m24}
        for key, column, rule, value in BAD_CASES:
            base = pick(pools[key], 1, lambda r: scored(r) and not_special(r) and r["hindrances"])[0]
            taken.discard(id(base))
            b = copy.deepcopy(base)
            b["uuid"] = rng_uuid(rng)
            b["root"] = b["uuid"]
            b["deprecated"], b["edits"], b["review"] = "", 0, ""
            b["sub"] = b["sub"] + dt.timedelta(minutes=int(rng.integers(5, 300)))
            b["tiebreak"] = 0.25
            if rule == "missing_instance_id":
                b["uuid"] = b["root"] = ""
            elif rule == "date_outside_programme":
                end = self.end[b["programme"]]
                value = (end - dt.timedelta(days=int(rng.integers(75, 200)))).isoformat()
            elif rule == "school_not_in_district":
                same_prov = [d for p, d, _ in DISTRICTS if p == b["province"] and d != b["district"]]
                value = same_prov[int(rng.integers(len(same_prov)))]
            elif rule == "unknown_option":
                value = (" ".join(b["hindrances"] + [value])).strip()
            if column != "instance_id":
                b["override"] = {column: value}
            b["bad"] = {"column": column, "rule": rule, "value": value}
            bad[key].append(b)

        # Kobo _id: one server-wide counter over every Kobo submission, in arrival order
        kobo_all = sindh + bad["kobo"] + m24 + bad["xlsx"]
        dup_copies = []
        for r in kobo_dups:
            d = dict(r)
            d["tiebreak"] = 0.5
            dup_copies.append(d)
        kobo_all += dup_copies
        kobo_all.sort(key=lambda r: (r["sub"], r["tiebreak"]))
        next_id = 310_400_000
        for r in kobo_all:
            next_id += int(rng.integers(1, 4))
            r["_id"] = next_id
        for o in self.kobo_originals:
            o["_id"] = o.pop("is_original_of")["_id"]  # Kobo keeps _id through an edit
        kobo_same_copies = [dict(r) for r in kobo_same]

        def ordered_kobo(rows):
            rows = sorted(rows, key=lambda r: r["_id"])
            return [dict(r, _index=i + 1) for i, r in enumerate(rows)]

        self.kobo_main = ordered_kobo(sindh + bad["kobo"] + dup_copies)
        self.kobo_earlier = ordered_kobo(self.kobo_originals + kobo_same_copies)
        self.xlsx_rows = ordered_kobo(m24 + bad["xlsx"])
        odk_main = sorted(baloch + bad["odk"], key=lambda r: (r["sub"], r["tiebreak"]))
        dup_ids = {id(r) for r in odk_dups}
        self.odk_main = []
        for r in odk_main:
            self.odk_main.append(r)
            if id(r) in dup_ids:
                self.odk_main.append(r)
        self.odk_earlier = sorted(self.odk_originals + odk_same, key=lambda r: r["sub"])
        self.kobo_dup_uuids = sorted(r["uuid"] for r in kobo_dups)
        self.odk_dup_keys = sorted(f"uuid:{r['uuid']}" for r in odk_dups)
        self.bad_rows = []
        for key, rows in (("kobo", self.kobo_main), ("odk", self.odk_main), ("xlsx", self.xlsx_rows)):
            for i, r in enumerate(rows):
                if "bad" in r:
                    self.bad_rows.append({"file": FILES[key], "row": i + 1, **r["bad"]})

    def _corrupt_score(self, rec, rng):
        codes = [p for p in self.practices if rec["scores"][p] != "na"]
        p = codes[int(rng.integers(len(codes)))]
        true = int(rec["scores"][p])
        wrong = [s for s in (true - 1, true + 1) if 1 <= s <= 4]
        rec["scores"] = dict(rec["scores"])
        rec["scores"][p] = str(wrong[int(rng.integers(len(wrong)))])

    # -- writing -------------------------------------------------------------------------
    def write(self, out: Path):
        out.mkdir(parents=True, exist_ok=True)
        with open(out / FILES["roster"], "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(ROSTER_HEADERS)
            for t in self.teachers:
                s = t["school"]
                w.writerow([t["teacher_id"], t["teacher_name"], t["gender"], t["subject"],
                            s["school_id"], s["school_name"], s["school_type"], s["cluster"],
                            s["district"], s["province"], s["programme"], t["years_experience"]])
        with open(out / FILES["cop"], "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(COP_HEADERS)
            for m in sorted(self.meetings, key=lambda m: (m["cluster"], m["meeting_date"])):
                w.writerow([m[h] for h in COP_HEADERS])
        kh = kobo_headers(self.practices, self.hindrances)
        for key, rows in (("kobo", self.kobo_main), ("kobo_earlier", self.kobo_earlier)):
            with open(out / FILES[key], "w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n")
                w.writerow(kh)
                w.writerows(self.kobo_row(r) for r in rows)
        oh = odk_headers(self.practices)
        for key, rows in (("odk", self.odk_main), ("odk_earlier", self.odk_earlier)):
            with open(out / FILES[key], "w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(oh)
                w.writerows(self.odk_row(r) for r in rows)
        self.write_xlsx(out / FILES["xlsx"], kh)

    def write_xlsx(self, path: Path, headers: list[str]):
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "Sustain follow-up visit"
        ws.append(headers)
        numeric = {"_id", "_index", "context/cop_meetings_3m"} | {
            f"context/hindrances/{h}" for h in self.hindrances}
        for r in self.xlsx_rows:
            row = []
            for h, v in zip(headers, self.kobo_row(r)):
                row.append(int(v) if h in numeric and re.fullmatch(r"\d+", v) else (v or None))
            ws.append(row)
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # never let a value become a formula
        save_workbook_deterministic(wb, path)

    # -- truth ---------------------------------------------------------------------------
    def scored_in_use_probability(self, p: str) -> tuple[float, float]:
        """(a(using), a(not using)): the probability that the score model (rounded latent + normal
        noise, clipped to 1-4) scores practice p at or above its cut-off, by true state."""
        from scipy.stats import norm

        cutoff = next(q["retained_at"] for q in self.cfg["practices"] if q["code"] == p)
        if cutoff <= 1:
            return 1.0, 1.0
        # floor(x + 0.5) >= cutoff  <=>  x >= cutoff - 0.5 (clipping at 4 does not move the cut)
        return tuple(float(norm.sf((cutoff - 0.5 - latent) / NOISE_SD))
                     for latent in (LATENT_USING, LATENT_NOT_USING))

    def retention_as_scored(self) -> dict:
        """truth.json `retention_as_scored` (see its note): per programme, pooled and per practice."""
        out = {}
        for g in ("CBM", "CBT"):
            teachers = [t for t in self.teachers if t["school"]["programme"] == g]
            pooled_num, pooled_den = np.zeros(len(self.months)), 0.0
            out[g] = {"practice": {}}
            for p in self.practices:
                a_use, a_not = self.scored_in_use_probability(p)
                a = np.array([[a_use if self.using(t, p, float(m)) else a_not for m in self.months]
                              for t in teachers])                         # (teachers, months)
                num, den = a[:, 0] @ a, a[:, 0].sum()
                num[0] = den                                              # month 0: the base's own score
                out[g]["practice"][p] = {str(m): round(float(x / den), 4) for m, x in zip(self.months, num)}
                pooled_num, pooled_den = pooled_num + num, pooled_den + den
            out[g]["programme"] = {str(m): round(float(x / pooled_den), 4) for m, x in zip(self.months, pooled_num)}
        return out

    def truth(self) -> dict:
        M = np.array([t["M"] for t in self.teachers])
        progs = np.array([t["school"]["programme"] for t in self.teachers])
        median, fitted, typical, curve = {}, {}, {}, {}
        t_fit, w_fit = self.fit_months_weights()
        for g in ("CBM", "CBT"):
            mg = M[progs == g]
            median[g], fitted[g], typical[g], curve[g] = {}, {}, {}, {}
            for p in self.practices:
                lam = math.log(2) / self.half_life[g][p] * self.hazard_scale[g][p]
                surv = population_retention(mg, lam, t_fit)
                lam_fit = fit_exponential_rate(t_fit, surv, w_fit)
                fitted[g][p] = round(math.log(2) / lam_fit, 2)
                typical[g][p] = round(math.log(2) / lam, 2)
                curve[g][p] = {"0": 1.0, **{str(int(t)): round(float(s), 4)
                                            for t, s in zip(t_fit, surv)}}
                lo, hi = 0.0, 200.0
                for _ in range(60):
                    mid = (lo + hi) / 2
                    lo, hi = (mid, hi) if np.mean(np.exp(-lam * mg * mid)) > 0.5 else (lo, mid)
                median[g][p] = round((lo + hi) / 2, 2)
        # realised true-state retention among teachers present at month 0 and at month t
        first = {}
        ret = {g: {p: {} for p in self.practices} for g in ("CBM", "CBT")}
        for r in self.records:
            if r["teacher_status"] != "present":
                continue
            if r["month"] == 0:
                first[r["teacher_id"]] = r["using"]
        for g in ("CBM", "CBT"):
            for p in self.practices:
                for m in self.months:
                    rows = [r for r in self.records if r["programme"] == g and r["month"] == m
                            and r["teacher_status"] == "present" and r["teacher_id"] in first
                            and first[r["teacher_id"]][p]]
                    ret[g][p][str(m)] = round(sum(r["using"][p] for r in rows) / len(rows), 4) \
                        if rows else None
        as_scored = self.retention_as_scored()
        # implied reliability of one observation: squared correlation of latent and observed
        lat, obs = [], []
        for r in self.records:
            if r["scores"]:
                for p in self.practices:
                    if r["scores"][p] != "na":
                        lat.append(LATENT_USING if r["using"][p] else LATENT_NOT_USING)
                        obs.append(int(r["scores"][p]))
        reliability = float(np.corrcoef(lat, obs)[0, 1] ** 2)
        status_counts = {}
        for r in self.records:
            status_counts[r["teacher_status"]] = status_counts.get(r["teacher_status"], 0) + 1
        hind_real = {}
        for h in self.hindrances:
            units = self.schools if self.h_level[h] == "school" else self.teachers
            hind_real[h] = round(sum(1 for u in units if h in u["hind"]) / len(units), 4)
        return {
            "seed": self.seed,
            "teachers": self.n_teachers,
            "schools": len(self.schools),
            "clusters": len(self.clusters),
            "programme_end_dates": {g: d.isoformat() for g, d in self.end.items()},
            "schedule_months": self.months,
            "half_life_months": self.half_life,
            "half_life_note": (
                "the stated truth: the half-life ln2/lambda of the single exponential exp(-lambda t) "
                "that best fits the population retention curve (see hazard_calibration); a "
                "teacher-practice's hazard is ln2/half_life x hazard_scale x M, M normalised to "
                "mean 1 over all teachers. Because M varies, time to abandonment is a mixture of "
                "exponentials: its population median (population_median_months) and the half-life "
                "of a teacher with M = 1 (half_life_at_M1_months) differ from the stated value"),
            "hazard_calibration": {
                "hazard_scale": self.hazard_scale,
                "method": (
                    "per programme and practice, scipy.optimize.brentq solves for the factor c on "
                    "the base hazard ln2/half_life such that the noise-free population retention "
                    "S(t) = mean over the programme's teachers of exp(-c ln2/half_life M t), at the "
                    "scheduled months > 0, fitted as the retention indicator is (retention(t) = "
                    "exp(-lambda t), binomial maximum likelihood, log link, no intercept, weights = "
                    "expected number of teacher-practices at t), gives ln2/lambda = half_life; c "
                    "rounded to 6 decimals"),
                "fit_months": [int(t) for t in t_fit],
                "fit_weights": [round(float(x), 6) for x in w_fit],
                "fit_weights_note": ("expected relative number of teacher-practices present at month "
                                     "0 and at round k: (1 - rate left - rate transferred) ** k"),
            },
            "population_retention_curve": curve,
            "population_median_months": median,
            "half_life_at_M1_months": typical,
            "expected_exponential_fit_half_life": fitted,
            "expected_exponential_fit_note": (
                "ln2 / lambda of the calibration's fit (hazard_calibration.method) to the "
                "population_retention_curve with the calibrated hazards: equal to half_life_months "
                "by construction; what a single-exponential fit of observed retention (retained at "
                "0 and at t) should find, apart from sampling and scoring noise"),
            "p0": self.p0,
            "late_adoption_per_round": LATE_ADOPTION,
            "hindrances": {h: {"level": self.h_level[h], "prevalence": self.hind[h][0],
                               "realised_prevalence": hind_real[h],
                               "hazard_ratio": self.hind[h][1], "assumption": True}
                           for h in self.hindrances},
            "hindrance_reporting": {"p_report_if_present": REPORT_TRUE,
                                    "p_report_if_absent": REPORT_FALSE},
            "cop": {"active_share": COP_ACTIVE_SHARE, "hazard_multiplier": COP_MULTIPLIER,
                    "assumption": True, "stop_share_of_active": COP_STOP_SHARE,
                    "active_clusters": sorted(c["cluster"] for c in self.clusters if c["cop_active"]),
                    "answer_flip": COP_ANSWER_FLIP},
            "hazard_normaliser": round(self.norm, 6),
            "score_model": {"latent_using": LATENT_USING, "latent_not_using": LATENT_NOT_USING,
                            "noise_sd": NOISE_SD, "na_rate": NA_RATE,
                            "implied_reliability": round(reliability, 3)},
            "rates": RATES,
            "realised_true_retention": ret,
            "retention_as_scored": as_scored,
            "retention_as_scored_note": (
                "the truth of the `retention` indicator's estimand: of the teacher-practices scored "
                "in use at month 0, the share an observer would score in use at month t had every "
                "one been visited (scoring error included; missed visits and teachers who left "
                "counted). Computed from the generator's known state, never from an estimator: over "
                "every teacher-practice of the roster (in use at month 0 or not, late adopters "
                "included), its true state at the nominal month t (`using`) and the probability "
                "a(s) that the score model (score_model; scores rounded and clipped to 1-4) gives "
                "a score >= the practice's retained_at in state s: R(t) = sum a(s_0) a(s_t) / "
                "sum a(s_0), the expectation over the scoring draws given the realised states "
                "(`na` is independent of the state and cancels); 1 at month 0. `programme` pools "
                "the practices of a programme."),
            "visits": {"total": len(self.records), "by_status": dict(sorted(status_counts.items()))},
            "rows": {FILES["roster"]: len(self.teachers), FILES["cop"]: len(self.meetings),
                     FILES["kobo"]: len(self.kobo_main), FILES["kobo_earlier"]: len(self.kobo_earlier),
                     FILES["odk"]: len(self.odk_main), FILES["odk_earlier"]: len(self.odk_earlier),
                     FILES["xlsx"]: len(self.xlsx_rows)},
            "bad_rows": len(self.bad_rows),
            "kobo_edited_root_uuids": sorted(f"uuid:{o['uuid']}" for o in self.kobo_originals),
            "odk_edited_keys": sorted(f"uuid:{o['uuid']}" for o in self.odk_originals),
            "kobo_duplicate_uuids": self.kobo_dup_uuids,
            "odk_duplicate_keys": self.odk_dup_keys,
        }


def generate(out_dir, teachers: int = DEFAULT_TEACHERS, seed: int = DEFAULT_SEED,
             config_path=DEFAULT_CONFIG) -> dict:
    """Write the sample files into ``out_dir`` and return the truth dict."""
    out = Path(out_dir)
    g = Generator(teachers, seed, load_config(Path(config_path)))
    g.population()
    g.cop()
    g.hazards()
    g.calibrate()
    g.practice_paths()
    g.visits()
    g.build_files()
    g.write(out)
    truth = g.truth()
    with open(out / "truth.json", "w", encoding="utf-8") as fh:
        json.dump(truth, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    with open(out / "bad_rows.json", "w", encoding="utf-8") as fh:
        json.dump(g.bad_rows, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    return truth


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sample_data.generate", description=__doc__.split("\n")[0])
    ap.add_argument("--teachers", type=int, default=DEFAULT_TEACHERS)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--config", default=str(DEFAULT_CONFIG))
    a = ap.parse_args(argv)
    truth = generate(a.out, a.teachers, a.seed, a.config)
    for name, n in truth["rows"].items():
        print(f"{name}: {n} rows")
    print(f"bad rows: {truth['bad_rows']} (bad_rows.json); truth: truth.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
