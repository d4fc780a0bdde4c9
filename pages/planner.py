"""Follow-up planner: which schools to visit next, and why (metrics/planner.py `visit_plan`)."""
import streamlit as st

from app import ui

NO_SCHOOLS = "No schools match these filters."

filters = ui.sidebar_filters()  # first: it stops here before login
st.title("Follow-up planner")
count = st.number_input("schools to plan", min_value=1, max_value=100, value=5, step=1, key="plan_count")
plan = ui.indicator("visit_plan", filters)
if plan is not None and plan.empty:
    st.info(NO_SCHOOLS)
elif plan is not None:
    chosen = plan.head(int(count))
    st.caption("Schools ranked by need for a follow-up visit; the reason says why, in plain words. "
               "A visit is support for a school, not a judgement of its teachers.")
    st.dataframe(chosen[["rank", "school_id", "school_name", "cluster", "district", "need_score", "reason", "n",
                         "recent_visits", "last_visit"]],
                 hide_index=True, key="plan_table",
                 column_config={"need_score": st.column_config.NumberColumn("need score", format="%.2f"),
                                "n": st.column_config.NumberColumn("n", help="teacher-practices in use at month 0 "
                                                                   "and observed at the latest round"),
                                "reason": st.column_config.TextColumn("reason", width="large")})
    st.caption(f"n = teacher-practices in use at month 0 and observed at the latest round, behind each school's decay figure; where it is below "
               f"{ui.config().thresholds.min_group_n} the reason reads \"too few observations to judge decay\" "
               f"and decay does not count in the score. Showing {len(chosen)} of {len(plan)} schools.")
    with st.expander("What the need score means"):
        st.markdown(ui.SCORE_EXPLANATION)
    scoped, config = filters.replace(scope=ui.viewer_scope()), ui.config()
    # built only when the download is asked for (a callable), not on every rerun
    st.download_button("Download visit plan (Excel)", lambda: ui.exports.visit_plan_workbook(chosen, scoped, config),
                       file_name="visit_plan.xlsx", mime=ui.exports.XLSX_MIME, key="plan_download", on_click="ignore")
