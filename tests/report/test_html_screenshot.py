"""The HTML report in headless Chromium shows its figures (pixels of the palette appear).

Chromium is installed by this set-up only when running as root with CI=true (Debian's package);
elsewhere, without a chromium binary, the test skips and says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest

from zerofl_profiler.analysis.comparison import compare_runs
from zerofl_profiler.report import render
from zerofl_profiler.report.html import render_html

BLUE = np.array([0x00, 0x72, 0xB2]) / 255.0  # Okabe-Ito blue, the first series colour


def chromium() -> str:
    """Path of a chromium binary, installing Debian's package under root + CI=true."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)  # type: ignore[return-value]
    if os.environ.get("CI") == "true" and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True, timeout=300)
        r = subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, capture_output=True, timeout=900)
        if r.returncode == 0 and shutil.which("chromium"):
            return shutil.which("chromium")  # type: ignore[return-value]
        pytest.skip(f"apt-get install chromium failed: {r.stderr.decode()[-300:]}")
    pytest.skip("no chromium binary; it is installed by the test set-up only as root with CI=true")


def screenshot(browser: str, html_path, png_path) -> np.ndarray:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-dev-shm-usage", f"--screenshot={png_path}", "--window-size=1200,2400",
           "--virtual-time-budget=3000", html_path.as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    import matplotlib.image as mpimg

    return mpimg.imread(png_path)[..., :3]


def blue_pixels(img: np.ndarray) -> int:
    return int((np.abs(img - BLUE).max(axis=-1) < 0.06).sum())


@pytest.mark.slow
def test_html_report_screenshot_shows_figures(sweep, tmp_path):
    browser = chromium()
    rep = compare_runs(sweep, target_accuracy=0.8)
    with_figs, without = tmp_path / "report.html", tmp_path / "tables.html"
    with_figs.write_text(render(rep, "html"))
    without.write_text(render_html(rep, with_figures=False))
    img = screenshot(browser, with_figs, tmp_path / "report.png")
    ctrl = screenshot(browser, without, tmp_path / "tables.png")
    assert img.shape[:2] == (2400, 1200)
    assert blue_pixels(ctrl) < 50  # tables alone are black on white
    assert blue_pixels(img) > 500  # the embedded figures: one run is drawn in the palette blue (layer phases are grey)
    keep = os.environ.get("ZEROFL_SCREENSHOT_OUT")
    if keep:
        shutil.copy(tmp_path / "report.png", keep)
