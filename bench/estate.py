"""Part 5 of the bench, the estate (issue #26): many servers over several DRS accounts, each
a drs-sim of its own with its own quotas, recovered by today's strategy (eager) and the
scheduled one, with and without the fault mix; each run's makespan against the lower bound of
`drs_waves_rules::bound` (computed by `target/debug/examples/bound` from the plan, the
fixture's launch times and the quotas). And the report page of an estate this size in headless
Chromium (bench/report_page.py), under `report_page`.

Called by bench.py with the bench module itself (`b`), whose helpers it uses.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from datetime import datetime

import gen
import report_page

# The fault mix of the chaos suite's kind: throttling, 5xx and latency on every DRS call.
# Seeded, so that two runs meet the same sequence of answers.
FAULTS = {"throttleFraction": 0.1, "errorFraction": 0.02, "latencyMs": 50, "retryAfterSeconds": 1, "seed": 26}
NO_FAULTS = {"throttleFraction": 0, "errorFraction": 0, "latencyMs": 0}
# Which of gen.ESTATE_RUNS to run (comma-separated); all by default. One run at full size takes
# a few minutes where the four take a quarter of an hour: for a figure that does not depend on
# the strategy (the history's items), one is enough.
RUNS_ENV = "DRS_WAVES_BENCH_ESTATE_RUNS"


def chosen_runs() -> list[str]:
    wanted = [r for r in os.environ.get(RUNS_ENV, "").split(",") if r]
    unknown = sorted(set(wanted) - set(gen.ESTATE_RUNS))
    if unknown:
        raise ValueError(f"{RUNS_ENV}: unknown run(s) {unknown}; the runs are {', '.join(gen.ESTATE_RUNS)}")
    return [r for r in gen.ESTATE_RUNS if not wanted or r in wanted]


def largest_item(b, items: list[dict]) -> dict:
    """The execution's largest history item: its sort key and size (the bench's approximation:
    compact JSON of its plain attributes)."""
    if not items:
        return {"sk": None, "bytes": 0}
    item = max(items, key=b.item_size)
    return {"sk": item["sk"]["S"], "bytes": b.item_size(item)}


# drs-sim's default pendingSeconds: every job's fixed overhead, in the bound's model too.
JOB_OVERHEAD_MS = 50


def sim_call(url: str, path: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{url}/_sim/{path}", data=data, method="GET" if body is None else "POST",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def account_sims(stack) -> dict[str, str]:
    """ACCOUNT/REGION -> the drs-sim endpoint serving it (DRS_WAVES_DRS_ENDPOINTS)."""
    raw = stack.env.get("DRS_WAVES_DRS_ENDPOINTS", "")
    return dict(kv.split("=", 1) for kv in raw.split(",") if kv)


def bound_of(b, estate: gen.Estate, plan: gen.Plan, fixture: dict[str, float]) -> dict:
    per_job, active, jobs = estate.quotas
    doc = {
        "jobOverheadMs": JOB_OVERHEAD_MS,
        "accounts": [{"serversPerJob": per_job, "concurrentJobs": jobs, "serversInActiveJobs": active}
                     for _ in range(len(estate.servers))],
        "waves": [{"account": estate.wave_account[i], "dependsOn": estate.depends_on[i],
                   "launchMs": [round(fixture[s] * 1000) for s in ids]} for i, ids in enumerate(plan.waves)],
    }
    r = subprocess.run([str(b.REPO / "target" / "debug" / "examples" / "bound")], input=json.dumps(doc),
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise b.BenchError(f"the bound: {r.stderr.strip()}")
    return json.loads(r.stdout)


def sims_state(sims: dict[str, str]) -> dict:
    """Across the account sims: StartRecovery's 402s, DescribeJobs calls, all calls by status."""
    refusals = describe = 0
    by_status: dict[str, int] = {}
    for url in sims.values():
        c = sim_call(url, "counters")
        ops = c.get("operations", {})
        refusals += ops.get("StartRecovery", {}).get("byStatus", {}).get("402", 0)
        describe += ops.get("DescribeJobs", {}).get("total", 0)
        for k, v in c.get("byStatus", {}).items():
            by_status[k] = by_status.get(k, 0) + v
    return {"quota_refusals": refusals, "describe_jobs": describe, "by_status": by_status}


def between_waves(sims: dict[str, str], execution_arn: str, tag_execution: str, tag_wave: str,
                  estate: gen.Estate) -> float:
    """The longest, over the accounts, of the time the account's waves spent waiting on the
    orchestration: from a wave's last launch end to the first job of the wave after it (the
    check that sees the wave done, and the next wave's start), summed along the account's
    chain. The bound counts none of it."""
    worst = 0.0
    for a, key in enumerate(estate.servers):
        url = sims[key]
        spans: dict[str, tuple[datetime, datetime]] = {}
        for j in sim_call(url, "jobs")["jobs"]:
            tags = j.get("tags") or {}
            if j["type"] != "LAUNCH" or tags.get(tag_execution) != execution_arn:
                continue
            created = datetime.fromisoformat(j["creationDateTime"].replace("Z", "+00:00"))
            ends = [datetime.fromisoformat(s["launchEndDateTime"].replace("Z", "+00:00"))
                    for s in j["servers"] if s.get("launchEndDateTime")]
            first, last = spans.get(tags.get(tag_wave), (created, created))
            spans[tags.get(tag_wave)] = (min(first, created), max([last, *ends]))
        chain = [f"tier-{i + 1}" for i, acc in enumerate(estate.wave_account) if acc == a]
        gaps = [(spans[n][0] - spans[p][1]).total_seconds() for p, n in zip(chain, chain[1:])
                if p in spans and n in spans]
        worst = max(worst, sum(gaps))
    return round(worst, 2)


def makespan(sims: dict[str, str], execution_arn: str, tag_execution: str) -> dict:
    """From the execution's first launch job's creation to its last server's launch end, over
    every account (DRS's own clock: what the bound bounds), and each account's peak of jobs and
    servers in active jobs (ours and anyone's)."""
    first = last = None
    launched = failed = 0
    peaks = {}
    for key, url in sims.items():
        jobs = [j for j in sim_call(url, "jobs")["jobs"] if j["type"] == "LAUNCH"]
        for j in jobs:
            if (j.get("tags") or {}).get(tag_execution) != execution_arn:
                continue
            created = datetime.fromisoformat(j["creationDateTime"].replace("Z", "+00:00"))
            first = created if first is None else min(first, created)
            for s in j["servers"]:
                launched += s["launchStatus"] == "LAUNCHED"
                failed += s["launchStatus"] == "FAILED"
                if s.get("launchEndDateTime"):
                    end = datetime.fromisoformat(s["launchEndDateTime"].replace("Z", "+00:00"))
                    last = end if last is None else max(last, end)
        spans = [(j["creationDateTime"], j["scheduledEndDateTime"], len(j["servers"])) for j in jobs]
        peak = (0, 0)
        for at, _, _ in spans:
            active = [(s, e, n) for s, e, n in spans if s <= at < e]
            peak = (max(peak[0], len(active)), max(peak[1], sum(n for _, _, n in active)))
        peaks[key] = {"jobs": peak[0], "servers": peak[1]}
    seconds = round((last - first).total_seconds(), 2) if first and last else None
    return {"seconds": seconds, "launched": launched, "failed": failed, "peak_active": peaks}


def one_run(b, stack, estate: gen.Estate, paths, out, run: str, deadline_s: float, sims: dict[str, str]) -> dict:
    strategy, faulty = run.split("-")[0], run.endswith("-faults")
    plan = estate.plans[run]
    per_job, active, jobs = estate.quotas
    largest = max(map(len, plan.waves))
    # Today's worker must be told quotas at least as large as the largest wave, or its preflight
    # refuses the plan; it then sends every chunk and waits out DRS's refusals.
    told = (per_job, active, jobs) if strategy == "scheduled" else \
        (per_job, max(active, largest), max(jobs, -(-largest // per_job)))
    for url in sims.values():
        sim_call(url, "reset", {})
        sim_call(url, "limits", {"maxServersPerJob": per_job, "maxServersInActiveJobs": active,
                                 "maxConcurrentJobs": jobs, "maxActiveJobsPerServer": 1})
        sim_call(url, "faults", FAULTS if faulty else NO_FAULTS)
    dep = b.Deployment(stack, f"bench-estate-{run}")
    machine = dep.deploy(plan.key, paths[plan.key])
    worker = dep.worker(out / f"worker-estate-{run}.log", [
        "--launch-strategy", strategy, "--max-servers-per-job", str(told[0]),
        "--max-active-servers", str(told[1]), "--max-concurrent-jobs", str(told[2])])
    try:
        cpu0 = worker.cpu_seconds()
        r = b.start(stack, machine, f"estate-{run}-{int(time.time())}")
        b.wait_all(stack, [r], deadline_s, worker, f"estate {run}")
        cpu = worker.cpu_seconds() - cpu0
        rss = worker.peak_rss_kb()
        tasks = sum(1 for ln in worker.lines() if ln.get("message") in ("task succeeded", "task failed"))
    finally:
        worker.stop()
        for url in sims.values():
            sim_call(url, "faults", NO_FAULTS)
    events = b.history(stack, r.arn)
    items = b.ddb_items(stack, r.arn)
    largest = largest_item(b, items)
    drs = sims_state(sims)
    span = makespan(sims, r.arn, b.TAG_EXECUTION)
    gaps = between_waves(sims, r.arn, b.TAG_EXECUTION, b.TAG_WAVE, estate)
    return {
        "strategy": strategy, "faults": FAULTS if faulty else None, "status": r.status,
        "execution_seconds": round(r.seconds, 1), "makespan_seconds": span["seconds"],
        "launched": span["launched"], "failed": span["failed"], "peak_active": span["peak_active"],
        "between_waves_seconds": gaps,
        "worker_told": {"maxServersPerJob": told[0], "maxActiveServers": told[1], "maxConcurrentJobs": told[2]},
        "quota_refusals": drs["quota_refusals"], "describe_jobs": drs["describe_jobs"],
        "drs_answers_by_status": drs["by_status"],
        "transitions": b.transitions(events)["total"], "history_events": len(events),
        "largest_payload_bytes": b.largest_payload(events)["bytes"],
        "largest_history_item_bytes": largest["bytes"], "largest_history_item": largest["sk"],
        "history_items": len(items),
        "worker_cpu_seconds": round(cpu, 2), "worker_peak_rss_kb": rss, "worker_tasks": tasks,
        "worker_cpu_ms_per_task": round(cpu * 1000 / tasks, 2) if tasks else None,
    }


def part_estate(b, stack, g: gen.Generated, paths, out, deadline_s: float) -> dict:
    estate = g.estate
    sims = account_sims(stack)
    wanted = set(estate.servers)
    if set(sims) != wanted:
        raise b.BenchError(f"the stack serves accounts {sorted(sims)}, the estate needs {sorted(wanted)} "
                           "(scripts/bench.sh starts them when the estate part runs)")
    fixture = {s["id"]: s["launchSeconds"] for servers in estate.servers.values() for s in servers}
    any_plan = estate.plans[gen.ESTATE_RUNS[0]]
    bound = bound_of(b, estate, any_plan, fixture)
    bound_s = bound["makespanMs"] / 1000
    sizes = list(map(len, any_plan.waves))
    result = {
        "servers": sum(sizes), "waves": len(sizes), "accounts": len(estate.servers), "largest_wave": max(sizes),
        "quotas": dict(zip(("maxServersPerJob", "maxServersInActiveJobs", "maxConcurrentJobs"), estate.quotas)),
        "bound": {"seconds": bound_s, "critical_path_seconds": bound["criticalPathMs"] / 1000,
                  "shared_capacity_seconds": bound["sharedCapacityMs"] / 1000,
                  "kind": "lower bound (not the optimum): drs_waves_rules::bound"},
        "runs": {},
    }
    log = b.log
    log(f"estate: {sum(sizes)} servers, {len(sizes)} waves, {len(estate.servers)} accounts; bound {bound_s:.1f} s")
    for run in chosen_runs():
        try:
            res = one_run(b, stack, estate, paths, out, run, deadline_s, sims)
        except b.BenchError as e:
            result["runs"][run] = {"error": str(e)}
            log(f"estate {run}: FAILED: {e}")
            continue
        if res["makespan_seconds"]:
            res["ratio_to_bound"] = round(res["makespan_seconds"] / bound_s, 3)
        result["runs"][run] = res
        log(f"estate {run}: {res['status']}, makespan {res['makespan_seconds']} s "
            f"({res.get('ratio_to_bound')}x the bound), {res['quota_refusals']} quota refusals")
        log(f"estate {run}: largest of its {res['history_items']} history items: "
            f"{res['largest_history_item']}, {res['largest_history_item_bytes']} B")
    # The report of an estate this size, in headless Chromium (bench/report_page.py): a made-up
    # report of the estate's wave sizes and accounts, not one of the runs (the figure is the page's).
    try:
        result["report_page"] = report_page.measure(out / "report-page", wave_sizes=sizes,
                                                    accounts=len(estate.servers))
        p = result["report_page"]
        log(f"estate report page: {p['html_bytes']} bytes, laid out in {p['laid_out_ms_median']} ms")
    except report_page.PageError as e:
        result["report_page"] = {"error": str(e)}
        log(f"estate report page: FAILED: {e}")
    failed = [run for run, r in result["runs"].items() if "error" in r]
    if failed:
        result["error"] = f"run(s) {', '.join(failed)} failed (see runs)"
    sch, shf = result["runs"].get("scheduled", {}), result["runs"].get("scheduled-faults", {})
    result["goal"] = {
        "text": "scheduled: within 1.10 of the bound with 0 quota refusals; under faults within 1.25",
        "runs": chosen_runs(),
        "met": bool(sch.get("ratio_to_bound") and sch["ratio_to_bound"] <= 1.10 and sch["quota_refusals"] == 0
                    and shf.get("ratio_to_bound") and shf["ratio_to_bound"] <= 1.25),
    }
    return result


def rows(e: dict) -> list[tuple[str, str, str]]:
    """The estate's lines of the bench's table: the bound, then each run side by side."""
    out = [("5. estate", f"{e['servers']} servers, {e['waves']} waves, {e['accounts']} accounts",
            f"largest wave {e['largest_wave']}; quotas {e['quotas']}"),
           ("", "lower bound on the makespan", f"{e['bound']['seconds']} s (critical path "
            f"{e['bound']['critical_path_seconds']} s, shared capacity {e['bound']['shared_capacity_seconds']} s)")]
    runs = [r for r in gen.ESTATE_RUNS if r in e["runs"]]
    out.append(("", "run", " | ".join(runs)))

    def line(label, f):
        out.append(("", label, " | ".join(f(e["runs"][r]) if "error" not in e["runs"][r] else "ERROR" for r in runs)))

    line("status", lambda r: r["status"])
    line("makespan (first job to last launch)", lambda r: f"{r['makespan_seconds']} s")
    line("ratio to the bound", lambda r: f"{r.get('ratio_to_bound')}")
    line("between waves (longest account chain)", lambda r: f"{r.get('between_waves_seconds')} s")
    line("execution time", lambda r: f"{r['execution_seconds']} s")
    line("quota refusals (StartRecovery 402)", lambda r: str(r["quota_refusals"]))
    line("transitions", lambda r: str(r["transitions"]))
    line("history events", lambda r: str(r["history_events"]))
    line("DescribeJobs calls", lambda r: str(r["describe_jobs"]))
    line("worker CPU / per task", lambda r: f"{r['worker_cpu_seconds']} s / {r['worker_cpu_ms_per_task']} ms")
    line("worker peak RSS", lambda r: f"{r['worker_peak_rss_kb'] / 1024:.1f} MiB")
    line("largest payload / history item", lambda r: f"{r['largest_payload_bytes']} / {r['largest_history_item_bytes']} B")
    line("largest history item", lambda r: f"{r.get('largest_history_item')}")
    for r in runs:
        if "error" in e["runs"][r]:
            out.append(("", f"{r}: ERROR", e["runs"][r]["error"]))
    measured = {"scheduled", "scheduled-faults"} <= set(e["goal"].get("runs", gen.ESTATE_RUNS))
    verdict = ("MET" if e["goal"]["met"] else "MISSED") if measured else "not measured (not both scheduled runs)"
    out.append(("", "goal (1.10, 0 refusals; 1.25 with faults)", verdict))
    if "report_page" in e:
        out += report_page.rows(e["report_page"])
    return out
