"""An independent simulator with known truth, for validating the indicators (issue 10, item 8).

Written for the tests, independently of `sample_data/generate.py` (it neither imports nor copies
it). It draws a population of teachers with a *latent* "in use" state per teacher-practice,
writes a roster CSV and a KoboToolbox CSV export exactly as the ingest reads them (through the
writers of `tests/support.py`), and states the TRUE quantities, computed from the latent state of
the simulated population or from the data-generating process (DGP), never from an estimator.

    from simulator import SimParams, simulate, write_files, truth
    pop = simulate(SimParams(teachers=1200), seed=1)
    roster, export = write_files(pop, out_dir)
    true = truth(pop)                      # realised (finite-population) truth, a dict
    super_ = superpopulation_truth(params)  # the same DGP on a very large population

    python tests/simulator.py --seed 1 --out DIR   # roster, export, truth.json, truth_superpopulation.json

Everything is vectorised numpy; one `numpy.random.SeedSequence(seed)` is split into independent
child streams, one per component (structure, frailty, in-use, hazard draws, exposure, attrition,
missed rounds, dates, scores, other hindrances, context), so changing one component's parameters
does not change the draws of the others.

## The data-generating process (every number below is an ASSUMPTION of this simulator)

Population (`SimParams`):
- A1. Two programmes: CBM (coached, end 2023-12-15) and CBT (training only, end 2024-06-14), as in
  config.yaml. Month 0 is the programme's end date; rounds at months 0, 3, 6, 12, 18, 24.
- A2. Hierarchy: 2 provinces x 2 districts, clusters of `schools_per_cluster` (8) schools;
  a whole cluster is trained by one programme (drawn 50/50 per cluster), so districts contain
  both programmes (district fixed effects are not collinear with programme). A school has
  `teachers_per_school` = 2..6 teachers (uniform); schools are created until `teachers` is reached
  (the last school is truncated).
- A3. Six practices (config.yaml). A teacher-practice is in use at month 0 with probability
  `p_in_use[practice]` (0.65-0.85), independently.

Abandonment (latent, continuous time in months since the programme end):
- A4. Hazard of abandoning an in-use practice, piecewise constant between the scheduled rounds:
      h(t) = base[programme] * practice_hr[practice] * Z_school * W_teacher * 1.8^{E_school(r(t))}
  where r(t) is the last scheduled round <= t. `base` (0.070 CBM, 0.139 CBT per month) was
  calibrated (root-finding on a 60,000-teacher population) so that the superpopulation retention
  curve crosses 0.5 at about 12 months (CBM) and 6 months (CBT), DOMAIN.md's defaults; with the
  frailties the curve flattens, so the baseline hazard is well above ln2 / half-life.
- A5. School frailty Z ~ Gamma(mean 1, variance `school_frailty_var` = 0.5), shared by a school's
  teachers; teacher heterogeneity W ~ Gamma(mean 1, variance `teacher_frailty_var` = 0.3), shared by
  a teacher's practices. Practice hazard ratios `practice_hr` (peer_feedback highest, teaching_aids
  lowest), each relative to the programme baseline.
- A6. No recovery: once abandoned a practice stays abandoned, so in truth survival (time to first
  abandonment) and retention (share in use at t) are the same curve.
- A7. The latent process continues after a teacher leaves or misses a visit (leaving is caused by
  abandonment, A10, not the reverse); truth is over ALL units in use at month 0.

Hindrances (reported at visits where the teacher is present; the form asks context only then):
- A8. REAL hindrance `no_followup` (school level): 40% of schools (`real_school_share`) are
  "affected"; in an affected school it is reported at each round with probability
  `real_report_prob` (0.6), independently across rounds, by every present teacher of the school.
  When reported at round r it multiplies the hazard by `real_hr` = 1.8 from round r until the next
  round (the exposure interval uses the nominal round months, not the jittered visit dates).
  The true conditional hazard ratio is 1.8. (Under frailty, a marginal / population-averaged
  hazard ratio is somewhat smaller; an estimator without frailty targets something between.)
- A9. NULL hindrance `political_interference` (school level): no effect on the hazard; reported at
  a school-round with probability 0.35 in CBT (the higher-hazard programme) and 0.05 in CBM, so it
  is confounded by programme. True hazard ratio 1.0.
- A9b. Other codes: `teacher_resistance` 2%, `low_pay` 3%, `no_resources` 2%,
  `management_resistance` 1% of present visits (teacher level, independent, no effect);
  `parent_resistance` and `other` never reported.

Observation:
- A10. Informative attrition: at each round r > 0 a teacher still in the roster's schools leaves
  with probability `attrition_base + attrition_slope * (share of the teacher's six practices not in
  use at r)` (0.01 + 0.10 x share; about a quarter of teachers leave within 24 months). That round's visit records `left` or `transferred` (50/50) with
  no scores, and the teacher has no later visits.
- A11. Missed rounds: each remaining scheduled visit is missed with probability 0.08, at random;
  a missed visit is no row at all (half) or a row with status `absent` / `on_leave` and no scores.
- A12. Visit dates: nominal date (end + month x 30.4375 days) + a uniform jitter of +-21 days,
  inside the 6-week window. The latent state is read at the actual visit date.
- A13. Scoring error: at a present visit each practice is `na` with probability 0.01, otherwise
  scored from the latent state: in use -> score >= 3 with probability `accuracy` (0.9; 3 or 4 in
  proportion 0.6/0.4, below: 2 or 1 in 0.7/0.3); not in use -> score < 3 with probability
  `accuracy` (2 or 1 in 0.55/0.45; above: 3 or 4 in 0.8/0.2), independently across visits. With
  accuracy 0.9 the 1-4 score's correlation with the latent state is about 0.73 (measured on a
  simulated population), a noisier instrument than the Teach tool's field ICC of .75 suggests
  for a total score, but the binary ">= 3" is what the indicators read. `accuracy=1` removes
  scoring error.

## Truth (what the indicators are judged against)

`truth(pop)` gives, per programme and practice and pooled by programme:
- `S_latent[t]` for t in the schedule: the REALISED (finite-population) share of teacher-practices
  in use at month 0 whose latent abandonment time exceeds t, over all of them (later missing,
  attrited or misclassified included). No recovery, so this is both true retention and true
  survival at t. This is what bias and coverage are judged against (as the audit did).
- `half_life`: the realised median of the latent abandonment time of units in use at month 0, i.e.
  where the realised continuous curve S(t) crosses 0.5 (read from the curve, not a model fit);
  `half_life_loglinear_rounds`: the same read from S at the rounds, log-linear between rounds (what
  a perfect estimator that sees only the rounds targets; a diagnostic).
- `hazard_ratio`: {no_followup: 1.8, political_interference: 1.0} (conditional, from the DGP).
- Diagnostics that are properties of the simulated COMPLETE score process (every teacher scored
  at every round, no missingness or attrition; not estimator output): `R_scores[t]` = of units
  scored >= 3 at month 0, the share scored >= 3 at t: the TRUTH of the retention indicator, whose
  estimand is the as-scored share had every unit been visited (README "Indicators"; scoring error
  included, missing visits and attrition not); `S_scores_first[t]` = of those, the share with no score < 3
  at any round in (0, t] (the "first visit not retained" survival estimand with scoring error).
- `R_state[t]`: the same estimand computed from the latent state and the scoring accuracy alone
  (its expectation over the scoring draws, given the population's latent states): with a(s) the
  probability of a score >= 3 in state s (`accuracy` in use, 1 - `accuracy` abandoned; `na` is
  independent of the state and cancels), R_state(t) = sum_u a(s_u,0) a(s_u,t) / sum_u a(s_u,0) over
  every teacher-practice u (in use at month 0 or not: a practice not in use can be scored in use at
  month 0 and so enter retention's base), s_u,t its latent state at its round-t visit time; 1 at
  month 0. It differs from R_scores only by the scoring draws (a few thousandths at 1,200
  teachers); the superpopulation values of the two coincide.

`superpopulation_truth(params)` runs the same DGP on `SUPER_TEACHERS` teachers (fixed seed) and
reports the same quantities: the superpopulation values up to Monte Carlo error (about 0.002 for
a programme's S(t), 0.005 per practice). Bias is also reported against it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PRACTICES = ["group_work", "questioning", "teaching_aids", "lesson_planning", "learning_environment", "peer_feedback"]
HINDRANCES = ["no_followup", "teacher_resistance", "management_resistance", "parent_resistance", "low_pay",
              "political_interference", "no_resources", "other"]
PROGRAMMES = ["CBM", "CBT"]
END = {"CBM": dt.date(2023, 12, 15), "CBT": dt.date(2024, 6, 14)}
ROUNDS = np.array([0, 3, 6, 12, 18, 24], dtype=float)
DAYS_PER_MONTH = 30.4375
PROVINCES = {"Sindh": ["Thatta", "Badin"], "Balochistan": ["Quetta", "Lasbela"]}
SUPER_TEACHERS = 200_000
SUPER_SEED = 20_261_125


@dataclass(frozen=True)
class SimParams:
    """Every tunable assumption of the DGP (see the module docstring, A1-A13)."""
    teachers: int = 1200
    teachers_per_school: tuple[int, int] = (2, 6)
    schools_per_cluster: int = 8
    # A4: baseline hazard per month (calibrated: superpopulation half-life ~12 CBM, ~6 CBT)
    base_hazard: dict = field(default_factory=lambda: {"CBM": 0.070, "CBT": 0.139})
    practice_hr: dict = field(default_factory=lambda: {
        "group_work": 0.9, "questioning": 1.0, "teaching_aids": 0.75, "lesson_planning": 1.15,
        "learning_environment": 0.85, "peer_feedback": 1.4})
    p_in_use: dict = field(default_factory=lambda: {
        "group_work": 0.8, "questioning": 0.75, "teaching_aids": 0.85, "lesson_planning": 0.7,
        "learning_environment": 0.8, "peer_feedback": 0.65})
    school_frailty_var: float = 0.5
    teacher_frailty_var: float = 0.3
    real_hindrance: str = "no_followup"
    real_hr: float = 1.8
    real_school_share: float = 0.4
    real_report_prob: float = 0.6
    null_hindrance: str = "political_interference"
    null_report_prob: dict = field(default_factory=lambda: {"CBM": 0.05, "CBT": 0.35})
    other_report_prob: dict = field(default_factory=lambda: {
        "teacher_resistance": 0.02, "low_pay": 0.03, "no_resources": 0.02, "management_resistance": 0.01})
    attrition_base: float = 0.01
    attrition_slope: float = 0.10
    missed_rate: float = 0.08
    jitter_days: int = 21
    na_rate: float = 0.01
    accuracy: float = 0.9

    def replace(self, **changes) -> "SimParams":
        return dataclasses.replace(self, **changes)


@dataclass
class Population:
    """The simulated population: structure, latent state and observed visits (numpy arrays).

    Units are teacher-practices, unit u = teacher * 6 + practice index."""
    params: SimParams
    seed: int
    # teachers
    teacher_school: np.ndarray      # school index per teacher
    teacher_programme: np.ndarray   # 0 CBM, 1 CBT
    # schools
    school_cluster: np.ndarray
    school_district: np.ndarray     # index into DISTRICTS
    school_exposed_round: np.ndarray  # (schools, rounds) real hindrance reported at round r
    school_null_round: np.ndarray     # (schools, rounds) null hindrance reported at round r
    school_affected: np.ndarray
    school_frailty: np.ndarray
    teacher_frailty: np.ndarray
    # units (teachers * 6)
    in_use0: np.ndarray             # latent in use at month 0
    duration: np.ndarray            # latent abandonment time (0 when not in use at month 0)
    # visits (teachers, rounds): 0 no row, 1 present, 2 absent/on_leave, 3 left/transferred
    visit_kind: np.ndarray
    visit_months: np.ndarray        # actual visit time in months since the programme end
    scores: np.ndarray              # (teachers, rounds, practices) complete scores 1..4, 0 = na
    leave_round: np.ndarray         # round index of leaving (len(ROUNDS) when never)
    status_text: np.ndarray         # (teachers, rounds) status string for rows
    other_hindrances: np.ndarray    # (teachers, rounds, len(HINDRANCES)) bool: all codes reported

    @property
    def teachers(self) -> int:
        return len(self.teacher_school)

    @property
    def unit_programme(self) -> np.ndarray:
        return np.repeat(self.teacher_programme, len(PRACTICES))

    @property
    def unit_practice(self) -> np.ndarray:
        return np.tile(np.arange(len(PRACTICES)), self.teachers)


DISTRICTS = [(province, district) for province, names in PROVINCES.items() for district in names]


def _gamma(rng, variance: float, size: int) -> np.ndarray:
    """Gamma frailty with mean 1 and the given variance (1 everywhere when variance is 0)."""
    if variance <= 0:
        return np.ones(size)
    return rng.gamma(shape=1 / variance, scale=variance, size=size)


def simulate(params: SimParams = SimParams(), seed: int = 0) -> Population:
    """Draw one population from the DGP of the module docstring (vectorised; seeded)."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(10)]
    (r_struct, r_frail, r_use, r_hazard, r_expo, r_attr, r_miss, r_date, r_score, r_other) = streams
    n_rounds, n_prac = len(ROUNDS), len(PRACTICES)

    # A2: schools with 2..6 teachers, clusters of 8 schools, districts, programme per cluster
    low, high = params.teachers_per_school
    sizes = r_struct.integers(low, high + 1, size=params.teachers // low + 1)
    cumulative = np.cumsum(sizes)
    n_schools = int(np.searchsorted(cumulative, params.teachers) + 1)
    sizes = sizes[:n_schools].copy()
    sizes[-1] -= cumulative[n_schools - 1] - params.teachers
    teacher_school = np.repeat(np.arange(n_schools), sizes)
    school_cluster = np.arange(n_schools) // params.schools_per_cluster
    n_clusters = school_cluster.max() + 1
    cluster_district = r_struct.integers(0, len(DISTRICTS), size=n_clusters)
    cluster_programme = r_struct.integers(0, 2, size=n_clusters)
    school_district = cluster_district[school_cluster]
    teacher_programme = cluster_programme[school_cluster][teacher_school]
    n_teachers = params.teachers

    # A5: frailties
    school_frailty = _gamma(r_frail, params.school_frailty_var, n_schools)
    teacher_frailty = _gamma(r_frail, params.teacher_frailty_var, n_teachers)

    # A3: latent in use at month 0
    p_use = np.array([params.p_in_use[p] for p in PRACTICES])
    in_use0 = (r_use.random((n_teachers, n_prac)) < p_use).reshape(-1)

    # A8, A9: school-level hindrance reports per round
    school_programme = cluster_programme[school_cluster]
    school_affected = r_expo.random(n_schools) < params.real_school_share
    school_exposed_round = school_affected[:, None] & (r_expo.random((n_schools, n_rounds)) < params.real_report_prob)
    null_p = np.array([params.null_report_prob[p] for p in PROGRAMMES])[school_programme]
    school_null_round = r_expo.random((n_schools, n_rounds)) < null_p[:, None]

    # A4: piecewise-constant hazard; interval j = [ROUNDS[j], ROUNDS[j+1]), the last one open
    base = np.array([params.base_hazard[p] for p in PROGRAMMES])[teacher_programme]
    prac_hr = np.array([params.practice_hr[p] for p in PRACTICES])
    unit_teacher = np.repeat(np.arange(n_teachers), n_prac)
    unit_school = teacher_school[unit_teacher]
    scale = (base[unit_teacher] * np.tile(prac_hr, n_teachers) * school_frailty[unit_school]
             * teacher_frailty[unit_teacher])
    rates = scale[:, None] * np.where(school_exposed_round[unit_school], params.real_hr, 1.0)  # (units, rounds)
    duration = _invert_cumulative_hazard(rates, r_hazard.exponential(size=len(scale)))
    duration = np.where(in_use0, duration, 0.0)

    # A12: actual visit times
    jitter = r_date.integers(-params.jitter_days, params.jitter_days + 1, size=(n_teachers, n_rounds))
    visit_days = np.round(ROUNDS * DAYS_PER_MONTH)[None, :] + jitter
    visit_months = visit_days / DAYS_PER_MONTH
    in_use_at_visit = (in_use0.reshape(n_teachers, n_prac)[:, None, :]
                       & (duration.reshape(n_teachers, n_prac)[:, None, :] > visit_months[:, :, None]))  # (T, R, P)

    # A10: informative attrition, round by round (a loop over the 5 rounds only)
    leave_round = np.full(n_teachers, n_rounds)
    not_in_use_share = 1 - in_use_at_visit.mean(axis=2)  # (T, R)
    leave_draw = r_attr.random((n_teachers, n_rounds))
    for r in range(1, n_rounds):
        p_leave = params.attrition_base + params.attrition_slope * not_in_use_share[:, r]
        leaving = (leave_round == n_rounds) & (leave_draw[:, r] < p_leave)
        leave_round[leaving] = r
    leave_kind = np.where(r_attr.random(n_teachers) < 0.5, "left", "transferred")

    # A11: missed rounds, then the visit kinds
    missed = r_miss.random((n_teachers, n_rounds)) < params.missed_rate
    missed_row = r_miss.random((n_teachers, n_rounds)) < 0.5
    missed_status = np.where(r_miss.random((n_teachers, n_rounds)) < 0.5, "absent", "on_leave")
    round_index = np.arange(n_rounds)[None, :]
    visit_kind = np.where(missed, np.where(missed_row, 2, 0), 1)
    visit_kind = np.where(round_index == leave_round[:, None], 3, visit_kind)
    visit_kind = np.where(round_index > leave_round[:, None], 0, visit_kind)
    status_text = np.where(visit_kind == 3, leave_kind[:, None], np.where(visit_kind == 2, missed_status, "present"))

    # A13: complete scores for every teacher, round and practice (na coded 0)
    scores = _draw_scores(r_score, in_use_at_visit, params.accuracy)
    scores = np.where(r_score.random(scores.shape) < params.na_rate, 0, scores)

    # hindrances reported (if present): school-level real and null, teacher-level others
    reported = np.zeros((n_teachers, n_rounds, len(HINDRANCES)), dtype=bool)
    reported[:, :, HINDRANCES.index(params.real_hindrance)] = school_exposed_round[teacher_school]
    reported[:, :, HINDRANCES.index(params.null_hindrance)] = school_null_round[teacher_school]
    for code, p in params.other_report_prob.items():
        reported[:, :, HINDRANCES.index(code)] = r_other.random((n_teachers, n_rounds)) < p

    return Population(params=params, seed=seed, teacher_school=teacher_school, teacher_programme=teacher_programme,
                      school_cluster=school_cluster, school_district=school_district,
                      school_exposed_round=school_exposed_round, school_null_round=school_null_round,
                      school_affected=school_affected, school_frailty=school_frailty,
                      teacher_frailty=teacher_frailty, in_use0=in_use0, duration=duration,
                      visit_kind=visit_kind, visit_months=visit_months, scores=scores, leave_round=leave_round,
                      status_text=status_text, other_hindrances=reported)


def _invert_cumulative_hazard(rates: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Time T with H(T) = draw for piecewise-constant hazards `rates` (units, intervals) on the
    intervals starting at ROUNDS (the last one open-ended): the inverse-CDF draw T = H^-1(E)."""
    widths = np.diff(ROUNDS)                                    # closed intervals
    h_break = np.concatenate([np.zeros((len(rates), 1)), np.cumsum(rates[:, :-1] * widths, axis=1)], axis=1)
    interval = (h_break <= draws[:, None]).sum(axis=1) - 1      # last breakpoint with H <= E
    rows = np.arange(len(rates))
    return ROUNDS[interval] + (draws - h_break[rows, interval]) / rates[rows, interval]


def _draw_scores(rng, in_use: np.ndarray, accuracy: float) -> np.ndarray:
    """Scores 1..4 given the latent state (A13)."""
    u1, u2 = rng.random(in_use.shape), rng.random(in_use.shape)
    high = np.where(in_use, u1 < accuracy, u1 >= accuracy)      # scored >= 3
    high_score = np.where(in_use, np.where(u2 < 0.6, 3, 4), np.where(u2 < 0.8, 3, 4))
    low_score = np.where(in_use, np.where(u2 < 0.7, 2, 1), np.where(u2 < 0.55, 2, 1))
    return np.where(high, high_score, low_score).astype(np.int8)


# ---------------------------------------------------------------------------------------------
# Writing the files the ingest reads
# ---------------------------------------------------------------------------------------------

def teacher_id(i: int) -> str:
    return f"T-{i + 1:05d}"


def school_id(s: int) -> str:
    return f"SCH-{s + 1:04d}"


def cluster_code(pop: Population, c: int) -> str:
    district = DISTRICTS[pop.school_district[np.argmax(pop.school_cluster == c)]][1]
    return f"{district[:3].upper()}-C{c + 1}"


def write_files(pop: Population, out_dir: Path) -> tuple[Path, Path]:
    """Write `roster.csv` and `kobo_followup.csv` (KoboToolbox CSV) into out_dir; returns both."""
    from support import write_kobo, write_roster

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(np.random.SeedSequence([pop.seed, 7]))
    n_teachers = pop.teachers
    genders = np.where(rng.random(n_teachers) < 0.5, "female", "male")
    subjects = np.array(["maths", "languages", "science", "general_pedagogy"])[rng.integers(0, 4, n_teachers)]
    school_types = np.array(["primary", "middle", "high"])[rng.integers(0, 3, len(pop.school_cluster))]
    clusters = [cluster_code(pop, c) for c in range(pop.school_cluster.max() + 1)]
    rows = []
    for i in range(n_teachers):
        s = pop.teacher_school[i]
        province, district = DISTRICTS[pop.school_district[s]]
        rows.append({"teacher_id": teacher_id(i), "teacher_name": f"Teacher {i + 1}", "gender": genders[i],
                     "subject": subjects[i], "school_id": school_id(s), "school_name": f"School {s + 1}",
                     "school_type": school_types[s], "cluster": clusters[pop.school_cluster[s]],
                     "district": district, "province": province, "programme": PROGRAMMES[pop.teacher_programme[i]]})
    roster = write_roster(out_dir / "roster.csv", rows)

    visits = []
    teacher_idx, round_idx = np.nonzero(pop.visit_kind > 0)
    cop = rng.random(len(teacher_idx)) < 0.5
    meetings = rng.integers(0, 4, len(teacher_idx))
    for k, (i, r) in enumerate(zip(teacher_idx.tolist(), round_idx.tolist())):
        s = pop.teacher_school[i]
        programme = PROGRAMMES[pop.teacher_programme[i]]
        date = END[programme] + dt.timedelta(days=int(round(pop.visit_months[i, r] * DAYS_PER_MONTH)))
        present = pop.visit_kind[i, r] == 1
        scores, hindrances = {}, ""
        if present:
            scores = {p: (str(int(v)) if v > 0 else "na") for p, v in zip(PRACTICES, pop.scores[i, r])}
            hindrances = " ".join(h for h, on in zip(HINDRANCES, pop.other_hindrances[i, r]) if on)
        uid = f"{pop.seed:08x}-{i:05x}-{r:02x}-sim"
        visits.append({"uid": uid, "root": uid, "teacher_id": teacher_id(i), "school_id": school_id(s),
                       "visit_date": date.isoformat(), "status": str(pop.status_text[i, r]), "scores": scores,
                       "hindrances": hindrances, "district": DISTRICTS[pop.school_district[s]][1],
                       "cluster": clusters[pop.school_cluster[s]],
                       "cop_active": ("yes" if cop[k] else "no") if present else "",
                       "cop_meetings": str(int(meetings[k])) if present else "", "comments": "",
                       "edits": 0, "end": f"{date.isoformat()}T10:00:00.000+05:00"})
    export = write_kobo(out_dir / "kobo_followup.csv", visits)
    return roster, export


# ---------------------------------------------------------------------------------------------
# Truth
# ---------------------------------------------------------------------------------------------

def _curve(durations: np.ndarray) -> dict:
    """S(t) at the rounds, the half-life (median, from the continuous curve) and the log-linear
    half-life read from S at the rounds, for latent durations of units in use at month 0."""
    durations = np.asarray(durations)
    if len(durations) == 0:
        return {"n": 0, "S": {}, "half_life": math.nan, "half_life_loglinear_rounds": math.nan}
    s = {int(t): float(np.mean(durations > t)) for t in ROUNDS}
    return {"n": int(len(durations)), "S": s, "half_life": float(np.median(durations)),
            "half_life_loglinear_rounds": loglinear_half_life(ROUNDS, [s[int(t)] for t in ROUNDS])}


def loglinear_half_life(months, survival) -> float:
    """Time at which a curve given at `months` falls to 0.5, log-linear between points; inf when it
    stays above 0.5."""
    months, survival = np.asarray(months, float), np.asarray(survival, float)
    below = np.nonzero(survival <= 0.5)[0]
    if len(below) == 0:
        return math.inf
    j = below[0]
    if j == 0:
        return float(months[0])
    s0, s1 = math.log(survival[j - 1]), math.log(max(survival[j], 1e-12))
    return float(months[j - 1] + (math.log(0.5) - s0) / (s1 - s0) * (months[j] - months[j - 1]))


def _score_curves(scores: np.ndarray) -> dict:
    """Complete-score diagnostics for units (rows) scored at every round: R_scores and
    S_scores_first among units scored >= 3 at month 0 (na treated as not scored: dropped pairwise
    for R, skipped for S)."""
    base = scores[:, 0] >= 3
    sc = scores[base]
    r_scores, s_first = {}, {}
    dropped = np.zeros(len(sc), dtype=bool)
    for j, t in enumerate(ROUNDS):
        seen = sc[:, j] > 0
        r_scores[int(t)] = float(np.mean(sc[seen, j] >= 3)) if seen.any() else math.nan
        if j > 0:
            dropped |= seen & (sc[:, j] < 3)
        s_first[int(t)] = float(np.mean(~dropped)) if len(sc) else math.nan
    return {"R_scores": r_scores, "S_scores_first": s_first}


def _state_curves(in_use: np.ndarray, accuracy: float) -> dict:
    """R_state (module docstring): the as-scored retention expected from the latent states
    `in_use` (units x rounds, at each round's visit time) and the scoring accuracy."""
    scored_in_use = np.where(in_use, accuracy, 1 - accuracy)   # a(s) per unit and round
    base = scored_in_use[:, 0]
    total = base.sum()
    # month 0 is the base's own score (retained by definition), not a second scoring
    return {"R_state": {int(t): (1.0 if j == 0 else float(base @ scored_in_use[:, j] / total)) if total > 0
                        else math.nan for j, t in enumerate(ROUNDS)}}


def in_use_at_visits(pop: Population) -> np.ndarray:
    """Latent state (units x rounds): in use at the time of each round's (scheduled or actual) visit."""
    visit_months = np.repeat(pop.visit_months, len(PRACTICES), axis=0)      # (units, rounds)
    return pop.in_use0[:, None] & (pop.duration[:, None] > visit_months)


def truth(pop: Population) -> dict:
    """The realised (finite-population) truth of `pop`: see the module docstring. Keys:
    `programme`: {code: curve}, `programme_practice`: {"CBM|group_work": curve}, `hazard_ratio`,
    `assumptions` (the parameters)."""
    params = pop.params
    prog, prac = pop.unit_programme, pop.unit_practice
    scores_units = pop.scores.transpose(0, 2, 1).reshape(-1, len(ROUNDS))  # (units, rounds)
    in_use = in_use_at_visits(pop)
    out = {"kind": "realised finite-population truth from the latent state", "seed": pop.seed,
           "rounds": [int(t) for t in ROUNDS], "programme": {}, "programme_practice": {},
           "hazard_ratio": {params.real_hindrance: params.real_hr, params.null_hindrance: 1.0},
           "hazard_ratio_kind": "conditional on frailty, from the DGP",
           "assumptions": _jsonable(dataclasses.asdict(params))}
    for p, code in enumerate(PROGRAMMES):
        mask = (prog == p)
        out["programme"][code] = (_curve(pop.duration[mask & pop.in_use0]) | _score_curves(scores_units[mask])
                                  | _state_curves(in_use[mask], params.accuracy))
        for k, practice in enumerate(PRACTICES):
            m = mask & (prac == k)
            out["programme_practice"][f"{code}|{practice}"] = (_curve(pop.duration[m & pop.in_use0])
                                                             | _score_curves(scores_units[m])
                                                             | _state_curves(in_use[m], params.accuracy))
    return out


@functools.lru_cache(maxsize=4)
def _superpopulation_cached(params: SimParams, teachers: int, seed: int) -> str:
    pop = simulate(params.replace(teachers=teachers), seed=seed)
    result = truth(pop)
    result["kind"] = (f"superpopulation truth: the same DGP on {teachers:,} teachers (seed {seed}); "
                      "Monte Carlo error about 0.002 per programme, 0.005 per practice")
    return json.dumps(result)


def superpopulation_truth(params: SimParams = SimParams(), teachers: int = SUPER_TEACHERS,
                          seed: int = SUPER_SEED) -> dict:
    """The superpopulation truth (the DGP's expected curves, by Monte Carlo on a large population)."""
    return json.loads(_superpopulation_cached(_hashable(params), teachers, seed))


def write_truth(path: Path, true: dict) -> Path:
    path = Path(path)
    path.write_text(json.dumps(true, indent=2, allow_nan=True), encoding="utf-8")
    return path


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def _hashable(params: SimParams):
    """SimParams holds dicts (unhashable); lru_cache keys on a frozen copy."""
    return _Frozen(params)


class _Frozen:
    def __init__(self, params: SimParams):
        self.params = params
        self.key = json.dumps(_jsonable(dataclasses.asdict(params)), sort_keys=True)

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, _Frozen) and other.key == self.key

    def replace(self, **changes):
        return self.params.replace(**changes)


def main(argv=None) -> None:
    """`python tests/simulator.py --seed 1 --out DIR [--teachers N] [--accuracy A]`: write the
    roster, the KoboToolbox export, `truth.json` (realised) and `truth_superpopulation.json`."""
    import argparse
    import sys

    sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--teachers", type=int, default=SimParams.teachers)
    parser.add_argument("--accuracy", type=float, default=SimParams.accuracy)
    args = parser.parse_args(argv)
    params = SimParams(teachers=args.teachers, accuracy=args.accuracy)
    pop = simulate(params, args.seed)
    out = Path(args.out)
    roster, export = write_files(pop, out)
    write_truth(out / "truth.json", truth(pop))
    write_truth(out / "truth_superpopulation.json", superpopulation_truth(params))
    print(f"wrote {roster}, {export}, {out / 'truth.json'}, {out / 'truth_superpopulation.json'}")


if __name__ == "__main__":
    main()
