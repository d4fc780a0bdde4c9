"""Build the default follow-up visit form as an XLSForm: forms/sustain_followup.xlsx.

    python forms/build_form.py [--config config.yaml] [--out forms/sustain_followup.xlsx]

Practices and hindrances (codes, English and Urdu labels) come from config.yaml, so the form and
the dashboard always agree. The output can be uploaded unchanged to KoboToolbox or ODK Central.
The file is written with fixed timestamps, so rebuilding an unchanged form gives identical bytes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from openpyxl import Workbook
from openpyxl.styles import Font

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # also run as a script: python forms/build_form.py

from sustain.xlsx import save_workbook_deterministic  # noqa: E402
DEFAULT_CONFIG = ROOT / "config.yaml"
DEFAULT_OUT = Path(__file__).resolve().parent / "sustain_followup.xlsx"
FORM_ID = "sustain_followup"
FORM_VERSION = "2023112001"  # bump (yyyymmddnn) whenever the form changes
PRESENT = "${teacher_status} = 'present'"

SURVEY_COLUMNS = ["type", "name", "label", "label::Urdu (ur)", "hint", "hint::Urdu (ur)", "required",
                  "constraint", "constraint_message", "constraint_message::Urdu (ur)", "relevance",
                  "appearance"]
CHOICE_COLUMNS = ["list_name", "name", "label", "label::Urdu (ur)"]

TEACHER_STATUS = [("present", "Present and teaching", "موجود اور پڑھا رہے ہیں"),
                  ("absent", "Absent today", "آج غیر حاضر"),
                  ("transferred", "Transferred to another school", "دوسرے اسکول تبادلہ"),
                  ("left", "Left teaching", "تدریس چھوڑ دی"),
                  ("on_leave", "On leave", "چھٹی پر")]
PRACTICE_SCORE = [("1", "1 Not observed", "1 مشاہدہ نہیں ہوا"),
                  ("2", "2 Emerging", "2 ابتدائی"),
                  ("3", "3 Established", "3 مستحکم"),
                  ("4", "4 Exemplary", "4 مثالی"),
                  ("na", "Not applicable in this lesson", "اس سبق میں لاگو نہیں")]
YES_NO = [("yes", "Yes", "ہاں"), ("no", "No", "نہیں")]


def survey_rows(cfg: dict) -> list[dict]:
    rows = [
        {"type": "start", "name": "start"},
        {"type": "end", "name": "end"},
        {"type": "begin_group", "name": "visit", "label": "Visit", "label::Urdu (ur)": "دورہ"},
        {"type": "date", "name": "visit_date", "label": "Date of the visit",
         "label::Urdu (ur)": "دورے کی تاریخ", "required": "yes", "constraint": ". <= today()",
         "constraint_message": "The visit date cannot be in the future",
         "constraint_message::Urdu (ur)": "دورے کی تاریخ مستقبل کی نہیں ہو سکتی"},
        {"type": "text", "name": "observer_id", "label": "Observer ID (e.g. OBS-07)",
         "label::Urdu (ur)": "مشاہدہ کار کی شناخت", "required": "yes"},
        {"type": "end_group", "name": "visit"},
        {"type": "begin_group", "name": "school", "label": "School", "label::Urdu (ur)": "اسکول"},
        {"type": "text", "name": "district", "label": "District (as in the roster)",
         "label::Urdu (ur)": "ضلع", "required": "yes"},
        {"type": "text", "name": "cluster", "label": "Cluster (as in the roster)",
         "label::Urdu (ur)": "کلسٹر", "required": "yes"},
        {"type": "text", "name": "school_id", "label": "School ID (as in the roster)",
         "label::Urdu (ur)": "اسکول کی شناخت", "required": "yes"},
        {"type": "end_group", "name": "school"},
        {"type": "begin_group", "name": "teacher", "label": "Teacher", "label::Urdu (ur)": "استاد"},
        {"type": "text", "name": "teacher_id", "label": "Teacher ID (as in the roster)",
         "label::Urdu (ur)": "استاد کی شناخت", "required": "yes"},
        {"type": "select_one teacher_status", "name": "teacher_status",
         "label": "Status of the teacher", "label::Urdu (ur)": "استاد کی حیثیت", "required": "yes"},
        {"type": "end_group", "name": "teacher"},
        {"type": "begin_group", "name": "practices", "label": "Classroom practices observed",
         "label::Urdu (ur)": "کمرۂ جماعت میں مشاہدہ کردہ طریقے", "relevance": PRESENT},
    ]
    for p in cfg["practices"]:
        rows.append({"type": "select_one practice_score", "name": p["code"], "label": p["label"],
                     "label::Urdu (ur)": p.get("label_ur", ""), "required": "yes",
                     "appearance": "horizontal-compact"})
    rows += [
        {"type": "end_group", "name": "practices"},
        {"type": "begin_group", "name": "context", "label": "Context",
         "label::Urdu (ur)": "حالات", "relevance": PRESENT},
        {"type": "select_multiple hindrance", "name": "hindrances",
         "label": "What stands in the way of these practices? (select all that apply)",
         "label::Urdu (ur)": "ان طریقوں میں کیا رکاوٹ ہے؟ (تمام متعلقہ منتخب کریں)",
         "hint": "Leave empty when nothing is reported",
         "hint::Urdu (ur)": "اگر کوئی رکاوٹ نہ بتائی جائے تو خالی چھوڑ دیں"},
        {"type": "select_one yes_no", "name": "cop_active",
         "label": "Did the cluster's teacher community meet in the last month?",
         "label::Urdu (ur)": "کیا پچھلے مہینے کلسٹر کے اساتذہ کی کمیونٹی کا اجلاس ہوا؟"},
        {"type": "integer", "name": "cop_meetings_3m",
         "label": "How many community meetings did the teacher attend in the last 3 months?",
         "label::Urdu (ur)": "استاد نے پچھلے 3 مہینوں میں کتنے اجلاسوں میں شرکت کی؟",
         "constraint": ". >= 0 and . <= 20", "constraint_message": "A number from 0 to 20",
         "constraint_message::Urdu (ur)": "0 سے 20 تک کا عدد"},
        {"type": "end_group", "name": "context"},
        {"type": "text", "name": "comments", "label": "Comments", "label::Urdu (ur)": "تبصرے",
         "appearance": "multiline"},
    ]
    return rows


def choice_rows(cfg: dict) -> list[dict]:
    rows = []
    for list_name, items in (("teacher_status", TEACHER_STATUS),
                             ("practice_score", PRACTICE_SCORE), ("yes_no", YES_NO)):
        rows += [{"list_name": list_name, "name": n, "label": en, "label::Urdu (ur)": ur}
                 for n, en, ur in items]
    rows += [{"list_name": "hindrance", "name": h["code"], "label": h["label"],
              "label::Urdu (ur)": h.get("label_ur", "")} for h in cfg["hindrances"]]
    return rows


def build(config_path=DEFAULT_CONFIG, out=DEFAULT_OUT) -> Path:
    with open(config_path, encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh)
    wb = Workbook()
    sheets = [("survey", SURVEY_COLUMNS, survey_rows(cfg)),
              ("choices", CHOICE_COLUMNS, choice_rows(cfg)),
              ("settings", ["form_title", "form_id", "version", "default_language"],
               [{"form_title": "Sustain follow-up visit", "form_id": FORM_ID,
                 "version": FORM_VERSION, "default_language": "English (en)"}])]
    for i, (title, columns, rows) in enumerate(sheets):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = title
        ws.append(columns)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append([row.get(c) or None for c in columns])
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
        for col, width in zip("ABCDEFGHIJKL", (26, 22, 50, 50, 30, 30, 9, 22, 30, 30, 30, 18)):
            ws.column_dimensions[col].width = width
        ws.freeze_panes = "A2"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_workbook_deterministic(wb, out)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(DEFAULT_CONFIG))
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    a = ap.parse_args(argv)
    print(build(a.config, a.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
