"""Write an openpyxl workbook with fixed timestamps, so an unchanged workbook gives identical
bytes (the committed sample export and XLSForm are checked against fresh builds)."""
from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path


def save_workbook_deterministic(workbook, path: Path) -> None:
    """Save with fixed document properties and zip-entry timestamps."""
    workbook.properties.created = dt.datetime(2026, 1, 1)
    workbook.properties.creator = "sustain"
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>2026-01-01T00:00:00Z\g<2>", data)
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, data)
