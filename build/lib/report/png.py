"""PNG of any plotly figure, through kaleido (>= 1) driving the system's chromium.

Kaleido 1.x renders with a headless Chrome found by choreographer. We never let it download one
(`kaleido.get_chrome*` is not used): the browser path is passed explicitly (kaleido hands `path`
through to `choreographer.Browser`), found as, in order, the `chromium` argument, the
`SUSTAIN_CHROMIUM` environment variable, /usr/bin/chromium, then `chromium` / `chromium-browser`
/ `google-chrome` on PATH. MathJax is switched off (kaleido would otherwise load it from a CDN) and
plotly.js comes from the installed plotly package, so rendering needs no network.

Where no browser is found, `RuntimeError(NO_CHROMIUM)` says how to install one instead of a
crash deep inside kaleido.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import threading
from pathlib import Path
from typing import Sequence

DEFAULT_CHROMIUM = "/usr/bin/chromium"
NO_CHROMIUM = "PNG export needs chromium: apt-get install -y chromium"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def find_chromium(chromium: str | os.PathLike | None = None) -> str | None:
    """The browser to render with, or None. An explicit path (argument or SUSTAIN_CHROMIUM) is
    the only one considered when given."""
    explicit = chromium or os.environ.get("SUSTAIN_CHROMIUM")
    if explicit:
        path = Path(explicit)
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    if Path(DEFAULT_CHROMIUM).is_file() and os.access(DEFAULT_CHROMIUM, os.X_OK):
        return DEFAULT_CHROMIUM
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def figure_png(figure, width: int = 1100, height: int = 620, scale: float = 2,
               chromium: str | os.PathLike | None = None) -> bytes:
    """The figure as PNG bytes."""
    return figures_png([figure], width=width, height=height, scale=scale, chromium=chromium)[0]


def figures_png(figures: Sequence, width: int = 1100, height: int = 620, scale: float = 2,
                chromium: str | os.PathLike | None = None) -> list[bytes]:
    """Several figures as PNG bytes, rendered by one browser session (one start-up, not one each)."""
    browser = find_chromium(chromium)
    if browser is None:
        raise RuntimeError(NO_CHROMIUM)
    try:
        import kaleido
    except ImportError:  # pragma: no cover - kaleido is in requirements.txt
        raise RuntimeError("PNG export needs the kaleido package: pip install 'kaleido>=1'") from None
    if not figures:
        return []
    options = {"format": "png", "width": width, "height": height, "scale": scale}

    async def render() -> list[bytes]:
        async with kaleido.Kaleido(n=1, path=browser, mathjax=False) as session:
            return [bytes(await session.calc_fig(figure, opts=options)) for figure in figures]

    images = _run(render)
    for image in images:
        if not image.startswith(PNG_MAGIC):
            raise RuntimeError("kaleido did not return a PNG image")
    return images


def _run(coroutine_function):
    """Run an async function to completion from sync code, also when the caller is itself inside
    an event loop (a notebook, some servers): then in a separate thread with its own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine_function())
    result: dict = {}

    def target():
        try:
            result["value"] = asyncio.run(coroutine_function())
        except BaseException as exc:  # handed back to the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]
