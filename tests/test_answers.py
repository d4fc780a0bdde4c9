"""The sentence builder (report/answers.py): golden sentences on small hand-made indicator tables,
with the expected words worked out by hand in each test, and one check against the sample data
that a sentence's numbers are the indicator's cells."""
import math

import pandas as pd
import pytest

from report import answers

NAMES = {"CBM": "Mentoring", "CBT": "Training"}.get
HINDRANCES = {"no_followup": "Lack of follow-up", "low_pay": "Teachers' low pay",
              "no_resources": "Lack of resources"}.get


def retention_rows(*rows):
    """Rows of the retention indicator by programme: (programme, months, retained, n, teachers, suppressed)."""
    frame = pd.DataFrame(rows, columns=["programme", "months", "retained", "n", "teachers", "suppressed"])
    frame["rate"] = frame["retained"] / frame["n"]
    frame["ci_low"], frame["ci_high"] = frame["rate"] - 0.03, frame["rate"] + 0.03
    frame.loc[frame["months"] == 0, ["ci_low", "ci_high"]] = math.nan
    frame.loc[frame["suppressed"], ["rate", "retained", "n", "ci_low", "ci_high", "teachers"]] = math.nan
    return frame


TWO_PROGRAMMES = retention_rows(
    ("CBM", 0, 400, 400, 90, False), ("CBM", 12, 150, 300, 70, False), ("CBM", 24, 78, 300, 60, False),
    ("CBT", 0, 380, 380, 85, False), ("CBT", 12, 60, 300, 70, False), ("CBT", 24, 27, 300, 62, False))


def effects_rows(*rows):
    """Rows of hindrance_effect: (hindrance, hazard_ratio, ci_low, ci_high, p_adj, teachers, suppressed)."""
    return pd.DataFrame(rows, columns=["hindrance", "hazard_ratio", "ci_low", "ci_high", "p_adj", "teachers",
                                       "suppressed"])


EFFECTS = effects_rows(
    # the largest ratio, but its interval crosses 1: no evidence, never "the fastest loss"
    ("low_pay", 3.0, 0.8, 11.0, 0.30, 12, False),
    ("no_followup", 1.8, 1.6, 2.0, 0.0001, 412, False),
    ("no_resources", 1.3, 1.2, 1.5, 0.001, 300, False))


def test_two_programmes_are_said_side_by_side_never_summed():
    # CBM 78/300 = 26% -> "3 in 10"; CBT 27/300 = 9% -> "1 in 10"; pooled would be 105/600 = 18%
    sentence = answers.retention_answer(TWO_PROGRAMMES, EFFECTS, place="Pishin", programme_name=NAMES,
                                        hindrance_label=HINDRANCES)
    assert sentence == (
        "In Pishin, of the practices in use when each programme ended, 24 months later Mentoring kept 3 in 10 "
        "(26%; n = 300 teacher-practices, 60 teachers) and Training kept 1 in 10 (9%; n = 300 teacher-practices, "
        "62 teachers); lack of follow-up goes with the fastest loss (practices dropped 1.8 times as fast where it "
        "was reported, 95% CI 1.6–2.0; 412 teachers reported it).")
    assert "18%" not in sentence


def test_one_programme():
    one = TWO_PROGRAMMES[TWO_PROGRAMMES["programme"] == "CBM"]
    assert answers.retention_answer(one, programme_name=NAMES) == (
        "3 in 10 practices in use when Mentoring ended were still in use 24 months later "
        "(26%; n = 300 teacher-practices, 60 teachers).")


def test_a_pooled_table_names_what_it_pools():
    pooled = retention_rows(("CBM", 0, 780, 780, 175, False), ("CBM", 24, 105, 600, 122, False)).drop(
        columns="programme")
    sentence = answers.retention_answer(pooled, pooled=["CBM", "CBT"])
    assert sentence == ("2 in 10 practices in use when the programme ended were still in use 24 months later "
                        "(18%; n = 600 teacher-practices, 122 teachers) (CBM and CBT pooled).")


def test_suppressed_rounds_say_too_few_and_fall_back_to_the_latest_shown():
    table = retention_rows(("CBM", 0, 400, 400, 90, False), ("CBM", 12, 150, 300, 70, False),
                           ("CBM", 24, 0, 0, 3, True),
                           ("CBT", 0, 40, 40, 9, False), ("CBT", 12, 0, 0, 4, True))
    sentence = answers.retention_answer(table, programme_name=NAMES)
    # CBM: month 24 hidden, month 12 shown (150/300 = 50% -> "5 in 10"); CBT: its only later round hidden
    assert sentence == ("Of the practices in use when each programme ended, 12 months later Mentoring kept 5 in 10 "
                        "(50%; n = 300 teacher-practices, 70 teachers) and Training's share is too few to show at "
                        "month 12.")
    assert " 0%" not in sentence and "(0%" not in sentence


def test_nothing_after_month_0():
    table = retention_rows(("CBM", 0, 400, 400, 90, False))
    assert answers.retention_answer(table, place="Quetta") == (
        "In Quetta, no teacher has been followed after the programme ended yet.")


def test_fastest_loss_needs_evidence():
    weak = effects_rows(("low_pay", 3.0, 0.8, 11.0, 0.30, 12, False), ("no_followup", 1.1, 0.9, 1.3, 0.4, 50, False))
    assert answers.hindrance_clause(weak, HINDRANCES) == "no hindrance reported clearly goes with faster loss"
    hidden = effects_rows(("no_followup", math.nan, math.nan, math.nan, math.nan, math.nan, True))
    assert answers.hindrance_clause(hidden, HINDRANCES) == "which hindrance goes with the fastest loss is too few to show"
    assert answers.fastest_hindrance(EFFECTS)["hindrance"] == "no_followup"


def test_hindrance_answer_names_the_others_with_evidence():
    assert answers.hindrance_answer(EFFECTS, HINDRANCES) == (
        "Lack of follow-up goes with the fastest loss (practices dropped 1.8 times as fast where it was reported, "
        "95% CI 1.6–2.0; 412 teachers reported it); lack of resources also clearly goes with faster loss.")


def test_programme_rounds_each_with_interval_and_n():
    rounds = answers.programme_rounds(TWO_PROGRAMMES, rounds=(6, 12, 24), programme_name=NAMES)
    cbm = rounds[rounds["programme"] == "CBM"].set_index("months")
    assert cbm.loc[24, "value"] == "26%"
    assert cbm.loc[24, "detail"] == "95% CI 23%–29%; n = 300 teacher-practices, 60 teachers"
    assert cbm.loc[6, "value"] == "not yet"  # no visits at month 6 in this table: not a 0
    hidden = retention_rows(("CBM", 0, 40, 40, 9, False), ("CBM", 6, 0, 0, 3, True))
    assert answers.programme_rounds(hidden, rounds=(6,)).iloc[0]["value"] == "too few to show"


def half_life_rows(*rows):
    """half_life by practice: (practice, half_life_months, ci_low, ci_high, reached, decay_per_month,
    horizon_months, n, teachers, suppressed, note)."""
    return pd.DataFrame(rows, columns=["practice", "half_life_months", "ci_low", "ci_high", "reached",
                                       "decay_per_month", "horizon_months", "n", "teachers", "suppressed", "note"])


HALF_LIVES = half_life_rows(
    ("group_work", 8.25, 7.3, 9.4, True, 0.0702, 24, 3105, 787, False, ""),
    ("questioning", 6.09, 5.4, 7.0, True, 0.0875, 24, 2806, 702, False, ""),
    ("peer_feedback", math.nan, math.nan, math.nan, False, 0.01, 24, 900, 200, False, "not reached by month 24"),
    ("teaching_aids", math.nan, math.nan, math.nan, None, math.nan, math.nan, 20, 3, True, "too few to show"))
PRACTICES = {"group_work": "Group work", "questioning": "Questioning", "peer_feedback": "Peer feedback",
             "teaching_aids": "Teaching aids"}.get


def test_half_life_sentence_and_title():
    assert answers.half_life_title(HALF_LIVES, PRACTICES) == "Questioning fades fastest: half gone by month 6.1"
    assert answers.half_life_answer(HALF_LIVES, PRACTICES, pooled=["CBM", "CBT"]) == (
        "Questioning fades fastest: half gone by month 6.1 (n = 2,806 observations, 702 teachers); peer feedback "
        "lasts longest: more than half still in use at month 24 (n = 900 observations, 200 teachers) "
        "(CBM and CBT pooled); 1 practice(s) too few to show.")
    only = HALF_LIVES[HALF_LIVES["practice"] == "teaching_aids"]
    assert answers.half_life_answer(only, PRACTICES) == "How fast each practice fades is too few to show for this selection."


def test_half_life_table_for_people():
    shown = answers.half_life_table(HALF_LIVES, PRACTICES)
    # sorted by half-life, one decimal, loss per month as a percentage, hidden rows say so
    assert shown["Practice"].tolist() == ["Questioning", "Group work", "Peer feedback", "Teaching aids"]
    assert shown["Half-life (months)"].tolist() == ["6.1", "8.2", "not reached by month 24", "too few to show"]
    assert shown.loc[0, "Loss per month (λ, model)"] == "8.8%"
    assert shown.loc[0, "95% interval (months)"] == "5.4–7.0"
    # a column with nothing in it is left out
    no_notes = answers.half_life_table(HALF_LIVES.iloc[:2].assign(note=""), PRACTICES)
    assert "Note" not in no_notes.columns
    assert not any("decay_per_month" in c or c == "reached" for c in shown.columns)


def test_in_ten_words():
    assert [answers.in_ten(r) for r in (0, 0.04, 0.26, 0.5, 0.97, 1)] == [
        "none", "fewer than 1 in 10", "3 in 10", "5 in 10", "nearly all", "all"]


def test_cop_answer_compares_at_the_latest_round_both_show():
    table = pd.DataFrame({
        "cop": ["active", "active", "inactive", "inactive"], "months": [12, 24, 12, 24],
        "rate": [0.5, 0.3, 0.4, math.nan], "n": [100, 80, 90, math.nan], "teachers": [25, 20, 22, math.nan],
        "suppressed": [False, False, False, True]})
    assert answers.cop_answer(table) == (
        "12 months after the programme ended, teachers in clusters whose community kept meeting kept 5 in 10 "
        "practices (50%; n = 100 teacher-practices, 25 teachers), against 4 in 10 where it stopped (40%; "
        "n = 90 teacher-practices, 22 teachers): a comparison, not proof of an effect.")


def test_coverage_answer():
    table = pd.DataFrame({"months": [0, 3, 6], "observed": [90, 80, 45], "expected": [100, 100, 50],
                          "rate": [0.9, 0.8, 0.9], "n": [100, 100, 50], "teachers": [100, 100, 50],
                          "suppressed": [False, False, False]})
    # 215 of 250 = 86%
    assert answers.coverage_answer(table) == (
        "Follow-up visits reached 86% of the roster teachers due a visit (215 of 250 teacher-rounds over 3 rounds); "
        "month 3 was least covered (80%).")


def test_sample_sentence_reads_the_indicator_cells(sample_db):
    from metrics.filters import Filters
    from metrics.registry import INDICATORS
    from sustain.config import load_config
    from sustain.db import read_only

    config = load_config()
    with read_only(sample_db) as con:
        table = INDICATORS["retention"](con, Filters(district=("Pishin",)), ["programme"], config)
    sentence = answers.retention_answer(table, place="Pishin", programme_name=answers.programme_names(config).get)
    latest = table[table["months"] == table["months"].max()]
    assert len(latest) == 2
    for row in latest.itertuples():
        assert f"{row.rate:.0%}; n = {row.n:,} teacher-practices, {row.teachers:,} teachers" in sentence
        assert answers.programme_names(config)[row.programme] in sentence


def test_retention_table_in_words():
    table = retention_rows(("CBM", 0, 400, 400, 90, False), ("CBM", 24, 78, 300, 60, False),
                           ("CBT", 24, 0, 0, 3, True))
    shown = answers.retention_table(table, NAMES)
    assert shown.columns.tolist() == ["Programme", "Round", "Retention", "95% interval", "n (teacher-practices)",
                                      "Teachers"]
    assert shown.iloc[1].tolist() == ["Mentoring", "month 24", "26%", "23%–29%", "300", "60"]
    assert shown.iloc[2]["Retention"] == "too few to show"
