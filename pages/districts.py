"""Districts and schools: which of my schools are losing the practices, and what stands in their way?

Province and district come from the sidebar; the page drills down to cluster > school; the schools table (school_trends, one cached
call) shows each school's retention by round, its class (evidence that it keeps fewer practices than
its programme, metrics.decay.persistence) and its hindrances; a chosen
school's teachers appear by pseudonymous key only (teacher_practices, the second tab's call).

The officer's "why" for a school on too few teachers: in the sample every school has one or two
teachers, so with `thresholds.min_group_n` 5 the schools ranked first show their class and chance
(weighed against their district) but not their own retention or hindrances. The chosen school's
card then gives the hindrances of its nearest area that can be shown (its cluster, else district,
else province: metrics.schools.area_hindrances), named as that area's, with its teachers and
visits. We decided against the school's own count of visits reporting each hindrance: the visits
of one or two teachers are facts about those teachers, which suppression keeps off the screen.
"""
import streamlit as st

from app import charts, charts_analysis, ui

ALL = "all"
# province and district are the sidebar's filters (one place to choose them); the page drills below
LEVELS = [("cluster", "drill_cluster", "Cluster"), ("school_id", "drill_school", "School")]

filters = ui.sidebar_filters()  # first: it stops here before login
st.title(ui.t("Districts and schools"))
cfg = ui.config()
table = ui.indicator("school_trends", filters)
if table is None:
    st.stop()
charts.show_answer(ui.answers.schools_answer(table, ui.answers.join_words(filters.district),
                                             evidence=cfg.thresholds.class_evidence))

# drill-down: each level's choices are the schools' values inside the levels above it
narrowed = filters
for column, (level, key, title) in zip(st.columns(len(LEVELS)), LEVELS):
    # a country's schools are too many for one box: it then asks to narrow first (a link's school kept)
    values, too_many = charts_analysis.drill_values(ui.within(table, narrowed)[level].unique(),
                                                    st.session_state.get(key, st.query_params.get(key)))
    options = [ALL, *values]
    names = charts_analysis.school_names(table, values) if level == "school_id" else {}
    if st.session_state.get(key, ALL) not in options:
        st.session_state[key] = ALL
    label = ((lambda v: ui.t(v) if v == ALL else f"{v} · {names.get(v, '')}") if level == "school_id"
             else (lambda v: ui.t(v) if v == ALL else str(v)))
    with column:  # kept in the URL, so a link opens the same school
        chosen = ui.url_selectbox(ui.t(title), options, key=key, format_func=label)
        if too_many:
            st.caption(too_many)
    if chosen != ALL:
        narrowed = narrowed.replace(**{level: (chosen,)})

school = narrowed.school_id[0] if narrowed.school_id else None
shown = ui.within(table, narrowed.replace(school_id=()))
schools_tab, teachers_tab = ui.url_tabs(["Schools", "Teachers of the chosen school"])

def choose_clicked_school():
    """A click on a school of the ranking chooses it (as the School box does)."""
    points = st.session_state["schools_chart"]["selection"]["points"]
    if points and points[0].get("customdata"):
        st.session_state["drill_school"] = points[0]["customdata"][0]


with schools_tab:
    evidence = cfg.thresholds.class_evidence
    st.markdown(charts_analysis.class_sentence(shown, evidence))
    st.plotly_chart(
        charts_analysis.school_ranking(shown, evidence, ui.t("Chance each school keeps fewer practices than its programme, strongest evidence first"),
                                       chosen=school),
        key="schools_chart", on_select=choose_clicked_school, selection_mode="points")
    st.caption(charts_analysis.ranking_caption(shown, cfg.thresholds.min_group_n))
    if school:
        # the chosen school in full, wrapped: its hindrances without scrolling sideways; a school on
        # too few teachers to show its own answers "why" with its nearest area's (see the docstring)
        card = ui.within(table, narrowed)
        area = ui.indicator("area_hindrances", narrowed) if card["suppressed"].iloc[0] else None
        st.table(charts_analysis.school_card(
            card, cfg.schedule.months,
            None if area is None else charts_analysis.area_hindrances_text(area, ui.hindrance_label)))
    listed = charts_analysis.listed_schools(shown)
    st.dataframe(
        listed.drop(columns=["suppressed"]).assign(persistence_class=listed["persistence_class"].map(ui.data_words),
                                                   hindrances=listed["hindrances"].map(ui.data_words)),
        hide_index=True, key="schools_table",
        column_order=["school_name", "persistence_class", "p_below_programme", "hindrances", "school_id", "cluster",
                      "retention_trend", "latest_retention", "latest_months", "n", "teachers"],
        column_config={
            "school_id": ui.t("code"),
            "school_name": ui.t("school"),
            "cluster": ui.t("cluster"),
            "teachers": ui.t("teachers"),
            "persistence_class": ui.t("class"),
            "p_below_programme": st.column_config.NumberColumn(
                ui.t("chance below programme"), format="percent",
                help=ui.t("chance that the school keeps fewer practices than its programme's schools as a whole")),
            "retention_trend": st.column_config.LineChartColumn(
                ui.t("retention by round"), y_min=0, y_max=1,
                help=ui.t("Rounds at months {months}; rounds with too few observations are left out",
                          months=", ".join(str(m) for m in cfg.schedule.months))),
            "latest_retention": st.column_config.NumberColumn(ui.t("latest retention"), format="percent"),
            "latest_months": st.column_config.NumberColumn(ui.t("latest round (months)")),
            "hindrances": st.column_config.TextColumn(ui.t("hindrances reported (visits)"), width="large"),
            "n": st.column_config.NumberColumn("n", help=ui.t("teacher-practices retained at month 0")),
        },
    )

with teachers_tab:
    if not school:
        st.info(ui.t("Choose a school above to see its teachers (by pseudonymous key, never by name)."))
    else:
        teachers = ui.indicator("teacher_practices", narrowed)
        if teachers is not None:
            st.caption(ui.t("Teachers of {school} by pseudonymous key, with their practices at their latest observed "
                            "round; rows of a school with fewer than {min_n} teachers with a practice in use at month 0 "
                            "are too few to show.", school=school, min_n=cfg.thresholds.min_group_n))
            st.dataframe(ui.display_table(teachers), hide_index=True, key="teachers_table",
                         column_order=["teacher_key", "latest_months", "retained_practices", "lost_practices",
                                       "retained", "n"],
                         column_config={"teacher_key": ui.t("teacher (pseudonymous key)"),
                                        "latest_months": ui.t("latest round (months)"),
                                        "retained_practices": ui.t("retained at the latest round"),
                                        "lost_practices": ui.t("retained at month 0, lost since"),
                                        "retained": ui.t("retained"),
                                        "n": st.column_config.NumberColumn("n", help=ui.t("practices observed"))})
