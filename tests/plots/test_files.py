"""Figure files are valid (PDF header, PNG signature, SVG root) and PDFs embed TrueType, no Type 3."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import matplotlib
import pytest

from zerofl_profiler.analysis.summary import summarize_run
from zerofl_profiler.errors import BadInputError
from zerofl_profiler.analysis.comparison import RunComparison
from zerofl_profiler.plots import accuracy_figure, render_figures, save_figure
from zerofl_profiler.traces import load_run

FONT_SUBTYPES = rb"/Subtype\s*/(Type1|Type3|TrueType|Type0|CIDFontType0|CIDFontType2|MMType1)\b"


def pdf_fonts(data: bytes) -> set[str]:
    """Font subtypes declared in a PDF (matplotlib writes font dictionaries uncompressed)."""
    return {m.decode() for m in re.findall(FONT_SUBTYPES, data)}


def check_pdf_fonts(data: bytes) -> None:
    fonts = pdf_fonts(data)
    assert fonts, "no font in PDF"
    assert "Type3" not in fonts and "Type1" not in fonts, fonts
    assert b"/FontFile2" in data, "TrueType font program not embedded"


@pytest.fixture
def summaries(sweep):
    return tuple(summarize_run(load_run(r), target_accuracy=0.8) for r in sweep)


@pytest.mark.slow
def test_files_valid_and_fonts_truetype(summaries, tmp_path):
    res = render_figures(RunComparison(summaries, {}, 0.8), tmp_path / "figs", ("pdf", "png", "svg"), "paper-single")
    assert dict(res.skipped).keys() == {"devices"}
    by_ext = {}
    for p in res.files:
        by_ext.setdefault(p.suffix, []).append(p)
    assert len(by_ext[".pdf"]) == len(by_ext[".png"]) == len(by_ext[".svg"]) >= 5
    for p in by_ext[".pdf"]:
        data = p.read_bytes()
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
        check_pdf_fonts(data)
    for p in by_ext[".png"]:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for p in by_ext[".svg"]:
        root = ET.parse(p).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_font_check_detects_type3(summaries, tmp_path):
    fig = accuracy_figure(summaries)
    with matplotlib.rc_context({"pdf.fonttype": 3}):
        fig.savefig(tmp_path / "t3.pdf")
    data = (tmp_path / "t3.pdf").read_bytes()
    assert "Type3" in pdf_fonts(data)
    with pytest.raises(AssertionError):
        check_pdf_fonts(data)
    # and save_figure restores TrueType whatever the global setting
    with matplotlib.rc_context({"pdf.fonttype": 3}):
        (p,) = save_figure(fig, tmp_path, "ok", ["pdf"], "paper-single")
    check_pdf_fonts(p.read_bytes())


def test_bad_style_and_format(summaries, tmp_path):
    with pytest.raises(BadInputError, match="unknown style"):
        accuracy_figure(summaries, style="poster")
    with pytest.raises(BadInputError, match="format"):
        save_figure(accuracy_figure(summaries), tmp_path, "x", ["gif"], "paper-single")
