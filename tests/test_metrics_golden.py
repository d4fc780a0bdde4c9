"""Prevalence and retention on a six-teacher fixture, against values computed by hand (rates and
their intervals clustered by school).

Fixture (programme CBM, cut-off 3; gw = group_work, q = questioning):
    teacher school district  month 0      month 3
    T1      S1     Thatta    gw 3, q 2    gw 4, q 3
    T2      S1     Thatta    gw 4, q 3    gw 2, q na
    T3      S1     Thatta    gw 2, q 4    gw 3, q 1
    T4      S1     Thatta    gw 3, q 3    absent
    T5      S2     Sanghar   gw 3, q 1    gw 3, q 1
    T6      S2     Sanghar   gw 1, q 3    gw 1, q 4
    T7      S2     Sanghar   (on the roster, never visited)
Hindrances reported: T1 month 0 low_pay; T2 month 0 low_pay no_followup; T5 month 3 no_followup.
The CoP question is answered yes in Thatta (THA-C1), no in Sanghar (SAN-C1); the CoP log has two
THA-C1 meetings after the programme end (15 Dec 2023) and one before it.
"""
import json
import subprocess
import sys

import duckdb
import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from metrics import Filters
from metrics.context import cop_activity, coverage, hindrance_prevalence
from metrics.indicators import prevalence, retention, retention_counts
from metrics.stats import Z95, wilson_interval
from support import ROOT_DIR, run_cli, teacher, visit, with_min_group_n, write_kobo, write_roster

SANGHAR = dict(cluster="SAN-C1", district="Sanghar")
SCORES = {
    "T1": ({"group_work": "3", "questioning": "2"}, {"group_work": "4", "questioning": "3"}),
    "T2": ({"group_work": "4", "questioning": "3"}, {"group_work": "2", "questioning": "na"}),
    "T3": ({"group_work": "2", "questioning": "4"}, {"group_work": "3", "questioning": "1"}),
    "T4": ({"group_work": "3", "questioning": "3"}, None),
    "T5": ({"group_work": "3", "questioning": "1"}, {"group_work": "3", "questioning": "1"}),
    "T6": ({"group_work": "1", "questioning": "3"}, {"group_work": "1", "questioning": "4"}),
}


HINDRANCES = {"T1-0": "low_pay", "T2-0": "low_pay no_followup", "T5-3": "no_followup"}


def build(tmp_path, config, load):
    teachers = [teacher(t, "S1") for t in ("T1", "T2", "T3", "T4")]
    teachers += [teacher(t, "S2", **SANGHAR) for t in ("T5", "T6", "T7")]
    visits = []
    for t, (month0, month3) in SCORES.items():
        place = SANGHAR if t in ("T5", "T6") else {}
        school = "S2" if place else "S1"
        context = {"cop_active": "no" if place else "yes", **place}
        visits.append(visit(f"{t}-0", t, school, 0, scores=month0, hindrances=HINDRANCES.get(f"{t}-0", ""), **context))
        if month3 is None:
            visits.append(visit(f"{t}-3", t, school, 3, status="absent", cop_active="", **place))
        else:
            visits.append(visit(f"{t}-3", t, school, 3, scores=month3, hindrances=HINDRANCES.get(f"{t}-3", ""),
                                **context))
    cop_log = tmp_path / "cop.csv"
    cop_log.write_text("cluster,meeting_date,attendees,facilitator_role,topic\n"
                       "THA-C1,2023-11-01,20,mentor,before the end\n"
                       "THA-C1,2024-01-10,18,teacher,group work\n"
                       "THA-C1,2024-02-10,15,teacher,questioning\n", encoding="utf-8")
    result = load(config, write_roster(tmp_path / "roster.csv", teachers), write_kobo(tmp_path / "k.csv", visits),
                  cop_log)
    assert result.ok and result.files[1].inserted == 12
    return duckdb.connect(str(config.database_path()), read_only=True)


@pytest.fixture(scope="module")
def con(golden):
    return golden


def as_records(frame, columns):
    return [tuple(row) for row in frame[columns].itertuples(index=False)]


def expit(x):
    return 1 / (1 + np.exp(-x))


def logit_interval(rate, se):
    """The 95% interval on the logit scale that metrics.stats builds from a share and its SE."""
    logit, logit_se = np.log(rate / (1 - rate)), se / (rate * (1 - rate))
    return [expit(logit - Z95 * logit_se), expit(logit + Z95 * logit_se)]


def test_prevalence_by_hand(con):
    connection, config = con
    table = prevalence(connection, Filters(), [], config)
    # month 0: 8 of 12 scored >= 3; month 3: 5 of 9 observed (T2 q na and T4 absent are missing)
    assert as_records(table, ["months", "n", "teachers"]) == [(0, 12, 6), (3, 9, 5)]
    assert table["rate"].tolist() == pytest.approx([8 / 12, 5 / 9])
    # clustered by school, var = S/(S-1) * sum_s (y_s - R n_s)^2 / n^2 with S = 2 schools:
    # month 0: S1 y 6 of n 8 (gw 3,4,2,3; q 2,3,4,3), S2 2 of 4; R = 2/3; residuals 6 - 16/3 = 2/3
    #   and 2 - 8/3 = -2/3; var = 2 * (8/9) / 144 = 1/81, se = 1/9
    # month 3: S1 3 of 5 (T1 gw 4 q 3, T2 gw 2, T3 gw 3 q 1), S2 2 of 4; R = 5/9; residuals 2/9
    #   and -2/9; var = 2 * (8/81) / 81 = 16/6561, se = 4/81
    assert table.loc[0, ["ci_low", "ci_high"]].tolist() == pytest.approx(logit_interval(2 / 3, 1 / 9))
    assert table.loc[1, ["ci_low", "ci_high"]].tolist() == pytest.approx(logit_interval(5 / 9, 4 / 81))
    # the same figures worked on paper: logit(2/3) = ln 2, logit SE = (1/9) / (2/9) = 0.5
    assert table.loc[0, ["ci_low", "ci_high"]].tolist() == pytest.approx([0.42878, 0.84200], abs=1e-5)
    by_district = prevalence(connection, Filters(months_max=0), ["district"], config)
    assert as_records(by_district, ["district", "months", "n"]) == [("Sanghar", 0, 4), ("Thatta", 0, 8)]
    assert by_district["rate"].tolist() == pytest.approx([2 / 4, 6 / 8])
    # one school per district: no between-school variance to estimate, Wilson's interval
    low, high = wilson_interval([2, 6], [4, 8])
    assert by_district["ci_low"].tolist() == pytest.approx(low) and by_district["ci_high"].tolist() == pytest.approx(high)


def test_retention_by_hand(con):
    connection, config = con
    table = retention(connection, Filters(), [], config)
    # retained at month 0: T1 gw, T2 gw, T2 q, T3 q, T4 gw, T4 q, T5 gw, T6 q (8)
    # observed at month 3 among them: T1 gw (kept), T2 gw (lost), T3 q (lost), T5 gw (kept), T6 q (kept)
    assert as_records(table, ["months", "retained", "n", "teachers"]) == [(0, 8, 8, 6), (3, 3, 5, 5)]
    # the rate counts the three units not scored at month 3 (T2 q na, T4 gw and q absent) by the
    # latent model's chance that each would have been scored in use (metrics/as_scored.py; worked
    # by hand on its own fixture in tests/test_as_scored.py): between all dropped and all kept
    assert table.loc[0, "rate"] == 1.0
    assert 3 / 8 < table.loc[1, "rate"] < 6 / 8
    # month 0 is 1 by definition: no interval
    assert table.loc[0, ["ci_low", "ci_high"]].isna().all()
    assert table.loc[1, "ci_low"] < table.loc[1, "rate"] < table.loc[1, "ci_high"]
    by_practice = retention(connection, Filters(months_min=3), ["practice"], config)
    assert as_records(by_practice, ["practice", "retained", "n"]) == [("group_work", 2, 3), ("questioning", 1, 2)]


def test_retention_counts_keep_their_meaning(con):
    connection, config = con
    # unsuppressed counts per school and round, and over every round when months is not grouped
    cells = retention_counts(connection, Filters(), ["school_id", "months"], config)
    assert sorted(as_records(cells, ["school_id", "months", "retained", "n", "teachers"])) == [
        ("S1", 0, 6, 6, 4), ("S1", 3, 1, 3, 3), ("S2", 0, 2, 2, 2), ("S2", 3, 2, 2, 2)]
    totals = retention_counts(connection, Filters(), ["school_id"], config)
    assert sorted(as_records(totals, ["school_id", "retained", "n", "teachers"])) == [("S1", 7, 9, 4), ("S2", 4, 4, 2)]


def test_filters_narrow_and_injection_is_a_literal(con):
    connection, config = con
    sanghar = retention(connection, Filters(district=("Sanghar",)), [], config)
    assert as_records(sanghar, ["months", "retained", "n"]) == [(0, 2, 2), (3, 2, 2)]
    hostile = retention(connection, Filters(district=("x' OR 1=1 --",)), [], config)
    assert hostile.empty


def test_wilson_matches_statsmodels():
    successes, totals = [0, 3, 17, 50, 99], [5, 5, 40, 50, 100]
    low, high = wilson_interval(successes, totals)
    for k, n, lo, hi in zip(successes, totals, low, high):
        expected = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert (lo, hi) == pytest.approx(expected, abs=1e-9)


def test_small_groups_are_suppressed_not_zero(con):
    connection, config = con
    config = with_min_group_n(config, 3)
    table = retention(connection, Filters(months_max=0), ["district"], config)
    # Sanghar rests on 2 teachers -> suppressed; Thatta (4) must then be suppressed too, or the
    # Sanghar figure could be recovered from the overall figure shown beside it.
    assert table["suppressed"].tolist() == [True, True]
    assert table["rate"].isna().all() and table["n"].isna().all()


@pytest.mark.slow  # starts `python -m metrics`
def test_metrics_cli(con):
    _, config = con
    done = subprocess.run([sys.executable, "-m", "metrics", "retention", "--config", str(config.source_path),
                           "--by", "district", "--where", "district=Thatta", "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT_DIR)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert [(r["district"], r["months"], r["retained"], r["n"]) for r in payload["rows"]] == [
        ("Thatta", 0, 6, 6), ("Thatta", 3, 1, 3)]
    # the rest in this process (one CLI start is enough to test the command line itself)
    code, out, _ = run_cli("metrics", ["prevalence", "--config", str(config.source_path)])
    assert code == 0 and out.splitlines()[0] == "months,rate,n,ci_low,ci_high,teachers,suppressed"
    code, _, err = run_cli("metrics", ["retention", "--config", str(config.source_path), "--by", "teacher_name"])
    assert code == 2 and "cannot group by 'teacher_name'" in err


def test_hindrance_prevalence_by_hand(con):
    connection, config = con
    table = hindrance_prevalence(connection, Filters(), [], config)
    assert table["hindrance"].tolist() == config.hindrance_codes
    # 11 present visits (T4 absent at month 3): low_pay 2, no_followup 2, others 0
    rates = dict(zip(table["hindrance"], table["rate"]))
    assert rates["low_pay"] == pytest.approx(2 / 11) and rates["no_followup"] == pytest.approx(2 / 11)
    assert rates["political_interference"] == 0 and set(table["n"]) == {11}
    by_round = hindrance_prevalence(connection, Filters(hindrance=("no_followup",)), ["months"], config)
    assert as_records(by_round, ["months", "hindrance", "reported", "n"]) == [(0, "no_followup", 1, 6), (3, "no_followup", 1, 5)]


def test_cop_activity_by_hand(con):
    connection, config = con
    table = cop_activity(connection, Filters(), [], config)
    # after month 0: Thatta visits T1-T3 answer yes (3 of 3), Sanghar T5, T6 no (0 of 2)
    assert as_records(table, ["cluster", "n", "meetings"]) == [("SAN-C1", 2, 0), ("THA-C1", 3, 2)]
    assert table["active_share"].tolist() == [0.0, 1.0]
    # two meetings after the end over the 24 months to the last round (731 days)
    assert table["meetings_per_month"].tolist() == pytest.approx([0.0, 2 / (731 / 30.4375)])


def test_coverage_by_hand(con):
    connection, config = con
    table = coverage(connection, Filters(), [], config)
    # 7 roster teachers, 6 visited at months 0 and 3 (an absent teacher was visited), none later
    assert as_records(table, ["months", "observed", "expected"]) == [
        (0, 6, 7), (3, 6, 7), (6, 0, 7), (12, 0, 7), (18, 0, 7), (24, 0, 7)]
    per_practice = coverage(connection, Filters(practice=("questioning",), months_max=3), [], config)
    # questioning scored: month 0 for all 6 visited; month 3 for T1, T3, T5, T6 (T2 na, T4 absent)
    assert as_records(per_practice, ["months", "observed", "expected"]) == [(0, 6, 7), (3, 4, 7)]
