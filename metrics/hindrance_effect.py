"""`hindrance_effect`: the hazard ratio of abandonment with vs without each hindrance, from a
discrete-time hazard model on the person-period table (ingest/model.py documents its columns).

Plain: "teachers who reported this hindrance at their last visit were X times as likely to drop a
practice before the next visit as comparable teachers who did not (same round, practice and
programme)".

Definition, per hindrance h of config (and per --by group):
- **Rows** (person-periods): `person_period` rows with `at_risk` (the practice was scored at a
  present visit at round t > 0 and no earlier round found it not retained), after the dimension
  filters (on the row's own columns: school, district, ... where the unit was observed at t) and
  the months filters (rounds t used). **Outcome**: `event` (the first visit at which the practice
  was not retained; abandonment happened in the interval since the previous visit).
- **Exposure** (time-varying): h was reported at the teacher's previous placed visit
  (`hindrances_prev`), so the report precedes the interval in which abandonment is counted; for
  round 3 that is the month-0 visit. `exposure="month0"` (`--exposure month0`) uses the month-0
  visit's report for every round instead (`hindrances_m0`, fixed).
- **Model**: binomial GLM with complementary log-log link,
  cloglog P(event at t) = alpha_t + beta * exposed + gamma_practice + delta_programme
  (+ district fixed effects with `adjust_district=True` / `--adjust district`). Under proportional
  hazards in continuous time this is the grouped-time (Prentice-Gloeckler) model, so
  `hazard_ratio` = exp(beta) is a hazard ratio. A factor with one level in the group drops out
  (e.g. programme when grouped by programme; round when grouped by months, so a row per round is
  the hazard ratio in that round's interval).
- **Fitted on sufficient statistics**: rows are aggregated in DuckDB, once for every hindrance, to
  one line per (school, round, practice, programme[, district]) with the rows, the events, and the
  rows and events reporting each hindrance (a temporary table of the call's own cursor). The fit
  reads only their sums per covariate pattern (round, practice, programme[, district], exposed),
  a few hundred numbers however many schools: the binomial GLM on (events, trials - events) has
  the same likelihood, score and Hessian as the row-level 0/1 fit. `fit_cloglog` (and
  `_fit_patterns`, its core) maximises it by Fisher scoring (IRLS, as statsmodels' GLM does) in
  numpy: k x k solves only. tests/test_hindrance_effect.py checks it against statsmodels'
  `GLM(..., family=Binomial(link=CLogLog())).fit(cov_type="cluster")` on the row-level
  person-periods: coefficients and standard errors agree to 1e-6 on the sample (about 1e-9 in
  practice) and on a hand-built fixture.
- **The clustered meat, streamed**: a school's summed score s_g is the sum over its lines of
  x_p (a_p events - u_p trials), u_p = exp(eta_p) and a_p = u_p / mu_p of the line's fitted
  pattern. After the fits, DuckDB joins the lines to a small relation of the fitted patterns
  (the line's pattern row and its school's number) and streams them, ordered by group, school
  and pattern, in Arrow batches of MEAT_BATCH_ROWS; numpy sums each batch's whole schools (every
  hindrance at once: a sparse schools x lines product per column of the design) and adds their
  s_g s_g' to each fit's meat, so memory holds one batch, never all the lines. The fixed order
  makes every sum run in the same order: a rerun gives the same figure to the last digit.
- **Standard errors** clustered by school (the school of the row at t): the sandwich
  H^-1 (sum_g s_g s_g') H^-1, H the observed information, s_g the school's summed score (what
  statsmodels' GLM uses for cov_type="cluster"), with the small-sample factor
  G/(G-1) * (N-1)/(N-K), N the number of person-period rows, K the model's parameters, G schools:
  statsmodels' default on the row-level fit (on the aggregated lines it would count lines, not
  rows, so it is applied here by hand). `ci_low`, `ci_high`: exp(beta -+ Z95 * se); `p_value`:
  two-sided Wald test of beta = 0 against the normal, in full precision.
- `crude_hazard_ratio`: exp(beta) of the same cloglog model with exposure and round only (no
  practice, programme or district): how different the raw hazards are, for comparison with the
  adjusted one (no interval).
- `risk_difference_12`: the standardised difference in the cumulative incidence of abandonment
  by month 12, exposed vs not exposed at every round: for each (practice, programme[, district])
  pattern of the group, 1 - prod over the scheduled rounds 0 < t <= 12 of (1 - h_t) predicted
  from the adjusted model with exposure set to 1, minus the same with exposure 0, averaged with
  the weights of the observed mix (teacher-practices at risk at any round of the group, counted
  in each pattern they were at risk in). `rd_ci_low`, `rd_ci_high`: delta-method 95% interval
  with the clustered covariance (the mix taken as fixed). Blank when a round 0 < t <= 12 of the
  schedule has no rows in the group (a months filter, or grouped by months).
- `events`: events among exposed rows; `n` = `teachers`: distinct teachers with at least one
  exposed at-risk row (the people the estimate speaks about); `note`: why a row has no estimate.

Multiple testing: `p_adj` is Benjamini-Hochberg (`multipletests(method="fdr_bh")`) across EVERY
test in the returned table, all hindrances and all --by groups together (one family per figure),
counting the rows shown (suppressed rows and rows without an estimate are not tests shown). A
hindrance filter picks the hindrance rows, so it changes the family.

Decisions:
- A level of round, practice, programme or district whose rows have no event (or only events)
  has a fitted hazard of 0 (or 1) at the maximum-likelihood limit and adds nothing to beta's
  likelihood: those rows are left out of the fit (repeatedly, until none is left), and the
  prediction for `risk_difference_12` uses hazard 0 (or 1) there. Columns collinear with earlier
  ones (a district nested in a programme) are dropped.
- No estimate (NaN, with `note`): no exposed or no unexposed rows, no event or only events among
  exposed or unexposed rows after the step above, fewer than 2 schools, or a fit that fails.
- Suppression: a row whose exposed or whose unexposed arm rests on fewer than
  `thresholds.min_group_n` distinct teachers (but more than 0) is suppressed (`base.suppress`,
  with its complementary suppression across the --by groups of each hindrance); every value is
  blank and `note` says why. An empty arm hides nothing: the row keeps its counts and the note
  "no rows with (without) the hindrance".
- `hindrance` in --by is accepted and changes nothing (rows are always by hindrance, in config
  order, after any --by columns).
"""
from __future__ import annotations

import math
from typing import Sequence

import duckdb
import numpy as np
import pandas as pd
from scipy import sparse, stats

from sustain.config import Config
from sustain.db import execute, relation, sibling_cursor

from .base import BASE_CTES, base_params, group_columns, group_ids, query, select_list, suppress
from .filters import BY_COLUMNS, Filters
from .stats import Z95

# exposure option -> person_period column holding the hindrances that define it
EXPOSURES = {"previous": "hindrances_prev", "month0": "hindrances_m0"}
LINES = "hindrance_effect_lines"  # the temporary table of a call's lines (on its own cursor)
MEAT_BATCH_ROWS = 1 << 16  # lines read at once for the schools' scores (memory stays bounded)
MISSING = "\x00missing"  # stands in for a missing --by value while grouping
RD_HORIZON = 12  # months: the horizon of risk_difference_12
ESTIMATES = ["hazard_ratio", "ci_low", "ci_high", "crude_hazard_ratio", "risk_difference_12", "rd_ci_low",
             "rd_ci_high", "p_value", "p_adj"]
COLUMNS = ["hindrance", *ESTIMATES, "events", "n", "teachers", "note", "suppressed"]
FIT_COLUMNS = ["hazard_ratio", "ci_low", "ci_high", "crude_hazard_ratio", "risk_difference_12", "rd_ci_low",
               "rd_ci_high", "p_value"]


def hindrance_effect(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                     config: Config, *, exposure: str = "previous",
                     adjust_district: bool = False) -> pd.DataFrame:
    """Hazard ratio of abandonment with vs without each hindrance (see the module docstring)."""
    if exposure not in EXPOSURES:
        raise ValueError(f"exposure must be one of {', '.join(EXPOSURES)}, got {exposure!r}")
    by = [c for c in group_columns(by, BY_COLUMNS) if c != "hindrance"]
    out_columns = [*by, *COLUMNS]
    codes = [c for c in config.hindrance_codes if not filters.hindrance or c in filters.hindrance]
    factors = ["months", "practice", "programme"] + (["district"] if adjust_district else [])
    where, params = filters.replace(hindrance=()).where("practice", alias="pp", keyed=True)
    if not codes:  # a hindrance filter naming none of the config's
        return pd.DataFrame({c: pd.Series(dtype="object") for c in out_columns})
    sql = _Sql(config, by, factors, codes, EXPOSURES[exposure], where, params)
    cursor = sibling_cursor(con)  # the lines table and the fitted patterns are seen by this call only
    try:
        return _hindrance_effect(cursor, config, by, factors, sql, out_columns)
    finally:
        cursor.close()


def _hindrance_effect(con, config: Config, by: list[str], factors: list[str], sql: "_Sql",
                      out_columns: list[str]) -> pd.DataFrame:
    patterns, counts, mix = sql.aggregates(con)
    if counts.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in out_columns})

    minimum = config.thresholds.min_group_n
    rd_rounds = [m for m in config.schedule.months if 0 < m <= RD_HORIZON]
    keys = patterns[by].astype(object).where(patterns[by].notna(), None)  # as stored, for the meat query
    patterns, counts, mix = (_fill_missing(f, by) for f in (patterns, counts, mix))
    pattern_groups = {key: part for key, part in patterns.groupby([*by, "hindrance"], sort=False)}
    # each factor's levels numbered once for every fit (a fit's rows are a part of these)
    factor_codes = {f: pd.factorize(patterns[f]) for f in factors}
    key_groups = {key: tuple(keys.loc[part.index[0]]) for key, part in pattern_groups.items()}
    mix_groups = dict(iter(mix.groupby(by, sort=False))) if by else {(): mix}
    rows, pending = [], []
    for record in counts.to_dict("records"):
        group = tuple(record[c] for c in by)
        row = {c: record[c] for c in [*by, "hindrance"]}
        exposed_t, unexposed_t = int(record["exposed_teachers"]), int(record["unexposed_teachers"])
        row.update(events=int(record["exposed_events"]), n=exposed_t, teachers=exposed_t)
        # an empty arm is a structural zero with nothing to hide: the row shows its note instead
        smaller, larger = sorted([exposed_t, unexposed_t])
        row["arm_teachers"] = smaller if smaller > 0 else larger
        if row["arm_teachers"] < minimum:
            row.update({c: math.nan for c in FIT_COLUMNS}, note="")  # suppressed below: not fitted
        else:
            key = (*group, record["hindrance"])
            part = pattern_groups[key]
            positions = part.index.to_numpy()  # the query's frame has a range index
            fit = _PatternFit(part, factors, int(record["schools"]),
                              {f: (codes[positions], uniques) for f, (codes, uniques) in factor_codes.items()})
            row.update(fit.result)
            if fit.needs_meat:
                fit.mix, fit.rd_rounds, fit.row = mix_groups[group], rd_rounds, row
                fit.group, fit.keys = group, key_groups[key]
                pending.append(fit)
        rows.append(row)
    if pending:
        for fit, (meat, schools) in zip(pending, sql.meats(con, pending)):
            fit.row.update(fit.finish(meat, schools))
    frame = pd.DataFrame(rows)

    order = {code: i for i, code in enumerate(config.hindrance_codes)}
    shown_columns = [*FIT_COLUMNS, "events", "n", "teachers"]
    if by:  # complementary suppression across the --by groups, within each hindrance
        frame = pd.concat([suppress(part, by, shown_columns, minimum, n_column="arm_teachers")
                           for _, part in frame.groupby("hindrance", sort=False)])
    else:  # one row per hindrance: nothing to complement, so one call marks them all
        frame = suppress(frame, by, shown_columns, minimum, n_column="arm_teachers")
    frame.loc[frame["suppressed"], "note"] = (
        f"too few to show: fewer than {minimum} teachers with or without the hindrance")
    frame["p_adj"] = benjamini_hochberg(frame["p_value"])
    frame["_order"] = frame["hindrance"].map(order)
    frame = frame.sort_values([*by, "_order"], kind="stable")
    for column in ("events", "n", "teachers"):
        frame[column] = frame[column].astype("Int64")
    if "months" in by:
        frame["months"] = frame["months"].astype("Int64")
    for column in by:
        if frame[column].dtype == object:
            frame[column] = frame[column].where(frame[column] != MISSING, None)
    return frame[out_columns].reset_index(drop=True)


def _fill_missing(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """A stand-in for missing --by values, so groups can be looked up by key (NaN != NaN)."""
    for column in by:
        if frame[column].dtype == object:
            frame[column] = frame[column].fillna(MISSING)
    return frame


class _Sql:
    """The queries of one call. Every aggregate is computed in DuckDB and sorted, so the
    floating-point sums in numpy run in the same order on every call (the same figure on every
    rerun, to the last digit):
    `patterns`: per (--by, hindrance, factors, exposed) `events`, `trials` (a few hundred lines per
    group: the school is not in the key);
    `counts`: per (--by, hindrance) distinct exposed / unexposed teachers, exposed events and the
    group's schools;
    `mix`: teacher-practices per (--by, practice, programme[, district]) for the standardisation;
    `meats`: after the fits, the lines streamed in (group, school, pattern) order and each school's
    summed score added to each fit's meat in numpy (see `meats`)."""

    def __init__(self, config, by, factors, codes, exposure_column, where, params):
        self.config, self.by, self.factors, self.codes = config, by, factors, codes
        self.reported = exposure_column
        self.params = params | {"hindrance_codes": codes}
        self.ctes = f"""
codes as (
    select unnest($hindrance_codes::varchar[]) as hindrance
),
risk_set as (
    select pp.* from person_period pp
    where pp.at_risk and pp.months > 0 and {where}
)"""

    def aggregates(self, con):
        by, factors = self.by, self.factors
        n = len(self.codes)
        line_keys = list(dict.fromkeys([*by, "school_id", *factors]))
        pattern_keys = list(dict.fromkeys([*by, *factors]))
        per_code = {f"line_code_{i}": code for i, code in enumerate(self.codes)}
        reports = "".join(f", list_contains({self.reported}, $line_code_{i}) as reported_{i}" for i in range(n))
        exposed_counts = "".join(f", count(*) filter (where event and reported_{i}) as y1_{i}"
                                 f", count(*) filter (where reported_{i}) as m1_{i}" for i in range(n))
        # the lines: per (--by, school, factors) the rows and events, and those of the rows
        # reporting each hindrance; kept in DuckDB (a temporary table of this call's cursor) for
        # the patterns now and the schools' scores after the fits
        execute(con, f"""create temp table {LINES} as
with {BASE_CTES},{self.ctes}
select {select_list(line_keys)}count(*) filter (where event) as y, count(*) as m{exposed_counts}
from (select *{reports} from risk_set)
group by all
""", base_params(self.config) | self.params | per_code)
        pick = lambda name: "case c.i " + " ".join(f"when {i} then p.{name}_{i}" for i in range(n)) + " end"  # noqa: E731
        patterns = query(con, self.config, f"""
pattern_lines as (
    select {select_list(pattern_keys)}sum(y) as y, sum(m) as m{"".join(f", sum(y1_{i}) as y1_{i}, sum(m1_{i}) as m1_{i}" for i in range(n))}
    from {LINES}
    group by all
),
coded as (
    select unnest($hindrance_codes::varchar[]) as hindrance,
           generate_subscripts($hindrance_codes::varchar[], 1) - 1 as i
),
arms as (
    select {select_list(by, "p")}c.hindrance, {select_list([f for f in factors if f not in by], "p")}x.exposed,
           case when x.exposed = 1 then {pick("y1")} else p.y - {pick("y1")} end as events,
           case when x.exposed = 1 then {pick("m1")} else p.m - {pick("m1")} end as trials
    from pattern_lines p cross join coded c cross join (select unnest([0, 1]) as exposed) x
)
select * replace (events::double as events, trials::double as trials)
from arms
where trials > 0
order by all
""", self.params)
        # a teacher is exposed to h if one of their rows of the group reports h, unexposed if one
        # does not: per teacher, their rows and those reporting each hindrance (one test a row and
        # hindrance)
        n = len(self.codes)
        per_code = {f"count_code_{i}": code for i, code in enumerate(self.codes)}
        reports = "".join(f", count(*) filter (where list_contains({self.reported}, $count_code_{i})) as reporting_{i}"
                          for i in range(n))
        tallies = "".join(f", count(*) filter (where reporting_{i} > 0) as exposed_{i}"
                          f", count(*) filter (where reporting_{i} < teacher_rows) as unexposed_{i}" for i in range(n))
        pick = lambda name, alias="g": "case c.i " + " ".join(f"when {i} then {alias}.{name}_{i}" for i in range(n)) + " end"  # noqa: E731
        exposed_events = "".join(f", sum(y1_{i})::bigint as events_{i}" for i in range(n))
        counts = query(con, self.config, f"""{self.ctes},
teacher_reports as (
    select {select_list(by)}teacher_key, count(*) as teacher_rows{reports}
    from risk_set
    group by all
),
group_teachers as (
    select {select_list(by)}{tallies[2:]} from teacher_reports group by all
    having count(*) > 0  -- no empty group when there is no --by
),
group_lines as (  -- the group's schools, and its events among rows reporting each hindrance
    select {select_list(by)}count(distinct school_id) as schools{exposed_events} from {LINES} group by all
),
coded as (
    select unnest($hindrance_codes::varchar[]) as hindrance,
           generate_subscripts($hindrance_codes::varchar[], 1) - 1 as i
)
select {select_list(by, "g")}c.hindrance, {pick("exposed")} as exposed_teachers,
       {pick("unexposed")} as unexposed_teachers, s.schools, {pick("events", "s")} as exposed_events
from group_teachers g cross join coded c
join group_lines s on {" and ".join(f"g.{c} is not distinct from s.{c}" for c in by) or "true"}
order by all
""", self.params | per_code)
        mix_keys = list(dict.fromkeys([*by, *[f for f in factors if f != "months"]]))
        mix = query(con, self.config, f"""{self.ctes}
select {select_list(mix_keys)}count(distinct teacher_key)::double as units  -- practice is in the key: teacher-practices
from risk_set
group by all
order by all
""", self.params)
        self.school_bound = int(counts["schools"].sum())  # at least the schools of the lines
        return patterns, counts, mix

    def meats(self, con, fits: list["_PatternFit"]) -> list[tuple[np.ndarray, int]]:
        """For each fit: (sum over schools of s_g s_g', G) with s_g the school's summed score
        at the fitted hazards and G the schools with a line in the fit. A line's score is
        a_p events - u_p trials (u_p = exp(eta_p), a_p = u_p / mu_p of its pattern); the lines are
        read in batches, ordered by
        group, school and pattern, and each batch's whole schools are summed in numpy (the last
        school of a batch waits for the next one)."""
        by, factors = self.by, self.factors
        key_columns = list(dict.fromkeys([*by, *factors]))
        level_factors = [f for f in factors if f not in by]  # a --by factor has one level per group
        codes = self.codes  # the lines' columns: one set per hindrance of the call
        slot = {code: i for i, code in enumerate(codes)}
        groups: dict = {}
        for fit in fits:
            groups.setdefault(fit.group, []).append(fit)
        frames = []
        for members in groups.values():
            # every hindrance of a group has the same patterns of factors (exposure aside)
            first = members[0]
            combo_values = _combinations(first.patterns, level_factors)
            frame = pd.DataFrame({c: combo_values[c] for c in level_factors}, index=range(len(combo_values["trials"])))
            for column, value in zip(by, first.keys):
                frame[column] = value
            frame = frame[key_columns]
            columns = {f"{name}_{i}": np.zeros(len(combo_values["trials"])) for i in range(len(codes))
                       for name in ("a0", "u0", "a1", "u1", "kept")}
            for fit in members:
                for name, value in fit.pattern_values(combo_values, level_factors).items():
                    columns[f"{name}_{slot[fit.hindrance]}"] = value
            frames.append(pd.concat([frame.reset_index(drop=True), pd.DataFrame(columns)], axis=1))
        values = pd.concat(frames, ignore_index=True)
        levels = {f: sorted(set().union(*(fit.levels[f] for fit in fits))) for f in level_factors}
        # every column a fit's design can have: intercept, exposure, then each level of each factor
        # (a fit keeps some of them: `fit.names`)
        offsets = [2]
        for factor in level_factors:
            offsets.append(offsets[-1] + len(levels[factor]))
        column_of = {"const": 0, "exposed": 1} | {(factor, level): offsets[j] + k for j, factor in enumerate(level_factors)
                                                  for k, level in enumerate(levels[factor])}
        # per pattern row (a group's combination of factors): its group, its level of each factor
        # (-1: a level no fit kept, whose lines score 0) and each hindrance slot's values
        row_group = np.repeat(np.arange(len(frames)), [len(frame) for frame in frames])
        level_codes = [values[factor].map({level: k for k, level in enumerate(levels[factor])})
                       .fillna(-1).to_numpy(dtype=np.int64) for factor in level_factors]
        # (pattern rows x hindrance slots) arrays of the fits' values (zero where a slot has no fit)
        slot_values = {name: np.column_stack([values[f"{name}_{i}"].to_numpy(dtype="float64") for i in range(len(codes))])
                       for name in ("a0", "u0", "a1", "u1", "kept")}
        fit_columns = [np.array([column_of[name] for name in fit.names]) for fit in fits]
        group_index = {key: k for k, key in enumerate(groups)}
        fits_of_group: dict = {}  # group -> [(fit's index, its slot)]
        for f, fit in enumerate(fits):
            fits_of_group.setdefault(group_index[fit.group], []).append((f, slot[fit.hindrance]))
        meats = [np.zeros((len(fit.names), len(fit.names))) for fit in fits]
        schools = [0] * len(fits)

        def accumulate(lines: dict) -> None:
            """Add the schools of `lines` (whole schools, ordered by group and school) to the meats:
            every hindrance slot at once, each school's sums as a sparse (schools x lines) product."""
            if not len(lines["pattern_row"]):
                return
            row = lines["pattern_row"]
            group = row_group[row]
            school = lines["school"]
            first = np.ones(len(row), dtype=bool)  # the first line of each (group, school)
            first[1:] = (group[1:] != group[:-1]) | (school[1:] != school[:-1])
            unit = np.cumsum(first) - 1
            units = int(unit[-1]) + 1
            present, starts = np.unique(group[first], return_index=True)
            ends = np.append(starts[1:], units)
            y = lines["y"].astype("float64")[:, None]
            m = lines["m"].astype("float64")[:, None]
            y1 = np.column_stack([lines[f"y1_{i}"] for i in range(len(codes))]).astype("float64")
            m1 = np.column_stack([lines[f"m1_{i}"] for i in range(len(codes))]).astype("float64")
            exposed_score = slot_values["a1"][row] * y1 - slot_values["u1"][row] * m1
            score = slot_values["a0"][row] * (y - y1) - slot_values["u0"][row] * (m - m1) + exposed_score
            position = np.arange(len(row))
            ones = np.ones(len(row))
            of_unit = sparse.csr_matrix((ones, (unit, position)), shape=(units, len(row)))
            by_unit = np.empty((units, offsets[-1], len(codes)))
            by_unit[:, 0] = of_unit @ score
            by_unit[:, 1] = of_unit @ exposed_score
            for j, level_code in enumerate(level_codes):
                width = offsets[j + 1] - offsets[j]
                line_level = level_code[row]
                known = line_level >= 0  # a level no fit kept: its lines score 0
                of_level = sparse.csr_matrix((ones[known], (unit[known] * width + line_level[known], position[known])),
                                             shape=(units * width, len(row)))
                by_unit[:, offsets[j]:offsets[j + 1]] = (of_level @ score).reshape(units, width, len(codes))
            kept = (of_unit @ slot_values["kept"][row]) > 0
            for k, begin, end in zip(present, starts, ends):
                for f, i in fits_of_group.get(int(k), []):
                    part = by_unit[begin:end, fit_columns[f], i]
                    meats[f] += part.T @ part
                    schools[f] += int(kept[begin:end, i].sum())

        line_columns = ["pattern_row", "school", "y", "m", *(f"{name}_{i}" for i in range(len(codes))
                                                             for name in ("y1", "m1"))]
        join = " and ".join(f"l.{c} is not distinct from v.{c}" for c in key_columns)
        registered = values[key_columns].copy()
        for column in key_columns:  # text keys as text, even where every value is missing
            if registered[column].dtype == object:
                registered[column] = registered[column].astype("string")
        registered["pattern_row"] = np.arange(len(values), dtype=np.int64)
        registered["pattern_group"] = row_group
        # lines in (group, school, pattern) order, a fixed order (the same sums on every call);
        # one integer key sorts faster than three when it fits in 62 bits (schools <= the groups' sum)
        radix = {"meat_schools": self.school_bound + 1, "meat_rows": len(values)}
        one_key = len(frames) * radix["meat_schools"] * radix["meat_rows"] < 1 << 62
        order = ("(v.pattern_group::bigint * $meat_schools + s.school) * $meat_rows + v.pattern_row" if one_key
                 else "v.pattern_group, s.school, v.pattern_row")
        counts = "".join(f", l.y1_{i}::integer as y1_{i}, l.m1_{i}::integer as m1_{i}" for i in range(len(codes)))
        con.register("fitted_patterns", registered)
        try:
            reader = relation(con, f"""with
school_codes as (
    select school_id, row_number() over (order by school_id) as school
    from (select distinct school_id from {LINES})
)
select v.pattern_row, s.school, l.y::integer as y, l.m::integer as m{counts}
from {LINES} l
join fitted_patterns v on {join}
join school_codes s on l.school_id is not distinct from s.school_id
order by {order}
""", radix if one_key else {}).to_arrow_reader(MEAT_BATCH_ROWS)
            carry = None
            for batch in reader:
                lines = {name: batch.column(name).to_numpy(zero_copy_only=False) for name in line_columns}
                if carry is not None:
                    lines = {name: np.concatenate([carry[name], lines[name]]) for name in line_columns}
                # the last school may go on in the next batch: keep it for then
                group, school = row_group[lines["pattern_row"]], lines["school"]
                other = np.flatnonzero((group != group[-1]) | (school != school[-1]))
                cut = int(other[-1]) + 1 if len(other) else 0
                accumulate({name: values_[:cut] for name, values_ in lines.items()})
                carry = {name: values_[cut:] for name, values_ in lines.items()}
            if carry is not None:
                accumulate(carry)
        finally:
            con.unregister("fitted_patterns")
        return list(zip(meats, schools))


def _combinations(patterns: pd.DataFrame, factors: list[str]) -> dict[str, np.ndarray]:
    """The distinct combinations of `factors` among `patterns` in order of first appearance, each
    with its summed `trials`, as arrays: `patterns.groupby(factors, sort=False)["trials"].sum()`
    (a combination with a missing value left out, as groupby leaves it), numbered by `group_ids`."""
    trials = patterns["trials"].to_numpy(dtype="float64")
    if not factors:
        return {"trials": np.array([trials.sum()])}
    ids = group_ids(patterns, factors)
    firsts = np.unique(ids, return_index=True)[1]
    combos = {c: patterns[c].to_numpy()[firsts] for c in factors}
    combos["trials"] = np.bincount(ids, weights=trials)
    complete = np.logical_and.reduce([pd.notna(combos[c]) for c in factors])
    return {c: values[complete] for c, values in combos.items()}


class _PatternFit:
    """The adjusted and crude cloglog fits of one hindrance in one group, from its `patterns`
    (columns *factors, exposed, events, trials): the likelihood depends on the lines only through
    each covariate pattern's summed events and trials. `result` holds the FIT_COLUMNS and `note`
    so far; `needs_meat` says the clustered covariance is still to come (`finish`)."""

    def __init__(self, patterns: pd.DataFrame, factors: Sequence[str], schools: int, coded: dict):
        self.factors, self.hindrance = list(factors), patterns["hindrance"].iloc[0]
        self.result = {c: math.nan for c in FIT_COLUMNS} | {"note": ""}
        self.needs_meat = False
        exposed = patterns["exposed"].to_numpy() == 1
        if not exposed.any():
            self.result["note"] = "no rows with the hindrance"
            return
        if exposed.all():
            self.result["note"] = "no rows without the hindrance"
            return
        keep, self.forced = _estimable_rows(patterns, coded)
        data = patterns[keep]
        arm = data["exposed"].to_numpy() == 1
        line_events, line_trials = data["events"].to_numpy(dtype="float64"), data["trials"].to_numpy(dtype="float64")
        for name, mask in (("exposed", arm), ("unexposed", ~arm)):
            events, trials = line_events[mask].sum(), line_trials[mask].sum()
            if trials == 0 or events == 0 or events == trials:
                what = "no abandonment" if events == 0 else "only abandonment"
                self.result["note"] = f"{what} among {name} rows: hazard ratio not estimable"
                return
        if schools < 2:  # the schools of the whole group: fewer still have a line in the fit
            self.result["note"] = "one school only: no interval robust to clustering"
            return
        self.patterns, self.data = patterns, data
        self.levels = {f: sorted(data[f].unique()) for f in factors}
        design, names = _design(data, self.levels)
        self.columns = _independent_columns(design)
        self.names = [names[j] for j in self.columns]
        self.fit = _fit_patterns(data["events"].to_numpy(), data["trials"].to_numpy(), design[:, self.columns])
        self.needs_meat = True

    def pattern_values(self, combos: dict[str, np.ndarray], level_factors) -> dict:
        """Per combination of the group's factors (exposure aside, `combos`: its columns as
        arrays, and `trials`): this fit's a_p and u_p at exposure 0 and 1, and whether its lines
        are in the fit (`kept`)."""
        size = len(combos["trials"])
        kept = np.ones(size, dtype=bool)
        for factor in level_factors:
            kept &= np.isin(combos[factor], self.levels[factor])
        values = {name: np.zeros(size) for name in ("a0", "u0", "a1", "u1")}
        if self.fit is not None and kept.any():
            design_frame = {factor: combos[factor][kept] for factor in level_factors}
            for factor in self.factors:
                if factor not in level_factors:  # a --by factor: the group's one level
                    design_frame[factor] = np.full(int(kept.sum()), self.patterns[factor].iloc[0], dtype=object)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for exposed in (0, 1):
                    design_frame["exposed"] = np.full(int(kept.sum()), exposed)
                    design, _ = _design(design_frame, self.levels)
                    u = np.exp(design[:, self.columns] @ self.fit[0])
                    values[f"a{exposed}"][kept] = u / -np.expm1(-u)
                    values[f"u{exposed}"][kept] = u
                bound = float(np.max((values["a0"] + values["u0"] + values["a1"] + values["u1"])
                                     * combos["trials"]))
            if not (all(np.isfinite(v).all() for v in values.values()) and np.isfinite(bound)):
                # an infinite hazard (or a line's score beyond floating point): no covariance
                self.fit = None
                values = {name: np.zeros(size) for name in values}
        return values | {"kept": kept.astype("float64")}

    def finish(self, meat: np.ndarray, schools: int) -> dict:
        """The FIT_COLUMNS and `note` given the clustered meat and the schools in the fit."""
        result = dict(self.result)
        if schools < 2:
            return result | {"note": "one school only: no interval robust to clustering"}
        if self.fit is None:
            return result | {"note": "the hazard model did not converge"}
        params, bread = self.fit
        g, n, k = schools, self.data["trials"].sum(), len(params)
        cov = bread @ meat @ bread * g / (g - 1) * (n - 1) / (n - k)
        beta, se = params[1], math.sqrt(cov[1, 1]) if cov[1, 1] >= 0 else math.nan
        if not (np.isfinite(beta) and np.isfinite(se) and se > 0):
            return result | {"note": "the hazard model did not converge"}
        result.update(hazard_ratio=math.exp(beta), ci_low=math.exp(beta - Z95 * se),
                      ci_high=math.exp(beta + Z95 * se), p_value=float(2 * stats.norm.sf(abs(beta) / se)))

        # crude: exposure and round only, on the patterns collapsed to (round, exposed)
        # (counts: whole numbers, so summed exactly in any order)
        # (np.unique of the (months, exposed) rows, in their order, by one integer a row)
        month_levels, month_code = np.unique(self.data["months"].to_numpy(), return_inverse=True)
        present, pattern = np.unique(month_code.reshape(-1) * 2 + (self.data["exposed"].to_numpy() == 1),
                                     return_inverse=True)
        pattern = pattern.reshape(-1)
        collapsed = {"months": month_levels[present // 2], "exposed": present % 2}
        crude_design, _ = _design(collapsed, {"months": self.levels["months"]})
        crude = fit_cloglog(np.bincount(pattern, weights=self.data["events"].to_numpy(dtype="float64")),
                            np.bincount(pattern, weights=self.data["trials"].to_numpy(dtype="float64")), crude_design)
        if crude is not None:
            result["crude_hazard_ratio"] = math.exp(crude[0][1])

        rd = _risk_difference(params, cov, self.names, self.levels, self.forced, self.factors, self.mix,
                              self.rd_rounds)
        if rd is not None:
            result["risk_difference_12"], se_rd = rd
            if np.isfinite(se_rd):
                result["rd_ci_low"] = result["risk_difference_12"] - Z95 * se_rd
                result["rd_ci_high"] = result["risk_difference_12"] + Z95 * se_rd
        return result


def fit_cloglog(events, trials, design, schools=None, max_iter: int = 100, tol: float = 1e-10):
    """Maximum-likelihood fit of the binomial GLM with complementary log-log link on aggregated
    lines (`events` of `trials` per line, one row of `design` per line): Fisher scoring (IRLS, as
    statsmodels' GLM) with step halving, from the pooled hazard. Returns (params, covariance), the
    covariance clustered by `schools` (integer codes): the sandwich H^-1 (sum_g s_g s_g') H^-1 with
    H the observed information and s_g a school's summed score (statsmodels' GLM cov_type="cluster"
    bread and meat), times G/(G-1) * (N-1)/(N-K) with N = sum of trials (the person-period rows),
    K parameters, G schools: statsmodels' default factor on the row-level fit. Without `schools`
    the covariance is the inverse observed information. None if the fit does not converge.
    (`hindrance_effect` fits on the patterns and sums the schools' scores in DuckDB instead; this
    is the same computation on lines held in memory.)"""
    y_line = np.asarray(events, dtype="float64")
    m_line = np.asarray(trials, dtype="float64")
    x_line = np.asarray(design, dtype="float64")
    # the likelihood depends on the lines only through each covariate pattern's summed events and
    # trials (the school is not in the design): fit on the patterns; the lines come back for the
    # clustered meat below
    x, pattern = _patterns(x_line)
    y = np.bincount(pattern, weights=y_line, minlength=len(x))
    m = np.bincount(pattern, weights=m_line, minlength=len(x))
    fit = _fit_patterns(y, m, x, max_iter, tol)
    if fit is None or schools is None:
        return fit
    params, bread = fit
    schools = np.asarray(schools)
    g, n, k = int(schools.max()) + 1, m_line.sum(), x.shape[1]
    # each line's score at the fitted pattern hazard, summed per school
    with np.errstate(over="ignore", invalid="ignore"):
        u = np.exp(x @ params)
        mu = -np.expm1(-u)
        line_score = u[pattern] * (y_line / mu[pattern] - m_line)
    scores = x_line * line_score[:, None]
    by_school = np.column_stack([np.bincount(schools, weights=scores[:, j], minlength=g) for j in range(k)])
    cov = bread @ (by_school.T @ by_school) @ bread * g / (g - 1) * (n - 1) / (n - k)
    return params, cov


def _fit_patterns(y, m, x, max_iter: int = 100, tol: float = 1e-10):
    """`fit_cloglog` on distinct covariate patterns (`y` events of `m` trials per row of `x`):
    (params, inverse observed information), or None if the fit does not converge."""
    y, m, x = (np.asarray(a, dtype="float64") for a in (y, m, x))
    pooled = min(max(y.sum() / m.sum(), 1e-6), 1 - 1e-6)
    params = np.zeros(x.shape[1])
    params[0] = math.log(-math.log1p(-pooled))

    def loglik(b):
        u = np.exp(x @ b)
        with np.errstate(divide="ignore"):
            return float(np.sum(y * np.log(-np.expm1(-u))) - np.sum((m - y) * u))

    current = loglik(params)
    converged = False
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(max_iter):
            u = np.exp(x @ params)
            mu = -np.expm1(-u)
            gradient = x.T @ (u * (y / mu - m))
            information = x.T @ (x * (m * u * u * (1 - mu) / mu)[:, None])
            try:
                step = np.linalg.solve(information, gradient)
            except np.linalg.LinAlgError:
                return None
            for _halving in range(30):
                candidate = loglik(params + step)
                if np.isfinite(candidate) and candidate >= current - 1e-12 * abs(current):
                    break
                step = step / 2
            else:
                return None
            params, current = params + step, candidate
            if np.max(np.abs(step)) < tol:
                converged = True
                break
        if not converged or not np.all(np.isfinite(params)):
            return None
        u = np.exp(x @ params)
        mu = -np.expm1(-u)
        score_factor = u * (y / mu - m)
        # observed information: minus the second derivative of the log-likelihood in eta
        curvature = y * u * u * (1 - mu) / (mu * mu) - score_factor
    try:
        bread = np.linalg.inv(x.T @ (x * curvature[:, None]))
    except np.linalg.LinAlgError:
        return None
    return params, bread


def _patterns(design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a design matrix and each line's row among them. A design of 0/1
    columns (intercept, exposure, dummies) is keyed by one integer per line (its bits), which
    sorts far faster than whole rows."""
    columns = design.shape[1]
    if columns <= 62 and ((design == 0) | (design == 1)).all():
        codes = design.astype(np.int64) @ (np.int64(1) << np.arange(columns, dtype=np.int64))
        _, first, pattern = np.unique(codes, return_index=True, return_inverse=True)
        return design[first], pattern.reshape(-1)
    unique, pattern = np.unique(design, axis=0, return_inverse=True)
    return unique, pattern.reshape(-1)


def _estimable_rows(lines: pd.DataFrame, coded: dict) -> tuple[np.ndarray, dict]:
    """Rows of levels (of any factor) with no event or only events leave the fit, repeatedly;
    returns the rows kept and {factor: {level: hazard 0.0 or 1.0}} for the prediction. `coded`:
    each factor's (codes, levels) of the lines (`pd.factorize`'s of the call's patterns: a level
    without lines here has no trials and leaves nothing)."""
    events = lines["events"].to_numpy(dtype="float64")
    trials = lines["trials"].to_numpy(dtype="float64")
    keep = np.ones(len(lines), dtype=bool)
    forced: dict = {f: {} for f in coded}
    changed = True
    while changed:
        changed = False
        for factor, (codes, uniques) in coded.items():
            level_events = np.bincount(codes, weights=np.where(keep, events, 0.0), minlength=len(uniques))
            level_trials = np.bincount(codes, weights=np.where(keep, trials, 0.0), minlength=len(uniques))
            bad = (level_trials > 0) & ((level_events == 0) | (level_events == level_trials))
            if bad.any():
                for i in np.flatnonzero(bad):
                    forced[factor][uniques[i]] = 0.0 if level_events[i] == 0 else 1.0
                keep &= ~bad[codes]
                changed = True
    return keep, forced


def _design(frame: "pd.DataFrame | dict[str, np.ndarray]", levels: dict) -> tuple[np.ndarray, list]:
    """Intercept, `exposed`, then a 0/1 column per non-reference level of each factor."""
    exposed = np.asarray(frame["exposed"], dtype="float64")
    columns = [np.ones(len(exposed)), exposed]
    names: list = ["const", "exposed"]
    for factor, values in levels.items():
        column = np.asarray(frame[factor])
        for level in values[1:]:
            columns.append((column == level).astype("float64"))
            names.append((factor, level))
    return np.column_stack(columns), names


def _independent_columns(design: np.ndarray) -> list[int]:
    """The columns that are not linear combinations of earlier ones (read off the Gram matrix,
    k x k), so a nested factor (district within programme) does not make the model singular."""
    gram = design.T @ design
    keep = [0, 1]
    for j in range(2, design.shape[1]):
        inner = gram[np.ix_(keep, keep)]
        cross = gram[keep, j]
        residual = gram[j, j] - cross @ np.linalg.solve(inner, cross)
        if residual > 1e-9 * max(gram[j, j], 1.0):
            keep.append(j)
    return keep


def _risk_difference(params, cov, names, levels, forced, factors, mix, rd_rounds):
    """Standardised difference in cumulative incidence by month RD_HORIZON (exposure 1 vs 0 at
    every round) and its delta-method standard error; None when it cannot be computed."""
    if not rd_rounds or len(mix) == 0:
        return None
    pattern_factors = [f for f in factors if f != "months"]
    known = {f: set(levels[f]) | set(forced.get(f, {})) for f in factors}
    if not set(rd_rounds) <= known["months"] or any(not set(mix[f]) <= known[f] for f in pattern_factors):
        return None
    index = {name: i for i, name in enumerate(names)}
    weights = mix["units"].to_numpy(dtype="float64")
    difference = 0.0
    gradient = np.zeros(len(params))
    for x, sign in ((1.0, 1.0), (0.0, -1.0)):
        # per pattern: log S = -sum_t exp(eta_t); a level forced to hazard 0 adds nothing, to hazard 1 ends S
        log_survival = np.zeros(len(mix))
        ended = np.zeros(len(mix), dtype=bool)
        slope = np.zeros((len(mix), len(params)))
        for t in rd_rounds:
            rows = np.zeros((len(mix), len(params)))
            rows[:, index["const"]] = 1.0
            rows[:, index["exposed"]] = x
            zero = np.zeros(len(mix), dtype=bool)
            one = np.zeros(len(mix), dtype=bool)
            for factor in factors:
                values = np.full(len(mix), t) if factor == "months" else mix[factor].to_numpy()
                for level, hazard in forced.get(factor, {}).items():
                    (zero if hazard == 0.0 else one)[values == level] = True
                for level in levels[factor][1:]:
                    if (factor, level) in index:
                        rows[values == level, index[(factor, level)]] = 1.0
            live = ~(zero | one)
            rate = np.exp(rows @ params)  # -log(1 - h_t), the cumulative hazard of round t
            log_survival -= np.where(live, rate, 0.0)
            slope += np.where(live[:, None], rate[:, None] * rows, 0.0)
            ended |= one & ~zero
        survival = np.where(ended, 0.0, np.exp(log_survival))
        difference += sign * np.average(1.0 - survival, weights=weights)
        # d(1 - S)/d params = S * sum_t exp(eta_t) x_t
        gradient += sign * (weights[:, None] * survival[:, None] * slope).sum(axis=0) / weights.sum()
    variance = float(gradient @ cov @ gradient)
    return float(difference), math.sqrt(variance) if variance >= 0 else math.nan


def benjamini_hochberg(p_values: pd.Series) -> pd.Series:
    """BH-adjusted p-values across every non-missing p-value given (one family)."""
    from statsmodels.stats.multitest import multipletests

    adjusted = pd.Series(np.nan, index=p_values.index)
    p = p_values.dropna()
    if len(p):
        adjusted.loc[p.index] = multipletests(p.to_numpy(), method="fdr_bh")[1]
    return adjusted

