"""Districts and schools: which of my schools are losing the practices, and what stands in their way?

Province and district come from the sidebar; the page drills down to cluster > school; the schools table (school_trends, one cached
call) shows each school's retention by round, its class (evidence that it keeps fewer practices than
its programme, metrics.decay.persistence) and its hindrances; a chosen
school's teachers appear by pseudonymous key only (teacher_practices, the second tab's call).
"""
import streamlit as st

from app import charts_analysis, ui

ALL = "all"
# province and district are the sidebar's filters (one place to choose them); the page drills below
LEVELS = [("cluster", "drill_cluster", "Cluster"), ("school_id", "drill_school", "School")]

filters = ui.sidebar_filters()  # first: it stops here before login
st.title("Districts and schools")
cfg = ui.config()
table = ui.indicator("school_trends", filters)
if table is None:
    st.stop()

# drill-down: each level's choices are the schools' values inside the levels above it
names = dict(zip(table["school_id"], table["school_name"]))
narrowed = filters
for column, (level, key, title) in zip(st.columns(len(LEVELS)), LEVELS):
    options = [ALL, *sorted(ui.within(table, narrowed)[level].unique())]
    if st.session_state.get(key, ALL) not in options:
        st.session_state[key] = ALL
    label = (lambda v: v if v == ALL else f"{v} · {names.get(v, '')}") if level == "school_id" else str
    with column:  # kept in the URL, so a link opens the same school
        chosen = ui.url_selectbox(title, options, key=key, format_func=label)
    if chosen != ALL:
        narrowed = narrowed.replace(**{level: (chosen,)})

school = narrowed.school_id[0] if narrowed.school_id else None
shown = ui.within(table, narrowed.replace(school_id=()))
schools_tab, teachers_tab = ui.url_tabs(["Schools", "Teachers of the chosen school"])

with schools_tab:
    st.plotly_chart(
        charts_analysis.school_ranking(shown, cfg.thresholds.class_evidence,
                                       "Schools most likely to be losing practices, first"),
        key="schools_chart")
    evidence = cfg.thresholds.class_evidence
    st.caption(ui.n_caption(shown, "teachers") + " Each school is compared with its programme at the same month "
               "after the programme ended; its own visits are weighed against its district's schools, so a small "
               f"school does not stand out by chance. Classes: decaying = at least {evidence:.0%} likely to keep "
               f"fewer practices than its programme; persisting = at most {1 - evidence:.0%} likely; uncertain = "
               f"in between; {ui.TOO_FEW} = not visited at that month. Figures of schools with fewer than "
               f"{cfg.thresholds.min_group_n} teachers (or hidden with them, so that no school can be worked out "
               f"from its cluster's or district's figures) are {ui.TOO_FEW}; their chance is shown rounded.")
    st.dataframe(
        shown.drop(columns=["suppressed"]), hide_index=True, key="schools_table",
        column_order=["school_id", "school_name", "cluster", "district", "persistence_class", "p_below_programme",
                      "retention_trend", "latest_retention", "latest_months", "hindrances", "n", "teachers"],
        column_config={
            "school_id": "school",
            "school_name": "name",
            "persistence_class": "class",
            "p_below_programme": st.column_config.NumberColumn(
                "chance of keeping fewer practices than the programme", format="percent"),
            "retention_trend": st.column_config.LineChartColumn(
                "retention by round", y_min=0, y_max=1,
                help="Rounds at months " + ", ".join(str(m) for m in cfg.schedule.months)
                     + "; rounds with too few observations are left out"),
            "latest_retention": st.column_config.NumberColumn("latest retention", format="percent"),
            "latest_months": st.column_config.NumberColumn("latest round (months)"),
            "hindrances": st.column_config.TextColumn("hindrances reported (visits)", width="large"),
            "n": st.column_config.NumberColumn("n", help="teacher-practices retained at month 0"),
        },
    )

with teachers_tab:
    if not school:
        st.info("Choose a school above to see its teachers (by pseudonymous key, never by name).")
    else:
        teachers = ui.indicator("teacher_practices", narrowed)
        if teachers is not None:
            st.caption(f"Teachers of {school} by pseudonymous key, with their practices at their latest observed "
                       f"round; rows of a school with fewer than {cfg.thresholds.min_group_n} teachers with a practice "
                       f"in use at month 0 are {ui.TOO_FEW}.")
            st.dataframe(ui.display_table(teachers), hide_index=True, key="teachers_table",
                         column_order=["teacher_key", "latest_months", "retained_practices", "lost_practices",
                                       "retained", "n"],
                         column_config={"teacher_key": "teacher (pseudonymous key)",
                                        "latest_months": "latest round (months)",
                                        "retained_practices": "retained at the latest round",
                                        "lost_practices": "retained at month 0, lost since",
                                        "n": st.column_config.NumberColumn("n", help="practices observed")})
