"""The one catalogue of Sustain's words in Urdu, and the language they are shown in.

Every sentence, label, title and message of the dashboard, the answer sentences
(report/answers.py) and the donor pack is written in English where it is used, wrapped in `t()`;
`URDU` below maps each English text (a `str.format` template: `{name}` is a value filled in after
translation) to its Urdu. The names of dimensions come from the catalogue of dimensions
(sustain/dimensions.py `label_ur`), those of practices and hindrances from config (`label_ur`):
they are not repeated here.

The language is chosen per script run (the dashboard's `?lang=ur`, the donor pack's `language`):
`using_language` / `set_language` set it for the code that runs, `t` reads it. English text
without Urdu here is shown in English and remembered in `MISSING` (tests/test_urdu.py fails on
it). Numbers stay in Western digits (as the donor pack and Pakistan's official statistics
print them): a figure reads the same in both languages.
"""
from __future__ import annotations

import contextlib
import re
from contextvars import ContextVar
from functools import cache

from sustain.dimensions import CATALOGUE

LANGUAGES = ("en", "ur")
LANGUAGE_NAMES = {"en": "English", "ur": "اردو"}
RIGHT_TO_LEFT = frozenset({"ur"})

_CURRENT: ContextVar[str] = ContextVar("sustain_language", default="en")
# English names in the data (config's practice and hindrance labels) -> the current language's
_NAMES: ContextVar[dict[str, str]] = ContextVar("sustain_data_names", default={})
# English texts asked for in Urdu that the catalogue lacks (shown in English meanwhile)
MISSING: set[str] = set()


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    return language


def current_language() -> str:
    return _CURRENT.get()


def set_language(language: str, names: dict[str, str] | None = None) -> None:
    """The language of what this script run (thread) shows from here on; `names`: English names
    the data holds (config labels) in that language, for `data_words`."""
    _CURRENT.set(check_language(language))
    _NAMES.set(names or {})


@contextlib.contextmanager
def using_language(language: str):
    """The language of what the code inside shows (the donor pack's sentences)."""
    token = _CURRENT.set(check_language(language))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def translate(english: str, language: str, **values) -> str:
    """`english` (a template) in `language`, its `{values}` filled in."""
    template = english
    if language == "ur" and english:
        template = URDU.get(english)
        if template is None:
            MISSING.add(english)
            template = english
    return template.format(**values) if values else template


def t(english: str, **values) -> str:
    """`english` in the current language, its `{values}` filled in."""
    return translate(english, current_language(), **values)


def value_words(value):
    """A value of the data that is a word of Sustain's (a school's class, "too few to show") in
    the current language; any other value (a name, a number) as it is."""
    if isinstance(value, str) and current_language() == "ur" and value in URDU:
        return URDU[value]
    return value


URDU_MONTHS = ("جنوری", "فروری", "مارچ", "اپریل", "مئی", "جون", "جولائی", "اگست", "ستمبر", "اکتوبر", "نومبر", "دسمبر")


def date_words(date) -> str:
    """A date as a sentence says it: "15 Dec 2023", in Urdu "15 دسمبر 2023" (Western digits)."""
    if current_language() == "ur":
        return f"{date.day} {URDU_MONTHS[date.month - 1]} {date.year}"
    return f"{date:%d %b %Y}"


def full_stop() -> str:
    return t(".")


def data_words(text, names: dict[str, str] | None = None):
    """A text metrics/ wrote in English (a school's class, a headline's label, the planner's
    reason) in the current language: read back through DATA_TEMPLATES (each `{field}` in turn read
    the same way), parts separated by "; " or ", " one by one; `names` maps English names in it
    (practices' and hindrances' labels) to the current language's (default: those given to
    `set_language`). Anything else (a name, a number) as it is."""
    if current_language() == "en" or not isinstance(text, str):
        return text
    return _data_words(text, _NAMES.get() if names is None else names)


def _data_words(text: str, names: dict[str, str]) -> str:
    if text in names:
        return names[text]
    if text in URDU:
        return URDU[text]
    if "; " in text:  # clauses first: a template's field never spans two
        return URDU["; "].join(_data_words(part, names) for part in text.split("; "))
    for template, pattern in _data_patterns():
        found = pattern.fullmatch(text)
        if found:
            return URDU[template].format(**{k: _data_words(v, names) for k, v in found.groupdict().items()})
    if ", " in text:
        return URDU[", "].join(_data_words(part, names) for part in text.split(", "))
    return text


def _template_patterns(templates, separator: str, list_field: str | None = None, flags: int = 0):
    """Templates as patterns, most specific (longest) first: a `{field}` matches any text without
    `separator` (a list's items are read one by one), but `{list_field}` matches a list whole."""
    def pattern(template):
        parts = re.split(r"\{(\w+)\}", template)
        return re.compile("".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" if p == list_field
                                  else f"(?P<{p}>(?:(?!{re.escape(separator)}).)+?)"
                                  for i, p in enumerate(parts)), flags)
    return [(template, pattern(template)) for template in sorted(templates, key=len, reverse=True)]


@cache
def _data_patterns() -> list[tuple[str, re.Pattern]]:
    """DATA_TEMPLATES as patterns: a field holds no ", "."""
    return _template_patterns(DATA_TEMPLATES, ", ")


def import_words(text, file: str | None = None):
    """A message of the import (ingest/ writes them in English: a refused file's reason, which
    starts with the `file`'s name, a quarantined row's detail, an import's notes joined by "; ") in
    the current language: read back through IMPORT_TEMPLATES, whose `{fields}` are values of the
    file (a name, a number, a list of columns). A message, or a "; "-separated part of one, that no
    template reads is shown as written."""
    if current_language() == "en" or not isinstance(text, str) or not text:
        return text
    if file and text.startswith(f"{file}: "):
        return f"{file}: {import_words(text[len(file) + 2:])}"
    parts, read = text.split("; "), []
    start = 0
    while start < len(parts):  # the longest run of parts a template reads (a template may hold "; ")
        for end in range(len(parts), start, -1):
            found = _import_template("; ".join(parts[start:end]))
            if found:
                template, values = found
                read.append(URDU[template].format(**{k: import_words(v) for k, v in values.items()}))
                break
        else:
            end = start + 1
            read.append(parts[start])
        start = end
    return URDU["; "].join(read)


def _import_template(text: str):
    for template, pattern in _import_patterns():
        found = pattern.fullmatch(text)
        if found:
            return template, found.groupdict()
    return None


@cache
def _import_patterns() -> list[tuple[str, re.Pattern]]:
    """IMPORT_TEMPLATES as patterns: a field holds no "; ", but `{items}` (LIST_FIELD) holds a
    "; "-separated list."""
    return _template_patterns(IMPORT_TEMPLATES, "; ", LIST_FIELD, re.DOTALL)


# -- the catalogue: English -> Urdu --------------------------------------------------------------
URDU: dict[str, str] = {
    ".": "۔",
    "; ": "؛ ",
    "n": "n",
    ", ": "، ",
    # -- the donor pack's words (report/labels.py keys them) --
    "Do teachers keep the practices? {programme}": "کیا اساتذہ سیکھے ہوئے طریقے جاری رکھتے ہیں؟ {programme}",
    "Follow-up of teachers' classroom practices after the programme ended": "پروگرام ختم ہونے کے بعد اساتذہ کے تدریسی طریقوں کا جائزہ",
    "Funder": "مالی معاون",
    "Districts": "اضلاع",
    "all districts": "تمام اضلاع",
    "Follow-up visits": "فالو اپ دورے",
    "no visits recorded": "کوئی دورہ درج نہیں",
    "Generated": "تیاری کی تاریخ",
    "Config version": "کنفیگریشن ورژن",
    "Filters": "فلٹر",
    "Practices still in use after the programme ended": "پروگرام ختم ہونے کے بعد بھی استعمال میں طریقے",
    "Districts compared at month {months}": "مہینہ {months} پر اضلاع کا موازنہ",
    "Districts compared": "اضلاع کا موازنہ",
    "How long each practice lasts: half-life": "ہر طریقہ کتنی دیر قائم رہتا ہے: نصف عمر",
    "Hindrances and abandonment of practices": "رکاوٹیں اور طریقے ترک کرنا",
    "share retained": "برقرار رہنے کی شرح",
    "half-life (months)": "نصف عمر (مہینے)",
    "hazard ratio of abandonment (log scale; 1 = no difference)": "طریقہ ترک کرنے کا ہیزرڈ ریشو (لاگ اسکیل؛ 1 = کوئی فرق نہیں)",
    "retention": "برقرار رہنے کی شرح",
    "retention at month {months}": "مہینہ {months} پر برقرار رہنے کی شرح",
    "half-life": "نصف عمر",
    "hazard ratio": "ہیزرڈ ریشو",
    "too few to show": "دکھانے کے لیے بہت کم",
    "no decay seen": "کوئی کمی نظر نہیں آئی",
    "not estimable": "اندازہ ممکن نہیں",
    "n = {n} teacher-practices ({teachers} teachers)": "n = {n} استاد-طریقے ({teachers} اساتذہ)",
    "n per round": "ہر دور کا n",
    "month": "مہینہ",
    "95% CI": "95% اعتماد کا وقفہ",
    "{start} to {end}": "{start} سے {end} تک",
    "Visits {span}": "دورے: {span}",
    "Method": "طریقہ",
    "Methodology": "طریقۂ کار",
    "How each figure was computed, in plain words. Every figure counts teacher-practices: one teacher using one practice. A 95% interval is the range the true figure most likely lies in; it allows for teachers of the same school being alike.":
        "ہر عدد کیسے نکالا گیا، سادہ الفاظ میں (تعریفیں انگریزی میں)۔ ہر عدد استاد-طریقے گنتا ہے: ایک استاد کا ایک طریقہ۔ 95% وقفہ وہ حد ہے جس میں اصل عدد غالباً ہوتا ہے۔",
    "Summary": "خلاصہ",
    "Retention": "برقرار رہنے کی شرح",
    "Half-life": "نصف عمر",
    "Hindrances and abandonment": "رکاوٹیں اور طریقے ترک کرنا",
    "In plain words": "سادہ الفاظ میں",
    "Indicator": "اشاریہ",
    "Columns": "کالم",
    "Definition": "تعریف",
    "Used for": "استعمال",
    'Groups resting on fewer than {min_n} teachers are shown as "too few to show", never as 0; where one group of a breakdown is hidden the next smallest is too, so no hidden figure can be worked out by subtraction.':
        'جو گروہ {min_n} سے کم اساتذہ پر مبنی ہوں وہ "دکھانے کے لیے بہت کم" لکھے جاتے ہیں، کبھی صفر نہیں؛ تفریق سے کوئی چھپا عدد معلوم نہیں کیا جا سکتا۔',
    "Teachers appear only under pseudonymous keys. These figures are for deciding where to send support, not for ranking or blaming teachers.":
        "اساتذہ صرف فرضی شناختی کلید سے ظاہر ہوتے ہیں۔ یہ اعداد مدد بھیجنے کی جگہ طے کرنے کے لیے ہیں، اساتذہ کی درجہ بندی یا الزام کے لیے نہیں۔",
    "Of teacher-practices in use at month 0, the share still in use at each round; 95% interval allowing for teachers of a school being alike.":
        "مہینہ 0 پر استعمال ہونے والے استاد-طریقوں میں سے ہر دور میں جاری رہنے والوں کا تناسب؛ 95% وقفہ، ایک اسکول کے اساتذہ کی مماثلت کو مدنظر رکھتے ہوئے۔",
    "Retention at the latest round with enough data, by district; 95% interval allowing for teachers of a school being alike.":
        "کافی ڈیٹا والے آخری دور میں ہر ضلع کی شرح؛ 95% وقفہ، اسکول کی سطح پر مماثلت کے لحاظ سے۔",
    "Read from each practice's retention curve: the month at which it falls to one half, between the two visit rounds around it; 95% interval from resampling schools.":
        "ہر طریقے کے برقرار رہنے کے خط سے پڑھا گیا: وہ مہینہ جب شرح آدھی رہ جائے، اس کے آس پاس کے دو دوروں کے درمیان؛ 95% وقفہ اسکولوں کی دوبارہ نمونہ گیری سے۔",
    "Hazard ratio of abandoning a practice before the next visit, with vs without the hindrance reported at the previous visit (discrete-time hazard model, adjusted for round, practice and programme); 95% interval robust to clustering by school; p adjusted (Benjamini-Hochberg across all hindrances shown). n = teachers with the hindrance.":
        "پچھلے دورے پر رپورٹ شدہ رکاوٹ کے ساتھ اور اس کے بغیر اگلے دورے سے پہلے طریقہ ترک کرنے کا ہیزرڈ ریشو (دور، طریقے اور پروگرام کے لحاظ سے ایڈجسٹ)؛ اسکول کی سطح پر کلسٹرنگ کے لحاظ سے 95% وقفہ؛ p تمام دکھائی گئی رکاوٹوں پر بینجمنی-ہوکبرگ سے درست کیا گیا۔ n = رکاوٹ والے اساتذہ۔",
    "No figure to show: {reason}": "دکھانے کو کوئی شکل نہیں: {reason}",
    "no observations for this selection": "اس انتخاب کے لیے کوئی مشاہدہ نہیں",
    "Group": "گروہ",
    "Value": "قدر",
    "adjusted p": "درست شدہ p",
    "teachers with the hindrance at the previous visit": "پچھلے دورے پر رکاوٹ والے اساتذہ",
    "abandonments after it": "اس کے بعد ترک کیے گئے طریقے",
    "note": "نوٹ",
    "Contents": "فہرست",
    "About these figures": "ان اعداد کے بارے میں",
    "teachers": "اساتذہ",
    # -- words for numbers and joins (report/answers.py) --
    "all": "سب",
    "none": "کوئی نہیں",
    "fewer than 1 in 10": "10 میں سے 1 سے کم",
    "nearly all": "تقریباً سب",
    "{tenths} in 10": "10 میں سے {tenths}",
    "teacher-practices": "استاد-طریقے",
    "observations": "مشاہدات",
    "n = {n} {unit}, {teachers} teacher": "n = {n} {unit}، {teachers} استاد",
    "n = {n} {unit}, {teachers} teachers": "n = {n} {unit}، {teachers} اساتذہ",
    "95% CI {range}": "95% وقفہ {range}",
    "not reached": "نہیں پہنچا",
    "{first} and {last}": "{first} اور {last}",
    " ({names} pooled)": " ({names} یکجا)",
    "In {place}, ": "{place} میں، ",
    "{name}, ended {date}": "{name}، اختتام {date}",
    "{percent}; {n}": "{percent}؛ {n}",
    # -- the answers' sentences and chart titles (report/answers.py) --
    "{name}'s share is too few to show at month {months}": "مہینہ {months} پر {name} کی شرح دکھانے کے لیے بہت کم ہے",
    "too few to show at month {months}": "مہینہ {months} پر دکھانے کے لیے بہت کم",
    "{name} kept {share} ({facts})": "{name} نے {share} برقرار رکھے ({facts})",
    "no teacher has been followed after the programme ended yet.": "پروگرام ختم ہونے کے بعد ابھی تک کسی استاد کا جائزہ نہیں لیا گیا۔",
    "{months} months later": "{months} مہینے بعد",
    "at each programme's latest round (month {months})": "ہر پروگرام کے آخری دور پر (مہینہ {months})",
    "of the practices in use when each programme ended, {when} {clauses}":
        "ہر پروگرام کے اختتام پر استعمال میں طریقوں میں سے، {when}: {clauses}",
    "when {name} ended": "{name} کے اختتام پر",
    "when the programme ended": "پروگرام کے اختتام پر",
    "how many practices in use {ended} were still in use {months} months later is too few to show":
        "{ended} استعمال میں طریقوں میں سے کتنے {months} مہینے بعد بھی استعمال میں تھے، یہ دکھانے کے لیے بہت کم ہے",
    "{share} practices in use {ended} were still in use {months} months later ({percent}; {n})":
        "{ended} استعمال میں طریقوں میں سے {share} طریقے {months} مہینے بعد بھی استعمال میں تھے ({percent}؛ {n})",
    "not yet": "ابھی نہیں",
    "no visits at this round": "اس دور میں کوئی دورہ نہیں",
    "fewer teachers than the minimum to show": "دکھانے کی کم از کم حد سے کم اساتذہ",
    "Round": "دور",
    "month {months}": "مہینہ {months}",
    "95% interval": "95% وقفہ",
    "n (teacher-practices)": "n (استاد-طریقے)",
    "Teachers": "اساتذہ",
    "Practices still in use after the programme: too few to show": "پروگرام کے بعد بھی استعمال میں طریقے: دکھانے کے لیے بہت کم",
    "the latest round": "آخری دور",
    "{name} keeps {value} of practices at {at}, {others}": "{at} پر {name} {value} طریقے برقرار رکھتا ہے، {others}",
    "{share} practices still in use at month {months} ({percent})": "مہینہ {months} پر {share} طریقے اب بھی استعمال میں ({percent})",
    "{best} keeps most ({best_percent}), {worst} least ({worst_percent}) at month {months}":
        "مہینہ {months} پر {best} سب سے زیادہ ({best_percent}) اور {worst} سب سے کم ({worst_percent}) برقرار رکھتا ہے",
    "which hindrance goes with the fastest loss is too few to show": "کون سی رکاوٹ سب سے تیز کمی سے جڑی ہے، یہ دکھانے کے لیے بہت کم ہے",
    "no hindrance reported clearly goes with faster loss": "کوئی رپورٹ شدہ رکاوٹ واضح طور پر تیز کمی سے نہیں جڑی",
    "{hindrance} goes with the fastest loss (practices dropped {ratio} times as fast where it was reported, {interval}; {teachers} teachers reported it)":
        "{hindrance} سب سے تیز کمی سے جڑی ہے (جہاں یہ رپورٹ ہوئی وہاں طریقے {ratio} گنا تیزی سے ترک ہوئے، {interval}؛ {teachers} اساتذہ نے اسے رپورٹ کیا)",
    "Which hindrances go with abandoning practices is too few to show for this selection.":
        "اس انتخاب کے لیے یہ دکھانے کو بہت کم ہے کہ کون سی رکاوٹیں طریقے ترک کرنے سے جڑی ہیں۔",
    "{names} also clearly goes with faster loss": "{names} بھی واضح طور پر تیز کمی سے جڑی ہے",
    "{names} also clearly go with faster loss": "{names} بھی واضح طور پر تیز کمی سے جڑی ہیں",
    "Half-life of each practice: too few to show": "ہر طریقے کی نصف عمر: دکھانے کے لیے بہت کم",
    "Every practice shown keeps more than half in use through month {months}": "دکھایا گیا ہر طریقہ مہینہ {months} تک آدھے سے زیادہ استعمال میں رہتا ہے",
    "{practice} fades fastest: half gone by month {months}": "{practice} سب سے تیزی سے ختم ہوتا ہے: مہینہ {months} تک آدھا ختم",
    "How fast each practice fades is too few to show for this selection.": "اس انتخاب کے لیے یہ دکھانے کو بہت کم ہے کہ ہر طریقہ کتنی تیزی سے ختم ہوتا ہے۔",
    "{practice} fades fastest: half gone by month {months} ({n})": "{practice} سب سے تیزی سے ختم ہوتا ہے: مہینہ {months} تک آدھا ختم ({n})",
    "{practice} lasts longest: more than half still in use at month {months} ({n})": "{practice} سب سے دیر تک رہتا ہے: مہینہ {months} پر آدھے سے زیادہ اب بھی استعمال میں ({n})",
    "{practice} lasts longest: half gone by month {months} ({n})": "{practice} سب سے دیر تک رہتا ہے: مہینہ {months} تک آدھا ختم ({n})",
    "{hidden} practice(s) too few to show": "{hidden} طریقے دکھانے کے لیے بہت کم",
    "Half-life: the month by which half of the practices in use when the programme ended are no longer in use, read from the retention curve between visit rounds.":
        "نصف عمر: وہ مہینہ جس تک پروگرام کے اختتام پر استعمال میں طریقوں میں سے آدھے استعمال میں نہیں رہتے، دوروں کے درمیان برقرار رہنے کے خط سے پڑھا گیا۔",
    "Loss per month (λ): a fitted model's rate, about the share of the practices still in use that is lost each month between follow-up rounds.":
        "ماہانہ کمی (λ): ایک ماڈل کی شرح، تقریباً استعمال میں باقی طریقوں کا وہ حصہ جو فالو اپ دوروں کے درمیان ہر مہینے ختم ہوتا ہے۔",
    "Life table (the Kaplan-Meier idea at the visit rounds): of the practices in use at month 0, the share not yet abandoned by each round.":
        "لائف ٹیبل (دوروں پر کپلان-مائر کا طریقہ): مہینہ 0 پر استعمال میں طریقوں میں سے ہر دور تک ترک نہ کیے گئے طریقوں کا حصہ۔",
    "Censored: a practice we stopped seeing (the teacher absent, moved, or not yet visited) counts only for the rounds it was seen, neither as kept nor as lost after that.":
        "سینسرڈ: جو طریقہ نظر آنا بند ہو گیا (استاد غیر حاضر، منتقل، یا ابھی دورہ نہیں ہوا) صرف انہی دوروں میں گنا جاتا ہے جن میں دیکھا گیا، اس کے بعد نہ برقرار نہ ترک۔",
    "Hazard ratio: how many times as fast practices are dropped where the hindrance was reported than where it was not (1 = no difference).":
        "ہیزرڈ ریشو: جہاں رکاوٹ رپورٹ ہوئی وہاں طریقے، جہاں نہیں ہوئی اس کے مقابلے میں، کتنے گنا تیزی سے ترک ہوتے ہیں (1 = کوئی فرق نہیں)۔",
    "95% interval: the range the true figure most likely lies in, allowing for chance.":
        "95% وقفہ: وہ حد جس میں اصل عدد غالباً ہوتا ہے، اتفاق کو مدنظر رکھتے ہوئے۔",
    "Practice": "طریقہ",
    "Half-life (months)": "نصف عمر (مہینے)",
    "not reached by month {months}": "مہینہ {months} تک نہیں پہنچا",
    "95% interval (months)": "95% وقفہ (مہینے)",
    "Loss per month (λ, model)": "ماہانہ کمی (λ، ماڈل)",
    "Observations (n)": "مشاہدات (n)",
    "Note": "نوٹ",
    "more than {months} months ({practice})": "{months} مہینوں سے زیادہ ({practice})",
    "{months} months ({practice})": "{months} مہینے ({practice})",
    "Every practice keeps more than half in use: {end}": "ہر طریقہ آدھے سے زیادہ استعمال میں رہتا ہے: {end}",
    "Half-lives run from {months} ({practice}) to {end}": "نصف عمر {months} ({practice}) سے {end} تک ہے",
    "Practices not yet abandoned: too few to show": "ابھی تک ترک نہ کیے گئے طریقے: دکھانے کے لیے بہت کم",
    "By month {months}, {low} of practices are not yet abandoned for {low_group}, {high} for {high_group}":
        "مہینہ {months} تک {low_group} کے {low} طریقے ابھی ترک نہیں ہوئے، {high_group} کے {high}",
    "By month {months}, {share} of practices are not yet abandoned": "مہینہ {months} تک {share} طریقے ابھی ترک نہیں ہوئے",
    "Whether teachers in clusters with an active community keep more practices is too few to show for this selection.":
        "اس انتخاب کے لیے یہ دکھانے کو بہت کم ہے کہ فعال کمیونٹی والے کلسٹروں کے اساتذہ زیادہ طریقے برقرار رکھتے ہیں یا نہیں۔",
    "{when} after the programme ended, teachers in clusters whose community kept meeting kept {active_share} practices ({active_percent}; {active_n}), against {inactive_share} where it stopped ({inactive_percent}; {inactive_n}){pooled}: a comparison, not proof of an effect.":
        "پروگرام ختم ہونے کے {when} بعد، جن کلسٹروں کی کمیونٹی ملتی رہی ان کے اساتذہ نے {active_share} طریقے برقرار رکھے ({active_percent}؛ {active_n})، جبکہ جہاں ملنا بند ہوا وہاں {inactive_share} ({inactive_percent}؛ {inactive_n}){pooled}: یہ موازنہ ہے، اثر کا ثبوت نہیں۔",
    "{months} months": "{months} مہینے",
    "1 month": "1 مہینہ",
    "still meeting (active)": "ملاقاتیں جاری (فعال)",
    "stopped meeting (inactive)": "ملاقاتیں بند (غیر فعال)",
    "Retention with an active vs an inactive community": "فعال اور غیر فعال کمیونٹی کے ساتھ برقرار رہنے کی شرح",
    "Teachers with an active community keep more: {active} vs {inactive} at month {months}":
        "فعال کمیونٹی والے اساتذہ زیادہ برقرار رکھتے ہیں: مہینہ {months} پر {active} بمقابلہ {inactive}",
    "Teachers with an inactive community keep more: {active} vs {inactive} at month {months}":
        "غیر فعال کمیونٹی والے اساتذہ زیادہ برقرار رکھتے ہیں: مہینہ {months} پر {active} بمقابلہ {inactive}",
    "Community meetings by cluster: too few to show": "کلسٹر وار کمیونٹی کی ملاقاتیں: دکھانے کے لیے بہت کم",
    "{active} of {clusters} clusters' communities hold {threshold} or more meetings a month after the programme":
        "{clusters} میں سے {active} کلسٹروں کی کمیونٹیاں پروگرام کے بعد مہینے میں {threshold} یا زیادہ ملاقاتیں کرتی ہیں",
    "Coverage of the follow-up rounds is too few to show for this selection.": "اس انتخاب کے لیے فالو اپ دوروں کی کوریج دکھانے کے لیے بہت کم ہے۔",
    "Follow-up visits reached {share} of the roster teachers due a visit ({observed} of {expected} teacher-rounds over {rounds} rounds); month {months} was least covered ({lowest}).":
        "فالو اپ دورے ان فہرستی اساتذہ میں سے {share} تک پہنچے جن کا دورہ واجب تھا ({rounds} دوروں میں {expected} میں سے {observed} استاد-دور)؛ مہینہ {months} کی کوریج سب سے کم تھی ({lowest})۔",
    "which schools are losing practices is too few to show.": "کون سے اسکول طریقے کھو رہے ہیں، یہ دکھانے کے لیے بہت کم ہے۔",
    " at month {months}": " مہینہ {months} پر",
    "{losing} of {judged} schools visited{at} are at least {evidence} likely to keep fewer practices than their programme as a whole.":
        "{judged} اسکولوں میں سے، جن کا دورہ{at} ہوا، {losing} کے بارے میں کم از کم {evidence} امکان ہے کہ وہ اپنے پورے پروگرام سے کم طریقے برقرار رکھتے ہیں۔",
    "No school matches these filters.": "ان فلٹروں پر کوئی اسکول پورا نہیں اترتا۔",
    "Visit {school} ({code}, {district}) first: {reason}. The plan lists {shown} of {schools} schools.":
        "پہلے {school} ({code}، {district}) کا دورہ کریں: {reason}۔ منصوبے میں {schools} میں سے {shown} اسکول ہیں۔",
    # -- the dashboard (dashboard.py, app/ui.py, pages/) --
    "Overview": "جائزہ",
    "Districts and schools": "اضلاع اور اسکول",
    "Practices": "طریقے",
    "Hindrances": "رکاوٹیں",
    "Communities of practice": "پریکٹس کمیونٹیاں",
    "Follow-up planner": "فالو اپ منصوبہ ساز",
    "Data": "ڈیٹا",
    "Language": "زبان",
    "Compare by": "موازنہ بلحاظ",
    "none assigned": "کوئی تفویض نہیں",
    "First start: building the database from the bundled sample data…": "پہلی بار: ساتھ دیے گئے نمونہ ڈیٹا سے ڈیٹا بیس بن رہا ہے…",
    "Another window is building it; this page shows the data when it is done.": "ایک اور ونڈو اسے بنا رہی ہے؛ مکمل ہونے پر یہ صفحہ ڈیٹا دکھائے گا۔",
    "Database built": "ڈیٹا بیس بن گیا",
    "The sample data could not be imported": "نمونہ ڈیٹا درآمد نہیں ہو سکا",
    "Database built: {records} records from {files} files": "ڈیٹا بیس بن گیا: {files} فائلوں سے {records} ریکارڈ",
    "Upgrading the database to this version of Sustain…": "ڈیٹا بیس کو Sustain کے اس ورژن پر لایا جا رہا ہے…",
    "Database upgraded": "ڈیٹا بیس اپ گریڈ ہو گیا",
    "The data is refreshing (an import is running). This page will show it in a moment.": "ڈیٹا تازہ ہو رہا ہے (درآمد جاری ہے)۔ یہ صفحہ تھوڑی دیر میں اسے دکھائے گا۔",
    "The data is refreshing (an import is running). Try again in a moment.": "ڈیٹا تازہ ہو رہا ہے (درآمد جاری ہے)۔ تھوڑی دیر بعد دوبارہ کوشش کریں۔",
    "Open demo on sample data: no login is configured, everyone sees every district.": "نمونہ ڈیٹا پر کھلا ڈیمو: کوئی لاگ اِن ترتیب نہیں دیا گیا، ہر کوئی ہر ضلع دیکھتا ہے۔",
    "Sustain: log in": "Sustain: لاگ اِن",
    "Log in": "لاگ اِن",
    "Log out": "لاگ آؤٹ",
    "User name": "صارف نام",
    "Password": "پاس ورڈ",
    "Too many failed log-ins: wait {seconds} s, then try again.": "بہت سی ناکام کوششیں: {seconds} سیکنڈ انتظار کریں، پھر دوبارہ کوشش کریں۔",
    "Unknown user name or wrong password.": "نامعلوم صارف نام یا غلط پاس ورڈ۔",
    "Access is configured (access.users) but no login is: set [auth] in .streamlit/secrets.toml or access.password_file in the config.":
        "رسائی ترتیب دی گئی ہے (access.users) مگر لاگ اِن نہیں: .streamlit/secrets.toml میں [auth] یا کنفیگ میں access.password_file مقرر کریں۔",
    "Signed in as {user}; districts: {districts}": "{user} کے طور پر داخل؛ اضلاع: {districts}",
    "Each point rests on up to {n} observations of {teachers} {what}": "ہر نقطہ زیادہ سے زیادہ {teachers} {what} کے {n} مشاہدات پر مبنی ہے",
    "Nothing to show: too few to show": "دکھانے کو کچھ نہیں: دکھانے کے لیے بہت کم",
    "{hidden} point(s) too few to show (fewer than {min_n} teachers, or hidden with them)": "{hidden} نقطے دکھانے کے لیے بہت کم ({min_n} سے کم اساتذہ، یا ان کے ساتھ چھپائے گئے)",
    "range {range}; n = {n}": "حد {range}؛ n = {n}",
    "Download {format}": "{format} ڈاؤن لوڈ کریں",
    "Retention of practices after the programme": "پروگرام کے بعد طریقوں کا برقرار رہنا",
    "Retention: of the practices in use when the programme ended (month 0), the share still in use at a later visit. The fastest loss is the hindrance with the largest hazard ratio (how many times as fast practices are dropped where it was reported) among those whose 95% interval lies above 1.":
        "برقرار رہنے کی شرح: پروگرام کے اختتام (مہینہ 0) پر استعمال میں طریقوں میں سے بعد کے دورے پر بھی استعمال میں طریقوں کا حصہ۔ سب سے تیز کمی وہ رکاوٹ ہے جس کا ہیزرڈ ریشو (جہاں یہ رپورٹ ہوئی وہاں طریقے کتنے گنا تیزی سے ترک ہوئے) ان رکاوٹوں میں سب سے بڑا ہو جن کا 95% وقفہ 1 سے اوپر ہے۔",
    "Retention at month {months}": "مہینہ {months} پر برقرار",
    "Bars: 95% intervals, robust to clustering by school.": "لکیریں: 95% وقفے، اسکول کی سطح پر کلسٹرنگ کے لحاظ سے۔",
    "The numbers behind the charts": "چارٹوں کے پیچھے اعداد",
    "Donor pack: PowerPoint with native charts and a self-contained HTML report": "ڈونر پیک: اصل چارٹوں والی PowerPoint اور خود مکتفی HTML رپورٹ",
    "Language of the pack": "پیک کی زبان",
    "For the districts chosen in the sidebar (all when none is chosen); small groups are suppressed exactly as on screen. The same pack comes from `python -m report`.":
        "سائیڈ بار میں منتخب اضلاع کے لیے (کوئی منتخب نہ ہو تو سب)؛ چھوٹے گروہ بالکل اسکرین کی طرح چھپائے جاتے ہیں۔ یہی پیک `python -m report` سے بھی ملتا ہے۔",
    "Build the donor pack": "ڈونر پیک بنائیں",
    "Download PowerPoint": "PowerPoint ڈاؤن لوڈ کریں",
    "Download HTML report": "HTML رپورٹ ڈاؤن لوڈ کریں",
    "Meetings by cluster": "کلسٹر وار ملاقاتیں",
    "Retention: active vs inactive communities": "برقرار رہنے کی شرح: فعال بمقابلہ غیر فعال کمیونٹیاں",
    "n on each bar: follow-up visits answering whether the community met in the last month.": "ہر بار پر n: وہ فالو اپ دورے جن میں پوچھا گیا کہ کمیونٹی پچھلے مہینے ملی یا نہیں۔",
    "Community of practice": "پریکٹس کمیونٹی",
    "Active: the cluster's meeting log averages {meetings} meetings per month or more after the programme. A comparison of groups, not an effect: what keeps a community meeting may also keep the practices.":
        "فعال: پروگرام کے بعد کلسٹر کے ملاقاتی ریکارڈ میں اوسطاً مہینے میں {meetings} یا زیادہ ملاقاتیں۔ یہ گروہوں کا موازنہ ہے، اثر نہیں: جو چیز کمیونٹی کو ملتے رہنے پر رکھتی ہے وہی طریقے بھی برقرار رکھ سکتی ہے۔",
    "Schools to plan": "منصوبے کے اسکول",
    "No schools match these filters.": "ان فلٹروں پر کوئی اسکول پورا نہیں اترتا۔",
    "Schools ranked by need for a follow-up visit; the reason says why, in plain words. A visit is support for a school, not a judgement of its teachers.":
        "اسکول فالو اپ دورے کی ضرورت کے لحاظ سے ترتیب میں؛ وجہ سادہ الفاظ میں بتاتی ہے کیوں۔ دورہ اسکول کی مدد ہے، اس کے اساتذہ پر فیصلہ نہیں۔",
    "What the need score means": "ضرورت کے اسکور کا مطلب",
    "Download visit plan (Excel)": "دوروں کا منصوبہ ڈاؤن لوڈ کریں (Excel)",
    "Decay curves": "کمی کے خط",
    "Survival (life table)": "بقا (لائف ٹیبل)",
    "Bars: 95% intervals.": "لکیریں: 95% وقفے۔",
    "95% interval, allowing for teachers of one school being alike.":
        "95% وقفہ، اس بات کو مدنظر رکھتے ہوئے کہ ایک اسکول کے اساتذہ ایک جیسے ہوتے ہیں۔",
    "Abandoned: no longer in use. One low score does not by itself count as a drop: it is weighed against the visits before and after it, as observers sometimes misscore.":
        "ترک شدہ: اب استعمال میں نہیں۔ صرف ایک کم اسکور خود بخود ترک کرنا شمار نہیں ہوتا: اسے اس سے پہلے اور بعد کے دوروں کے ساتھ پرکھا جاتا ہے، کیونکہ مشاہدہ کار کبھی کبھی غلط اسکور دیتے ہیں۔",
    "Band: 95% interval, allowing for teachers of one school being alike.":
        "پٹی: 95% وقفہ، اس بات کو مدنظر رکھتے ہوئے کہ ایک اسکول کے اساتذہ ایک جیسے ہوتے ہیں۔",
    "Reported, by district and round": "رپورٹ شدہ، ضلع اور دور کے لحاظ سے",
    "Abandonment with vs without": "ساتھ اور بغیر ترک کرنا",
    "Share of visits reporting each hindrance, by district and round": "ہر رکاوٹ رپورٹ کرنے والے دوروں کا حصہ، ضلع اور دور کے لحاظ سے",
    "Blank cells: too few to show or no visits.": "خالی خانے: دکھانے کے لیے بہت کم یا کوئی دورہ نہیں۔",
    "Each hindrance in plain words": "ہر رکاوٹ سادہ الفاظ میں",
    "teachers with the hindrance": "رکاوٹ والے اساتذہ",
    "Download this table (CSV)": "یہ جدول ڈاؤن لوڈ کریں (CSV)",
    "Schools": "اسکول",
    "Teachers of the chosen school": "منتخب اسکول کے اساتذہ",
    "Chance each school keeps fewer practices than its programme, strongest evidence first": "ہر اسکول کے اپنے پروگرام سے کم طریقے برقرار رکھنے کا امکان، مضبوط ترین ثبوت پہلے",
    "code": "کوڈ",
    "school": "اسکول",
    "cluster": "کلسٹر",
    "class": "درجہ",
    "chance below programme": "پروگرام سے کم کا امکان",
    "chance that the school keeps fewer practices than its programme's schools as a whole": "امکان کہ اسکول اپنے پروگرام کے تمام اسکولوں سے کم طریقے برقرار رکھتا ہے",
    "retention by round": "دور وار برقرار رہنے کی شرح",
    "Rounds at months {months}; rounds with too few observations are left out": "مہینوں {months} پر دور؛ بہت کم مشاہدات والے دور شامل نہیں",
    "latest retention": "تازہ ترین شرح",
    "latest round (months)": "آخری دور (مہینے)",
    "hindrances reported (visits)": "رپورٹ شدہ رکاوٹیں (دورے)",
    "teacher-practices retained at month 0": "مہینہ 0 پر برقرار استاد-طریقے",
    "Choose a school above to see its teachers (by pseudonymous key, never by name).": "اس کے اساتذہ دیکھنے کے لیے اوپر سے اسکول چنیں (فرضی کلید سے، نام سے کبھی نہیں)۔",
    "Teachers of {school} by pseudonymous key, with their practices at their latest observed round; rows of a school with fewer than {min_n} teachers with a practice in use at month 0 are too few to show.":
        "{school} کے اساتذہ فرضی کلید کے ساتھ، ان کے آخری دیکھے گئے دور کے طریقوں سمیت؛ جس اسکول میں مہینہ 0 پر کسی طریقے والے {min_n} سے کم اساتذہ ہوں اس کی قطاریں دکھانے کے لیے بہت کم ہیں۔",
    "teacher (pseudonymous key)": "استاد (فرضی کلید)",
    "retained at the latest round": "آخری دور پر برقرار",
    "retained at month 0, lost since": "مہینہ 0 پر برقرار، بعد میں ختم",
    "retained": "برقرار",
    "practices observed": "دیکھے گئے طریقے",
    "Preview (dry run: nothing written)": "پیش منظر (آزمائشی: کچھ نہیں لکھا گیا)",
    "Imported": "درآمد ہو گیا",
    "Check a KoboToolbox, ODK Central or SurveyCTO export, a roster or a CoP log before importing it: the preview is a dry run through the same import and writes nothing.":
        "KoboToolbox، ODK Central یا SurveyCTO کی برآمد، فہرست یا CoP ریکارڈ درآمد سے پہلے جانچیں: پیش منظر اسی درآمد کا آزمائشی عمل ہے اور کچھ نہیں لکھتا۔",
    "Export, roster or CoP log (CSV or XLSX)": "برآمد، فہرست یا CoP ریکارڈ (CSV یا XLSX)",
    "This file is refused: nothing was or will be written. The reason:": "یہ فائل مسترد ہے: کچھ نہیں لکھا گیا نہ لکھا جائے گا۔ وجہ:",
    "Rows kept aside (quarantined), with the rule they break; the rest of the file is imported.": "الگ رکھی گئی قطاریں (قرنطینہ)، جس قاعدے کو وہ توڑتی ہیں اس کے ساتھ؛ باقی فائل درآمد ہوتی ہے۔",
    "Import this file": "یہ فائل درآمد کریں",
    "Imported. Every page now shows the new data.": "درآمد ہو گیا۔ اب ہر صفحہ نیا ڈیٹا دکھاتا ہے۔",
    "Imports": "درآمدات",
    "Quarantine": "قرنطینہ",
    "Coverage": "کوریج",
    "Upload": "اپ لوڈ",
    "Download": "ڈاؤن لوڈ",
    "Every file import, newest first (the whole database: a file spans districts).": "ہر فائل کی درآمد، تازہ ترین پہلے (پورا ڈیٹا بیس: ایک فائل کئی اضلاع پر مشتمل ہوتی ہے)۔",
    "Live sync: last run per source": "براہ راست ہم آہنگی: ہر ذریعے کا آخری عمل",
    "`python -m ingest sync --source NAME`: when each source last ran, submissions fetched, and (full runs) stored submissions the server no longer lists. Empty `synced_at`: never run.":
        "`python -m ingest sync --source NAME`: ہر ذریعہ آخری بار کب چلا، کتنے اندراجات آئے، اور (مکمل عمل میں) وہ محفوظ اندراجات جو سرور اب نہیں دکھاتا۔ خالی `synced_at`: کبھی نہیں چلا۔",
    "No source is configured for live sync (config `sources.sync`) and none has run.": "براہ راست ہم آہنگی کے لیے کوئی ذریعہ ترتیب نہیں دیا گیا (کنفیگ `sources.sync`) اور کوئی نہیں چلا۔",
    "Rows kept aside by the import, with the rule they broke; the rest of each file was imported. `row` is the data row of the file (1 = first row under the header). Viewers limited to some districts see none: a quarantined row cannot be placed in a district.":
        "درآمد نے جو قطاریں الگ رکھیں، جس قاعدے کو انہوں نے توڑا اس کے ساتھ؛ ہر فائل کا باقی حصہ درآمد ہوا۔ `row` فائل کی ڈیٹا قطار ہے (1 = سرخی کے نیچے پہلی قطار)۔ کچھ اضلاع تک محدود صارف انہیں نہیں دیکھتے: قرنطینہ قطار کسی ضلع میں نہیں رکھی جا سکتی۔",
    "value": "قدر",
    "detail": "تفصیل",
    "raw_row": "اصل قطار",
    "`raw_row` is the whole row as the file held it (teacher ids as `key:...`, which an import reads back as that teacher): fix it and import it again.":
        "`raw_row` پوری قطار ہے جیسی فائل میں تھی (اساتذہ کی شناخت `key:...` کے طور پر، جسے درآمد اسی استاد کے طور پر پڑھتی ہے): اسے درست کر کے دوبارہ درآمد کریں۔",
    "Download quarantined rows (CSV)": "قرنطینہ قطاریں ڈاؤن لوڈ کریں (CSV)",
    "Roster teachers visited per scheduled round: observed of expected (rounds that have come due).": "ہر طے شدہ دور میں دورہ کیے گئے فہرستی اساتذہ: متوقع میں سے دیکھے گئے (جن دوروں کا وقت آ چکا)۔",
    "Uploads write data of every district: they are for data managers who see every district.": "اپ لوڈ ہر ضلع کا ڈیٹا لکھتے ہیں: یہ ان ڈیٹا منتظمین کے لیے ہیں جو ہر ضلع دیکھتے ہیں۔",
    "{rows} observations (one row per teacher, practice and round) with the sidebar's filters applied. Row-level pseudonymous data for researchers: teachers appear only under their key and no group is suppressed. Each download carries a codebook: every column with its meaning and unit, the filters applied, the config version and the import ledger rows it came from.":
        "سائیڈ بار کے فلٹروں کے ساتھ {rows} مشاہدات (ہر استاد، طریقے اور دور کی ایک قطار)۔ محققین کے لیے قطار وار فرضی ڈیٹا: اساتذہ صرف اپنی کلید سے ظاہر ہوتے ہیں اور کوئی گروہ چھپایا نہیں جاتا۔ ہر ڈاؤن لوڈ کے ساتھ کوڈ بک ہے: ہر کالم کا مطلب اور اکائی، لاگو فلٹر، کنفیگ ورژن اور درآمدی رجسٹر کی متعلقہ قطاریں۔",
    "An Excel sheet holds at most {limit} rows of data and these filters give {rows}: download CSV or Parquet, or narrow the filters (a district, a practice) for an Excel file.":
        "Excel کی ایک شیٹ میں زیادہ سے زیادہ {limit} ڈیٹا قطاریں آتی ہیں اور ان فلٹروں سے {rows} بنتی ہیں: CSV یا Parquet ڈاؤن لوڈ کریں، یا Excel فائل کے لیے فلٹر محدود کریں (ایک ضلع، ایک طریقہ)۔",
    "Download CSV (zip with codebook)": "CSV ڈاؤن لوڈ کریں (کوڈ بک کے ساتھ zip)",
    "Download Excel (with codebook)": "Excel ڈاؤن لوڈ کریں (کوڈ بک کے ساتھ)",
    "Download Parquet (zip with codebook)": "Parquet ڈاؤن لوڈ کریں (کوڈ بک کے ساتھ zip)",
    # -- charts (app/charts.py, app/charts_analysis.py) --
    "all teachers": "تمام اساتذہ",
    "all practices": "تمام طریقے",
    "month {months}: {share} retained": "مہینہ {months}: {share} برقرار",
    "month {months}: {share} not abandoned": "مہینہ {months}: {share} ترک نہیں ہوئے",
    "month {months}: {share}": "مہینہ {months}: {share}",
    "at risk {at_risk}, abandoned here {events}": "خطرے میں {at_risk}، یہاں ترک {events}",
    "share of practices not yet abandoned": "ابھی تک ترک نہ کیے گئے طریقوں کا حصہ",
    "Each school's retention rests on up to {n} observations of {teachers} teachers; ": "ہر اسکول کی شرح زیادہ سے زیادہ {teachers} اساتذہ کے {n} مشاہدات پر مبنی ہے؛ ",
    "{judged} of {schools} schools judged; the {drawn} with the strongest evidence are drawn (hover or click a school to see it; the table lists every school).":
        "{schools} میں سے {judged} اسکولوں کا جائزہ ہوا؛ مضبوط ترین ثبوت والے {drawn} دکھائے گئے ہیں (اسکول دیکھنے کے لیے اس پر کرسر رکھیں یا کلک کریں؛ جدول میں ہر اسکول ہے)۔",
    "{judged} of {schools} schools judged; the {drawn} with the strongest evidence are drawn (hover or click a school to see it). The table lists the {listed} with the strongest evidence: choose a district or a cluster above to list all of theirs.":
        "{schools} میں سے {judged} اسکولوں کا جائزہ ہوا؛ مضبوط ترین ثبوت والے {drawn} دکھائے گئے ہیں (اسکول دیکھنے کے لیے اس پر کرسر رکھیں یا کلک کریں)۔ جدول میں مضبوط ترین ثبوت والے {listed} اسکول ہیں: ان سب کو دیکھنے کے لیے اوپر کوئی ضلع یا کلسٹر منتخب کریں۔",
    "{count} to choose from: choose a district (in the sidebar) or a cluster first.":
        "انتخاب کے لیے {count}: پہلے کوئی ضلع (سائیڈ بار میں) یا کلسٹر منتخب کریں۔",
    "{hidden} schools have fewer than {min_n} teachers (or are hidden with them, so that no school can be worked out from its cluster's or district's figures): their retention and hindrances are too few to show and their chance is shown rounded.":
        "{hidden} اسکولوں میں {min_n} سے کم اساتذہ ہیں (یا ان کے ساتھ چھپائے گئے ہیں، تاکہ کلسٹر یا ضلع کے اعداد سے کوئی اسکول معلوم نہ ہو سکے): ان کی شرح اور رکاوٹیں دکھانے کے لیے بہت کم ہیں اور ان کا امکان گول کر کے دکھایا گیا ہے۔",
    "Class too few to show: not visited at the round schools are compared at.": "درجہ دکھانے کے لیے بہت کم: اس دور میں دورہ نہیں ہوا جس پر اسکولوں کا موازنہ ہوتا ہے۔",
    "{months} months after the programme": "پروگرام کے {months} مہینے بعد",
    "the same time after the programme": "پروگرام کے بعد اسی وقت",
    "A school is decaying when it is at least {evidence} likely to keep fewer practices than its programme's schools as a whole {when}, persisting when at most {low} likely, and uncertain in between; a small school's few visits are weighed against its district, so it does not lead by chance.":
        "اسکول زوال پذیر ہے جب {when} اس کے اپنے پروگرام کے تمام اسکولوں سے کم طریقے برقرار رکھنے کا امکان کم از کم {evidence} ہو، برقرار جب یہ امکان زیادہ سے زیادہ {low} ہو، اور درمیان میں غیر یقینی؛ چھوٹے اسکول کے چند دوروں کو اس کے ضلع کے مقابل تولا جاتا ہے، تاکہ وہ اتفاق سے آگے نہ آئے۔",
    "decaying": "زوال پذیر",
    "persisting": "برقرار",
    "uncertain": "غیر یقینی",
    "none reported": "کوئی رپورٹ نہیں",
    "too few to show, here or in any area around it": "دکھانے کے لیے بہت کم، یہاں بھی اور آس پاس کے کسی علاقے میں بھی",
    "at this school": "اس اسکول میں",
    "too few to show at this school; in its cluster {area}": "اس اسکول میں دکھانے کے لیے بہت کم؛ اس کے کلسٹر {area} میں",
    "too few to show at this school; in its district {area}": "اس اسکول میں دکھانے کے لیے بہت کم؛ اس کے ضلع {area} میں",
    "too few to show at this school; in its province {area}": "اس اسکول میں دکھانے کے لیے بہت کم؛ اس کے صوبے {area} میں",
    "{hindrance} at {share} of visits": "{share} دوروں میں {hindrance}",
    "{where} ({teachers} teachers, {visits} visits): {reported}": "{where} ({teachers} اساتذہ، {visits} دورے): {reported}",
    "{chance} chance it keeps fewer practices at month {months} than {programme} schools as a whole ({retention})":
        "{chance} امکان کہ یہ مہینہ {months} پر {programme} کے تمام اسکولوں سے کم طریقے برقرار رکھتا ہے ({retention})",
    "hindrances: {hindrances}": "رکاوٹیں: {hindrances}",
    "decaying →": "زوال پذیر →",
    "← persisting": "← برقرار",
    "chosen": "منتخب",
    "not visited at the month schools are compared at": "اس مہینے دورہ نہیں ہوا جس پر اسکولوں کا موازنہ ہوتا ہے",
    "{chance} chance it keeps fewer practices than {programme} schools as a whole (at their visits {months} months after the programme, {retention} of the practices scored were in use)":
        "{chance} امکان کہ یہ {programme} کے تمام اسکولوں سے کم طریقے برقرار رکھتا ہے (پروگرام کے {months} مہینے بعد ان کے دوروں پر جانچے گئے طریقوں میں سے {retention} استعمال میں تھے)",
    "School": "اسکول",
    "Class": "درجہ",
    "Evidence": "ثبوت",
    "Retention by round": "دور وار برقرار رہنے کی شرح",
    "Hindrances reported": "رپورٹ شدہ رکاوٹیں",
    "chosen school": "منتخب اسکول",
    "{school} ({code}), cluster {cluster}, {district}": "{school} ({code})، کلسٹر {cluster}، {district}",
    "{hidden} round(s) too few to show": "{hidden} دور دکھانے کے لیے بہت کم",
    "open": "کھلا",
    "{rounds} rounds": "{rounds} دور",
    "half-life {months} months": "نصف عمر {months} مہینے",
    "n = {n} visits, {teachers} teachers": "n = {n} دورے، {teachers} اساتذہ",
    "no visits": "کوئی دورہ نہیں",
    "share of visits": "دوروں کا حصہ",
    "Exposure = the hindrance was reported at the teacher's previous visit; n = teachers with the hindrance. Hazard ratios adjusted for round, practice and programme; Benjamini–Hochberg across all hindrances shown":
        "سامنا = استاد کے پچھلے دورے پر رکاوٹ رپورٹ ہوئی؛ n = رکاوٹ والے اساتذہ۔ ہیزرڈ ریشو دور، طریقے اور پروگرام کے لحاظ سے ایڈجسٹ؛ تمام دکھائی گئی رکاوٹوں پر بینجمنی-ہوکبرگ",
    "How to read it: right of 1, practices were dropped faster where the hindrance was reported (2 = twice as fast, 0.5 = half as fast); the bar is the 95% interval; * = clear evidence (adjusted p below 0.05).":
        "کیسے پڑھیں: 1 کے دائیں، جہاں رکاوٹ رپورٹ ہوئی وہاں طریقے تیزی سے ترک ہوئے (2 = دو گنا تیز، 0.5 = آدھی رفتار)؛ لکیر 95% وقفہ ہے؛ * = واضح ثبوت (درست شدہ p، 0.05 سے کم)۔",
    "one and a half times": "ڈیڑھ گنا",
    "twice": "دو گنا",
    "three times": "تین گنا",
    "four times": "چار گنا",
    "{hindrance} goes with the fastest loss of practices": "{hindrance} طریقوں کی سب سے تیز کمی سے جڑی ہے",
    "No hindrance clearly goes with faster loss of practices": "کوئی رکاوٹ واضح طور پر طریقوں کی تیز کمی سے نہیں جڑی",
    "{hindrance} goes with the fastest loss: {ratio}": "{hindrance} سب سے تیز کمی سے جڑی ہے: {ratio}",
    "no estimate": "کوئی اندازہ نہیں",
    "hazard ratio {ratio} ({interval}), p_adj {p}; crude {crude}": "ہیزرڈ ریشو {ratio} ({interval})، درست شدہ p {p}؛ خام {crude}",
    "difference in abandonment by month 12: {difference} ({low} to {high})": "مہینہ 12 تک ترک کرنے میں فرق: {difference} ({low} سے {high})",
    "n = {n} teachers with the hindrance, {events} abandonments": "n = {n} رکاوٹ والے اساتذہ، {events} بار ترک",
    "times as fast with the hindrance (1 = no difference)": "رکاوٹ کے ساتھ کتنے گنا تیز (1 = کوئی فرق نہیں)",
    "about {words} as fast": "تقریباً {words} تیز",
    "{ratio} times as fast": "{ratio} گنا تیز",
    "about as many": "تقریباً اتنے ہی",
    "{count} more in 100": "100 میں {count} زیادہ",
    "{count} fewer in 100": "100 میں {count} کم",
    "{name}: no estimate ({note}).": "{name}: کوئی اندازہ نہیں ({note})۔",
    "the model could not be fitted": "ماڈل فٹ نہیں ہو سکا",
    "where {name} was reported at the previous visit": "جہاں پچھلے دورے پر {name} رپورٹ ہوئی",
    "Teachers dropped practices {speed} {where}": "{where} وہاں اساتذہ نے طریقے {speed} ترک کیے",
    "Teachers dropped practices more slowly {where} ({ratio} times as fast)": "{where} وہاں اساتذہ نے طریقے زیادہ آہستہ ترک کیے ({ratio} گنا رفتار)",
    "Teachers dropped practices {ratio} times as fast {where} (95% CI {low}–{high}), but with this many hindrances tested together that may be chance":
        "{where} وہاں اساتذہ نے طریقے {ratio} گنا تیزی سے ترک کیے (95% وقفہ {low}–{high})، مگر اتنی رکاوٹیں ایک ساتھ جانچنے پر یہ اتفاق ہو سکتا ہے",
    "No clear difference {where}: {ratio} times as fast, anywhere from {low} to {high}": "{where} وہاں کوئی واضح فرق نہیں: {ratio} گنا رفتار، {low} سے {high} تک کہیں بھی",
    "by month 12, {difference} practices abandoned": "مہینہ 12 تک {difference} طریقے ترک",
    "(95% CI {low} to {high})": "(95% وقفہ {low} سے {high})",
    "({low} to {high})": "({low} سے {high})",
    "hindrance": "رکاوٹ",
    "ratio, 95% CI from": "ریشو، 95% وقفہ از",
    "ratio, 95% CI to": "ریشو، 95% وقفہ تا",
    "more abandoned by month 12 (share)": "مہینہ 12 تک زیادہ ترک (حصہ)",
    "difference, 95% CI from": "فرق، 95% وقفہ از",
    "difference, 95% CI to": "فرق، 95% وقفہ تا",
    "abandonments among them": "ان میں ترک",
    "in plain words": "سادہ الفاظ میں",
    "times as fast (95% CI)": "کتنے گنا تیز (95% وقفہ)",
    "abandoned by month 12: difference per 100 (95% CI)": "مہینہ 12 تک ترک: فی 100 فرق (95% وقفہ)",
    "({tests} tests, one family); 95% intervals robust to clustering by school.": "({tests} جانچیں، ایک خاندان)؛ 95% وقفے اسکول کی سطح پر کلسٹرنگ کے لحاظ سے۔",
    "{hidden} point(s) too few to show (fewer than {min_n} teachers with or without the hindrance).": "{hidden} نقطے دکھانے کے لیے بہت کم (رکاوٹ کے ساتھ یا بغیر {min_n} سے کم اساتذہ)۔",
    "An association, not a proven cause.": "یہ تعلق ہے، ثابت شدہ وجہ نہیں۔",
    "Rank": "درجہ بندی",
    "Need (0 to 1)": "ضرورت (0 سے 1)",
    "Why this school": "یہ اسکول کیوں",
    "not scored": "اسکور نہیں",
    "{months} months after the programme (the latest round every programme reached)": "پروگرام کے {months} مہینے بعد (وہ آخری دور جس تک ہر پروگرام پہنچا)",
    "the latest round every programme reached": "وہ آخری دور جس تک ہر پروگرام پہنچا",
    "Every school is compared with its programme's schools at the same time: {at}. A school with fewer than {min_n} teachers seen then is judged on its chance only (its counts are not shown). Showing {shown} of {schools} schools.":
        "ہر اسکول کا موازنہ اس کے پروگرام کے اسکولوں سے ایک ہی وقت پر ہوتا ہے: {at}۔ جس اسکول میں اس وقت {min_n} سے کم اساتذہ دیکھے گئے اس کا فیصلہ صرف امکان پر ہوتا ہے (اس کی گنتی نہیں دکھائی جاتی)۔ {schools} میں سے {shown} اسکول دکھائے گئے۔",
    "meetings per month": "ماہانہ ملاقاتیں",
    "{meetings} meetings per month ({logged} logged)": "ماہانہ {meetings} ملاقاتیں ({logged} درج)",
    "{share} of visits heard the CoP met last month": "{share} دوروں میں بتایا گیا کہ CoP پچھلے مہینے ملی",
    "active: {meetings} meetings per month or more": "فعال: ماہانہ {meetings} یا زیادہ ملاقاتیں",
    "meetings per month after the programme": "پروگرام کے بعد ماہانہ ملاقاتیں",
    # -- the data's column names (app/ui.py COLUMN_WORDS and the tables' own) --
    "share": "حصہ",
    "import run": "درآمدی عمل",
    "file": "فائل",
    "source file": "ماخذ فائل",
    "school name": "اسکول کا نام",
    "kind of file": "فائل کی قسم",
    "rows read": "پڑھی گئی قطاریں",
    "inserted": "شامل",
    "updated": "تازہ",
    "unchanged": "بغیر تبدیلی",
    "quarantined": "قرنطینہ",
    "refused": "مسترد",
    "reason": "وجہ",
    "started": "آغاز",
    "finished": "اختتام",
    "config version": "کنفیگ ورژن",
    "file fingerprint (SHA-256)": "فائل کی شناخت (SHA-256)",
    "notes": "نوٹ",
    "row": "قطار",
    "column": "کالم",
    "rule": "قاعدہ",
    "quarantined on": "قرنطینہ کی تاریخ",
    "score": "اسکور",
    "teacher present?": "استاد موجود؟",
    "visit date": "دورے کی تاریخ",
    "synced": "ہم آہنگی",
    "source": "ذریعہ",
    "submissions fetched": "موصول اندراجات",
    "95% CI low": "95% وقفہ کم",
    "95% CI high": "95% وقفہ زیادہ",
    "observed": "دیکھے گئے",
    "expected": "متوقع",
    # -- metrics/' sentences, read back by data_words (DATA_TEMPLATES) --
    "too few observations to judge decay": "کمی جانچنے کے لیے بہت کم مشاہدات",
    "not visited {after}, when schools are compared": "{after} دورہ نہیں ہوا، جب اسکولوں کا موازنہ ہوتا ہے",
    "{chance} chance it keeps fewer practices than {programme} schools as a whole (at their visits {after}, {reference} of the practices scored were in use)":
        "{chance} امکان کہ یہ {programme} کے تمام اسکولوں سے کم طریقے برقرار رکھتا ہے ({after} ان کے دوروں پر جانچے گئے طریقوں میں سے {reference} استعمال میں تھے)",
    "fewer than {min_n} teachers seen {after}: {chance}": "{after} {min_n} سے کم اساتذہ دیکھے گئے: {chance}",
    "1 month after the programme": "پروگرام کے 1 مہینہ بعد",
    "{months} months after it": "اس کے {months} مہینے بعد",
    "1 month after it": "اس کے 1 مہینہ بعد",
    "none of the {observed} practices in use when the programme ended was still in use {later}":
        "پروگرام کے اختتام پر استعمال میں {observed} طریقوں میں سے کوئی بھی {later} استعمال میں نہیں تھا",
    "all {observed} practices in use when the programme ended were still in use {later}":
        "پروگرام کے اختتام پر استعمال میں تمام {observed} طریقے {later} بھی استعمال میں تھے",
    "{retained} of {observed} practices in use when the programme ended were still in use {later} ({percent})":
        "پروگرام کے اختتام پر استعمال میں {observed} طریقوں میں سے {retained} {later} بھی استعمال میں تھے ({percent})",
    "no recent visit with the teacher present to ask about hindrances": "حالیہ کوئی دورہ نہیں جس میں استاد موجود ہو کہ رکاوٹوں کا پوچھا جائے",
    "{hindrance} reported at {count} of {recent} recent visits": "{recent} حالیہ دوروں میں سے {count} پر {hindrance} رپورٹ ہوئی",
    "{hindrance} reported at {count} of {recent} recent visit": "{recent} حالیہ دورے میں سے {count} پر {hindrance} رپورٹ ہوئی",
    "{hindrance} at {count} of {recent}": "{recent} میں سے {count} پر {hindrance}",
    "no hindrance reported at {recent} recent visits": "{recent} حالیہ دوروں پر کوئی رکاوٹ رپورٹ نہیں ہوئی",
    "no hindrance reported at {recent} recent visit": "{recent} حالیہ دورے پر کوئی رکاوٹ رپورٹ نہیں ہوئی",
    "never visited": "کبھی دورہ نہیں ہوا",
    "last visited less than a month ago": "آخری دورہ ایک مہینے سے کم پہلے",
    "last visited {months} months ago": "آخری دورہ {months} مہینے پہلے",
    "last visited 1 month ago": "آخری دورہ 1 مہینہ پہلے",
    "community of practice not known": "پریکٹس کمیونٹی معلوم نہیں",
    "community of practice active": "پریکٹس کمیونٹی فعال",
    "no active community of practice": "کوئی فعال پریکٹس کمیونٹی نہیں",
    "every trained teacher of the school is recorded as left or transferred: no practice to follow up (not scored)":
        "اسکول کا ہر تربیت یافتہ استاد چھوڑ گیا یا منتقل ہو گیا درج ہے: فالو اپ کے لیے کوئی طریقہ نہیں (اسکور نہیں)",
    "same score as {school}, placed after it: {why}": "{school} جتنا اسکور، اس کے بعد رکھا گیا: {why}",
    "weaker evidence of decay": "کمی کا کمزور ثبوت",
    "visited more recently": "حال ہی میں دورہ ہوا",
    "fewer recent visits report its main hindrance": "کم حالیہ دورے اس کی بڑی رکاوٹ رپورٹ کرتے ہیں",
    "ordered by school code": "اسکول کوڈ کی ترتیب سے",
    "Need runs from 0 to 1: decay of practices counts {decay}, hindrances {hindrances}, time since the last visit {recency}, an inactive community of practice {cop}.":
        "ضرورت 0 سے 1 تک ہے: طریقوں کی کمی کا وزن {decay}، رکاوٹیں {hindrances}، آخری دورے سے وقت {recency}، غیر فعال پریکٹس کمیونٹی {cop}۔",
    "Decay is the chance the school keeps fewer practices than its programme's schools": "کمی اس امکان کو کہتے ہیں کہ اسکول اپنے پروگرام کے اسکولوں سے کم طریقے برقرار رکھتا ہے",
    "hindrances, the share of recent visits reporting the main one": "رکاوٹیں، حالیہ دوروں کا وہ حصہ جو بڑی رکاوٹ رپورٹ کرتا ہے",
    "time, months since the last visit out of {months}.": "وقت، آخری دورے سے مہینے ({months} میں سے)۔",
    "What cannot be judged adds nothing": "جو جانچا نہ جا سکے وہ کچھ نہیں جوڑتا",
    "equal scores go first to stronger evidence of decay, then to the school visited longer ago.": "برابر اسکور میں پہلے کمی کے مضبوط ثبوت والا، پھر جس کا دورہ زیادہ پہلے ہوا۔",
    "Teachers followed after the programme": "پروگرام کے بعد جائزہ لیے گئے اساتذہ",
    "Teachers followed": "جائزہ لیے گئے اساتذہ",
    "Median half-life of practices": "طریقوں کی درمیانی نصف عمر",
    "Median half-life of practices (months)": "طریقوں کی درمیانی نصف عمر (مہینے)",
    "Median half-life, months": "درمیانی نصف عمر، مہینے",
    "Schools decaying": "زوال پذیر اسکول",
    "Teachers followed ({names} pooled)": "جائزہ لیے گئے اساتذہ ({names} یکجا)",
    "Median half-life, months ({names} pooled)": "درمیانی نصف عمر، مہینے ({names} یکجا)",
    "Schools decaying ({names} pooled)": "زوال پذیر اسکول ({names} یکجا)",
    "{names} pooled: {note}": "{names} یکجا: {note}",
    "of {rostered} observed at any round": "کسی بھی دور میں دیکھے گئے {rostered} میں سے",
    "too few teachers followed to read a half-life": "نصف عمر پڑھنے کے لیے بہت کم اساتذہ کا جائزہ",
    "not reached by month {months}: {count} of {total} practices stay above one half": "مہینہ {months} تک نہیں پہنچا: {total} میں سے {count} طریقے آدھے سے اوپر رہتے ہیں",
    "median of {count} practices": "{count} طریقوں کا درمیانی عدد",
    "the interval shown is the range of those reaching one half (months)": "دکھایا گیا وقفہ آدھے تک پہنچنے والوں کی حد ہے (مہینے)",
    "{count} stay above one half through month {months}": "{count} مہینہ {months} تک آدھے سے اوپر رہتے ہیں",
    "{decaying} of {judged} schools are at least {evidence} likely to keep fewer of their practices at month {months} than their programme as a whole":
        "{judged} میں سے {decaying} اسکولوں کا کم از کم {evidence} امکان ہے کہ وہ مہینہ {months} پر اپنے پورے پروگرام سے کم طریقے برقرار رکھتے ہیں",
    "{hindrance} ({count} of {visits} visits)": "{hindrance} ({visits} میں سے {count} دورے)",
    "interval's upper end not reached by month {months}": "وقفے کی بالائی حد مہینہ {months} تک نہیں پہنچی",
    "no interval: fewer than {count} schools": "کوئی وقفہ نہیں: {count} سے کم اسکول",
    "decay_per_month needs {count} rounds after month 0": "ماہانہ کمی کے لیے مہینہ 0 کے بعد {count} دور درکار ہیں",
    "too few to show: fewer than {min_n} teachers with or without the hindrance": "دکھانے کے لیے بہت کم: رکاوٹ کے ساتھ یا بغیر {min_n} سے کم اساتذہ",
    "no rows with the hindrance": "رکاوٹ والی کوئی قطار نہیں",
    "no rows without the hindrance": "رکاوٹ کے بغیر کوئی قطار نہیں",
    "one school only: no interval robust to clustering": "صرف ایک اسکول: کلسٹرنگ کے لحاظ سے کوئی وقفہ نہیں",
    "the hazard model did not converge": "ہیزرڈ ماڈل حل نہیں ہوا",
}

# sentences metrics/ writes into tables (metrics/overview.py headline, metrics/planner.py reason
# and order_note, metrics/decay.py classes and notes), read back by `data_words`
DATA_TEMPLATES: tuple[str, ...] = (
    'not visited {after}, when schools are compared',
    '{chance} chance it keeps fewer practices than {programme} schools as a whole (at their visits {after}, {reference} of the practices scored were in use)',
    'fewer than {min_n} teachers seen {after}: {chance}',
    '{months} months after the programme',
    '{months} months after it',
    'none of the {observed} practices in use when the programme ended was still in use {later}',
    'all {observed} practices in use when the programme ended were still in use {later}',
    '{retained} of {observed} practices in use when the programme ended were still in use {later} ({percent})',
    '{hindrance} reported at {count} of {recent} recent visits',
    '{hindrance} reported at {count} of {recent} recent visit',
    '{hindrance} at {count} of {recent}',
    'no hindrance reported at {recent} recent visits',
    'no hindrance reported at {recent} recent visit',
    'last visited {months} months ago',
    'same score as {school}, placed after it: {why}',
    'Need runs from 0 to 1: decay of practices counts {decay}, hindrances {hindrances}, time since the last visit {recency}, an inactive community of practice {cop}.',
    'time, months since the last visit out of {months}.',
    'Teachers followed ({names} pooled)',
    'Median half-life, months ({names} pooled)',
    'Schools decaying ({names} pooled)',
    '{first} and {last}',
    '{names} pooled: {note}',
    'of {rostered} observed at any round',
    'not reached by month {months}: {count} of {total} practices stay above one half',
    'median of {count} practices',
    '{count} stay above one half through month {months}',
    '{decaying} of {judged} schools are at least {evidence} likely to keep fewer of their practices at month {months} than their programme as a whole',
    '{hindrance} ({count} of {visits} visits)',
    "interval's upper end not reached by month {months}",
    'no interval: fewer than {count} schools',
    'decay_per_month needs {count} rounds after month 0',
    'too few to show: fewer than {min_n} teachers with or without the hindrance',
)

# the import's messages (ingest/ writes them; `import_words` reads them back), and the kinds of file
LIST_FIELD = "items"  # a template's field that holds a "; "-separated list (each item read back in turn)
IMPORT_URDU = {
    # a refused import into a database keyed under another salt (ingest/core.py `_salt_mismatch`)
    "the database {database} keys its teachers with the public demo salt, but {now}: no teacher would match (every "
    "visit an unknown_teacher, every roster teacher stored twice). Nothing was written. Set {variable} to the salt "
    "this database was built with, or import into a new database (--db PATH).":
        "ڈیٹا بیس {database} اپنے اساتذہ کی کلیدیں عوامی ڈیمو نمک سے بناتا ہے، لیکن {now}: کوئی استاد نہیں ملے "
        "گا (ہر دورہ unknown_teacher، فہرست کا ہر استاد دو بار محفوظ)۔ کچھ نہیں لکھا گیا۔ {variable} میں وہی نمک رکھیں "
        "جس سے یہ ڈیٹا بیس بنا تھا، یا نئے ڈیٹا بیس میں درآمد کریں (--db PATH)۔",
    "the database {database} keys its teachers with a secret salt, but {now}: no teacher would match (every visit an "
    "unknown_teacher, every roster teacher stored twice). Nothing was written. Set {variable} to the salt this "
    "database was built with, or import into a new database (--db PATH).":
        "ڈیٹا بیس {database} اپنے اساتذہ کی کلیدیں ایک خفیہ نمک سے بناتا ہے، لیکن {now}: کوئی استاد نہیں ملے گا "
        "(ہر دورہ unknown_teacher، فہرست کا ہر استاد دو بار محفوظ)۔ کچھ نہیں لکھا گیا۔ {variable} میں وہی نمک رکھیں "
        "جس سے یہ ڈیٹا بیس بنا تھا، یا نئے ڈیٹا بیس میں درآمد کریں (--db PATH)۔",
    "{variable} is not set, so the public demo salt would be used":
        "{variable} مقرر نہیں، اس لیے عوامی ڈیمو نمک استعمال ہوتا",
    "the salt in {variable} is not the one it was built with": "{variable} میں وہ نمک نہیں جس سے یہ بنا تھا",
    # a roster changing teachers' programmes, refused without --allow-reassign (ingest/core.py)
    "the roster changes the programme of {count} teacher(s), which moves their month 0 and reinterprets their "
    "visits: {items}. Nothing was written. If this is deliberate, import it again with --allow-reassign "
    "(python -m ingest); if not, correct the programme in the roster.":
        "فہرست {count} اساتذہ کا پروگرام بدلتی ہے، جس سے ان کا مہینہ 0 بدل جاتا ہے اور ان کے دوروں کی تعبیر بھی: "
        "{items}۔ کچھ نہیں لکھا گیا۔ اگر یہ جان بوجھ کر ہے تو --allow-reassign کے ساتھ دوبارہ درآمد کریں "
        "(python -m ingest)؛ ورنہ فہرست میں پروگرام درست کریں۔",
    "teacher {key} programme {old} -> {new} from {starts}: month 0 moves from {month_from} to {month_to}, {visits} "
    "visit(s) reinterpreted": "استاد {key}: پروگرام {old} سے {new}، {starts} سے؛ مہینہ 0 {month_from} کے بجائے "
                              "{month_to}، {visits} دوروں کی نئی تعبیر",
    "and {count} more": "اور {count} مزید",
    "{size} MB is over the size cap of {cap} MB ({setting})": "{size} MB کی فائل {cap} MB کی حد سے بڑی ہے ({setting})",
    "the file is empty": "فائل خالی ہے",
    "the file has no header row": "فائل میں کالموں کے عنوانات کی قطار نہیں",
    "the header of column {column} is {length} characters long (at most {limit}); the first row is not a header row: "
    "export the file again": "کالم {column} کا عنوان {length} حروف لمبا ہے (زیادہ سے زیادہ {limit})؛ پہلی قطار عنوانات کی "
                             "قطار نہیں: فائل دوبارہ برآمد کریں",
    "duplicate header {header} in columns {first} and {second}": "کالم {first} اور {second} کا عنوان ایک ہی ہے: {header}",
    "the file has a header row but no data rows (an export with no submissions?)":
        "فائل میں عنوانات کی قطار ہے مگر ڈیٹا کی کوئی قطار نہیں (کیا اس برآمد میں کوئی فارم جمع نہیں ہوا؟)",
    "row {row} has {cells} cells but the header has {width}": "قطار {row} میں {cells} خانے ہیں جبکہ عنوانات {width} ہیں",
    "not UTF-8 (byte {byte} on line {line}); export it again as UTF-8 (KoboToolbox and ODK Central always write UTF-8; "
    "in Excel use 'CSV UTF-8')": "فائل UTF-8 میں نہیں (سطر {line} پر بائٹ {byte})؛ اسے دوبارہ UTF-8 میں برآمد کریں "
                                 "(KoboToolbox اور ODK Central ہمیشہ UTF-8 لکھتے ہیں؛ Excel میں 'CSV UTF-8' چنیں)",
    "the header row cannot be read as CSV ({error})": "عنوانات کی قطار CSV کے طور پر پڑھی نہیں جا سکی ({error})",
    "not a readable XLSX file ({error})": "یہ قابلِ مطالعہ XLSX فائل نہیں ({error})",
    "a zip file but not an XLSX workbook": "یہ zip فائل ہے، XLSX ورک بک نہیں",
    "the first sheet is empty": "پہلی شیٹ خالی ہے",
    "could not tell the kind of file from its headers; expected {expected}":
        "عنوانات سے فائل کی قسم معلوم نہیں ہو سکی؛ ان میں سے کوئی متوقع تھی: {expected}",
    "required column(s) missing: {columns} (a renamed column can be mapped in config.yaml sources.{kind}.columns)":
        "ضروری کالم موجود نہیں: {columns} (نام بدلا ہوا کالم config.yaml میں sources.{kind}.columns کے تحت جوڑا جا سکتا ہے)",
    "columns {columns} all map to the field {field}": "کالم {columns} سب ایک ہی فیلڈ {field} سے جڑتے ہیں",
    "could not be read ({error})": "پڑھی نہیں جا سکی ({error})",
    "another import is running; preview the file again when it has finished":
        "ایک اور درآمد جاری ہے؛ اس کے مکمل ہونے پر فائل کا پیشگی جائزہ دوبارہ لیں",
    "line {line} cannot be split into cells ({error}; an unclosed quote?)":
        "سطر {line} خانوں میں تقسیم نہیں ہو سکی ({error}؛ کیا کوئی اقتباس کا نشان بند نہیں ہوا؟)",
    "line {line} starts a quoted field that runs over {lines} lines and leaves {cells} cells where the header has "
    "{width} (an unclosed quote?)": "سطر {line} سے شروع ہونے والا اقتباس {lines} سطروں تک جاتا ہے اور {cells} خانے بنتے "
                                    "ہیں جبکہ عنوانات {width} ہیں (کیا کوئی اقتباس کا نشان بند نہیں ہوا؟)",
    "score must be {low}..{high} or na": "نمبر {low} سے {high} تک یا na ہونا چاہیے",
    "no meta/instanceID, meta/rootUuid, _uuid or KEY": "meta/instanceID، meta/rootUuid، _uuid یا KEY میں سے کچھ بھی نہیں",
    "no roster teacher has this id (shown as its pseudonymous key): check the id, or import the roster first":
        "فہرست کے کسی استاد کی یہ شناخت نہیں (یہاں اس کی فرضی کلید دکھائی گئی ہے): شناخت جانچیں، یا پہلے فہرست درآمد کریں",
    "school not in the roster": "اسکول فہرست میں نہیں",
    "the roster places this school in {district}": "فہرست کے مطابق یہ اسکول {district} میں ہے",
    "the roster places this teacher at {school} on {date}: if the teacher transferred, import a roster giving the new "
    "school (and its valid_from) first": "فہرست کے مطابق {date} کو یہ استاد {school} میں تھے: اگر تبادلہ ہوا ہے تو پہلے "
                                         "نئے اسکول (اور اس کی valid_from) والی فہرست درآمد کریں",
    "expected a date in one of the formats {formats}": "ان میں سے کسی شکل میں تاریخ متوقع تھی: {formats}",
    "the programme {programme} ended {date}": "پروگرام {programme} {date} کو ختم ہوا",
    "expected one of {values}": "ان میں سے کوئی ایک متوقع تھا: {values}",
    "unknown hindrance code {code}": "رکاوٹ کا نامعلوم کوڈ {code}",
    "expected yes or no": "yes یا no متوقع تھا",
    "expected a whole number 0 or more": "0 یا اس سے بڑا پورا عدد متوقع تھا",
    "a roster row needs {column}": "فہرست کی ہر قطار میں {column} ضروری ہے",
    "an earlier row places this school in {place}": "ایک پچھلی قطار کے مطابق یہ اسکول {place} میں ہے",
    "cluster not in the roster": "کلسٹر فہرست میں نہیں",
    "the same content as {file}, imported in run {run}: not read again":
        "وہی مواد جو {file} میں تھا، رن {run} میں درآمد ہو چکا: دوبارہ نہیں پڑھا گیا",
    "practice {code}: no column in this file (an earlier form version?); imported as not scored":
        "طریقہ {code}: اس فائل میں اس کا کالم نہیں (فارم کا پرانا ورژن؟)؛ نمبر کے بغیر درآمد کیا گیا",
    # the kinds of file (ingest/kinds.py KIND_LABELS)
    "roster": "اساتذہ کی فہرست",
    "CoP meeting log": "پریکٹس کمیونٹی کی ملاقاتوں کا ریکارڈ",
    "KoboToolbox export": "KoboToolbox کی برآمد",
    "SurveyCTO export": "SurveyCTO کی برآمد",
    "ODK Central export": "ODK Central کی برآمد",
}
IMPORT_TEMPLATES = tuple(e for e in IMPORT_URDU if "{" in e)
URDU.update(IMPORT_URDU)
URDU.update({  # the upload's note on the demo salt (sustain/pseudonym.py DEMO_SALT_NOTE)
    "Note: {note}.": "نوٹ: {note}۔",
    "teachers keyed with the public demo salt (fine for sample data only; set SUSTAIN_SALT to a secret salt for real "
    "teachers)": "اساتذہ کی کلیدیں عوامی ڈیمو نمک (salt) سے بنی ہیں (صرف نمونے کے ڈیٹا کے لیے ٹھیک؛ حقیقی اساتذہ کے لیے "
                 "SUSTAIN_SALT میں خفیہ نمک رکھیں)",
})

for _dimension in CATALOGUE:  # the dimensions' names, as labels and inside sentences
    URDU.setdefault(_dimension.label, _dimension.label_ur)
    URDU.setdefault(_dimension.label.lower(), _dimension.label_ur)
