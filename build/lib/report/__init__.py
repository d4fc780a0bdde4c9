"""The donor pack: a PowerPoint deck with native charts, a self-contained HTML report and PNGs.

    python -m report --programme CBM [--district Thatta ...] [--language en|ur] --out DIR [--png]

`content.build_report` computes what is shown, once, from the indicator functions of metrics/;
`pptx_deck`, `html_report` and `png` only draw it.
"""
from .content import Report, ReportError, build_report
from .html_report import build_html, figures, write_html
from .pptx_deck import build_deck, write_deck

__all__ = ["Report", "ReportError", "build_report", "build_html", "figures", "write_html", "build_deck",
           "write_deck"]
