"""Words of the donor pack in English and Urdu.

Practice and hindrance names come from config (`label` / `label_ur`), the names of dimensions
(programme, months since programme end) from the catalogue (sustain/dimensions.py `label` /
`label_ur`); this module holds only the report's own words (slide titles, axis titles, captions). A key missing in Urdu falls back to
English, so a new string never breaks the Urdu report.
"""
from __future__ import annotations

from sustain.dimensions import BY_NAME

LANGUAGES = ("en", "ur")

TEXT: dict[str, dict[str, str]] = {
    "en": {
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
        "summary_language_note": "",
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
    },
    "ur": {
        "report_title": "کیا اساتذہ سیکھے ہوئے طریقے جاری رکھتے ہیں؟ {programme}",
        "subtitle": "پروگرام ختم ہونے کے بعد اساتذہ کے تدریسی طریقوں کا جائزہ",
        "funder": "مالی معاون",
        "programme": BY_NAME["programme"].label_ur,
        "districts": "اضلاع",
        "all_districts": "تمام اضلاع",
        "visits": "فالو اپ دورے",
        "no_visits": "کوئی دورہ درج نہیں",
        "generated": "تیاری کی تاریخ",
        "config_version": "کنفیگریشن ورژن",
        "filters": "فلٹر",
        "retention_title": "پروگرام ختم ہونے کے بعد بھی استعمال میں طریقے",
        "districts_title": "مہینہ {months} پر اضلاع کا موازنہ",
        "districts_title_none": "اضلاع کا موازنہ",
        "half_life_title": "ہر طریقہ کتنی دیر قائم رہتا ہے: نصف عمر",
        "hindrances_title": "رکاوٹیں اور طریقے ترک کرنا",
        "months_axis": BY_NAME["months"].label_ur,
        "retained_axis": "برقرار رہنے کی شرح",
        "half_life_axis": "نصف عمر (مہینے)",
        "hazard_ratio_axis": "طریقہ ترک کرنے کا ہیزرڈ ریشو (لاگ اسکیل؛ 1 = کوئی فرق نہیں)",
        "series_retention": "برقرار رہنے کی شرح",
        "series_districts": "مہینہ {months} پر برقرار رہنے کی شرح",
        "series_half_life": "نصف عمر",
        "series_hazard_ratio": "ہیزرڈ ریشو",
        "too_few": "دکھانے کے لیے بہت کم",
        "no_decay": "کوئی کمی نظر نہیں آئی",
        "not_estimable": "اندازہ ممکن نہیں",
        "n_teacher_practices": "n = {n} استاد-طریقے ({teachers} اساتذہ)",
        "n_per_round": "ہر دور کا n",
        "month": "مہینہ",
        "ci": "95% اعتماد کا وقفہ",
        "date_span": "{start} سے {end} تک",
        "date_range": "دورے: {span}",
        "method": "طریقہ",
        "methodology": "طریقۂ کار",
        "methodology_intro": ("ہر عدد کیسے نکالا گیا، سادہ الفاظ میں (تعریفیں انگریزی میں)۔ ہر عدد استاد-طریقے "
                              "گنتا ہے: ایک استاد کا ایک طریقہ۔ 95% وقفہ وہ حد ہے جس میں اصل عدد غالباً ہوتا ہے۔"),
        "summary": "خلاصہ",
        "indicator_retention": "برقرار رہنے کی شرح",
        "indicator_half_life": "نصف عمر",
        "indicator_hindrance_effect": "رکاوٹیں اور طریقے ترک کرنا",
        "in_plain_words": "سادہ الفاظ میں",
        "summary_language_note": "خلاصے کے جملے انگریزی میں ہیں۔",
        "indicator": "اشاریہ",
        "columns": "کالم",
        "definition": "تعریف",
        "used_for": "استعمال",
        "suppression": ("جو گروہ {min_n} سے کم اساتذہ پر مبنی ہوں وہ \"دکھانے کے لیے بہت کم\" "
                        "لکھے جاتے ہیں، کبھی صفر نہیں؛ تفریق سے کوئی چھپا عدد معلوم نہیں کیا جا سکتا۔"),
        "privacy": ("اساتذہ صرف فرضی شناختی کلید سے ظاہر ہوتے ہیں۔ یہ اعداد مدد بھیجنے کی جگہ طے کرنے کے لیے "
                    "ہیں، اساتذہ کی درجہ بندی یا الزام کے لیے نہیں۔"),
        "method_retention": ("مہینہ 0 پر استعمال ہونے والے استاد-طریقوں میں سے ہر دور میں جاری رہنے والوں کا "
                             "تناسب؛ 95% وقفہ، ایک اسکول کے اساتذہ کی مماثلت کو مدنظر رکھتے ہوئے۔"),
        "method_districts": "کافی ڈیٹا والے آخری دور میں ہر ضلع کی شرح؛ 95% وقفہ، اسکول کی سطح پر مماثلت کے لحاظ سے۔",
        "method_half_life": ("ہر طریقے کے برقرار رہنے کے خط سے پڑھا گیا: وہ مہینہ جب شرح آدھی رہ جائے، اس کے "
                             "آس پاس کے دو دوروں کے درمیان؛ 95% وقفہ اسکولوں کی دوبارہ نمونہ گیری سے۔"),
        "method_hindrances": ("پچھلے دورے پر رپورٹ شدہ رکاوٹ کے ساتھ اور اس کے بغیر اگلے دورے سے پہلے طریقہ "
                              "ترک کرنے کا ہیزرڈ ریشو (دور، طریقے اور پروگرام کے لحاظ سے ایڈجسٹ)؛ اسکول کی "
                              "سطح پر کلسٹرنگ کے لحاظ سے 95% وقفہ؛ p تمام دکھائی گئی رکاوٹوں پر "
                              "بینجمنی-ہوکبرگ سے درست کیا گیا۔ n = رکاوٹ والے اساتذہ۔"),
        "empty_chart": "دکھانے کو کوئی شکل نہیں: {reason}",
        "no_data": "اس انتخاب کے لیے کوئی مشاہدہ نہیں",
        "table_group": "گروہ",
        "table_value": "قدر",
        "p_adj": "درست شدہ p",
        "exposed": "پچھلے دورے پر رکاوٹ والے اساتذہ",
        "events": "اس کے بعد ترک کیے گئے طریقے",
        "note": "نوٹ",
        "contents": "فہرست",
        "slide_about": "ان اعداد کے بارے میں",
        "teachers": "اساتذہ",
    },
}


def text(key: str, language: str = "en", **values) -> str:
    """The report's word for `key` in `language` (English when Urdu lacks it), formatted."""
    words = TEXT.get(language, TEXT["en"])
    template = words.get(key) or TEXT["en"][key]
    return template.format(**values) if values else template


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    return language
