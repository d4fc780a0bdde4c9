"""Words of the donor pack, by key: their English; the Urdu of every one is in the one catalogue
of Sustain's words (sustain/messages.py `URDU`), with the dashboard's.

Practice and hindrance names come from config (`label` / `label_ur`), the names of dimensions
(programme, months since programme end) from the catalogue (sustain/dimensions.py `label` /
`label_ur`); this module holds only the report's own words (slide titles, axis titles, captions).
English without Urdu in the catalogue is shown in English, so a new string never breaks the Urdu
report (tests/test_urdu.py fails on it).
"""
from __future__ import annotations

from sustain.dimensions import BY_NAME
from sustain.messages import LANGUAGES, check_language, translate

TEXT: dict[str, str] = {
    "report_title": "Do teachers keep the practices? {programme}",
    "subtitle": "Follow-up of teachers' classroom practices after the programme ended",
    "funder": "Funder",
    "programme": BY_NAME["programme"].label,
    "districts": "Districts",
    "all_districts": "all districts",
    "visits": "Follow-up visits",
    "no_visits": "no visits recorded",
    "generated": "Generated",
    "config_version": "Config version",
    "filters": "Filters",
    "retention_title": "Practices still in use after the programme ended",
    "districts_title": "Districts compared at month {months}",
    "districts_title_none": "Districts compared",
    "half_life_title": "How long each practice lasts: half-life",
    "hindrances_title": "Hindrances and abandonment of practices",
    "months_axis": BY_NAME["months"].label.lower(),
    "retained_axis": "share retained",
    "half_life_axis": "half-life (months)",
    "hazard_ratio_axis": "hazard ratio of abandonment (log scale; 1 = no difference)",
    "series_retention": "retention",
    "series_districts": "retention at month {months}",
    "series_half_life": "half-life",
    "series_hazard_ratio": "hazard ratio",
    "too_few": "too few to show",
    "no_decay": "no decay seen",
    "not_estimable": "not estimable",
    "n_teacher_practices": "n = {n} teacher-practices ({teachers} teachers)",
    "n_per_round": "n per round",
    "month": "month",
    "ci": "95% CI",
    "date_span": "{start} to {end}",
    "date_range": "Visits {span}",
    "method": "Method",
    "methodology": "Methodology",
    "methodology_intro": ("How each figure was computed, in plain words. Every figure counts "
                          "teacher-practices: one teacher using one practice. A 95% interval is the range "
                          "the true figure most likely lies in; it allows for teachers of the same school "
                          "being alike."),
    "summary": "Summary",
    "indicator_retention": "Retention",
    "indicator_half_life": "Half-life",
    "indicator_hindrance_effect": "Hindrances and abandonment",
    "in_plain_words": "In plain words",
    "indicator": "Indicator",
    "columns": "Columns",
    "definition": "Definition",
    "used_for": "Used for",
    "suppression": ("Groups resting on fewer than {min_n} teachers are shown as \"too few to show\", "
                    "never as 0; where one group of a breakdown is hidden the next smallest is too, so no "
                    "hidden figure can be worked out by subtraction."),
    "privacy": ("Teachers appear only under pseudonymous keys. These figures are for deciding where "
                "to send support, not for ranking or blaming teachers."),
    "method_retention": ("Of teacher-practices in use at month 0, the share still in use at each round; "
                         "95% interval allowing for teachers of a school being alike."),
    "method_districts": ("Retention at the latest round with enough data, by district; 95% interval "
                         "allowing for teachers of a school being alike."),
    "method_half_life": ("Read from each practice's retention curve: the month at which it falls to one "
                         "half, between the two visit rounds around it; 95% interval from resampling "
                         "schools."),
    "method_hindrances": ("Hazard ratio of abandoning a practice before the next visit, with vs without "
                          "the hindrance reported at the previous visit (discrete-time hazard model, "
                          "adjusted for round, practice and programme); 95% interval robust to "
                          "clustering by school; p adjusted (Benjamini-Hochberg across all hindrances "
                          "shown). n = teachers with the hindrance."),
    "empty_chart": "No figure to show: {reason}",
    "no_data": "no observations for this selection",
    "table_group": "Group",
    "table_value": "Value",
    "p_adj": "adjusted p",
    "exposed": "teachers with the hindrance at the previous visit",
    "events": "abandonments after it",
    "note": "note",
    "contents": "Contents",
    "slide_about": "About these figures",
    "teachers": "teachers",
}


def text(key: str, language: str = "en", **values) -> str:
    """The report's word for `key` in `language` (the catalogue's Urdu, English where it has none),
    formatted."""
    return translate(TEXT[key], check_language(language), **values)
