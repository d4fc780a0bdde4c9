"""The donor pack: a PowerPoint deck with native charts, a self-contained HTML report and PNGs.

    python -m report --programme CBM [--district Thatta ...] [--language en|ur] --out DIR [--png]

`content.build_report` computes what is shown, once, from the indicator functions of metrics/;
`pptx_deck`, `html_report` and `png` only draw it.
"""
import importlib

# Where each public name lives. Imported on first use (PEP 562): every page imports this package
# (app.ui reads report.answers and report.exports), but python-pptx is needed only when a pack is built.
_HOMES = {"Report": "content", "ReportError": "content", "build_report": "content", "build_html": "html_report",
          "figures": "html_report", "write_html": "html_report", "build_deck": "pptx_deck", "write_deck": "pptx_deck"}

__all__ = list(_HOMES)


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value
    return value
