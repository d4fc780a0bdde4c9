"""Hindrance effect as a discrete-time hazard model (cloglog) on the person-period table.

Golden fixture, loaded through the real ingest: 18 teachers, 3 per school S1..S6 (S1-S3 CBM,
S4-S6 CBT), one practice (group_work, retained at score >= 3), visits at months 0, 3, 6, 12.
Each visit is (score, hindrances reported); "absent" is a visit where the teacher was absent
(placed, but nothing scored); None is a missed round (no visit).

The tests write the person-period rows themselves, in pandas, from this table (never reading
`person_period`): a unit is at risk at each round t > 0 where group_work was scored, up to and
including its first score below 3 (the event); exposure = the hindrance was reported at the
teacher's previous visit (absent visits included), or at month 0 with exposure="month0".

Hand check (Filters months 3 only, by programme; one round, one practice, one programme per group,
so the model is saturated: h = 1 - exp(-exp(a + b x)) in each arm, HR = log(1-h1) / log(1-h0)):
    CBM, no_followup, month 3: exposed T01 (event), T04, T07 -> h1 = 1/3
                               unexposed T02, T03, T05 (event), T06, T08 (event) -> h0 = 2/5
                               HR = log(2/3) / log(3/5) = 0.405465 / 0.510826 = 0.793745
"""
import math

import duckdb
import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

from metrics import Filters
from metrics.hindrance_effect import COLUMNS, fit_cloglog, hindrance_effect
from support import teacher, visit, write_config, write_kobo, write_roster

NF, LP = "no_followup", "low_pay"
MONTHS = (0, 3, 6, 12)
TEACHERS = {  # teacher: (school, programme, [visit at 0, 3, 6, 12])
    "T01": ("S1", "CBM", [("3", NF), ("1", "")]),
    "T02": ("S1", "CBM", [("3", ""), ("3", NF), ("1", "")]),
    "T03": ("S1", "CBM", [("3", ""), ("3", ""), ("3", ""), ("3", "")]),
    "T04": ("S2", "CBM", [("3", f"{NF} {LP}"), ("3", NF), ("3", ""), ("1", "")]),
    "T05": ("S2", "CBM", [("3", LP), ("1", "")]),
    "T06": ("S2", "CBM", [("3", ""), ("3", ""), ("absent", NF), ("1", "")]),
    "T07": ("S3", "CBM", [("3", NF), ("3", ""), ("3", LP), ("3", "")]),
    "T08": ("S3", "CBM", [("3", ""), ("1", NF)]),
    "T09": ("S3", "CBM", [("3", ""), None, ("3", ""), ("3", "")]),
    "T10": ("S4", "CBT", [("3", NF), ("3", NF), ("1", "")]),
    "T11": ("S4", "CBT", [("3", ""), ("3", ""), ("3", ""), ("3", "")]),
    "T12": ("S4", "CBT", [("3", LP), ("1", "")]),
    "T13": ("S5", "CBT", [("3", NF), ("1", "")]),
    "T14": ("S5", "CBT", [("3", ""), ("3", ""), ("3", NF), ("1", "")]),
    "T15": ("S5", "CBT", [("3", ""), ("3", LP), ("3", ""), ("3", "")]),
    "T16": ("S6", "CBT", [("3", ""), ("3", ""), ("1", "")]),
    "T17": ("S6", "CBT", [("3", NF), ("3", ""), ("3", ""), ("3", "")]),
    "T18": ("S6", "CBT", [("3", ""), ("3", NF), ("3", NF), ("3", "")]),
}


def build(tmp_path, config, load):
    teachers, visits = [], []
    for t, (school, programme, rounds) in TEACHERS.items():
        teachers.append(teacher(t, school, programme=programme))
        for month, entry in zip(MONTHS, rounds):
            if entry is None:
                continue
            score, reported = entry
            present = score != "absent"
            visits.append(visit(f"{t}-{month}", t, school, month, programme=programme,
                                scores={"group_work": score} if present else {},
                                status="present" if present else "absent", hindrances=reported))
    result = load(config, write_roster(tmp_path / "roster.csv", teachers), write_kobo(tmp_path / "k.csv", visits))
    assert result.ok and result.files[1].inserted == len(visits)
    return duckdb.connect(str(config.database_path()), read_only=True)


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    """The fixture imported once for the module; the tests only read it (a read-only connection)."""
    from ingest import ingest_files
    from sustain.config import load_config

    folder = tmp_path_factory.mktemp("hindrance_fixture")
    config = load_config(write_config(folder, **{"thresholds.min_group_n": 1}))
    connection = build(folder, config, lambda config, *files: ingest_files(list(files), config))
    yield connection, config
    connection.close()


def person_periods(hindrance: str, exposure: str = "previous") -> pd.DataFrame:
    """The at-risk person-periods of the fixture, written from TEACHERS (not read from the model)."""
    rows = []
    for t, (school, programme, rounds) in TEACHERS.items():
        visits = {m: e for m, e in zip(MONTHS, rounds) if e is not None}
        previous = 0
        for month in MONTHS[1:]:
            if month not in visits:
                continue
            score, _ = visits[month]
            if score != "absent":
                reported = visits[previous][1] if exposure == "previous" else visits[0][1]
                event = int(score) < 3
                rows.append({"teacher": t, "school": school, "programme": programme, "practice": "group_work",
                             "months": month, "event": int(event), "exposed": int(hindrance in reported.split())})
                if event:
                    break
            previous = month
    return pd.DataFrame(rows)


def reference_fit(frame: pd.DataFrame, formula: str):
    """statsmodels' row-level cloglog GLM with school-clustered errors (its default CRV1 factor)."""
    groups = pd.factorize(frame["school"])[0]
    family = sm.families.Binomial(link=sm.families.links.CLogLog())
    fit = smf.glm(formula, frame, family=family).fit(cov_type="cluster", cov_kwds={"groups": groups}, tol=1e-14)
    return fit, groups


ADJUSTED = "event ~ exposed + C(months) + C(programme)"  # one practice: no practice term


def test_month3_by_hand(con):
    connection, config = con
    table = hindrance_effect(connection, Filters(months_min=3, months_max=3), ["programme"], config)
    row = table[(table["programme"] == "CBM") & (table["hindrance"] == NF)].iloc[0]
    expected = math.log(1 - 1 / 3) / math.log(1 - 2 / 5)
    assert expected == pytest.approx(0.793745, abs=1e-6)
    assert row["hazard_ratio"] == pytest.approx(expected, rel=1e-8)
    assert row["crude_hazard_ratio"] == pytest.approx(expected, rel=1e-8)  # nothing else to adjust for
    assert (row["events"], row["n"], row["teachers"]) == (1, 3, 3)
    assert math.isnan(row["risk_difference_12"])  # rounds 6 and 12 are outside the filter


def test_matches_independent_row_level_fit(con):
    connection, config = con
    table = hindrance_effect(connection, Filters(), [], config)
    assert list(table.columns) == COLUMNS
    assert table["hindrance"].tolist() == config.hindrance_codes
    rows = table.set_index("hindrance")
    z = stats.norm.ppf(0.975)
    for hindrance, exposed_teachers in ((NF, 10), (LP, 5)):
        frame = person_periods(hindrance)
        fit, _ = reference_fit(frame, ADJUSTED)
        beta, se = fit.params["exposed"], fit.bse["exposed"]
        row = rows.loc[hindrance]
        assert row["hazard_ratio"] == pytest.approx(math.exp(beta), rel=1e-6)
        assert [row["ci_low"], row["ci_high"]] == pytest.approx([math.exp(beta - z * se), math.exp(beta + z * se)],
                                                                rel=1e-6)
        assert row["p_value"] == pytest.approx(fit.pvalues["exposed"], rel=1e-6)
        crude = smf.glm("event ~ exposed + C(months)", frame,
                        family=sm.families.Binomial(link=sm.families.links.CLogLog())).fit(tol=1e-14)
        assert row["crude_hazard_ratio"] == pytest.approx(math.exp(crude.params["exposed"]), rel=1e-6)
        assert row["events"] == frame.loc[frame["exposed"] == 1, "event"].sum()
        assert row["n"] == row["teachers"] == exposed_teachers == frame.loc[frame["exposed"] == 1, "teacher"].nunique()
    # a hindrance nobody reported: no estimate, a note, nothing to hide
    other = rows.loc["other"]
    assert other["note"] == "no rows with the hindrance" and math.isnan(other["hazard_ratio"])
    assert not other["suppressed"] and other["n"] == 0


def test_month0_exposure_option(con):
    connection, config = con
    rows = hindrance_effect(connection, Filters(), [], config, exposure="month0").set_index("hindrance")
    fit, _ = reference_fit(person_periods(NF, "month0"), ADJUSTED)
    assert rows.loc[NF, "hazard_ratio"] == pytest.approx(math.exp(fit.params["exposed"]), rel=1e-6)
    with pytest.raises(ValueError):
        hindrance_effect(connection, Filters(), [], config, exposure="ever")


def test_clustered_se_against_hand_sandwich_and_gee(con):
    """The sandwich written out per row: bread = inverse observed information, meat = sum over
    schools of the summed score's outer product, times G/(G-1) (N-1)/(N-K). GEE (independence)
    solves the same score equations; its robust covariance uses the expected information as
    bread and no small-sample factor, which the hand sandwich reproduces when given that bread."""
    connection, config = con
    row = hindrance_effect(connection, Filters(), [], config).set_index("hindrance").loc[NF]
    frame = person_periods(NF)
    x = np.column_stack([np.ones(len(frame)), frame["exposed"],
                         *[(frame["months"] == m).astype(float) for m in (6, 12)],
                         (frame["programme"] == "CBT").astype(float)])
    y = frame["event"].to_numpy(float)
    fit = sm.GLM(y, x, family=sm.families.Binomial(link=sm.families.links.CLogLog())).fit()
    b = fit.params
    u = np.exp(x @ b)
    mu = 1 - np.exp(-u)
    score = u * (y / mu - 1)                                   # d loglik / d eta, per row
    observed = y * u**2 * (1 - mu) / mu**2 - score             # - d2 loglik / d eta2
    expected = u**2 * (1 - mu) / mu                            # its expectation
    schools = pd.factorize(frame["school"])[0]
    summed = np.array([(x * score[:, None])[schools == s].sum(axis=0) for s in range(schools.max() + 1)])
    meat = summed.T @ summed
    g, n, k = schools.max() + 1, len(y), x.shape[1]
    factor = g / (g - 1) * (n - 1) / (n - k)

    def sandwich(weight):
        bread = np.linalg.inv(x.T @ (x * weight[:, None]))
        return bread @ meat @ bread

    se = math.sqrt(factor * sandwich(observed)[1, 1])
    z = stats.norm.ppf(0.975)
    assert row["hazard_ratio"] == pytest.approx(math.exp(b[1]), rel=1e-6)
    assert row["ci_high"] == pytest.approx(math.exp(b[1] + z * se), rel=1e-6)
    gee = sm.GEE(y, x, groups=schools, family=sm.families.Binomial(link=sm.families.links.CLogLog()),
                 cov_struct=sm.cov_struct.Independence()).fit()
    assert gee.params[1] == pytest.approx(b[1], rel=1e-6)
    assert gee.bse[1] == pytest.approx(math.sqrt(sandwich(expected)[1, 1]), rel=1e-5)


def test_risk_difference_12_standardised(con):
    """S_12 per programme from the reference fit, exposure set to 1 and to 0 at rounds 3, 6 and
    12, averaged with the programme mix (9 CBM and 9 CBT teacher-practices at risk); its delta-
    method interval against a finite-difference gradient of the same function."""
    connection, config = con
    row = hindrance_effect(connection, Filters(), [], config).set_index("hindrance").loc[NF]
    frame = person_periods(NF)
    fit, _ = reference_fit(frame, ADJUSTED)
    terms = patsy.dmatrices(ADJUSTED, frame)[1].design_info  # the fit's own columns, in its order

    def difference(params):
        incidence = {}
        for x in (0, 1):
            grid = pd.DataFrame([{"exposed": x, "months": m, "programme": p} for p in ("CBM", "CBT")
                                 for m in (3, 6, 12)])
            design = np.asarray(patsy.build_design_matrices([terms], grid)[0])
            h = 1 - np.exp(-np.exp(design @ params))
            survival = np.prod((1 - h).reshape(2, 3), axis=1)
            incidence[x] = np.average(1 - survival, weights=[9, 9])
        return incidence[1] - incidence[0]

    params = fit.params.to_numpy()
    rd = difference(params)
    assert row["risk_difference_12"] == pytest.approx(rd, rel=1e-6)
    step = 1e-6
    gradient = np.array([(difference(params + step * e) - difference(params - step * e)) / (2 * step)
                         for e in np.eye(len(params))])
    se = math.sqrt(gradient @ fit.cov_params().to_numpy() @ gradient)
    z = stats.norm.ppf(0.975)
    assert [row["rd_ci_low"], row["rd_ci_high"]] == pytest.approx([rd - z * se, rd + z * se], rel=1e-5)


def test_benjamini_hochberg_across_the_whole_table(con):
    connection, config = con
    table = hindrance_effect(connection, Filters(), ["programme"], config)
    tested = table.dropna(subset=["p_value"])
    assert tested["programme"].nunique() == 2  # both groups carry tests: one family across them
    p = tested["p_value"].sort_values()
    m = len(p)
    adjusted, running = {}, 1.0
    for rank in range(m, 0, -1):  # p_adj(i) = min over j >= i of p(j) * m / j
        running = min(running, p.iloc[rank - 1] * m / rank)
        adjusted[p.index[rank - 1]] = running
    assert tested["p_adj"].to_dict() == pytest.approx(adjusted, rel=1e-12)
    assert table.loc[table["p_value"].isna(), "p_adj"].isna().all()


def test_months_grouping_has_a_month3_row_and_filters(con):
    connection, config = con
    by_months = hindrance_effect(connection, Filters(hindrance=(NF,)), ["months"], config)
    assert by_months["months"].tolist() == [3, 6, 12]  # no at-risk rows at 18 or 24
    assert by_months["hindrance"].tolist() == [NF] * 3
    # month 3 uses the month-0 reports: an estimate, not an empty row
    month3 = by_months.iloc[0]
    assert np.isfinite(month3["hazard_ratio"]) and month3["note"] == ""
    assert by_months["risk_difference_12"].isna().all()  # one round per row
    assert hindrance_effect(connection, Filters(district=("x' OR 1=1 --",)), [], config).empty


def test_small_arms_are_suppressed(tmp_path, config_factory, load):
    config = config_factory(**{"thresholds.min_group_n": 6})
    connection = build(tmp_path, config, load)
    try:
        rows = hindrance_effect(connection, Filters(), [], config).set_index("hindrance")
    finally:
        connection.close()
    # no_followup: 10 teachers with an exposed row, 14 with an unexposed row
    assert not rows.loc[NF, "suppressed"] and np.isfinite(rows.loc[NF, "hazard_ratio"])
    # low_pay: 5 exposed teachers < 6: hidden, blank, never 0
    assert rows.loc[LP, "suppressed"]
    assert rows.loc[LP, ["hazard_ratio", "crude_hazard_ratio", "risk_difference_12", "p_value", "p_adj",
                         "events", "n", "teachers"]].isna().all()
    assert rows.loc[LP, "note"].startswith("too few to show")
    # an empty arm hides nothing: the row says so instead
    assert not rows.loc["other", "suppressed"] and rows.loc["other", "note"] == "no rows with the hindrance"


def test_fit_cloglog_is_invariant_to_aggregation():
    """Lines summing rows with the same covariates and school give the same fit and clustered
    covariance as the rows themselves."""
    rng = np.random.default_rng(7)
    n = 400
    schools = rng.integers(0, 25, n)
    x = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.integers(0, 2, n)]).astype(float)
    y = (rng.random(n) < 1 - np.exp(-np.exp(-1.2 + 0.5 * x[:, 1] - 0.3 * x[:, 2]))).astype(float)
    row_params, row_cov = fit_cloglog(y, np.ones(n), x, schools)
    frame = pd.DataFrame({"s": schools, "a": x[:, 1], "b": x[:, 2], "y": y, "m": 1.0})
    lines = frame.groupby(["s", "a", "b"], as_index=False)[["y", "m"]].sum()
    design = np.column_stack([np.ones(len(lines)), lines["a"], lines["b"]])
    line_params, line_cov = fit_cloglog(lines["y"], lines["m"], design, lines["s"].to_numpy())
    assert line_params == pytest.approx(row_params, rel=1e-8)
    assert line_cov == pytest.approx(row_cov, rel=1e-8)
    reference = sm.GLM(y, x, family=sm.families.Binomial(link=sm.families.links.CLogLog())).fit(
        cov_type="cluster", cov_kwds={"groups": schools})
    assert row_params == pytest.approx(reference.params, rel=1e-7)
    assert np.sqrt(np.diag(row_cov)) == pytest.approx(reference.bse, rel=1e-7)


# ---- the bundled sample -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample(sample_db):
    from sustain.config import load_config

    con = duckdb.connect(str(sample_db), read_only=True)
    yield con, load_config()
    con.close()


def sample_rows(con, hindrance: str) -> pd.DataFrame:
    return con.execute("""
        select teacher_key, practice, months, programme, school_id, event::integer as event,
               list_contains(hindrances_prev, $h)::integer as exposed
        from person_period where at_risk and months > 0
    """, {"h": hindrance}).df()


def test_sample_aggregated_fit_equals_row_level_fit(sample):
    """The fit on (school, round, practice, programme, exposed) lines equals statsmodels'
    row-level cloglog GLM with cov_type="cluster" on the person-period rows, to 1e-6."""
    con, config = sample
    rows = hindrance_effect(con, Filters(), [], config).set_index("hindrance")
    frame = sample_rows(con, "no_followup")
    design = pd.get_dummies(frame[["months", "practice", "programme"]].astype(str), drop_first=True, dtype=float)
    design.insert(0, "exposed", frame["exposed"].astype(float))
    design.insert(0, "const", 1.0)
    groups = pd.factorize(frame["school_id"])[0]
    fit = sm.GLM(frame["event"].astype(float), design,
                 family=sm.families.Binomial(link=sm.families.links.CLogLog())).fit(
        cov_type="cluster", cov_kwds={"groups": groups})
    z = stats.norm.ppf(0.975)
    beta, se = fit.params["exposed"], fit.bse["exposed"]
    row = rows.loc["no_followup"]
    assert math.log(row["hazard_ratio"]) == pytest.approx(beta, abs=1e-6)
    assert (math.log(row["ci_high"]) - math.log(row["ci_low"])) / (2 * z) == pytest.approx(se, abs=1e-6)
    assert row["p_value"] == pytest.approx(fit.pvalues["exposed"], rel=1e-5)


@pytest.mark.parametrize("by", [(), ("programme",)])
def test_schools_split_across_batches_give_the_same_table(sample, monkeypatch, by):
    """The lines are streamed in batches and each batch's whole schools summed; a school cut by a
    batch's end waits for the next: tiny batches (most schools cut) give the same table as one."""
    import metrics.hindrance_effect as module

    con, config = sample
    whole = hindrance_effect(con, Filters(), list(by), config)
    assert whole["ci_low"].notna().sum() >= 3
    for rows in (97,):  # a prime: batches end at every place in a school
        monkeypatch.setattr(module, "MEAT_BATCH_ROWS", rows)
        pd.testing.assert_frame_equal(hindrance_effect(con, Filters(), list(by), config), whole, rtol=1e-12)


@pytest.mark.slow  # fits models on the whole sample
def test_sample_hazard_ratios_against_stratified_cox(sample):
    """lifelines' CoxTimeVaryingFitter, stratified by programme and practice (the cloglog model's
    fixed effects), interval (previous scheduled round, t] per at-risk row with the exposure of
    the previous visit. The cloglog model is the grouped-time version of the same proportional
    hazards model in grouped time; Cox with Efron ties on data tied at five rounds treats each
    round's hundreds of tied events as if ordered within the interval, which attenuates the log
    hazard ratio (by 3-5% on the sample). Tolerance: |log HR_cox - log HR_cloglog| <= 10% of
    |log HR_cloglog| + 0.02 for every hindrance, and the same sign where |log HR| > 0.1."""
    from lifelines import CoxTimeVaryingFitter

    con, config = sample
    rows = hindrance_effect(con, Filters(), [], config).set_index("hindrance")
    schedule = [m for m in config.schedule.months]
    previous = {m: schedule[i - 1] for i, m in enumerate(schedule) if i > 0}
    checked = 0
    for hindrance in config.hindrance_codes:  # about 1 s each
        log_hr = math.log(rows.loc[hindrance, "hazard_ratio"])
        frame = sample_rows(con, hindrance)
        frame["start"] = frame["months"].map(previous)
        frame["id"] = frame["teacher_key"] + "/" + frame["practice"]
        cox = CoxTimeVaryingFitter()
        cox.fit(frame[["id", "start", "months", "event", "exposed", "programme", "practice"]], id_col="id",
                event_col="event", start_col="start", stop_col="months", strata=["programme", "practice"])
        cox_log_hr = float(cox.params_["exposed"])
        assert abs(cox_log_hr - log_hr) <= 0.1 * abs(log_hr) + 0.02, (hindrance, cox_log_hr, log_hr)
        if abs(log_hr) > 0.1:
            assert np.sign(cox_log_hr) == np.sign(log_hr), hindrance
            checked += 1
    assert checked >= 5


def test_sample_finds_the_harmful_hindrances(sample):
    con, config = sample
    rows = hindrance_effect(con, Filters(), [], config).set_index("hindrance")
    assert not rows["suppressed"].any() and (rows["note"] == "").all()
    assert rows["hazard_ratio"].idxmax() == "no_followup"
    assert rows.loc["no_followup", "ci_low"] > 1 and rows.loc["no_followup", "p_adj"] < 1e-10
    assert rows.loc["no_followup", "risk_difference_12"] > 0
    for harmful in ("teacher_resistance", "political_interference", "no_resources", "low_pay"):
        assert rows.loc[harmful, "hazard_ratio"] > 1, harmful
    # by programme: one family of 16 tests
    by = hindrance_effect(con, Filters(), ["programme"], config)
    assert len(by) == 16 and by["p_adj"].notna().all()


@pytest.mark.slow  # fits models on the whole sample
def test_cli_prints_full_precision_and_takes_the_options(sample, sample_db, capsys):
    """`python -m metrics hindrance_effect --format json` keeps p-values in full (pandas' to_json
    printed 6.7e-13 as 0.0); --exposure and --adjust reach the function."""
    import json

    from metrics.__main__ import json_records, main

    con, config = sample
    assert json.loads(json.dumps(json_records(pd.DataFrame({"p": [6.717390562445698e-13, math.nan]})))) == [
        {"p": 6.717390562445698e-13}, {"p": None}]
    for argv, options in (([], {}), (["--exposure", "month0", "--adjust", "district"],
                                     {"exposure": "month0", "adjust_district": True})):
        assert main(["hindrance_effect", "--db", str(sample_db), "--format", "json", *argv]) == 0
        printed = json.loads(capsys.readouterr().out)["rows"]
        table = hindrance_effect(con, Filters(), [], config, **options)
        assert [r["p_value"] for r in printed] == table["p_value"].tolist()  # exactly, not rounded
        assert [r["hazard_ratio"] for r in printed] == table["hazard_ratio"].tolist()
        assert 0 < printed[0]["p_value"] < 1e-12
    assert main(["retention", "--db", str(sample_db), "--exposure", "month0"]) == 2
