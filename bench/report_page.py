"""The estate's report page (issue #26): how fast headless Chromium loads the recovery report of
10,000 servers in 40 waves over 5 accounts. Part of the estate's figures (bench/estate.py puts
them under `report_page` in target/bench/results.json), and runnable alone, without the stack:

    python3 bench/report_page.py [--servers 10000 --waves 40 --accounts 5] [--runs 5] [--build debug]

The page is the made-up estate of `drs_waves_report::sample` (the estate's own wave sizes when
the bench runs it), written by `report/examples/estate_report.rs`. The report's page carries no
script, so the measured copy gets one, appended before `</body>`: at the load event it forces a
layout of the whole page and records, from the navigation's start, when the DOM was parsed
(DOMContentLoaded), when the load event came and when the layout was done: the last is the
figure (the page as a reader sees it, laid out). `--dump-dom` prints the DOM after the load
event, with what the script recorded. The median of `--runs` fresh browsers; each browser's own
start-up is not counted (the process's wall time is recorded beside it, for reference).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_MS = 2000

PROBE = """<script>
addEventListener("load", () => {
  const nav = performance.getEntriesByType("navigation")[0];
  void document.body.offsetHeight;
  document.documentElement.setAttribute("data-bench", JSON.stringify({
    parsedMs: nav.domContentLoadedEventEnd, loadMs: nav.loadEventStart, laidOutMs: performance.now(),
    elements: document.getElementsByTagName("*").length}));
});
</script>
"""


class PageError(Exception):
    pass


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def build_example(release: bool) -> None:
    """cargo build of the estate_report example (scripts/bench.sh builds the release binaries
    first: only the report crate, with its `sample` feature, is built again)."""
    args = ["cargo", "build", "--quiet", "-p", "drs-waves-report", "--features", "sample", "--example",
            "estate_report"] + (["--release"] if release else [])
    r = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise PageError(f"{' '.join(args)}: {r.stderr.strip()[-1000:]}")


def example_binary(preferred: str | None) -> tuple[Path, str]:
    """The estate_report example: the profile just built, else the release build when there is
    one, else the debug one."""
    for profile in dict.fromkeys([p for p in (preferred, "release", "debug") if p]):
        p = REPO / "target" / profile / "examples" / "estate_report"
        if p.is_file():
            return p, profile
    raise PageError("target/{release,debug}/examples/estate_report is missing: cargo build -p drs-waves-report "
                    "--features sample --example estate_report")


def write_page(out: Path, servers: int, waves: int, accounts: int, wave_sizes: list[int] | None,
               profile: str | None) -> dict:
    binary, profile = example_binary(profile)
    args = [str(binary), str(out)]
    args += ["--wave-sizes", ",".join(map(str, wave_sizes)), str(accounts)] if wave_sizes else \
        [str(servers), str(waves), str(accounts)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise PageError(f"estate_report: {r.stderr.strip()}")
    html = out / "report.html"
    return {"html": html, "html_bytes": html.stat().st_size,
            "json_bytes": (out / "report.json").stat().st_size, "renderer_build": profile}


def load_once(browser: str, page: Path) -> dict:
    profile = tempfile.mkdtemp(prefix="report-page-chromium-")
    try:
        t = time.monotonic()
        r = subprocess.run(
            ["timeout", "120", browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", "--window-size=1240,1754", f"--user-data-dir={profile}", "--dump-dom",
             f"file://{page}"], capture_output=True, text=True, timeout=180)
        wall_ms = (time.monotonic() - t) * 1000
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if r.returncode != 0:
        raise PageError(f"chromium ({r.returncode}): {r.stderr.strip()[-500:]}")
    marker = 'data-bench="'
    at = r.stdout.find(marker)
    if at < 0:
        raise PageError("the page's load was not recorded (no data-bench in the DOM)")
    raw = r.stdout[at + len(marker):r.stdout.index('"', at + len(marker))]
    figures = json.loads(raw.replace("&quot;", '"'))
    figures["processMs"] = wall_ms
    return figures


def measure(out: Path, servers: int = 10_000, waves: int = 40, accounts: int = 5,
            wave_sizes: list[int] | None = None, runs: int = 5, build: str | None = "release") -> dict:
    """The page's size and load figures (medians of `runs`), against the goal of 2 s. `build`:
    the profile to build the example in first (None: DRS_WAVES_NO_BUILD, use what is there)."""
    browser = chromium()
    if not browser:
        raise PageError("no chromium on PATH (scripts/bootstrap.sh installs Debian's)")
    if build and os.environ.get("DRS_WAVES_NO_BUILD", "0") != "1":
        build_example(build == "release")
    out.mkdir(parents=True, exist_ok=True)
    written = write_page(out, servers, waves, accounts, wave_sizes, build)
    report = json.loads((out / "report.json").read_text())
    html = written["html"].read_text()
    probed = out / "report-probed.html"
    probed.write_text(html.replace("</body>", PROBE + "</body>", 1))
    samples = [load_once(browser, probed) for _ in range(runs)]

    def median(key: str) -> float:
        return round(statistics.median(s[key] for s in samples), 1)

    laid_out = median("laidOutMs")
    return {
        "servers": len(report["servers"]), "waves": len(report["waves"]),
        "accounts": len({(w.get("account") or {}).get("accountId") for w in report["waves"]}),
        "html_bytes": written["html_bytes"], "json_bytes": written["json_bytes"],
        "timeline_bars": html.count('class="bar '), "dom_elements": samples[0]["elements"],
        "runs": runs, "parsed_ms_median": median("parsedMs"), "load_ms_median": median("loadMs"),
        "laid_out_ms_median": laid_out, "laid_out_ms_max": round(max(s["laidOutMs"] for s in samples), 1),
        "chromium_process_ms_median": median("processMs"),
        "chromium": subprocess.run([browser, "--version"], capture_output=True, text=True).stdout.strip(),
        "renderer_build": written["renderer_build"],
        "goal": {"text": f"laid out in headless Chromium in under {GOAL_MS} ms", "met": laid_out < GOAL_MS},
        "page": str(written["html"]),
    }


def rows(p: dict) -> list[tuple[str, str, str]]:
    """The report page's lines of the bench's table."""
    if "error" in p:
        return [("", "report page: ERROR", p["error"])]
    return [
        ("", f"report page ({p['servers']} servers, {p['waves']} waves)",
         f"{p['html_bytes'] / 1024 / 1024:.2f} MiB HTML, {p['timeline_bars']} timeline bars, {p['dom_elements']} elements"),
        ("", f"report page in Chromium, median of {p['runs']}",
         f"laid out {p['laid_out_ms_median']} ms (max {p['laid_out_ms_max']}), parsed {p['parsed_ms_median']} ms"),
        ("", "goal (laid out < 2 s)", "MET" if p["goal"]["met"] else "MISSED"),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", type=int, default=10_000)
    ap.add_argument("--waves", type=int, default=40)
    ap.add_argument("--accounts", type=int, default=5)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=str(REPO / "target" / "bench"))
    ap.add_argument("--build", choices=("release", "debug", "none"), default="debug",
                    help="build the estate_report example first (default: debug; the page is the same)")
    a = ap.parse_args()
    out = Path(a.out)
    try:
        res = measure(out / "report-page", a.servers, a.waves, a.accounts, None, a.runs,
                      None if a.build == "none" else a.build)
    except PageError as e:
        print(f"report page: {e}", file=sys.stderr)
        return 1
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench  # noqa: E402 (the machine's description, as the bench records it)
    res["machine"] = bench.machine()
    res["machine"]["build"] = f"the page written by the {res['renderer_build']} build of the estate_report example; " \
        "the figures are Chromium's"
    (out / "report-page.json").write_text(json.dumps(res, indent=2) + "\n")
    for _, b, c in rows(res):
        print(f"{b:<45}  {c}")
    print(f"JSON: {out / 'report-page.json'}")
    return 0 if res["goal"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
