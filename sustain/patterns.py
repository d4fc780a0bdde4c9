"""The latent model's pattern code (metrics/latent.py): a unit's rounds as one integer.

A unit is a teacher-practice scored at month 0. Each scheduled round gets a symbol, and the
symbols are the digits of the code in base 5 (digit 0 for month 0, digit j for the j-th round
after it). Defined once here: the import stores every unit's code (ingest/model.py
`model_unit_patterns`, from which `pattern_cells` and `unscored_cells` are counted), and the
latent model's row path (metrics/latent.py `pattern_counts`) computes it at query time. The stored
codes follow this definition: a change here needs ingest/model.py `MODEL_VERSION` raised, so that
every database rebuilds its model.
"""
from __future__ import annotations

# round symbols (the base-5 digits of a pattern code)
GONE, MISSING, IN_USE, NOT_IN_USE, LEFT = 0, 1, 2, 3, 4
BASE = 5
# a visit with one of these statuses ends the teacher's follow-up from its round on
LEAVING_STATUSES = ["left", "transferred"]


def unit_pattern_ctes(units: str, observations: str, visits: str) -> str:
    """Named CTEs (continuing a WITH list) ending in `unit_patterns(teacher_key, practice, pattern)`:
    the code of every unit of relation `units` (its month-0 rows: teacher_key, practice,
    retained), read from `observations` (teacher_key, practice, months, retained) and `visits`
    (teacher_key, months, teacher_status). Parameters: `$followup_months` (the scheduled rounds
    after month 0, ascending), `$leaving_statuses`.

    Symbols of a round after month 0: scored retained IN_USE; scored not retained NOT_IN_USE;
    else the teacher's first round with a leaving status LEFT, a later round GONE, otherwise
    MISSING (not scored: absent, no visit, `na`). Month 0: IN_USE or NOT_IN_USE."""
    return f"""
left_at as (
    select teacher_key, min(months) as months
    from {visits}
    where months > 0 and teacher_status in (select unnest($leaving_statuses))
    group by teacher_key
),
unit_keys as (
    select distinct teacher_key, practice, retained from {units}
),
unit_rounds as (
    select u.teacher_key, u.practice, f.months
    from unit_keys u
    cross join (select unnest($followup_months) as months) f
),
symbols as (
    select u.teacher_key, u.practice,
           sum(case when o.retained then {IN_USE}
                    when o.retained is not null then {NOT_IN_USE}
                    when la.months = u.months then {LEFT}
                    when la.months < u.months then {GONE}
                    else {MISSING} end
               * ({BASE}::bigint ** list_position($followup_months, u.months))::bigint) as pattern
    from unit_rounds u
    left join {observations} o on o.teacher_key = u.teacher_key and o.practice = u.practice and o.months = u.months
    left join left_at la on la.teacher_key = u.teacher_key
    group by u.teacher_key, u.practice
),
unit_patterns as (
    select u.teacher_key, u.practice,
           y.pattern + (case when u.retained then {IN_USE} else {NOT_IN_USE} end) as pattern
    from unit_keys u
    join symbols y using (teacher_key, practice)
)"""
