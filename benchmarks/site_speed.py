#!/usr/bin/env python3
"""Build time, page weight and Lighthouse scores of the site, against a one-page baseline.

    .venv/bin/python benchmarks/site_speed.py [mobile|desktop] [--runs 5]   # after `make test`

The baseline is a Material site with one page and the same theme settings
(palette, features, fonts), built and served the same way in the same run.
Both are served gzip-compressed, as GitHub Pages serves them. Per page: bytes
transferred on a cold load (Chromium, cache off), how many times Chromium
recomputed the page's styles and layout during that load (counts that do not
depend on the machine's speed), and Lighthouse's performance, accessibility,
best-practices and SEO scores and main-thread work, the median of --runs runs
with the pages taking turns (--runs 0: no Lighthouse). The mobile preset slows the
CPU 4x relative to the machine, so the script also prints the machine's speed
(Lighthouse's benchmarkIndex) and the slowdown Lighthouse's own calibration
would pick for it. Site build: median of 5 builds of each, alternated.
Goals: performance >= 95 and accessibility 100 on every page; median page
weight <= 1.2x the baseline's; site build <= 5x the baseline's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from static_server import CHROMIUM, CHROMIUM_ARGS, serve  # noqa: E402

BIN = ROOT / ".venv" / "bin"
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
FLAGS = " ".join(["--headless=new", *CHROMIUM_ARGS])


def build(config_dir: Path, site: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [BIN / "mkdocs", "build", "--strict", "-q", "-d", site],
        cwd=config_dir,
        check=True,
        capture_output=True,
        # as `make build` does (see the Makefile)
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "NBCONVERT_DISABLE_CONFIG_EXPORTERS": "1"},
    )
    return time.perf_counter() - start


def baseline_project(tmp: Path) -> Path:
    """Our mkdocs.yml up to its plugins (theme, palette, features), with one page."""
    project = tmp / "baseline"
    (project / "docs").mkdir(parents=True)
    (project / "docs" / "index.md").write_text(
        "# Baseline\n\nOne page, the same theme settings, nothing else.\n"
    )
    config = (ROOT / "mkdocs.yml").read_text().split("\nplugins:")[0]
    config = config.replace("  custom_dir: docs/.overrides\n", "")
    (project / "mkdocs.yml").write_text(
        config.replace("exclude_docs: |\n  includes/\n", "") + "\nplugins: [search]\n"
    )
    return project


def page_load(browser, url: str) -> tuple[int, dict[str, int]]:
    """Bytes transferred by a cold load, and how often Chromium recomputed the styles
    and the layout of the page meanwhile (Performance.getMetrics). The counts do
    not depend on the machine's speed, so they compare two versions of a page
    where Lighthouse's score, on a shared machine, moves by several points."""
    context = browser.new_context()
    page = context.new_page()
    sizes: list[int] = []
    page.on(
        "requestfinished",
        lambda r: sizes.append(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"]),
    )
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(500)  # what the bundle does after the network is idle
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    context.close()
    return sum(sizes), {
        "restyles": int(metrics["RecalcStyleCount"]),
        "layouts": int(metrics["LayoutCount"]),
    }


CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
# Besides the scores: the main thread's work during the load, in ms (Lighthouse's
# "Minimize main-thread work", CPU slowdown included). Finer than the score,
# which moves in steps and saturates near 100.
COLUMNS = (*CATEGORIES, "main-thread-ms")


def cpu_slowdown_for(benchmark_index: float) -> float:
    """The CPU slowdown that Lighthouse's calibration suggests for a machine of this
    speed, to emulate its reference phone (docs/throttling.md, "Calibrating the CPU
    slowdown", and its calculator: lighthouse-cpu-throttling-calculator.vercel.app).
    The mobile preset always uses 4x, right for a fast desktop (benchmarkIndex ~1500).
    """
    if benchmark_index >= 1300:
        return 3 + (benchmark_index - 1300) / 233
    if benchmark_index >= 800:
        return 2 + (benchmark_index - 800) / 500
    return max(1.0, 1 + (benchmark_index - 150) / 650)


# Lighthouse's measure of this machine's CPU speed, one per run.
BENCHMARK_INDEX: list[float] = []


def lighthouse(url: str, preset: str) -> dict[str, int]:
    proc = subprocess.run(
        [
            LIGHTHOUSE,
            url,
            *(["--preset=desktop"] if preset == "desktop" else []),
            "--output=json",
            "--quiet",
            f"--only-categories={','.join(CATEGORIES)}",
            f"--chrome-flags={FLAGS}",
        ],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        timeout=180,
    )
    report = json.loads(proc.stdout)
    BENCHMARK_INDEX.append(report["environment"]["benchmarkIndex"])
    scores = {k: round(report["categories"][k]["score"] * 100) for k in CATEGORIES}
    work = report["audits"]["mainthread-work-breakdown"]["numericValue"]
    return {**scores, "main-thread-ms": round(work)}


def lighthouse_medians(urls: list[str], preset: str, runs: int) -> list[dict[str, int]]:
    """The median of each score over the runs, per URL. The URLs take turns (all of
    them once, then again), so that a slow spell of a shared machine spreads over
    all pages instead of sinking every run of one of them."""
    if runs == 0:
        return [{} for _ in urls]
    results: list[list[dict[str, int]]] = [[] for _ in urls]
    for done in range(1, runs + 1):
        for url, result in zip(urls, results, strict=True):
            result.append(lighthouse(url, preset))
        # The table comes at the end, after a long wait: a line a round shows it goes on.
        low = sorted((r[-1]["performance"], url) for url, r in zip(urls, results, strict=True))
        print(
            f"round {done}/{runs}: lowest performance {low[0][0]} ({low[0][1]})",
            file=sys.stderr,
            flush=True,
        )
    return [
        {k: round(statistics.median(r[k] for r in result)) for k in COLUMNS} for result in results
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "preset",
        nargs="?",
        default="mobile",
        choices=["mobile", "desktop"],
        help="Lighthouse's preset (default: mobile, Lighthouse's own default)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=5,
        help="Lighthouse runs per page; the median of each score is kept "
        "(Lighthouse's scores vary from run to run); 0: no Lighthouse",
    )
    parser.add_argument(
        "--builds",
        type=int,
        default=5,
        help="builds of each site, alternated; the median time is kept (default 5)",
    )
    parser.add_argument(
        "--pages",
        nargs="+",
        metavar="PATH",
        help="score only these pages with Lighthouse, e.g. / /run-well/limits/ (default: every "
        "page; page weights are always measured on every page)",
    )
    args = parser.parse_args()
    if args.runs < 0 or args.builds < 1:
        parser.error("--runs must be 0 or more, --builds at least 1")
    # Checked first: the builds before the first Lighthouse run take a minute.
    for tool, remedy in (
        (BIN / "mkdocs", "run `make test` first, which creates .venv"),
        (LIGHTHOUSE, "run `make test` first (with npm installed), which installs it"),
        (Path(CHROMIUM), "install Debian's chromium, or set CHROMIUM to a Chromium binary"),
    ):
        if not tool.exists():
            sys.exit(f"site_speed.py: {tool} is missing: {remedy}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sys.exit("site_speed.py: Playwright is missing: run it with .venv/bin/python")
    preset = args.preset

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        base_project = baseline_project(tmp_path)
        # Alternated, so a change in the machine's speed hits both alike.
        times: dict[str, list[float]] = {"base": [], "ours": []}
        for i in range(args.builds):
            times["base"].append(build(base_project, tmp_path / f"b{i}"))
            times["ours"].append(build(ROOT, tmp_path / f"o{i}"))
        t_base, t_ours = (statistics.median(times[k]) for k in ("base", "ours"))
        ours_site, base_site = tmp_path / "o0", tmp_path / "b0"
        pages = sorted(
            "/" + p.parent.relative_to(ours_site).as_posix() + "/"
            for p in ours_site.rglob("index.html")
            # not the old addresses, which mkdocs-redirects makes into stubs that
            # load the new page: that page is already in the list
            if "assets" not in p.parts and 'http-equiv="refresh"' not in p.read_text()
        )
        pages = [p.replace("/./", "/") for p in pages]
        with serve(ours_site, gzip=True) as ours_url, serve(base_site, gzip=True) as base_url:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                base_weight, base_work = page_load(browser, base_url + "/")
                loads = [page_load(browser, ours_url + path) for path in pages]
                weights = [weight for weight, _ in loads]
                browser.close()
            scored = pages
            if args.pages:
                scored = [p if p.endswith("/") else p + "/" for p in args.pages]
                if unknown := sorted(set(scored) - set(pages)):
                    sys.exit(f"site_speed.py: no such page in the site: {' '.join(unknown)}")
            base_scores, *scores = lighthouse_medians(
                [base_url + "/"] + [ours_url + path for path in scored], preset, args.runs
            )
            scores_of = dict(zip(scored, scores, strict=True))
    print(
        f"site build: ours {t_ours:.1f} s, baseline {t_base:.1f} s, "
        f"ratio {t_ours / t_base:.1f} (goal <= 5)"
    )
    if BENCHMARK_INDEX:
        index = statistics.median(BENCHMARK_INDEX)
        print(f"Lighthouse preset: {preset}, median of {args.runs} runs per page, pages in turn")
        print(
            f"machine speed (Lighthouse benchmarkIndex) over the runs: "
            f"min {min(BENCHMARK_INDEX):.0f}, median {index:.0f}, max {max(BENCHMARK_INDEX):.0f}"
        )
        if preset == "mobile":
            print(
                f"CPU slowdown that Lighthouse's calibration suggests at the median: "
                f"{cpu_slowdown_for(index):.1f}x (the preset uses 4x)"
            )
    print(
        f"{'page':42} {'KB':>5} {'restyle':>7} {'layout':>6} "
        f"{'perf':>5} {'a11y':>5} {'best':>5} {'seo':>5} {'main ms':>7}"
    )

    def row(name: str, weight: int, work: dict[str, int], scores: dict[str, int] | None) -> str:
        widths = [5] * len(CATEGORIES) + [7]
        cells = (
            f" {scores[k] if scores else '-':>{w}}" for k, w in zip(COLUMNS, widths, strict=True)
        )
        return (
            f"{name:42} {weight / 1024:5.0f} {work['restyles']:7d} {work['layouts']:6d}"
            + "".join(cells)
        )

    print(row("(baseline, one page)", base_weight, base_work, base_scores or None))
    for path, (weight, work) in zip(pages, loads, strict=True):
        print(row(path, weight, work, scores_of.get(path)))  # None: not scored
    median = statistics.median(weights)
    print(
        f"median page weight: {median / 1024:.0f} KB = {median / base_weight:.2f}x the "
        "baseline (goal <= 1.2)"
    )
    if args.runs:
        worst_perf = min(s["performance"] for s in scores)
        worst_a11y = min(s["accessibility"] for s in scores)
        print(
            f"lowest performance {worst_perf} (goal >= 95), lowest accessibility {worst_a11y} "
            "(goal 100)"
        )
    sys.exit(0)


if __name__ == "__main__":
    main()
