"""report.html in a real headless Chromium: it loads without console errors or blocked resources, and the
screenshot shows the embedded figures (their colours are on the page), not a blank page."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from PIL import Image
from test_report_files import finished_run

from nas.report.build import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,  # a search, a report and a browser start: ~20 s
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH: the page is not rendered in a browser"),
]

# lines of Chromium's log that mean the page itself went wrong (not the sandbox's D-Bus noise)
PAGE_ERRORS = ("Uncaught", "CONSOLE", "Not allowed to load local resource", "ERR_FILE_NOT_FOUND", "net::ERR")


def _near(rgb: tuple[int, int, int], target: tuple[int, int, int], tol: int = 12) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgb, target))


def test_report_renders_in_headless_chromium(tmp_path, table) -> None:
    run = finished_run(tmp_path, table)
    written = write_report(run, top=5, cells=2)
    page = written.html
    shot = tmp_path / "shot.png"
    argv = [str(CHROMIUM), "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr"]
    argv += ["--v=0", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2400"]
    done = subprocess.run(
        [*argv, f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    bad = [ln for ln in done.stderr.splitlines() if any(e in ln for e in PAGE_ERRORS)]
    assert not bad, bad
    dom = subprocess.run([*argv, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.stdout.count("<img ") == len(written.figures) >= 4
    assert "Found architectures vs baselines" in dom.stdout

    with Image.open(shot) as im:
        rgb = im.convert("RGB")
        colors = rgb.getcolors(maxcolors=1 << 22)
        assert colors is not None and len(colors) > 200  # text, tables and figures: not a blank page
        white = sum(n for n, c in colors if min(c) >= 250)
        assert white < 0.97 * rgb.width * rgb.height
        # the Pareto front's red (#c0392b) and the trials' blue (#9db4cc): the embedded figures were drawn
        assert sum(n for n, c in colors if _near(c, (0xC0, 0x39, 0x2B))) > 50
        assert sum(n for n, c in colors if _near(c, (0x9D, 0xB4, 0xCC))) > 50
