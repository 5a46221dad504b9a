"""`classicnets report`: the page from real run records, checked in a real browser (headless
Chromium through selenium: every section there, every image loaded, no network request, no
element wider than the window, printed to PDF pages)."""

from __future__ import annotations

import base64
import html
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from classicnets.experiments import SWEEPS, reported, reproduce
from classicnets.records.schema import read_sweep

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def toy_report(tmp_path_factory) -> Path:
    """A report over a small mlp-toy-compare sweep (the other studies absent)."""
    from classicnets.cli import main

    root = tmp_path_factory.mktemp("runs")
    argv = ["sweep", "mlp-toy-compare", "--epochs", "4", "--eval_freq", "2", "--batch_size"]
    assert main([*argv, "16", "--out", str(root / "mlp-toy-compare"), "--quiet"]) == 0
    assert main(["report", str(root), "--out", str(root / "report.html")]) == 0
    return root / "report.html"


def test_report_has_a_section_per_study_and_says_how_to_make_the_missing_ones(toy_report):
    page = toy_report.read_text()
    for sweep, _ in reported():
        assert f'id="{sweep.name}"' in page
    assert "No runs of this study yet" in page and "classicnets sweep cnn-optimizers" in page
    assert "NumPy and PyTorch reach" in page  # findings computed from the records
    toy = SWEEPS["mlp-toy-compare"]  # then how they stand against the reference run
    trials = read_sweep(toy_report.parent / "mlp-toy-compare" / "sweep.json")["trials"]
    for line in reproduce.sentences(toy.name, toy.report.conclude, trials):
        assert line in html.unescape(page)
    assert "classicnets sweep mlp-toy-compare --batch_size 16 --epochs 4 --eval_freq 2" in page
    assert page.count("data:image/png;base64,") == 3
    claims = page[page.index('id="claims"') :]  # the claims table, last, for the toy sweep only
    assert "C02" in claims and "C03" in claims and "C42" not in claims
    assert "within 1.0 points of 100.0%" in claims and "(n = 1)" in claims
    assert claims.count("cannot tell at this budget") >= 2  # one seed each: no interval
    assert "http://" not in page and "https://" not in page  # nothing to fetch


def test_report_bad_input_is_one_line_and_exit_2(cli):
    code, _, err = cli("report", "missing-dir")
    assert code == 2 and "not a directory" in err and err.count("\n") == 1
    (cli.cwd / "runs").mkdir()
    code, _, err = cli("report", "--out", "report.txt")
    assert code == 2 and ".html" in err
    assert not (cli.cwd / "report.txt").exists()


@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="chromium and chromedriver not installed")
def test_report_in_a_real_browser(toy_report, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,1600",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.get(toy_report.as_uri())
        sections = driver.execute_script(
            "return [...document.querySelectorAll('section.study')].map(s => s.id)"
        )
        assert sections == [sweep.name for sweep, _ in reported()]
        images = driver.execute_script(
            "return [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
        )
        assert len(images) == 3 and all(c and w > 0 and h > 0 for c, w, h in images), images
        requests = [
            json.loads(entry["message"])["message"] for entry in driver.get_log("performance")
        ]
        urls = [
            m["params"]["request"]["url"]
            for m in requests
            if m["method"] == "Network.requestWillBeSent"
        ]
        assert toy_report.as_uri() in urls
        # the page's own requests: itself and its data: images; chrome:// is the browser's
        assert [u for u in urls if u.split(":")[0] in ("http", "https", "ws", "wss", "ftp")] == []
        driver.save_screenshot(str(tmp_path / "report.png"))
        assert (tmp_path / "report.png").stat().st_size > 20_000
        # Nothing wider than the window, down to a phone's: wide tables scroll in their box.
        for width in (1200, 800, 420):
            driver.set_window_size(width, 1200)
            assert driver.execute_script(OVERFLOW) == [], width
        driver.save_screenshot(str(tmp_path / "report-narrow.png"))
        # Printed to PDF (the print stylesheet): real pages, each drawn as a picture.
        pdf = base64.b64decode(driver.print_page())
        assert pdf.startswith(b"%PDF")
        (tmp_path / "report.pdf").write_bytes(pdf)
    finally:
        driver.quit()
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "50", str(tmp_path / "report.pdf"), str(tmp_path / "page")],
            check=True,
        )
        pages = sorted(tmp_path.glob("page-*.png"))
        assert len(pages) >= 2 and all(p.stat().st_size > 5_000 for p in pages)


# Elements that reach past the window's right edge, but for those inside a scrolling box (whose
# own box must fit), and whether the page itself scrolls sideways.
OVERFLOW = """
const limit = document.documentElement.clientWidth + 1;
const wide = [...document.querySelectorAll('body *')]
  .filter(e => !e.parentElement.closest('.scroll'))
  .filter(e => e.getBoundingClientRect().right > limit)
  .map(e => e.tagName + (e.className ? '.' + e.className : ''));
if (document.documentElement.scrollWidth > limit) wide.push('page scrolls sideways');
return wide;
"""


def test_the_summary_headline_never_ranks_by_the_test_split():
    from classicnets.report.summary import headline

    def trial(name, best, final):
        return {"trial": name, "status": "completed", "best": best,
                "final": {"test": {"accuracy": final}}}  # fmt: skip

    tested = [trial("a", {"test": {"accuracy": 0.7}}, 0.7),
              trial("b", {"test": {"accuracy": 0.9}}, 0.8)]  # fmt: skip
    assert headline(tested) == "no validation split, nothing chosen: final test 0.7000–0.8000"
    ties = [trial(n, {"val": {"accuracy": 0.95}, "test": {"accuracy": t}}, t)
            for n, t in (("x", 0.93), ("y", 0.91))]  # fmt: skip
    assert headline(ties) == "val 0.9500 → test 0.9100–0.9300 (x, y)"
    assert headline([]) == "—"
    assert headline([trial("z", {"test": {"accuracy": 0.5}}, 0.5)]) == (
        "no validation split, nothing chosen: final test 0.5000"
    )
    # several seeds: the configuration with the best mean validation accuracy, not the
    # luckiest seed (b-seed2 alone is the highest trial)
    runs = (("a", 1, 0.8), ("a", 2, 0.8), ("b", 1, 0.5), ("b", 2, 0.99))
    seeds = [trial(f"{n}-seed{s}", {"val": {"accuracy": v}, "test": {"accuracy": v - 0.1}}, 0)
             for n, s, v in runs]  # fmt: skip
    assert headline(seeds) == "val 0.8000 ± 0.0000 → test 0.7000 ± 0.0000 (a, n = 2; mean ± sd)"
