"""The follow-up visit plan: which schools most need a visit, and why, in plain words.

`visit_plan(con, filters, by, config)` gives one row per school of the filtered roster (`by` is
ignored: the plan is always per school), ranked by `need_score`. A visit is support, not a
verdict on people: every school appears, small ones included, and the table names no teacher.

need_score (0 to 1) is the weighted sum of four need parts, each from 0 to 1, with the weights in
`WEIGHTS` (summing to 1). A part that cannot be judged adds nothing: missing evidence is not
evidence of need, so a school whose decay cannot be judged scores at most 0.60 and ranks after
schools where decay is seen. A school all of whose trained teachers are recorded as left or
transferred (at their latest visit) is listed last, unscored, with that as its reason.

- decay (0.40): the probability that the school's retention at the common round is below its
  programme's retention there (`p_below_programme` of `metrics.decay.persistence`: the school's
  own counts weighed against its district's schools of the same programme by empirical-Bayes
  shrinkage), so a school of two teachers at 0% counts only as much as that evidence allows.
  For a school with teachers of several programmes, its most at-risk programme's
  (`decay.by_school`). Not judged when the school was not observed at that round ("not observed
  at month R"), or when no round is common to the programmes ("too few observations to judge
  decay"). The reason quotes the raw retention with its n when the school rests on at least
  thresholds.min_group_n teachers there, else only the probability (rounded to one decimal,
  as persistence shows it).
- hindrances (0.25): the share of the school's recent visits reporting its most frequent
  hindrance. Recent visits: visits with the teacher present (the context questions are asked
  only then) within `RECENT_DAYS` before the school's last visit, i.e. its latest round. Not
  judged when the school has no such visit.
- months since the last visit (0.20): months from the school's last visit (any teacher status)
  to today, over `RECENCY_FULL_MONTHS`, capped at 1; 1 for a school never visited.
- community of practice (0.15): 1 when the cluster's community is not active, else 0. Not active:
  fewer than half (`COP_ACTIVE_SHARE`) of the cluster's recent visits answer that the community
  met in the last month, or the CoP log (when one was imported) records no meeting of the cluster
  from `RECENT_DAYS` before the cluster's last visit up to today. The cluster's status uses all
  its visits, whatever the teacher filters (it is a property of the cluster). Not judged when
  neither the visits nor a log say anything.

Visits are those placed on a scheduled round (metrics.base `placed_visits`). The practice filter
narrows the decay part only (hindrances, visits and CoP are not per practice).
"""
from __future__ import annotations

import datetime as dt
from typing import Sequence

import duckdb
import numpy as np
import pandas as pd

from sustain.config import DAYS_PER_MONTH, Config
from sustain.dimensions import teacher_select

from .base import filtered_rows, query
from .decay import TOO_FEW, by_school, persistence
from .filters import Filters
from .schools import visits_placed_once

WEIGHTS = {"decay": 0.40, "hindrances": 0.25, "recency": 0.20, "cop": 0.15}
RECENT_DAYS = 92            # about 3 months: the latest round's visits, the CoP log window
RECENCY_FULL_MONTHS = 12    # a school not visited for this long gets the full recency need
from .communities import ACTIVE_MEETINGS_PER_MONTH as COP_ACTIVE_SHARE  # noqa: E402 one definition of "active"
TOP_HINDRANCES = 2          # hindrances named in the reason
TOP_PLACES = range(1, TOP_HINDRANCES + 1)

TOO_FEW_DECAY = "too few observations to judge decay"

# the need score in three short lines, for the page and the workbook (no config keys)
SCORE_LINES = [
    f"Need runs from 0 to 1: decay of practices counts {WEIGHTS['decay']:.0%}, hindrances {WEIGHTS['hindrances']:.0%}, "
    f"time since the last visit {WEIGHTS['recency']:.0%}, an inactive community of practice {WEIGHTS['cop']:.0%}.",
    "Decay is the chance the school keeps fewer practices than its programme's schools; hindrances, the share of "
    f"recent visits reporting the main one; time, months since the last visit out of {RECENCY_FULL_MONTHS}.",
    "What cannot be judged adds nothing; equal scores go first to stronger evidence of decay, then to the "
    "school visited longer ago.",
]
# the workbook's "About" sheet: names its need_score column
SCORE_EXPLANATION = "need_score: " + " ".join(SCORE_LINES)

# the most schools the planner page plans at once (its "Schools to plan" box goes up to it)
PLAN_HEAD_ROWS = 100
PLAN_COLUMNS = ["rank", "school_id", "school_name", "cluster", "district", "need_score", "reason", "order_note",
                "retention_index", "n", "round", "p_below_programme", "persistence_class", "top_hindrances", "hindrance_share", "recent_visits",
                "last_visit", "months_since_visit", "cop_active", "teachers", "suppressed"]


def visit_plan(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
               config: Config, today: dt.date | None = None) -> pd.DataFrame:
    """One row per school, ranked by need_score (see the module docstring), with `reason` in
    plain words built from config labels. `retention_index`, `n`, `round`, `p_below_programme`,
    `persistence_class`: the school's persistence row (retention at the common round, the
    teacher-practices observed there, the probability behind the decay part, the class);
    `teachers`: roster teachers of the school within the filters; `suppressed`: the school's
    persistence row rests on fewer than thresholds.min_group_n teachers (its raw retention and n
    are blank; the school still appears, ranked on its probability)."""
    today = today or dt.date.today()
    schools = _school_facts(con, filters, config, today)
    if schools.empty:
        return pd.DataFrame(columns=PLAN_COLUMNS)
    # each school's persistence row, aligned with `schools` (NaN where it has none); every part
    # below is an array over the schools (a Python step per school costs most of a national plan)
    decay = by_school(persistence(con, filters, [], config))
    known = schools["school_id"].isin(decay.index).to_numpy()
    decay = decay.reindex(schools["school_id"])
    decay_part, decay_need, facts = _decay_parts(decay, known, config.thresholds.min_group_n)
    # the hindrance need is the share of recent visits reporting the main hindrance
    hindrance_part, top_text, share, recent = _hindrance_parts(schools, config)
    recency_part, recency_need, last_date, months = _recency_parts(schools["last_visit"], today)
    active = _cop_active(schools["active_share"].to_numpy(dtype="float64", na_value=np.nan),
                         schools["meetings"].to_numpy(dtype="int64"), schools["log_used"].to_numpy(dtype=bool))
    cop_part = np.where(np.isnan(active), "community of practice not known",
                        np.where(active == 1, "community of practice active", "no active community of practice"))

    # the weighted needs added in the order decay, hindrances, recency, CoP; a part not judged
    # adds nothing (adding 0.0 leaves the sum as it was)
    score = np.zeros(len(schools))
    for name, need in (("decay", decay_need), ("hindrances", share), ("recency", recency_need),
                       ("cop", 1.0 - active)):
        score = score + np.where(np.isnan(need), 0.0, WEIGHTS[name] * need)
    teachers = schools["teachers"].to_numpy(dtype="int64")
    gone = (teachers > 0) & (schools["teachers_gone"].to_numpy(dtype="int64") >= teachers)
    score[gone] = np.nan
    reason = (np.where(gone, GONE_REASON + "; ", "").astype(object) + decay_part + "; " + hindrance_part + "; "
              + recency_part + "; " + cop_part.astype(object))

    cop_active = pd.array([pd.NA] * len(schools), dtype="boolean")
    cop_active[~np.isnan(active)] = active[~np.isnan(active)] == 1
    plan = pd.DataFrame({
        "school_id": schools["school_id"].to_numpy(dtype=object), "school_name": schools["school_name"].to_numpy(dtype=object),
        "cluster": schools["cluster"].to_numpy(dtype=object), "district": schools["district"].to_numpy(dtype=object),
        "teachers": teachers, **facts, "recent_visits": recent, "top_hindrances": top_text, "hindrance_share": share,
        "last_visit": last_date, "months_since_visit": months, "cop_active": cop_active, "need_score": score,
        "reason": reason})
    plan = _ranked(plan[ROW_COLUMNS])
    plan["rank"] = np.arange(1, len(plan) + 1)
    return plan[PLAN_COLUMNS]


def visit_plan_head(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                    config: Config, today: dt.date | None = None) -> pd.DataFrame:
    """The first PLAN_HEAD_ROWS rows of `visit_plan`: what the planner page shows and downloads.
    attrs `schools`: the whole plan's number of schools; `latest_round`: the latest round its
    schools are compared at (None when none is). A national plan has one row per school (166,667
    at a million teachers) that no page shows; the page reads, keeps and copies these rows only."""
    plan = visit_plan(con, filters, by, config, today)
    head = plan.head(PLAN_HEAD_ROWS).reset_index(drop=True)
    rounds = plan["round"].dropna()
    head.attrs.update(schools=len(plan), latest_round=int(rounds.max()) if len(rounds) else None)
    return head


GONE_REASON = ("every trained teacher of the school is recorded as left or transferred: "
               "no practice to follow up (not scored)")
# a share as shown in a reason ("{:.0%}"): the percentage rounded half to even, as format() does
PERCENTS = np.array([f"{i}%" for i in range(101)], dtype=object)


def _percent(shares: np.ndarray) -> np.ndarray:
    """`f"{share:.0%}"` of each share in 0..1 (format multiplies by 100, then rounds half to
    even: so does rint)."""
    shares = np.asarray(shares, dtype="float64")
    whole = np.rint(np.where(np.isnan(shares), 0.0, shares) * 100)
    if ((whole < 0) | (whole > 100)).any():  # a share outside 0..1 (cannot happen): format each
        return np.array([f"{v:.0%}" for v in shares], dtype=object)
    return PERCENTS[whole.astype("int64")]


def _numbers(values: np.ndarray) -> np.ndarray:
    """Whole numbers as text."""
    return np.asarray(values, dtype="int64").astype(str).astype(object)


def _by_value(values: np.ndarray, text) -> np.ndarray:
    """`text(v)` for each of `values`, computed once per distinct value (rounds, codes: a few)."""
    distinct, position = np.unique(values, return_inverse=True)
    texts = np.empty(len(distinct), dtype=object)
    texts[:] = [text(v) for v in distinct.tolist()]
    return texts[position.reshape(-1)]


def _decay_parts(decay: pd.DataFrame, known: np.ndarray, min_n: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """The decay part of each school's reason, its need (NaN: not judged), and the plan's
    persistence columns (retention_index, n, round, p_below_programme, persistence_class,
    suppressed): from the school's persistence row (`known`), else too few to judge."""
    size = len(decay)
    rounds = decay["round"].astype("Int64")
    has_round = known & rounds.notna().to_numpy()
    round_value = rounds.fillna(0).to_numpy(dtype="int64")
    p = decay["p_below_programme"].to_numpy(dtype="float64", na_value=np.nan)
    judged = has_round & ~np.isnan(p)
    suppressed = np.where(known, decay["suppressed"].to_numpy(dtype=object), True).astype(bool)
    quoted = judged & ~suppressed
    after = _by_value(round_value, _after)
    part = np.full(size, TOO_FEW_DECAY, dtype=object)
    part[has_round & ~judged] = "not visited " + after[has_round & ~judged] + ", when schools are compared"
    if judged.any():
        reference = decay["programme_retention"].to_numpy(dtype="float64", na_value=np.nan)
        chance = (_percent(p) + " chance it keeps fewer practices than " + decay["programme"].astype(str).to_numpy(dtype=object)
                  + " schools as a whole (at their visits " + after + ", " + _percent(reference)
                  + " of the practices scored were in use)")
        few = judged & suppressed
        part[few] = f"fewer than {min_n} teachers seen " + after[few] + ": " + chance[few]
        if quoted.any():
            kept = _kept(decay["retained"].to_numpy(dtype="float64", na_value=0)[quoted].astype("int64"),
                         decay["n"].to_numpy(dtype="float64", na_value=0)[quoted].astype("int64"), round_value[quoted])
            part[quoted] = kept + "; " + chance[quoted]
    n = pd.array([pd.NA] * size, dtype="Int64")
    n[quoted] = decay["n"].to_numpy(dtype="float64", na_value=0)[quoted].astype("int64")
    shown_round = pd.array([pd.NA] * size, dtype="Int64")
    shown_round[has_round] = round_value[has_round]
    facts = {"retention_index": np.where(quoted, decay["index"].to_numpy(dtype="float64", na_value=np.nan), np.nan),
             "n": n, "round": shown_round, "p_below_programme": np.where(judged, p, np.nan),
             "persistence_class": np.where(known, decay["persistence_class"].to_numpy(dtype=object), TOO_FEW).astype(object),
             "suppressed": suppressed}
    return part, np.where(judged, np.clip(p, 0.0, 1.0), np.nan), facts


def _hindrance_parts(schools: pd.DataFrame, config: Config) -> tuple:
    """The hindrance part of each school's reason, `top_hindrances` (labels), `hindrance_share`
    (NaN: no recent visit with the teacher present) and the recent visits."""
    recent = schools["recent_visits"].to_numpy(dtype="int64")
    asked = recent > 0
    codes = [schools[f"code_{i}"].to_numpy(dtype=object) for i in TOP_PLACES]
    named = [pd.notna(column) for column in codes]
    counts = [schools[f"count_{i}"].to_numpy(dtype="float64", na_value=0).astype("int64") for i in TOP_PLACES]
    labels = [_by_value(np.where(has, column, "").astype(str), lambda c: config.hindrance_label(c) if c else "") for column, has
              in zip(codes, named)]
    visits = _numbers(recent)
    first = named[0]
    part = np.full(len(schools), "no recent visit with the teacher present to ask about hindrances", dtype=object)
    none = asked & ~first
    part[none] = "no hindrance reported at " + visits[none] + " recent visit" + _plural(recent[none])
    text = (labels[0] + " reported at " + _numbers(counts[0]) + " of " + visits + " recent visit" + _plural(recent))
    top_text = np.where(first, labels[0], "").astype(object)
    for other, has, count in zip(labels[1:], named[1:], counts[1:]):
        text = np.where(has, text + ", " + other + " at " + _numbers(count) + " of " + visits, text)
        top_text = np.where(has, top_text + ", " + other, top_text).astype(object)
    part[asked & first] = text[asked & first]
    top_text = np.where(asked, top_text, "").astype(object)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(asked, np.where(first, counts[0] / np.maximum(recent, 1), 0.0), np.nan)
    return part, top_text, share, recent


def _recency_parts(last_visit: pd.Series, today: dt.date) -> tuple:
    """The recency part of each school's reason, its need, the last visit's date (NaT: never)
    and the months since it."""
    visited = last_visit.notna().to_numpy()
    days = (np.datetime64(today, "D") - last_visit.to_numpy(dtype="datetime64[D]")).astype("int64")
    months = np.where(visited, days / DAYS_PER_MONTH, np.nan)
    whole = np.floor(np.where(visited, months, 0.0)).astype("int64")
    part = np.where(whole < 1, "last visited less than a month ago",
                    "last visited " + _numbers(whole) + " month" + _plural(whole) + " ago").astype(object)
    part[~visited] = "never visited"
    need = np.where(visited, np.clip(months / RECENCY_FULL_MONTHS, 0.0, 1.0), 1.0)
    return part, need, last_visit.dt.date.to_numpy(dtype=object), months


def _plural(counts: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(counts) == 1, "", "s").astype(object)


# the columns of a school's row as visit_plan builds it (before its rank and order note)
ROW_COLUMNS = ["school_id", "school_name", "cluster", "district", "teachers", "retention_index", "n", "round",
               "p_below_programme", "persistence_class", "suppressed", "recent_visits", "top_hindrances",
               "hindrance_share", "last_visit", "months_since_visit", "cop_active", "need_score", "reason"]


# the order of schools of equal shown score (need_score to 2 decimals, as shown): each key with
# the words that say why a school comes after the one above it
TIE_BREAKERS = [("p_below_programme", False, "weaker evidence of decay"),
                ("months_since_visit", False, "visited more recently"),
                ("hindrance_share", False, "fewer recent visits report its main hindrance"),
                ("school_id", True, "ordered by school code")]


def _ranked(plan: pd.DataFrame) -> pd.DataFrame:
    """The plan ordered by need_score as shown (2 decimals), ties broken by TIE_BREAKERS (a school
    never visited counts as visited longest ago), with `order_note` saying, for a school whose
    shown score equals the one above it, why it comes after it."""
    keys = plan.assign(shown_score=plan["need_score"].round(2),
                       months_since_visit=plan["months_since_visit"].fillna(np.inf))
    columns = ["shown_score", *[c for c, _, _ in TIE_BREAKERS]]
    ascending = [False, *[a for _, a, _ in TIE_BREAKERS]]
    order = keys.sort_values(columns, ascending=ascending, na_position="last", kind="stable").index
    plan, keys = plan.loc[order].reset_index(drop=True), keys.loc[order].reset_index(drop=True)
    # each school against the one above it, column by column (arrays, not a row loop)
    score = keys["shown_score"].to_numpy(dtype="float64")
    tied = ~np.isnan(score[1:]) & (score[:-1] == score[1:])
    why = np.full(len(tied), TIE_BREAKERS[-1][2], dtype=object)
    decided = np.zeros(len(tied), dtype=bool)
    for column, _, words in TIE_BREAKERS:
        values = keys[column].to_numpy(dtype=object)
        above, below = values[:-1], values[1:]
        differs = ~(pd.isna(above) & pd.isna(below)) & (above != below)
        why[differs & ~decided] = words
        decided |= differs
    ids = keys["school_id"].to_numpy(dtype=object)
    notes = np.full(len(plan), "", dtype=object)
    notes[1:][tied] = "same score as " + ids[:-1][tied] + ", placed after it: " + why[tied]
    plan["order_note"] = notes
    return plan


def _after(months: int) -> str:
    return f"{months} month{_s(months)} after the programme"


def _kept(retained: np.ndarray, observed: np.ndarray, months: np.ndarray) -> np.ndarray:
    """"3 of 10 practices in use when the programme ended were still in use 24 months after it
    (30%)"; none and all said as words (per school: arrays of its counts and round)."""
    later = " " + _by_value(np.asarray(months, dtype="int64"), lambda m: f"{m} month{_s(m)} after it")
    of = _numbers(observed)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = _percent(np.where(observed > 0, retained / np.maximum(observed, 1), 0.0))
    text = (_numbers(retained) + " of " + of + " practices in use when the programme ended were still in use" + later
            + " (" + share + ")")
    text = np.where(retained == observed,
                    "all " + of + " practices in use when the programme ended were still in use" + later, text)
    return np.where(retained == 0,
                    "none of the " + of + " practices in use when the programme ended was still in use" + later,
                    text).astype(object)


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _cop_active(active_share: np.ndarray, meetings: np.ndarray, log_used: np.ndarray) -> np.ndarray:
    """Per school, whether its cluster's community is active: 1.0, 0.0, or NaN when neither the
    visits' answers (`active_share`, NaN: none) nor the CoP log (`log_used`) say."""
    by_visits = ~np.isnan(active_share)
    active = (~by_visits | (np.where(by_visits, active_share, 0.0) >= COP_ACTIVE_SHARE)) & (~log_used | (meetings > 0))
    return np.where(by_visits | log_used, active.astype("float64"), np.nan)


def _school_facts(con, filters: Filters, config: Config, today: dt.date) -> pd.DataFrame:
    """Per school of the filtered roster (or of its filtered visits): names, roster teachers,
    last visit, recent present visits and the hindrances most reported there (`code_i`,
    `count_i` for i in TOP_PLACES: most reported first, ties in config order, then by code), and
    the cluster's CoP signals. One query; the visits are read from model_visits
    (`placed_visits` with each visit's hindrances listed), whose several readers would otherwise
    make DuckDB materialise every column of the base relation."""
    roster_filters = filters.replace(practice=(), months_min=None, months_max=None)
    roster_where, roster_params = roster_filters.where("visit")
    visit_rows, visit_params = filtered_rows([], filters.replace(practice=()), "model_visits")
    codes = config.hindrance_codes
    # each teacher's status at their latest visit (the earliest submission on a tie); a teacher's
    # placed visits have distinct dates unless a visit date lies in two rounds' windows, so then
    # the latest date alone decides (an aggregate, not a window over every visit)
    # (only a teacher with a visit recorded as left or transferred can be gone: the others' visits
    # are not read)
    last_status = ("select teacher_key, arg_max(teacher_status, visit_date) as teacher_status "
                   "from gone_visits group by teacher_key") if visits_placed_once(config) else \
        ("select teacher_key, teacher_status from gone_visits "
         "qualify row_number() over (partition by teacher_key order by visit_date desc, submission_id) = 1")
    # the i-th most reported hindrance and its count (i an integer of TOP_PLACES, not data)
    top_columns = ", ".join(f"max(hindrance) filter (where place = {i}) as code_{i}, "
                            f"max(reported) filter (where place = {i}) as count_{i}" for i in TOP_PLACES)
    return query(con, config, f"""
roster as (
    select t.teacher_key, {teacher_select("t")}, t.school_id,
           sc.cluster, sc.district, sc.province, sc.school_type
    from teachers t join schools sc using (school_id)
),
filtered_roster as (
    select * from roster where {roster_where}
),
filtered_visits as not materialized (
    select teacher_key, submission_id, school_id, visit_date, teacher_status, hindrances from ({visit_rows})
),
plan_schools as (
    select school_id from filtered_roster
    union
    select school_id from filtered_visits
),
gone_visits as (
    select teacher_key, submission_id, visit_date, teacher_status from filtered_visits
    where teacher_key in (select teacher_key from filtered_visits where teacher_status in ('left', 'transferred'))
),
last_status as (
    {last_status}
),
roster_teachers as (
    select fr.school_id, count(*) as teachers,
           count(*) filter (where ls.teacher_status in ('left', 'transferred')) as teachers_gone
    from filtered_roster fr left join last_status ls using (teacher_key)
    group by fr.school_id
),
school_last as (
    select school_id, max(visit_date) as last_visit from filtered_visits group by school_id
),
recent as materialized (
    select fv.school_id, fv.hindrances
    from filtered_visits fv join school_last sl using (school_id)
    where fv.teacher_status = 'present' and fv.visit_date > sl.last_visit - to_days($recent_days)
),
recent_visits as (
    select school_id, count(*) as recent_visits from recent group by school_id
),
recent_reports as (
    select school_id, hindrance, count(*) as reported
    from (select school_id, unnest(hindrances) as hindrance from recent)
    group by all
),
hindrance_ranks as (
    select unnest($hindrance_codes::varchar[]) as hindrance, unnest(range(len($hindrance_codes::varchar[]))) as rank
),
ranked_reports as (
    select rr.school_id, rr.hindrance, rr.reported,
           row_number() over (partition by rr.school_id
                              order by rr.reported desc, coalesce(hr.rank, $code_count), rr.hindrance) as place
    from recent_reports rr left join hindrance_ranks hr using (hindrance)
),
top_hindrances as (
    select school_id, {top_columns}
    from ranked_reports
    where place <= $top
    group by school_id
),
plan_clusters as (
    select distinct sc.cluster from plan_schools ps join schools sc using (school_id)
),
all_visits as (
    -- every visit of the plan's clusters, whatever the teacher filters (a cluster's status is
    -- its own visits'; the other clusters' are not read)
    select cluster, visit_date, teacher_status, cop_active from model_visits
    where cluster in (select cluster from plan_clusters)
),
cluster_last as (
    select cluster, max(visit_date) as last_visit from all_visits group by cluster
),
cluster_answers as (
    select pv.cluster, avg(pv.cop_active::integer) as active_share
    from all_visits pv join cluster_last cl using (cluster)
    where pv.teacher_status = 'present' and pv.cop_active is not null
      and pv.visit_date > cl.last_visit - to_days($recent_days)
    group by pv.cluster
),
cluster_meetings as (
    select cl.cluster, count(m.meeting_key) as meetings
    from cluster_last cl
    left join cop_meetings m on m.cluster = cl.cluster
         and m.meeting_date > cl.last_visit - to_days($recent_days) and m.meeting_date <= $today::date
    group by cl.cluster
)
select ps.school_id, sc.school_name, sc.cluster, sc.district,
       coalesce(rt.teachers, 0) as teachers,
       coalesce(rt.teachers_gone, 0) as teachers_gone,
       sl.last_visit,
       coalesce(rv.recent_visits, 0) as recent_visits,
       {", ".join(f"th.code_{i}, th.count_{i}" for i in TOP_PLACES)},
       ca.active_share,
       coalesce(cm.meetings, 0) as meetings,
       (select count(*) > 0 from cop_meetings) as log_used
from plan_schools ps
join schools sc using (school_id)
left join roster_teachers rt using (school_id)
left join school_last sl using (school_id)
left join recent_visits rv using (school_id)
left join top_hindrances th using (school_id)
left join cluster_answers ca on ca.cluster = sc.cluster
left join cluster_meetings cm on cm.cluster = sc.cluster
order by ps.school_id
""", roster_params | visit_params | {"recent_days": RECENT_DAYS, "today": today, "hindrance_codes": codes,
                                      "code_count": len(codes), "top": TOP_HINDRANCES})
