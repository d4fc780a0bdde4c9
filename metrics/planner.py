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

WEIGHTS = {"decay": 0.40, "hindrances": 0.25, "recency": 0.20, "cop": 0.15}
RECENT_DAYS = 92            # about 3 months: the latest round's visits, the CoP log window
RECENCY_FULL_MONTHS = 12    # a school not visited for this long gets the full recency need
from .communities import ACTIVE_MEETINGS_PER_MONTH as COP_ACTIVE_SHARE  # noqa: E402 one definition of "active"
TOP_HINDRANCES = 2          # hindrances named in the reason

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
    # one dict per school (a pandas row lookup per school costs most of a national plan)
    decay = by_school(persistence(con, filters, [], config)).to_dict("index")
    hindrances = _recent_hindrances(con, filters, config)

    rows = []
    for school in schools.itertuples(index=False):
        row = {"school_id": school.school_id, "school_name": school.school_name, "cluster": school.cluster,
               "district": school.district, "teachers": int(school.teachers)}
        parts, needs = [], {}
        # decay
        d = decay.get(school.school_id)
        row.update(retention_index=np.nan, n=pd.NA, round=pd.NA, p_below_programme=np.nan,
                   persistence_class=TOO_FEW, suppressed=True)
        if d is not None:
            row.update(round=d["round"], persistence_class=d["persistence_class"], suppressed=bool(d["suppressed"]))
        if d is None or pd.isna(d["round"]):
            parts.append(TOO_FEW_DECAY)
        elif pd.isna(d["p_below_programme"]):
            parts.append(f"not visited {_after(int(d['round']))}, when schools are compared")
        else:
            p, reference = float(d["p_below_programme"]), float(d["programme_retention"])
            row["p_below_programme"] = p
            needs["decay"] = min(max(p, 0.0), 1.0)
            chance = (f"{p:.0%} chance it keeps fewer practices than {d['programme']} schools as a whole "
                      f"(at their visits {_after(int(d['round']))}, {reference:.0%} of the practices scored were in use)")
            if bool(d["suppressed"]):
                parts.append(f"fewer than {config.thresholds.min_group_n} teachers seen {_after(int(d['round']))}: "
                             + chance)
            else:
                row.update(retention_index=float(d["index"]), n=int(d["n"]))
                parts.append(_kept(int(d["retained"]), int(d["n"]), int(d["round"])) + "; " + chance)
        # hindrances at the latest round's visits
        recent = int(school.recent_visits)
        row.update(recent_visits=recent, top_hindrances="", hindrance_share=np.nan)
        if recent == 0:
            parts.append("no recent visit with the teacher present to ask about hindrances")
        else:
            reported = hindrances.get(school.school_id, [])
            top = reported[:TOP_HINDRANCES]
            share = top[0][1] / recent if top else 0.0
            row.update(hindrance_share=share, top_hindrances=", ".join(config.hindrance_label(c) for c, _ in top))
            needs["hindrances"] = share
            if top:
                first, *others = top
                text = f"{config.hindrance_label(first[0])} reported at {first[1]} of {recent} recent visit{_s(recent)}"
                text += "".join(f", {config.hindrance_label(code)} at {count} of {recent}" for code, count in others)
                parts.append(text)
            else:
                parts.append(f"no hindrance reported at {recent} recent visit{_s(recent)}")
        # months since the last visit
        if pd.isna(school.last_visit):
            row.update(last_visit=pd.NaT, months_since_visit=np.nan)
            needs["recency"] = 1.0
            parts.append("never visited")
        else:
            months = (today - pd.Timestamp(school.last_visit).date()).days / DAYS_PER_MONTH
            row.update(last_visit=pd.Timestamp(school.last_visit).date(), months_since_visit=months)
            needs["recency"] = min(max(months / RECENCY_FULL_MONTHS, 0.0), 1.0)
            whole = math.floor(months)
            parts.append("last visited less than a month ago" if whole < 1
                         else f"last visited {whole} month{_s(whole)} ago")
        # community of practice of the cluster
        active = _cop_active(school.active_share, school.meetings, school.log_used)
        row["cop_active"] = active
        if active is None:
            parts.append("community of practice not known")
        else:
            needs["cop"] = 0.0 if active else 1.0
            parts.append("community of practice active" if active else "no active community of practice")

        row["need_score"] = sum(WEIGHTS[k] * v for k, v in needs.items())
        if school.teachers > 0 and school.teachers_gone >= school.teachers:
            row["need_score"] = np.nan
            parts.insert(0, "every trained teacher of the school is recorded as left or transferred: "
                            "no practice to follow up (not scored)")
        row["reason"] = "; ".join(parts)
        rows.append(row)

    plan = _ranked(pd.DataFrame(rows))
    plan["rank"] = np.arange(1, len(plan) + 1)
    plan["n"] = plan["n"].astype("Int64")
    plan["round"] = plan["round"].astype("Int64")
    plan["cop_active"] = plan["cop_active"].astype("boolean")
    return plan[PLAN_COLUMNS]


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
    notes = [""]
    for above, below in zip(keys.iloc[:-1].itertuples(index=False), keys.iloc[1:].itertuples(index=False)):
        if pd.isna(below.shown_score) or above.shown_score != below.shown_score:
            notes.append("")
            continue
        why = next((words for column, _, words in TIE_BREAKERS
                    if not (pd.isna(getattr(above, column)) and pd.isna(getattr(below, column)))
                    and getattr(above, column) != getattr(below, column)), TIE_BREAKERS[-1][2])
        notes.append(f"same score as {above.school_id}, placed after it: {why}")
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
    by_visits = None if pd.isna(active_share) else float(active_share) >= COP_ACTIVE_SHARE
    by_log = (int(meetings) > 0) if bool(log_used) else None
    if by_visits is None and by_log is None:
        return None
    return bool((by_visits is not False) and (by_log is not False))


def _school_facts(con, filters: Filters, config: Config, today: dt.date) -> pd.DataFrame:
    """Per school of the filtered roster (or of its filtered visits): names, roster teachers,
    last visit, recent present visits, and the cluster's CoP signals."""
    roster_filters = filters.replace(practice=(), months_min=None, months_max=None)
    roster_where, roster_params = roster_filters.where("visit")
    visit_rows, visit_params = filtered_rows([], filters.replace(practice=()), "placed_visits")
    return query(con, config, f"""
roster as (
    select t.teacher_key, {teacher_select("t")}, t.school_id,
           sc.cluster, sc.district, sc.province, sc.school_type
    from teachers t join schools sc using (school_id)
),
filtered_roster as (
    select * from roster where {roster_where}
),
filtered_visits as (
    {visit_rows}
),
plan_schools as (
    select school_id from filtered_roster
    union
    select school_id from filtered_visits
),
last_status as (
    select teacher_key, teacher_status from filtered_visits
    qualify row_number() over (partition by teacher_key order by visit_date desc, submission_id) = 1
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
recent_visits as (
    select fv.school_id, count(*) as recent_visits
    from filtered_visits fv join school_last sl using (school_id)
    where fv.teacher_status = 'present' and fv.visit_date > sl.last_visit - to_days($recent_days)
    group by fv.school_id
),
cluster_last as (
    select cluster, max(visit_date) as last_visit from placed_visits group by cluster
),
cluster_answers as (
    select pv.cluster, avg(pv.cop_active::integer) as active_share
    from placed_visits pv join cluster_last cl using (cluster)
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
       ca.active_share,
       coalesce(cm.meetings, 0) as meetings,
       (select count(*) > 0 from cop_meetings) as log_used
from plan_schools ps
join schools sc using (school_id)
left join roster_teachers rt using (school_id)
left join school_last sl using (school_id)
left join recent_visits rv using (school_id)
left join cluster_answers ca on ca.cluster = sc.cluster
left join cluster_meetings cm on cm.cluster = sc.cluster
order by ps.school_id
""", roster_params | visit_params | {"recent_days": RECENT_DAYS, "today": today})


def _recent_hindrances(con, filters: Filters, config: Config) -> dict[str, list[tuple[str, int]]]:
    """school_id -> [(hindrance code, visits reporting it)] at the school's recent present
    visits, most reported first (ties in config order)."""
    visit_rows, params = filtered_rows([], filters.replace(practice=()), "placed_visits")
    frame = query(con, config, f"""
filtered_visits as (
    {visit_rows}
),
school_last as (
    select school_id, max(visit_date) as last_visit from filtered_visits group by school_id
),
recent as (
    select fv.submission_id, fv.school_id
    from filtered_visits fv join school_last sl using (school_id)
    where fv.teacher_status = 'present' and fv.visit_date > sl.last_visit - to_days($recent_days)
)
select r.school_id, vh.hindrance, count(*) as reported
from recent r join visit_hindrances vh using (submission_id)
group by all
""", params | {"recent_days": RECENT_DAYS})
    order = {code: i for i, code in enumerate(config.hindrance_codes)}
    frame["order"] = frame["hindrance"].map(order).fillna(len(order))
    frame = frame.sort_values(["school_id", "reported", "order"], ascending=[True, False, True], kind="stable")
    out: dict[str, list[tuple[str, int]]] = {}
    for school, code, count in zip(frame["school_id"].tolist(), frame["hindrance"].tolist(),
                                   frame["reported"].astype(int).tolist()):
        out.setdefault(school, []).append((code, count))
    return out
