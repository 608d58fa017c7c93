#!/usr/bin/env python3
"""Build time, page weight and Lighthouse scores of the site, against a one-page baseline.

    .venv/bin/python benchmarks/site_speed.py [mobile|desktop] [--runs 3]   # after `make test`

The baseline is a Material site with one page and the same theme settings
(palette, features, fonts), built and served the same way in the same run.
Both are served gzip-compressed, as GitHub Pages serves them. Per page: bytes
transferred on a cold load (Chromium, cache off) and
Lighthouse's performance, accessibility, best-practices and SEO scores.
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
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
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


def lighthouse(url: str, preset: str) -> dict[str, int]:
    extra = ["--preset=desktop"] if preset == "desktop" else []
    proc = subprocess.run(
        [
            ROOT / "node_modules/.bin/lighthouse",
            url,
            *extra,
            "--output=json",
            "--quiet",
            "--only-categories=performance,accessibility,best-practices,seo",
            f"--chrome-flags={FLAGS}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        timeout=180,
    )
    report = json.loads(proc.stdout)
    BENCHMARK_INDEX.append(report["environment"]["benchmarkIndex"])
    return {k: round(v["score"] * 100) for k, v in report["categories"].items()}


# Lighthouse's measure of this machine's CPU speed, one per run. Its mobile preset
# slows the CPU 4x relative to the machine, so on a shared machine whose speed
# drifts the scores drift with it; the spread is printed with the results.
BENCHMARK_INDEX: list[float] = []


def lighthouse_median(url: str, preset: str, runs: int) -> dict[str, int]:
    results = [lighthouse(url, preset) for _ in range(runs)]
    return {k: round(statistics.median(r[k] for r in results)) for k in results[0]}


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
        t_base = statistics.median(build(base_project, tmp_path / f"b{i}") for i in range(3))
        t_ours = statistics.median(build(ROOT, tmp_path / f"o{i}") for i in range(3))
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
    print(f"{'page':42} {'KB':>7} {'perf':>5} {'a11y':>5} {'best':>5} {'seo':>5}")
    print(
        f"{'(baseline, one page)':42} {base_weight / 1024:7.0f} "
        + " ".join(
            f"{base_scores[k]:5d}"
            for k in ("performance", "accessibility", "best-practices", "seo")
        )
    )
    for path, weight, s in rows:
        print(
            f"{path:42} {weight / 1024:7.0f} "
            + " ".join(
                f"{s[k]:5d}" for k in ("performance", "accessibility", "best-practices", "seo")
            )
        )
    median = statistics.median(w for _, w, _ in rows)
    print(
        f"median page weight: {median / 1024:.0f} KB = {median / base_weight:.2f}x the "
        "baseline (goal <= 1.2)"
    )
    worst_perf = min(s["performance"] for *_, s in rows)
    worst_a11y = min(s["accessibility"] for *_, s in rows)
    print(
        f"lowest performance {worst_perf} (goal >= 95), lowest accessibility {worst_a11y} "
        "(goal 100)"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
