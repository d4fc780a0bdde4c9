"""Follow-up planner: which schools to visit next, and why (metrics/planner.py `visit_plan`; the page reads
its first rows, `visit_plan_head`)."""
import streamlit as st

from app import charts, charts_analysis, ui


filters = ui.sidebar_filters()  # first: it stops here before login
st.title(ui.t("Follow-up planner"))
count = st.number_input(ui.t("Schools to plan"), min_value=1, max_value=ui.PLAN_HEAD_ROWS, value=5, step=1,
                        key="plan_count")
plan = ui.indicator("visit_plan_head", filters)  # the plan's first rows; its attrs count them all
if plan is not None and plan.empty:
    st.info(ui.t("No schools match these filters."))
elif plan is not None:
    chosen = plan.head(int(count))
    # the shown schools' reasons in the current language (the download keeps the data's English)
    in_words = chosen.assign(reason=chosen["reason"].map(ui.data_words), order_note=chosen["order_note"].map(ui.data_words))
    charts.show_answer(ui.answers.plan_answer(in_words, len(chosen), schools=plan.attrs["schools"]))
    st.caption(ui.t("Schools ranked by need for a follow-up visit; the reason says why, in plain words. "
                    "A visit is support for a school, not a judgement of its teachers."))
    # a static table: the reason wraps in full, no sideways scrolling (phones too)
    st.table(charts_analysis.plan_table(in_words))
    st.caption(charts_analysis.plan_caption(plan, len(chosen), ui.config().thresholds.min_group_n))
    st.markdown("**" + ui.t("What the need score means") + "**  \n" + "  \n".join(map(ui.data_words, charts_analysis.SCORE_LINES)))
    scoped, config = filters.replace(scope=ui.viewer_scope()), ui.config()
    # built only when the download is asked for (a callable), not on every rerun
    st.download_button(ui.t("Download visit plan (Excel)"), lambda: ui.exports.visit_plan_workbook(chosen, scoped, config),
                       file_name="visit_plan.xlsx", mime=ui.exports.XLSX_MIME, key="plan_download", on_click="ignore")
