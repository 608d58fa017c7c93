#!/usr/bin/env python3
"""Build time, page weight and Lighthouse scores of the site, against a one-page baseline.

    .venv/bin/python benchmarks/site_speed.py [mobile|desktop] [--runs 3]   # after `make test`

The baseline is a Material site with one page and the same theme settings
(palette, features, fonts), built and served the same way in the same run.
Both are served gzip-compressed, as GitHub Pages serves them. Per page: bytes
transferred on a cold load (Chromium, cache off) and
Lighthouse's performance, accessibility, best-practices and SEO scores. With the
mobile preset each load is scored twice: with the preset's fixed 4x CPU slowdown,
and with the slowdown calibrated to the machine's speed in that run (Lighthouse's
documented calibration), which keeps the emulated phone the same on a machine
whose speed drifts. Site build: median of 5 builds of each, alternated.
Goals: performance >= 95 and accessibility 100 on every page; median page
weight <= 1.2x the baseline's; site build <= 5x the baseline's.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = "--headless=new --no-sandbox --disable-gpu --disable-background-networking"


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


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Serves text gzip-compressed when the browser asks, as GitHub Pages and most
    static hosts do (Python's http.server alone sends everything uncompressed)."""

    TEXT = (".html", ".css", ".js", ".mjs", ".json", ".svg", ".xml", ".txt")

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            if not self.path.split("?")[0].endswith("/"):
                return super().send_head()  # redirects to the folder with a slash
            path = path / "index.html"
        wants_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (wants_gzip and path.suffix in self.TEXT and path.is_file()):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(GzipHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def page_weight(browser, url: str) -> int:
    context = browser.new_context()
    page = context.new_page()
    sizes: list[int] = []
    page.on(
        "requestfinished",
        lambda r: sizes.append(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"]),
    )
    page.goto(url, wait_until="networkidle")
    context.close()
    return sum(sizes)


CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


def cpu_slowdown_for(benchmark_index: float) -> float:
    """The CPU slowdown that makes this machine emulate Lighthouse's reference phone.

    The mobile preset's fixed 4x assumes a fast desktop (benchmarkIndex about
    1500); on a slower or busier machine it emulates a slower phone, and on a
    shared VM whose speed drifts the score drifts with it. This is the mapping
    of Lighthouse's CPU-throttling calibration (docs/throttling.md, "calibrating
    the CPU slowdown": https://lighthouse-cpu-throttling-calculator.vercel.app).
    """
    if benchmark_index >= 1300:
        return 3 + (benchmark_index - 1300) / 233
    if benchmark_index >= 800:
        return 2 + (benchmark_index - 800) / 500
    return max(1.0, 1 + (benchmark_index - 150) / 650)


def lighthouse(url: str, preset: str) -> dict[str, dict[str, int]]:
    """One Lighthouse run of a page: the scores as Lighthouse's preset gives them
    and, for mobile, with the CPU slowdown calibrated to this run's benchmarkIndex.

    Lighthouse loads the page once (--gather-mode) and scores it from the saved
    trace (--audit-mode). Its default "simulate" throttling loads the page at full
    speed and applies the slowdown only when it scores, so the same load can be
    scored with the preset's 4x and with the calibrated slowdown.
    """
    common = [
        *(["--preset=desktop"] if preset == "desktop" else []),
        "--quiet",
        f"--only-categories={','.join(CATEGORIES)}",
    ]
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    lighthouse_cli = ROOT / "node_modules/.bin/lighthouse"
    with tempfile.TemporaryDirectory() as gathered:
        subprocess.run(
            [lighthouse_cli, url, *common, f"--gather-mode={gathered}", f"--chrome-flags={FLAGS}"],
            check=True,
            capture_output=True,
            env=env,
            timeout=180,
        )

        def audit(*extra: str) -> dict[str, int]:
            proc = subprocess.run(
                [lighthouse_cli, url, *common, *extra, f"--audit-mode={gathered}", "--output=json"],
                check=True,
                capture_output=True,
                text=True,
                env=env,
                timeout=180,
            )
            report = json.loads(proc.stdout)
            return {k: round(report["categories"][k]["score"] * 100) for k in CATEGORIES}

        scores = {"preset": audit()}
        artifacts_file = Path(gathered) / "artifacts.json"
        artifacts = json.loads(artifacts_file.read_text())
        index = artifacts["BenchmarkIndex"]
        BENCHMARK_INDEX.append(index)
        if preset == "mobile":
            slowdown = round(cpu_slowdown_for(index), 2)
            SLOWDOWNS.append(slowdown)
            # Lighthouse refuses to score with settings other than those it gathered
            # with; under simulated throttling the CPU slowdown played no part in the
            # load, so the saved settings are changed to match.
            artifacts["settings"]["throttling"]["cpuSlowdownMultiplier"] = slowdown
            artifacts_file.write_text(json.dumps(artifacts))
            scores["calibrated"] = audit(f"--throttling.cpuSlowdownMultiplier={slowdown}")
    return scores


# Lighthouse's measure of this machine's CPU speed, one per run, and the calibrated
# slowdowns: printed with the results, as the preset's scores move with them.
BENCHMARK_INDEX: list[float] = []
SLOWDOWNS: list[float] = []


def lighthouse_median(url: str, preset: str, runs: int) -> dict[str, dict[str, int]]:
    results = [lighthouse(url, preset) for _ in range(runs)]
    return {
        kind: {k: round(statistics.median(r[kind][k] for r in results)) for k in CATEGORIES}
        for kind in results[0]
    }


def main() -> None:
    from playwright.sync_api import sync_playwright

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
        default=3,
        help="Lighthouse runs per page; the median of each score is kept "
        "(Lighthouse's scores vary from run to run)",
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    preset = args.preset

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        base_project = baseline_project(tmp_path)
        # Alternated, so a change in the machine's speed hits both alike.
        times: dict[str, list[float]] = {"base": [], "ours": []}
        for i in range(5):
            times["base"].append(build(base_project, tmp_path / f"b{i}"))
            times["ours"].append(build(ROOT, tmp_path / f"o{i}"))
        t_base, t_ours = (statistics.median(times[k]) for k in ("base", "ours"))
        ours_site, base_site = tmp_path / "o0", tmp_path / "b0"
        pages = sorted(
            "/" + p.parent.relative_to(ours_site).as_posix() + "/"
            for p in ours_site.rglob("index.html")
            if "assets" not in p.parts
        )
        pages = [p.replace("/./", "/") for p in pages]
        ours_server, ours_url = serve(ours_site)
        base_server, base_url = serve(base_site)
        rows = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS.split()[1:])
            base_weight = page_weight(browser, base_url + "/")
            base_scores = lighthouse_median(base_url + "/", preset, args.runs)
            for path in pages:
                rows.append(
                    (
                        path,
                        page_weight(browser, ours_url + path),
                        lighthouse_median(ours_url + path, preset, args.runs),
                    )
                )
            browser.close()
        ours_server.shutdown()
        base_server.shutdown()
    print(
        f"site build: ours {t_ours:.1f} s, baseline {t_base:.1f} s, "
        f"ratio {t_ours / t_base:.1f} (goal <= 5)"
    )
    print(f"Lighthouse preset: {preset}, median of {args.runs} runs per page")
    print(
        f"machine speed (Lighthouse benchmarkIndex) over the runs: "
        f"min {min(BENCHMARK_INDEX):.0f}, median {statistics.median(BENCHMARK_INDEX):.0f}, "
        f"max {max(BENCHMARK_INDEX):.0f}"
    )
    calibrated = preset == "mobile"
    if calibrated:
        print(
            f"calibrated CPU slowdown (preset: 4x): min {min(SLOWDOWNS)}x, "
            f"median {statistics.median(SLOWDOWNS)}x, max {max(SLOWDOWNS)}x"
        )
    perf_4x = "perf@4x" if calibrated else "perf"
    print(
        f"{'page':42} {'KB':>7} {perf_4x:>8}"
        + (f" {'perf':>5}" if calibrated else "")
        + f" {'a11y':>5} {'best':>5} {'seo':>5}"
    )

    def row(name: str, weight: int, scores: dict[str, dict[str, int]]) -> str:
        s = scores["calibrated" if calibrated else "preset"]
        return (
            f"{name:42} {weight / 1024:7.0f} {scores['preset']['performance']:8d}"
            + (f" {s['performance']:5d}" if calibrated else "")
            + "".join(f" {s[k]:5d}" for k in CATEGORIES[1:])
        )

    print(row("(baseline, one page)", base_weight, base_scores))
    for path, weight, scores in rows:
        print(row(path, weight, scores))
    if calibrated:
        print("perf@4x: Lighthouse's mobile preset as is; perf: CPU slowdown calibrated per run")
    median = statistics.median(w for _, w, _ in rows)
    print(
        f"median page weight: {median / 1024:.0f} KB = {median / base_weight:.2f}x the "
        "baseline (goal <= 1.2)"
    )
    kind = "calibrated" if calibrated else "preset"
    worst_perf = min(s[kind]["performance"] for *_, s in rows)
    worst_a11y = min(s[kind]["accessibility"] for *_, s in rows)
    print(
        f"lowest performance {worst_perf} (goal >= 95), lowest accessibility {worst_a11y} "
        "(goal 100)"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
