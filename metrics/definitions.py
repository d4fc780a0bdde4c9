"""Each indicator's definition, once: its columns, one plain sentence a district officer can read,
and one precise sentence a researcher can check. The README's "Indicators" table is this module
rendered (`markdown_table()`); tests/test_docs.py checks that it matches and that every function
returns these columns."""
from __future__ import annotations

from dataclasses import dataclass

from .stats import MIN_SCHOOLS_INTERVAL


@dataclass(frozen=True)
class Definition:
    columns: tuple[str, ...]   # the indicator's own columns, after the --by columns
    plain: str
    precise: str


DEFINITIONS: dict[str, Definition] = {
    "prevalence": Definition(
        ("rate", "n", "ci_low", "ci_high"),
        "Of the practices observed at a follow-up round, the share in use (scored at or above the cut-off).",
        "Σ(score ≥ `retained_at`) / Σ(scored) over `model_observations` at t (teacher present; `na` is missing, "
        "never 0); n = teacher-practices observed; 95% interval on the logit scale from the linearised "
        "ratio variance over school totals, S/(S−1)·Σ(y_s − R·n_s)²/n² (Wilson for one school); always by `months`."),
    "retention": Definition(
        ("rate", "retained", "n", "ci_low", "ci_high"),
        "Of the practices teachers were using when the programme ended, the share an observer would still "
        "score in use at month t, counting also the teachers not seen then: each counts with its chance of "
        "being scored in use, judged from what was seen of it, including whether the teacher left.",
        "Mean over `person_period` units at t (teacher-practices retained at month 0, placed where seen at t, "
        "else at month 0) of 1{retained} where scored at t, else e_U·P(in use at t | pattern) + "
        "e_A·P(abandoned at t | pattern), the posterior of the latent-state model (metrics/latent.py: in use → "
        "abandoned, absorbing; scoring accuracies e_U, e_A; leaving at a round depends on the state then) "
        "fitted by maximum likelihood to every unit scored at month 0, per programme × practice, once per "
        "import (estimand: the share scored ≥ the cut-off at t had every unit been visited, scoring error "
        "included; `survival` estimates the share truly in use); `retained`, n = units retained / scored "
        "at t; a round where no unit of the group was scored is not shown; month 0 is 1 with no interval; "
        "95% interval by the delta method clustered by school (each school's units plus its influence on "
        "the model's parameters, metrics/as_scored.py), logit scale; always by `months`."),
    "half_life": Definition(
        ("half_life_months", "ci_low", "ci_high", "reached", "decay_per_month", "horizon_months", "rounds", "n"),
        "How many months until only half of the practices in use when the programme ended are still truly "
        "in use (scoring errors, missed visits and teachers who left accounted for); \"not reached\" when "
        "more than half are still in use at the last round.",
        "The `survival` curve of the latent model (1 at month 0; rounds on ≥ `min_group_n` teachers) is read "
        "where it crosses 0.5, log-linearly between the bracketing rounds; NaN with `reached` false and the "
        "note \"not reached by month H\" otherwise; 95% interval: percentiles of 400 seeded draws of the "
        "curve from the model's cluster-robust sampling distribution (draws not reaching 0.5 count as "
        "infinite); `decay_per_month` is λ of a log-link binomial GLM exp(a − λt) with an intercept on the "
        "scored counts, clustered by school: a model, reported beside the reading; `horizon_months` is the "
        "last round used."),
    "survival": Definition(
        ("months", "survival", "ci_low", "ci_high", "at_risk", "events", "n"),
        "Of the practices teachers were using when the programme ended, the share still truly in use at each "
        "round: a practice once dropped stays dropped, and a single low score is weighed against the visits "
        "before and after it (observers sometimes misscore), so it does not by itself count as a drop.",
        "S(t) = Π_{j: t_j ≤ t}(1 − q_j) of a two-state hidden Markov model (in use → abandoned, absorbing) "
        "with a free hazard q_j per scheduled interval and group, P(in use at month 0), and shared "
        "misclassification P(scored ≥ cut-off given the state) and leaving probabilities P(left/transferred at a "
        "round given the state), fitted by maximum likelihood (EM) on the counts of units' score sequences per "
        "school (units: teacher-practices scored at month 0; absent/`na` rounds missing at random); 95% "
        "interval: percentiles of 400 seeded draws from the cluster-robust (CR1, by school) sandwich "
        f"covariance of the logit hazards, blank for a group of fewer than {MIN_SCHOOLS_INTERVAL} schools; "
        "`at_risk`, `events` are the first-drop life table's counts "
        "(units observed at u with no earlier visit not retained, and those not retained); `--rule "
        "first_drop` / `confirmed` (sensitivity) give that life table Π(1 − d_u/r_u) of the scores as they "
        "are, with a school-bootstrap interval (confirmed: only drops confirmed at the next visit, so the "
        "last round holds no event); not by `months`."),
    "persistence": Definition(
        ("school_id", "school_name", "programme", "district", "round", "index", "index_shrunk", "p_at_risk",
         "p_below_programme", "programme_retention", "persistence_class", "retained", "n"),
        "For each school, the share of its practices in use at the programme's end that are still in use at "
        "the same month for every school, and how likely it is that the school keeps fewer than its programme.",
        "At round R (`--where months=R`, else the latest round every programme in view has reached), per "
        "school and programme: `index` = retained / n of units observed at R; a Beta(a, b) prior fitted by "
        "beta-binomial marginal likelihood across the programme-and-district's schools (the programme's when "
        "a district has fewer than 5 schools); `index_shrunk` = posterior mean; `p_at_risk` = P(θ < "
        "`at_risk_retention`); `p_below_programme` = P(θ < the programme's pooled retention at R), which sets "
        "`persistence_class` (decaying ≥ `class_evidence`, persisting ≤ 1 − `class_evidence`, else uncertain); "
        "below `min_group_n` teachers the counts are blank and the probabilities rounded to 0.1."),
    "hindrance_prevalence": Definition(
        ("hindrance", "rate", "n", "reported"),
        "Of the follow-up visits, the share at which each hindrance was reported.",
        "Σ(visits reporting h) / Σ(placed visits with the teacher present); n = visits; always by `hindrance`."),
    "hindrance_effect": Definition(
        ("hindrance", "hazard_ratio", "ci_low", "ci_high", "crude_hazard_ratio", "risk_difference_12",
         "rd_ci_low", "rd_ci_high", "p_value", "p_adj", "events", "n", "note"),
        "Teachers who reported this hindrance at their last visit dropped a practice before the next visit "
        "this many times as often as comparable teachers who did not.",
        "exp(β) of a binomial GLM with complementary log-log link on at-risk `person_period` rows (t > 0, "
        "outcome `event`), exposure = h in `hindrances_prev` (reported at the previous visit; `--exposure "
        "month0` uses the month-0 report), fixed effects for round, practice and programme (`--adjust "
        "district` adds district), fitted on counts per school and covariate pattern, errors clustered by "
        "school (CR1); crude = exposure and round only; `risk_difference_12` = standardised difference in "
        "abandonment by month 12 (delta-method interval); Benjamini-Hochberg across every row of the table; "
        "n = teachers exposed; suppressed when the exposed or unexposed arm has < `min_group_n` teachers."),
    "cop_activity": Definition(
        ("meetings_per_month", "active_share", "n", "meetings"),
        "How often each cluster's community of practice met after the programme, and how often visits say it "
        "met in the last month.",
        "After month 0, by cluster unless grouped otherwise: CoP-log meetings / months elapsed, and the share "
        "of follow-up visits answering `cop_active` = yes (n = visits)."),
    "coverage": Definition(
        ("observed", "expected", "rate", "n"),
        "Of the trained teachers due a visit at a round, the share who were visited.",
        "Roster teachers with a placed visit at t / roster teachers expected at t (rounds that have come due; "
        "teachers who left or transferred are not expected afterwards); always by `months`."),
}


def markdown_table() -> str:
    """The README's indicator table."""
    lines = ["| indicator | columns | in plain words | precisely |", "|---|---|---|---|"]
    for name, d in DEFINITIONS.items():
        columns = ", ".join(d.columns)
        lines.append(f"| `{name}` | `{columns}` | {d.plain} | {d.precise} |")
    return "\n".join(lines)
