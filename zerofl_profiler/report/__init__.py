"""Reports from a run comparison: Markdown (default), self-contained HTML, JSON.

Build the comparison with ``analysis.comparison.compare_runs``; ``FORMATS`` maps a format name to
its renderer, each walking the same ``sections``.
"""

from __future__ import annotations

from typing import Callable

from ..analysis.comparison import RunComparison
from ..errors import BadInputError, unknown_name
from .html import render_html
from .jsonfmt import render_json
from .markdown import render_markdown

FORMATS: dict[str, Callable[[RunComparison], str]] = {"md": render_markdown, "html": render_html,
                                                      "json": render_json}


def render(comparison: RunComparison, fmt: str) -> str:
    """Render in a named format; unknown names list the known ones."""
    try:
        return FORMATS[fmt](comparison)
    except KeyError:
        raise BadInputError(unknown_name("report format", fmt, FORMATS)) from None


__all__ = ["FORMATS", "render", "render_html", "render_json", "render_markdown"]
