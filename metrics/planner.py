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
import math
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
    # each school's persistence row, aligned with `schools` (NaN where it has none); read as plain
    # lists below: a pandas row lookup per school costs most of a national plan
    decay = by_school(persistence(con, filters, [], config))
    has_decay = schools["school_id"].isin(decay.index).tolist()
    decay = decay.reindex(schools["school_id"])
    labels = {code: config.hindrance_label(code) for code in config.hindrance_codes}
    label = lambda code: labels[code] if code in labels else config.hindrance_label(code)  # noqa: E731
    min_n = config.thresholds.min_group_n
    # per school, its most reported recent hindrances (None past the last one reported)
    top_codes = list(zip(*(schools[f"code_{i}"].tolist() for i in TOP_PLACES)))
    top_counts = list(zip(*(schools[f"count_{i}"].tolist() for i in TOP_PLACES)))

    rows = []
    for (school_id, school_name, cluster, district, teachers, teachers_gone, last_visit, recent, active_share,
         meetings, log_used, top_codes, top_counts, known, d_round, d_class, d_suppressed, d_p, d_reference,
         d_programme, d_index, d_n, d_retained) in zip(
            schools["school_id"].tolist(), schools["school_name"].tolist(), schools["cluster"].tolist(),
            schools["district"].tolist(), schools["teachers"].tolist(), schools["teachers_gone"].tolist(),
            schools["last_visit"].tolist(), schools["recent_visits"].tolist(), schools["active_share"].tolist(),
            schools["meetings"].tolist(), schools["log_used"].tolist(), top_codes, top_counts, has_decay, decay["round"].tolist(),
            decay["persistence_class"].tolist(), decay["suppressed"].tolist(), decay["p_below_programme"].tolist(),
            decay["programme_retention"].tolist(), decay["programme"].tolist(), decay["index"].tolist(),
            decay["n"].tolist(), decay["retained"].tolist()):
        parts, needs = [], {}
        # decay
        retention_index, n, p_below, shown_round, kind, suppressed = np.nan, pd.NA, np.nan, pd.NA, TOO_FEW, True
        if known:
            shown_round, kind, suppressed = d_round, d_class, bool(d_suppressed)
        if not known or d_round is pd.NA:
            parts.append(TOO_FEW_DECAY)
        elif d_p != d_p:  # NaN
            parts.append(f"not visited {_after(int(d_round))}, when schools are compared")
        else:
            p, reference = float(d_p), float(d_reference)
            p_below = p
            needs["decay"] = min(max(p, 0.0), 1.0)
            chance = (f"{p:.0%} chance it keeps fewer practices than {d_programme} schools as a whole "
                      f"(at their visits {_after(int(d_round))}, {reference:.0%} of the practices scored were in use)")
            if suppressed:
                parts.append(f"fewer than {min_n} teachers seen {_after(int(d_round))}: " + chance)
            else:
                retention_index, n = float(d_index), int(d_n)
                parts.append(_kept(int(d_retained), int(d_n), int(d_round)) + "; " + chance)
        # hindrances at the latest round's visits
        recent = int(recent)
        top_text, share = "", np.nan
        if recent == 0:
            parts.append("no recent visit with the teacher present to ask about hindrances")
        else:
            top = [(code, int(count)) for code, count in zip(top_codes, top_counts) if isinstance(code, str)]
            share = top[0][1] / recent if top else 0.0
            top_text = ", ".join(label(c) for c, _ in top)
            needs["hindrances"] = share
            if top:
                first, *others = top
                text = f"{label(first[0])} reported at {first[1]} of {recent} recent visit{_s(recent)}"
                text += "".join(f", {label(code)} at {count} of {recent}" for code, count in others)
                parts.append(text)
            else:
                parts.append(f"no hindrance reported at {recent} recent visit{_s(recent)}")
        # months since the last visit
        if last_visit is pd.NaT:
            last_date, months = pd.NaT, np.nan
            needs["recency"] = 1.0
            parts.append("never visited")
        else:
            last_date = last_visit.date()
            months = (today - last_date).days / DAYS_PER_MONTH
            needs["recency"] = min(max(months / RECENCY_FULL_MONTHS, 0.0), 1.0)
            whole = math.floor(months)
            parts.append("last visited less than a month ago" if whole < 1
                         else f"last visited {whole} month{_s(whole)} ago")
        # community of practice of the cluster
        active = _cop_active(active_share, meetings, log_used)
        if active is None:
            parts.append("community of practice not known")
        else:
            needs["cop"] = 0.0 if active else 1.0
            parts.append("community of practice active" if active else "no active community of practice")

        score = sum(WEIGHTS[k] * v for k, v in needs.items())
        if teachers > 0 and teachers_gone >= teachers:
            score = np.nan
            parts.insert(0, "every trained teacher of the school is recorded as left or transferred: "
                            "no practice to follow up (not scored)")
        rows.append((school_id, school_name, cluster, district, int(teachers), retention_index, n, shown_round, p_below,
                     kind, suppressed, recent, top_text, share, last_date, months, active, score, "; ".join(parts)))

    plan = _ranked(pd.DataFrame(rows, columns=ROW_COLUMNS))
    plan["rank"] = np.arange(1, len(plan) + 1)
    plan["n"] = plan["n"].astype("Int64")
    plan["round"] = plan["round"].astype("Int64")
    plan["cop_active"] = plan["cop_active"].astype("boolean")
    return plan[PLAN_COLUMNS]


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
    ids = keys["school_id"].tolist()
    notes = [""] + [f"same score as {ids[i]}, placed after it: {why[i]}" if tied[i] else "" for i in range(len(tied))]
    plan["order_note"] = notes[:len(plan)]
    return plan


def _after(months: int) -> str:
    return f"{months} month{_s(months)} after the programme"


def _kept(retained: int, observed: int, months: int) -> str:
    """"3 of 10 practices in use when the programme ended were still in use 24 months after it
    (30%)"; none and all said as words."""
    later = f"{months} month{_s(months)} after it"
    if retained == 0:
        return f"none of the {observed} practices in use when the programme ended was still in use {later}"
    if retained == observed:
        return f"all {observed} practices in use when the programme ended were still in use {later}"
    return (f"{retained} of {observed} practices in use when the programme ended were still in use {later} "
            f"({retained / observed:.0%})")


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _cop_active(active_share, meetings, log_used) -> bool | None:
    by_visits = None if active_share is None or active_share != active_share else float(active_share) >= COP_ACTIVE_SHARE
    by_log = (int(meetings) > 0) if bool(log_used) else None
    if by_visits is None and by_log is None:
        return None
    return bool((by_visits is not False) and (by_log is not False))


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
    last_status = ("select teacher_key, arg_max(teacher_status, visit_date) as teacher_status "
                   "from filtered_visits group by teacher_key") if visits_placed_once(config) else \
        ("select teacher_key, teacher_status from filtered_visits "
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
recent as not materialized (
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
all_visits as (
    select cluster, visit_date, teacher_status, cop_active from model_visits
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
