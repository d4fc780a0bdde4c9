"""Answers in one sentence, computed from indicator tables: the first line of every page and the
donor pack's executive summary.

Each function takes the table(s) an indicator returns (metrics/: on a page through
`app.ui.indicator`, in the pack through `metrics.registry.INDICATORS`) and returns plain text. No
Streamlit, no database, no markup: the caller shows the text. Every word goes through the one
catalogue (sustain/messages.py `t`): the sentences come out in the current language (the
dashboard's `?lang=ur`, the donor pack's language). Rules every sentence keeps:

- n is said as teacher-practices (or observations) and teachers, read from the table's `n` and
  `teachers` columns of the rows the sentence speaks about;
- a suppressed row (`suppressed`) is said as "too few to show", never as a number;
- programmes are never pooled silently: a table with a `programme` column gives one clause per
  programme; a table that pools several programmes must be told so (`pooled=` names them) and the
  sentence says it;
- "goes with the fastest loss" comes from the `hindrance_effect` estimator only: the hindrance
  with the largest hazard ratio among those whose 95% interval lies above 1 and whose adjusted p
  is below 0.05, said with its ratio and interval; without such evidence the sentence says so.

The interface (tables are the indicators' own, unchanged; `label`-like arguments map a code to
the words to show, `str` by default). On a page: `ui.answers.<function>(...)`, shown with
`app.charts.show_answer(sentence)` right under the title.

    Sentences (one per page; end with a full stop):
    retention_answer(retention_by_programme, effects=None, place="", programme_name=str, hindrance_label=str, pooled=())
    half_life_answer(half_life_by_practice, practice_label=str, pooled=())
    hindrance_answer(hindrance_effect, hindrance_label=str, pooled=())
    cop_answer(retention_by_cop, pooled=())
    coverage_answer(coverage_by_months)
    schools_answer(school_trends, place="", evidence=config.thresholds.class_evidence)
    plan_answer(visit_plan, shown)
    executive_summary(retention, effects, half_life, districts, ...) -> list of sentences (donor pack)
    Chart titles stating the finding:
    retention_title, districts_title, half_life_title, half_life_range_title, survival_title,
    cop_title, meetings_title
    Clauses and helpers:
    hindrance_clause / fastest_hindrance (the estimator's evidence), programme_rounds (Overview),
    retention_table / half_life_table (tables in words), programme_names / programme_facts /
    programmes_in (who is pooled), pooled_words, join_words, in_ten, percent, interval,
    interval_range, n_words, GLOSSES / gloss(key) (one plain line per technical word: half-life, λ,
    life table, censoring, hazard ratio, interval), COP_NAMES / cop_name(code).
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

import pandas as pd

from sustain.messages import current_language, data_words, date_words, full_stop, t

TOO_FEW = "too few to show"  # the words metrics/ writes; said in the current language as t(TOO_FEW)
# the rounds the Overview shows for each programme (those of the schedule)
HEADLINE_ROUNDS = (6, 12, 24)
# evidence for "goes with the fastest loss": the interval above 1 and the adjusted p below this
EVIDENCE_P = 0.05

Label = Callable[[str], str]


# -- words for numbers ---------------------------------------------------------------------------
def percent(value) -> str:
    """0.262 -> "26%"; missing -> "" (callers say "too few to show" for suppressed rows)."""
    return "" if value is None or pd.isna(value) else f"{value:.0%}"


def in_ten(rate: float) -> str:
    """A share in plain words: 0.26 -> "3 in 10", 0.04 -> "fewer than 1 in 10", 1 -> "all"."""
    if rate >= 1:
        return t("all")
    if rate <= 0:
        return t("none")
    tenths = round(rate * 10)
    if tenths == 0:
        return t("fewer than 1 in 10")
    if tenths == 10:
        return t("nearly all")
    return t("{tenths} in 10", tenths=tenths)


def months_words(value: float) -> str:
    """A time in months to one decimal: 6.09 -> "6.1"."""
    return f"{value:.1f}"


def count(value) -> str:
    return f"{int(value):,}"


def n_words(n, teachers, unit: str = "teacher-practices") -> str:
    """`n = 1,754 teacher-practices, 397 teachers`."""
    if int(teachers) == 1:
        return t("n = {n} {unit}, {teachers} teacher", n=count(n), unit=t(unit), teachers=count(teachers))
    return t("n = {n} {unit}, {teachers} teachers", n=count(n), unit=t(unit), teachers=count(teachers))


def interval(low, high, kind: str = "percent") -> str:
    """`95% CI 23–29%` (percent) or `95% CI 1.7–2.0` (ratio); "" when either end is missing."""
    span = interval_range(low, high, kind)
    return t("95% CI {range}", range=span) if span else ""


def interval_range(low, high, kind: str = "percent") -> str:
    """An interval's ends without its name: `23–29%`, `1.7–2.0`; "" when either end is missing."""
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return ""
    if kind == "percent":
        return f"{low:.0%}–{high:.0%}"
    if kind == "months":
        upper = t("not reached") if math.isinf(high) else f"{high:.1f}"
        return f"{low:.1f}–{upper}"
    return f"{low:.1f}–{high:.1f}"


def join_words(parts: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    parts = [p for p in parts if p]
    if len(parts) <= 1:
        return "".join(parts)
    return t("{first} and {last}", first=t(", ").join(parts[:-1]), last=parts[-1])


def pooled_words(pooled: Sequence[str]) -> str:
    """" (programmes pooled: A and B)" when several programmes are pooled, else ""."""
    return t(" ({names} pooled)", names=join_words(list(pooled))) if len(pooled) > 1 else ""


def _place(place: str) -> str:
    return t("In {place}, ", place=place) if place else ""


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _shown(table: pd.DataFrame) -> pd.DataFrame:
    return table[~table["suppressed"].astype(bool)]


# -- programmes ----------------------------------------------------------------------------------
def programme_names(config) -> dict[str, str]:
    """{code: name} of config's programmes in the current language (`programme_name=names.get`
    for the functions here)."""
    return {p.code: p.name_in(current_language()) for p in config.programmes}


def programme_facts(config) -> dict[str, str]:
    """{code: "Name, ended 15 Dec 2023"}: what sets a programme's month 0."""
    return {p.code: t("{name}, ended {date}", name=p.name_in(current_language()), date=date_words(p.end_date)) for p in config.programmes}


def programmes_in(retention: pd.DataFrame, programme_name: Label = str) -> list[str]:
    """Names of the programmes a `retention` table by programme has rows for (shown or not): the
    programmes a pooled figure of the same selection pools."""
    if "programme" not in retention:
        return []
    return [programme_name(code) for code in sorted(retention["programme"].dropna().unique())]


# -- retention -----------------------------------------------------------------------------------
def latest_rounds(retention: pd.DataFrame) -> pd.DataFrame:
    """Per programme (or for the whole table without a `programme` column): the row of the latest
    round after month 0, shown if any round is, else the latest suppressed one. Rows keep their
    indicator columns."""
    later = retention[retention["months"] > 0]
    if later.empty:
        return later
    keys = ["programme"] if "programme" in later else []
    rows = []
    for _, group in (later.groupby(keys, sort=True) if keys else [((), later)]):
        shown = _shown(group)
        pick = shown if len(shown) else group
        rows.append(pick.loc[pick["months"].idxmax()])
    return pd.DataFrame(rows).reset_index(drop=True)


def _retention_clause(row, name: str, many: bool) -> str:
    """One programme's part of the retention sentence."""
    months = int(row["months"])
    if bool(row["suppressed"]):
        return (t("{name}'s share is too few to show at month {months}", name=name, months=months) if many
                else t("too few to show at month {months}", months=months))
    facts = t("{percent}; {n}", percent=percent(row['rate']), n=n_words(row['n'], row['teachers']))
    return (t("{name} kept {share} ({facts})", name=name, share=in_ten(row['rate']), facts=facts) if many
            else f"{in_ten(row['rate'])} ({facts})")


def retention_answer(retention: pd.DataFrame, effects: pd.DataFrame | None = None, *, place: str = "",
                     programme_name: Label = str, hindrance_label: Label = str,
                     pooled: Sequence[str] = ()) -> str:
    """The Overview's answer: of practices in use when the programme ended, how many were still in
    use at the latest round, per programme, with n; then which hindrance goes with the fastest
    loss (from `effects`, the hindrance_effect table, when given).

    `retention`: the retention indicator by ("programme",) (one clause per programme), or without
    a programme column for one programme (or several pooled: name them in `pooled`)."""
    latest = latest_rounds(retention)
    if latest.empty:
        return _place(place) + t("no teacher has been followed after the programme ended yet.")
    if "programme" in latest and latest["programme"].nunique() > 1:
        months = sorted(set(latest["months"].astype(int)))
        clauses = [_retention_clause(row, programme_name(row["programme"]), True) for _, row in latest.iterrows()]
        when = (t("{months} months later", months=months[0]) if len(months) == 1
                else t("at each programme's latest round (month {months})", months=join_words([str(m) for m in months])))
        sentence = _place(place) + t("of the practices in use when each programme ended, {when} {clauses}",
                                     when=when, clauses=join_words(clauses))
    else:
        row = latest.iloc[0]
        name = programme_name(row["programme"]) if "programme" in latest else ""
        ended = t("when {name} ended", name=name) if name else t("when the programme ended")
        months = int(row["months"])
        if bool(row["suppressed"]):
            sentence = _place(place) + t("how many practices in use {ended} were still in use {months} months later "
                                         "is too few to show", ended=ended, months=months)
        else:
            sentence = _place(place) + t("{share} practices in use {ended} were still in use {months} months later "
                                         "({percent}; {n})", share=in_ten(row['rate']), ended=ended, months=months,
                                         percent=percent(row['rate']), n=n_words(row['n'], row['teachers']))
        sentence += pooled_words(pooled)
    sentence = _capital(sentence)
    if effects is not None:
        sentence += t("; ") + hindrance_clause(effects, hindrance_label)
    return sentence + full_stop()


def programme_rounds(retention: pd.DataFrame, rounds: Iterable[int] = HEADLINE_ROUNDS,
                     programme_name: Label = str) -> pd.DataFrame:
    """The Overview's side-by-side figures: per programme and round of `rounds`, the retention as
    words. Columns: programme, name, months, value ("26%" or "too few to show" or "not yet"),
    detail ("95% CI 23–29%; n = 1,754 teacher-practices, 397 teachers"), suppressed."""
    rows = []
    programmes = sorted(retention["programme"].unique()) if "programme" in retention else [None]
    for code in programmes:
        table = retention if code is None else retention[retention["programme"] == code]
        for months in rounds:
            cell = table[table["months"] == months]
            base = {"programme": code, "name": programme_name(code) if code is not None else "",
                    "months": months}
            if cell.empty:
                rows.append(base | {"value": t("not yet"), "detail": t("no visits at this round"), "suppressed": False})
            elif bool(cell["suppressed"].iloc[0]):
                rows.append(base | {"value": t(TOO_FEW), "detail": t("fewer teachers than the minimum to show"),
                                    "suppressed": True})
            else:
                row = cell.iloc[0]
                rows.append(base | {"value": percent(row["rate"]),
                                    "detail": t("{percent}; {n}", percent=interval(row['ci_low'], row['ci_high']),
                                                n=n_words(row['n'], row['teachers'])),
                                    "suppressed": False})
    return pd.DataFrame(rows, columns=["programme", "name", "months", "value", "detail", "suppressed"])


def retention_table(retention: pd.DataFrame, programme_name: Label = str) -> pd.DataFrame:
    """The retention indicator as people read it: its grouping columns (programme by name, the
    round as "month 12"), retention as a percentage with its 95% interval, n and teachers; a
    suppressed row says "too few to show" (the downloads keep the numbers)."""
    keys = [c for c in retention.columns if c not in
            ("rate", "retained", "n", "ci_low", "ci_high", "teachers", "suppressed", "months")]
    rows = []
    for _, row in retention.iterrows():
        out = {t(k.replace("_", " ").capitalize()): (programme_name(row[k]) if k == "programme" else row[k])
               for k in keys}
        out[t("Round")] = t("month {months}", months=int(row['months']))
        if bool(row["suppressed"]):
            out |= {t("Retention"): t(TOO_FEW), t("95% interval"): "", t("n (teacher-practices)"): "", t("Teachers"): ""}
        else:
            out |= {t("Retention"): percent(row["rate"]),
                    t("95% interval"): interval_range(row["ci_low"], row["ci_high"]),
                    t("n (teacher-practices)"): count(row["n"]), t("Teachers"): count(row["teachers"])}
        rows.append(out)
    return pd.DataFrame(rows)


def retention_title(retention: pd.DataFrame, programme_name: Label = str) -> str:
    """A retention chart's title stating the finding, e.g. "Cluster-based mentoring keeps 26% of
    practices at month 24, Cluster-based training 9%"."""
    latest = _shown(latest_rounds(retention))
    if latest.empty:
        return t("Practices still in use after the programme: too few to show")
    if "programme" in latest and len(latest) > 1:
        latest = latest.sort_values("rate", ascending=False)
        first, *rest = [(programme_name(r['programme']), percent(r['rate'])) for _, r in latest.iterrows()]
        months = sorted(set(latest["months"].astype(int)))
        at = t("month {months}", months=months[0]) if len(months) == 1 else t("the latest round")
        return t("{name} keeps {value} of practices at {at}, {others}", name=first[0], value=first[1], at=at,
                 others=join_words([f"{name} {value}" for name, value in rest]))
    row = latest.iloc[0]
    return _capital(t("{share} practices still in use at month {months} ({percent})", share=in_ten(row['rate']),
                      months=int(row['months']), percent=percent(row['rate'])))


def districts_title(retention: pd.DataFrame, programme_name: Label = str) -> str:
    """Title of the districts compared at each programme's latest round: who keeps most and least.
    `retention` by ("programme", "district") or ("district",)."""
    latest_parts = []
    keys = ["programme"] if "programme" in retention else []
    for code, group in (retention.groupby(keys, sort=True) if keys else [((), retention)]):
        shown = _shown(group[group["months"] > 0])
        if shown.empty:
            continue
        at = shown[shown["months"] == shown["months"].max()]
        if at["district"].nunique() < 2:
            continue
        best, worst = at.loc[at["rate"].idxmax()], at.loc[at["rate"].idxmin()]
        prefix = f"{programme_name(code[0] if isinstance(code, tuple) else code)}: " if keys else ""
        latest_parts.append(prefix + t("{best} keeps most ({best_percent}), {worst} least ({worst_percent}) at month "
                                       "{months}", best=best['district'], best_percent=percent(best['rate']),
                                       worst=worst['district'], worst_percent=percent(worst['rate']),
                                       months=int(best['months'])))
    return t("; ").join(latest_parts) or t(DISTRICTS_COMPARED)


DISTRICTS_COMPARED = "Districts compared"  # the districts' title when no finding can be stated


# -- hindrances ----------------------------------------------------------------------------------
def fastest_hindrance(effects: pd.DataFrame | None):
    """The hindrance_effect row with the largest hazard ratio among those with evidence (95%
    interval above 1, adjusted p below EVIDENCE_P, not suppressed); None when there is none."""
    if effects is None or effects.empty:
        return None
    shown = _shown(effects)
    strong = shown[(shown["ci_low"] > 1) & (shown["p_adj"] < EVIDENCE_P)]
    return None if strong.empty else strong.loc[strong["hazard_ratio"].astype(float).idxmax()]


def hindrance_clause(effects: pd.DataFrame | None, hindrance_label: Label = str) -> str:
    """"lack of follow-up goes with the fastest loss (practices dropped 1.8 times as fast where it
    was reported, 95% CI 1.7–2.0)", or why no hindrance is named."""
    if effects is None or effects.empty or _shown(effects).empty:
        return t("which hindrance goes with the fastest loss is too few to show")
    row = fastest_hindrance(effects)
    if row is None:
        return t("no hindrance reported clearly goes with faster loss")
    return t("{hindrance} goes with the fastest loss (practices dropped {ratio} times as fast where it was reported, "
             "{interval}; {teachers} teachers reported it)", hindrance=hindrance_label(row['hindrance']).lower(),
             ratio=f"{row['hazard_ratio']:.1f}", interval=interval(row['ci_low'], row['ci_high'], 'ratio'),
             teachers=count(row['teachers']))


def hindrance_answer(effects: pd.DataFrame | None, hindrance_label: Label = str, pooled: Sequence[str] = ()) -> str:
    """The Hindrances page's answer: the fastest-loss hindrance with its evidence, and how many
    others clearly go with faster loss."""
    if effects is None or effects.empty or _shown(effects).empty:
        return t("Which hindrances go with abandoning practices is too few to show for this selection.")
    shown = _shown(effects)
    strong = shown[(shown["ci_low"] > 1) & (shown["p_adj"] < EVIDENCE_P)]
    sentence = _capital(hindrance_clause(effects, hindrance_label))
    if len(strong) > 1:
        others = [hindrance_label(h).lower() for h in
                  strong.sort_values("hazard_ratio", ascending=False)["hindrance"].iloc[1:]]
        sentence += t("; ") + (t("{names} also clearly goes with faster loss", names=join_words(others))
                               if len(others) == 1 else
                               t("{names} also clearly go with faster loss", names=join_words(others)))
    return sentence + pooled_words(pooled) + full_stop()


# -- half-life -----------------------------------------------------------------------------------
def _half_lives(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    shown = _shown(table)
    shown = shown[shown["reached"].notna()]
    reached = shown[shown["reached"].astype(bool)].sort_values("half_life_months")
    lasting = shown[~shown["reached"].astype(bool)]
    return reached, lasting


def half_life_title(table: pd.DataFrame, practice_label: Label = str) -> str:
    """"Higher-order questioning fades fastest: half gone by month 6.1" from half_life by practice."""
    reached, lasting = _half_lives(table)
    if reached.empty:
        if lasting.empty:
            return t("Half-life of each practice: too few to show")
        return t("Every practice shown keeps more than half in use through month {months}",
                 months=int(lasting['horizon_months'].max()))
    row = reached.iloc[0]
    return t("{practice} fades fastest: half gone by month {months}", practice=practice_label(row['practice']),
             months=months_words(row['half_life_months']))


def half_life_answer(table: pd.DataFrame, practice_label: Label = str, pooled: Sequence[str] = ()) -> str:
    """The Practices page's answer from half_life by ("practice",): the fastest and the most lasting
    practice, each with its half-life and n."""
    reached, lasting = _half_lives(table)
    if reached.empty and lasting.empty:
        return t("How fast each practice fades is too few to show for this selection.")
    parts = []
    if len(reached):
        row = reached.iloc[0]
        parts.append(t("{practice} fades fastest: half gone by month {months} ({n})",
                       practice=practice_label(row['practice']), months=months_words(row['half_life_months']),
                       n=n_words(row['n'], row['teachers'], 'observations')))
    if len(lasting):
        row = lasting.loc[lasting["n"].astype(float).idxmax()]
        parts.append(t("{practice} lasts longest: more than half still in use at month {months} ({n})",
                       practice=practice_label(row['practice']).lower() if parts else practice_label(row['practice']),
                       months=int(row['horizon_months']), n=n_words(row['n'], row['teachers'], 'observations')))
    elif len(reached) > 1:
        row = reached.iloc[-1]
        parts.append(t("{practice} lasts longest: half gone by month {months} ({n})",
                       practice=practice_label(row['practice']).lower(), months=months_words(row['half_life_months']),
                       n=n_words(row['n'], row['teachers'], 'observations')))
    hidden = int(table["suppressed"].astype(bool).sum())
    sentence = t("; ").join(parts) + pooled_words(pooled)
    if hidden:
        sentence += t("; ") + t("{hidden} practice(s) too few to show", hidden=hidden)
    return _capital(sentence) + full_stop()


# one plain line for each technical word, where it appears
GLOSSES = {
    "half_life": ("Half-life: the month by which half of the practices in use when the programme ended are no "
                  "longer in use, read from the retention curve between visit rounds."),
    "lambda": ("Loss per month (λ): a fitted model's rate, about the share of the practices still in use that "
               "is lost each month between follow-up rounds."),
    "kaplan_meier": ("Life table (the Kaplan-Meier idea at the visit rounds): of the practices in use at month 0, "
                     "the share not yet abandoned by each round."),
    "censoring": ("Censored: a practice we stopped seeing (the teacher absent, moved, or not yet visited) counts "
                  "only for the rounds it was seen, neither as kept nor as lost after that."),
    "hazard_ratio": ("Hazard ratio: how many times as fast practices are dropped where the hindrance was "
                     "reported than where it was not (1 = no difference)."),
    "interval": "95% interval: the range the true figure most likely lies in, allowing for chance.",
}


def gloss(key: str) -> str:
    """The plain line for a technical word (GLOSSES), in the current language."""
    return t(GLOSSES[key])


def half_life_table(table: pd.DataFrame, practice_label: Label = str, group: str | None = None,
                    group_name: str = "") -> pd.DataFrame:
    """The half_life table as people read it: practice in words, half-life to one decimal with
    its interval, the loss per month as a percentage (λ, a model), n and teachers; sorted by
    half-life (fastest loss first, "not reached" last); columns with nothing in them left out.
    Suppressed rows say "too few to show"."""
    rows = []
    for _, row in table.iterrows():
        out = {t("Practice"): practice_label(row["practice"])}
        if group:
            out[group_name or group] = row[group]
        if bool(row["suppressed"]):
            out |= {t("Half-life (months)"): t(TOO_FEW), "_order": math.inf}
        elif pd.isna(row["half_life_months"]):
            out |= {t("Half-life (months)"): t("not reached by month {months}", months=int(row['horizon_months']))
                    if pd.notna(row["horizon_months"]) else (data_words(row["note"]) or t("not estimable")), "_order": 1e9}
        else:
            out |= {t("Half-life (months)"): months_words(row["half_life_months"]),
                    t("95% interval (months)"): interval_range(row["ci_low"], row["ci_high"], "months"),
                    "_order": float(row["half_life_months"])}
        if not bool(row["suppressed"]):
            out |= {t("Loss per month (λ, model)"): "" if pd.isna(row["decay_per_month"])
                    else f"{row['decay_per_month']:.1%}",
                    t("Observations (n)"): count(row["n"]), t("Teachers"): count(row["teachers"])}
        note = "" if pd.isna(row.get("note")) or row.get("note") == TOO_FEW else data_words(str(row.get("note") or ""))
        out[t("Note")] = note
        rows.append(out)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = frame.sort_values(["_order", t("Practice")], kind="stable").drop(columns="_order")
    frame = frame.fillna("")
    keep = [c for c in frame.columns if (frame[c].astype(str) != "").any()]
    return frame[keep].reset_index(drop=True)


def half_life_range_title(table: pd.DataFrame, practice_label: Label = str) -> str:
    """"Half-lives run from 6.1 (Higher-order questioning) to 9.5 months (Use of teaching aids)"."""
    reached, lasting = _half_lives(table)
    if len(reached) < 2 and lasting.empty:
        return half_life_title(table, practice_label)
    first = reached.iloc[0] if len(reached) else None
    if len(lasting):
        end = t("more than {months} months ({practice})", months=int(lasting['horizon_months'].max()),
                practice=practice_label(lasting.iloc[0]['practice']))
    else:
        last = reached.iloc[-1]
        end = t("{months} months ({practice})", months=months_words(last['half_life_months']),
                practice=practice_label(last['practice']))
    if first is None:
        return t("Every practice keeps more than half in use: {end}", end=end)
    return t("Half-lives run from {months} ({practice}) to {end}", months=months_words(first['half_life_months']),
             practice=practice_label(first['practice']), end=end)


def survival_title(table: pd.DataFrame, group: str | None = None) -> str:
    """The life table's finding: the share of practices not yet abandoned at the latest round
    (per group, the group keeping fewest named)."""
    shown = _shown(table[table["months"] > 0])
    if shown.empty:
        return t("Practices not yet abandoned: too few to show")
    months = int(shown["months"].max())
    at = shown[shown["months"] == months]
    if group and group in at and at[group].nunique() > 1:
        low, high = at.loc[at["survival"].idxmin()], at.loc[at["survival"].idxmax()]
        return t("By month {months}, {low} of practices are not yet abandoned for {low_group}, {high} for {high_group}",
                 months=months, low=percent(low['survival']), low_group=low[group], high=percent(high['survival']),
                 high_group=high[group])
    return t("By month {months}, {share} of practices are not yet abandoned", months=months,
             share=percent(at['survival'].iloc[0]))


# -- communities of practice ---------------------------------------------------------------------
def cop_answer(table: pd.DataFrame, pooled: Sequence[str] = ()) -> str:
    """The Communities page's answer from retention_by_cop: retention at the latest round both
    groups show, active vs inactive, with n; a comparison, not an effect."""
    later = _shown(table[table["months"] > 0])
    both = later.groupby("months")["cop"].nunique()
    common = both[both == 2].index
    if not len(common):
        return t("Whether teachers in clusters with an active community keep more practices is too few to show "
                 "for this selection.")
    months = int(common.max())
    at = later[later["months"] == months].set_index("cop")
    active, inactive = at.loc["active"], at.loc["inactive"]
    return _capital(t(
        "{when} after the programme ended, teachers in clusters whose community kept meeting kept {active_share} "
        "practices ({active_percent}; {active_n}), against {inactive_share} where it stopped ({inactive_percent}; "
        "{inactive_n}){pooled}: a comparison, not proof of an effect.", when=month_words(months),
        active_share=in_ten(active['rate']), active_percent=percent(active['rate']),
        active_n=n_words(active['n'], active['teachers']), inactive_share=in_ten(inactive['rate']),
        inactive_percent=percent(inactive['rate']), inactive_n=n_words(inactive['n'], inactive['teachers']),
        pooled=pooled_words(pooled)))


def month_words(months: int) -> str:
    return t("{months} months", months=months) if months != 1 else t("1 month")


# the retention_by_cop groups in words (legend entries): `cop_name(code)`
COP_NAMES = {"active": "still meeting (active)", "inactive": "stopped meeting (inactive)"}


def cop_name(code: str) -> str:
    return t(COP_NAMES[code]) if code in COP_NAMES else code


def cop_title(table: pd.DataFrame) -> str:
    later = _shown(table[table["months"] > 0])
    both = later.groupby("months")["cop"].nunique()
    common = both[both == 2].index
    if not len(common):
        return t("Retention with an active vs an inactive community")
    at = later[later["months"] == int(common.max())].set_index("cop")
    words = dict(active=percent(at.loc['active', 'rate']), inactive=percent(at.loc['inactive', 'rate']),
                 months=int(common.max()))
    if at.loc["active", "rate"] >= at.loc["inactive", "rate"]:
        return t("Teachers with an active community keep more: {active} vs {inactive} at month {months}", **words)
    return t("Teachers with an inactive community keep more: {active} vs {inactive} at month {months}", **words)


def meetings_title(activity: pd.DataFrame, threshold: float) -> str:
    """The meetings chart's finding from cop_activity by cluster: how many clusters' communities
    still meet at the active threshold or more."""
    shown = _shown(activity)
    if shown.empty:
        return t("Community meetings by cluster: too few to show")
    active = int((shown["meetings_per_month"] >= threshold).sum())
    return t("{active} of {clusters} clusters' communities hold {threshold} or more meetings a month after the "
             "programme", active=active, clusters=len(shown), threshold=f"{threshold:g}")


# -- data coverage -------------------------------------------------------------------------------
def coverage_answer(table: pd.DataFrame) -> str:
    """The Data page's answer from coverage by ("months",): the share of expected visits made over
    the rounds due, and the round least covered."""
    shown = _shown(table)
    if shown.empty:
        return t("Coverage of the follow-up rounds is too few to show for this selection.")
    lowest = shown.loc[shown["rate"].astype(float).idxmin()]
    observed, expected = int(shown["observed"].sum()), int(shown["expected"].sum())
    share = observed / expected if expected else 0.0
    return t("Follow-up visits reached {share} of the roster teachers due a visit ({observed} of {expected} "
             "teacher-rounds over {rounds} rounds); month {months} was least covered ({lowest}).",
             share=percent(share), observed=count(observed), expected=count(expected), rounds=len(shown),
             months=int(lowest['months']), lowest=percent(lowest['rate']))


# -- schools and the plan ------------------------------------------------------------------------
def schools_answer(schools: pd.DataFrame, place: str = "", evidence: float = 0.8, decaying: str = "decaying") -> str:
    """The Districts page's answer from school_trends: how many schools are likely (`evidence`,
    config thresholds.class_evidence) keeping fewer practices than their programme, of those
    visited at the round schools are compared at."""
    classes = schools["persistence_class"]
    judged = classes != TOO_FEW  # column by column: a country's table has 166,667 schools at 1M teachers
    if not judged.any():
        return _capital(_place(place) + t("which schools are losing practices is too few to show."))
    losing = int((classes == decaying).sum())
    rounds = schools.loc[judged, "round"].dropna()
    at = t(" at month {months}", months=int(rounds.max())) if len(rounds) else ""
    return _capital(_place(place) + t("{losing} of {judged} schools visited{at} are at least {evidence} likely to keep "
                                      "fewer practices than their programme as a whole.", losing=losing,
                                      judged=int(judged.sum()), at=at, evidence=f"{evidence:.0%}"))


def plan_answer(plan: pd.DataFrame, shown: int, schools: int | None = None) -> str:
    """The Planner's answer: which school to visit first, and why (its reason, in plain words, as
    the plan holds it: a page in Urdu passes it read through `data_words`). `plan` may be only the
    plan's first rows, the whole plan then counting `schools` (at national scale the page reads only
    the rows it shows into words)."""
    if plan.empty:
        return t("No school matches these filters.")
    first = plan.iloc[0]
    schools = len(plan) if schools is None else schools
    return t("Visit {school} ({code}, {district}) first: {reason}. The plan lists {shown} of {schools} schools.",
             school=first['school_name'], code=first['school_id'], district=first['district'],
             reason=first['reason'], shown=min(shown, schools), schools=schools)


# -- donor pack ----------------------------------------------------------------------------------
def executive_summary(retention: pd.DataFrame, effects: pd.DataFrame | None, half_life: pd.DataFrame | None,
                      districts: pd.DataFrame | None, *, place: str = "", programme_name: Label = str,
                      hindrance_label: Label = str, practice_label: Label = str) -> list[str]:
    """The donor pack's executive summary: the same sentences as the pages, for one programme.
    `retention` overall (one programme), `effects` hindrance_effect, `half_life` by practice,
    `districts` retention by district."""
    sentences = [retention_answer(retention, effects, place=place, programme_name=programme_name,
                                  hindrance_label=hindrance_label)]
    if half_life is not None and len(half_life):
        sentences.append(half_life_answer(half_life, practice_label))
    if districts is not None and len(districts):
        title = districts_title(districts, programme_name)
        if title != t(DISTRICTS_COMPARED):
            sentences.append(_capital(title) + full_stop())
    return sentences
