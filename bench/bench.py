"""The drs-waves benchmark driver (run by scripts/bench.sh, which starts and stops the stack).

Four parts, each on its own activities and its own worker process, so that nothing one part
leaves behind (a dead worker's long polls hold tasks on LocalStack's side) reaches the next:

1. polling: one plan run twice, adaptive waits as generated and fixed waits
   (minWaitSeconds == maxWaitSeconds); transitions, DescribeJobs calls, detection latency.
   learned: the same plan run three more times on the same servers, the third reported, with
   the waits it learned from the runs before it; and the theoretical minimum of checks.
2. scale: a 1,000-server plan in 10 waves; jobs per wave, payload and item sizes, time.
3. worker: many executions at once on one worker; tasks/s, time per task, RSS, CPU.
4. codegen: time and size of the fleet example's machine.
5. estate (issue #26, bench/estate.py): servers over several accounts (one drs-sim each), today's
   strategy and the scheduled one, with and without faults, against the makespan's lower bound.

Prints a table and writes target/bench/results.json. See docs/benchmarks.md for what each
figure means and how it is measured.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen  # noqa: E402
import estate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# Release builds (scripts/bench.sh builds them): the figures are those of the shipped binary.
CODEGEN = REPO / "target" / "release" / "drs-codegen"
WORKER = REPO / "target" / "release" / "drs-worker"
LOCAL_ROLE_ARN = "arn:aws:iam::000000000000:role/drs-waves-local"
CONTRACT = json.loads((REPO / "statemachines" / "contract.json").read_text())
TAG_EXECUTION = CONTRACT["jobTags"]["execution"]
# The history table's keys and the state names as the contract spells them (contract.json, made
# by drs-codegen from drs_waves_contract): never typed again here.
HISTORY_KEYS = CONTRACT["historyTable"]["keys"]
STATE_NAMES = CONTRACT["stateNames"]
TAG_WAVE = CONTRACT["jobTags"]["wave"]
# The docs/REFERENCE.md quotas the scale part runs with (worker flags and drs-sim limits alike).
SCALE_LIMITS = {"maxServersPerJob": 100, "maxServersInActiveJobs": 200, "maxConcurrentJobs": 20,
                "maxActiveJobsPerServer": 1}


class BenchError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else None


def percentile(xs, p):
    """Nearest-rank percentile (p in 0..100)."""
    if not xs:
        return None
    s = sorted(xs)
    k = max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))
    return s[int(k)]


def parse_time(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


# ------------------------------------------------------------------------------- the stack

class Stack:
    """The services scripts/local-stack.sh started, read from its env file."""

    def __init__(self, stack_dir: Path, table: str):
        env = {}
        for line in (stack_dir / "env").read_text().splitlines():
            line = line.strip()
            if line.startswith("export ") and "=" in line:
                k, v = line[len("export "):].split("=", 1)
                env[k] = v
        self.dir = stack_dir
        self.env = env
        self.table = table
        self.drs_url = env["AWS_ENDPOINT_URL_DRS"]
        import boto3
        from botocore.config import Config

        cfg = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=60,
                     max_pool_connections=60)
        common = dict(region_name=env["AWS_REGION"], aws_access_key_id="test", aws_secret_access_key="test",
                      config=cfg)
        self.sfn = boto3.client("stepfunctions", endpoint_url=env["AWS_ENDPOINT_URL_SFN"], **common)
        self.ddb = boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"], **common)

    def sim(self, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.drs_url}/_sim/{path}", data=data, method="GET" if body is None else "POST",
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    def counters(self) -> dict[str, int]:
        c = self.sim("counters")
        return {op: v["total"] for op, v in c.get("operations", {}).items()}


def counter_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {op: after.get(op, 0) - before.get(op, 0) for op in sorted(set(after) | set(before))
            if after.get(op, 0) - before.get(op, 0)}


# ------------------------------------------------------------------------------- a worker

class Worker:
    """A drs-worker process; its PID (and start time) is also written where
    `scripts/local-stack.sh down` looks, so the trap stops it if this driver dies."""

    def __init__(self, stack: Stack, arns: dict[str, str], log_path: Path, args: list[str]):
        env = {
            "PATH": os.environ.get("PATH", ""),
            **{k: v for k, v in stack.env.items() if k.startswith("AWS_") or k == "NO_PROXY"},
            "DRS_WAVES_TABLE": stack.table,
            # Each other account's drs-sim (the estate); empty otherwise.
            "DRS_WAVES_DRS_ENDPOINTS": stack.env.get("DRS_WAVES_DRS_ENDPOINTS", ""),
            "DRS_WAVES_ACTIVITY_ARNS": ",".join(f"{k}={v}" for k, v in arns.items()),
            "DRS_WAVES_LOG_FORMAT": "json",
            "DRS_WAVES_SHUTDOWN_GRACE_SECONDS": "5",
            "NO_COLOR": "1",
            "RUST_LOG": "info",
        }
        # For profiling only (docs/benchmarks.md): extra variables for the worker, as
        # space-separated NAME=VALUE (a heap profiler's LD_PRELOAD, an allocator knob). The
        # figures of a worker run so are not those of the shipped binary.
        for kv in os.environ.get("DRS_WAVES_BENCH_WORKER_ENV", "").split():
            name, sep, value = kv.partition("=")
            if not sep or not name:
                raise BenchError(f"DRS_WAVES_BENCH_WORKER_ENV: '{kv}' is not NAME=VALUE")
            env[name] = value
        self.log_path = log_path
        self.args = args
        self.out = open(log_path, "wb")
        self.proc = subprocess.Popen([str(WORKER), *args], env=env, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.pidfile = stack.dir / "worker.pid"
        start = None
        for _ in range(100):
            start = proc_stat(self.proc.pid)
            if start:
                break
            time.sleep(0.01)
        if not start:
            raise BenchError(f"drs-worker exited at once; see {log_path}")
        self.pidfile.write_text(f"{self.proc.pid} {start[19]}\n")
        self.wait_polling()

    def wait_polling(self, deadline_s: float = 30) -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise BenchError(f"drs-worker exited (status {self.proc.returncode}); see {self.log_path}")
            if b"worker polling" in self.log_path.read_bytes():
                return
            time.sleep(0.1)
        raise BenchError(f"drs-worker did not start polling within {deadline_s:g} s; see {self.log_path}")

    def cpu_seconds(self) -> float:
        st = proc_stat(self.proc.pid)
        if not st:
            raise BenchError("the worker is gone")
        return (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise BenchError("no VmHWM in /proc/PID/status")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.pidfile.unlink(missing_ok=True)
        self.out.close()

    def lines(self) -> list[dict]:
        out = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            if raw.startswith("{"):
                try:
                    out.append(json.loads(raw))
                except ValueError:
                    pass
        return out


def proc_stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (index 0 is the state), None when gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return None if fields[0] == "Z" else fields


# ------------------------------------------------------------------------------- deployments

class Deployment:
    """Activities of one part (a unique prefix) and its state machines."""

    def __init__(self, stack: Stack, prefix: str):
        self.stack = stack
        self.prefix = prefix
        self.arns = {a["name"]: stack.sfn.create_activity(name=f"{prefix}-{a['name']}")["activityArn"]
                     for a in CONTRACT["activities"]}
        self.definitions: dict[str, str] = {}

    def deploy(self, name: str, plan_path: Path) -> str:
        cmd = [str(CODEGEN), "generate", str(plan_path)]
        for k, v in self.arns.items():
            cmd += ["--activity-arn", f"{k}={v}"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise BenchError(f"drs-codegen generate {plan_path} failed: {r.stderr.strip()}")
        self.definitions[name] = r.stdout
        return self.stack.sfn.create_state_machine(name=f"{self.prefix}-{name}", definition=r.stdout,
                                                   roleArn=LOCAL_ROLE_ARN, type="STANDARD")["stateMachineArn"]

    def worker(self, log_path: Path, args: list[str]) -> Worker:
        return Worker(self.stack, self.arns, log_path, args)


@dataclass
class Run:
    arn: str
    started: float  # time.time() at StartExecution
    status: str = "RUNNING"
    start_date: datetime | None = None
    stop_date: datetime | None = None
    error: str | None = None
    cause: str | None = None

    @property
    def seconds(self) -> float | None:
        if self.start_date and self.stop_date:
            return (self.stop_date - self.start_date).total_seconds()
        return None


def start(stack: Stack, machine_arn: str, name: str) -> Run:
    t = time.time()
    arn = stack.sfn.start_execution(stateMachineArn=machine_arn, name=name, input=json.dumps({"mode": "DRILL"}))[
        "executionArn"]
    return Run(arn=arn, started=t)


def wait_all(stack: Stack, runs: list[Run], deadline_s: float, worker: Worker, what: str) -> None:
    """Polls DescribeExecution until every run has ended; past the deadline (or when the worker
    died) the remaining ones are stopped and a BenchError names them."""
    end = time.monotonic() + deadline_s
    pending = list(runs)
    last_note = time.monotonic()
    while pending:
        for r in list(pending):
            d = stack.sfn.describe_execution(executionArn=r.arn)
            if d["status"] != "RUNNING":
                r.status, r.start_date, r.stop_date = d["status"], d["startDate"], d.get("stopDate")
                r.error, r.cause = d.get("error"), d.get("cause")
                pending.remove(r)
        if not pending:
            break
        problem = None
        if not worker.alive():
            problem = f"the worker exited (status {worker.proc.returncode}); see {worker.log_path}"
        elif time.monotonic() > end:
            problem = f"{len(pending)} execution(s) still running after {deadline_s:g} s"
        if problem:
            for r in pending:
                try:
                    stack.sfn.stop_execution(executionArn=r.arn, error="Bench.Deadline", cause=problem)
                except Exception:  # noqa: BLE001 - best effort, the stack is stopped anyway
                    pass
            raise BenchError(f"{what}: {problem}")
        if time.monotonic() - last_note > 30:
            log(f"{what}: {len(runs) - len(pending)}/{len(runs)} ended")
            last_note = time.monotonic()
        time.sleep(0.5)
    failed = [r for r in runs if r.status != "SUCCEEDED"]
    if failed:
        r = failed[0]
        raise BenchError(f"{what}: {len(failed)} execution(s) did not succeed, e.g. {r.arn}: {r.status} "
                         f"{r.error}: {r.cause}")


def history(stack: Stack, arn: str) -> list[dict]:
    events, token = [], None
    while True:
        kw = {"executionArn": arn, "maxResults": 1000}
        if token:
            kw["nextToken"] = token
        page = stack.sfn.get_execution_history(**kw)
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


WAVE_STATE = re.compile("^" + re.escape(STATE_NAMES["wavePrefix"]) + r"(\d+) ")
CHECK_SUFFIX = STATE_NAMES["stepSeparator"] + "check"
assert "check" in STATE_NAMES["waveSteps"], "the contract names no check step"


def transitions(events: list[dict]) -> dict:
    """Billed state transitions, per wave: every *StateEntered event, plus each extra attempt of
    a task (AWS bills a retry as a transition; LocalStack's history shows it as another
    ActivityScheduled without a new StateEntered)."""
    per_wave: dict[str, int] = {}
    checks: dict[str, int] = {}
    scheduled: dict[str, int] = {}
    task_entered: dict[str, int] = {}
    state = "other"
    for e in events:
        t = e["type"]
        if t.endswith("StateEntered"):
            name = e["stateEnteredEventDetails"]["name"]
            m = WAVE_STATE.match(name)
            state = m.group(1) if m else "other"
            per_wave[state] = per_wave.get(state, 0) + 1
            if t == "TaskStateEntered":
                task_entered[state] = task_entered.get(state, 0) + 1
            if m and name.endswith(CHECK_SUFFIX):
                checks[state] = checks.get(state, 0) + 1
        elif t == "ActivityScheduled":
            scheduled[state] = scheduled.get(state, 0) + 1
    retries = {k: max(0, scheduled.get(k, 0) - task_entered.get(k, 0)) for k in scheduled}
    total = {k: per_wave.get(k, 0) + retries.get(k, 0) for k in set(per_wave) | set(retries)}
    return {"per_wave": {k: total[k] for k in sorted(total, key=lambda x: (x == "other", x.zfill(4)))},
            "state_entered": sum(per_wave.values()), "retries": sum(retries.values()),
            "total": sum(total.values()), "checks_per_wave": dict(sorted(checks.items(), key=lambda kv: int(kv[0])))}


def largest_payload(events: list[dict]) -> dict:
    """The largest input or output of any event (UTF-8 bytes), and where it was."""
    best = {"bytes": 0, "event": None, "state": None}
    state = None
    for e in events:
        for key, details in e.items():
            if not key.endswith("EventDetails") or not isinstance(details, dict):
                continue
            if key == "stateEnteredEventDetails":
                state = details.get("name")
            for field in ("input", "output"):
                v = details.get(field)
                if isinstance(v, str) and len(v.encode()) > best["bytes"]:
                    best = {"bytes": len(v.encode()), "event": f"{e['type']}.{field}",
                            "state": details.get("name", state)}
    return best


def wave_jobs(stack: Stack, execution_arn: str) -> dict[str, list[dict]]:
    """drs-sim's snapshot of the execution's jobs, by wave name."""
    out: dict[str, list[dict]] = {}
    for j in stack.sim("jobs")["jobs"]:
        tags = j.get("tags") or {}
        if tags.get(TAG_EXECUTION) == execution_arn:
            out.setdefault(tags.get(TAG_WAVE, "?"), []).append(j)
    return out


def detection_latency(jobs_by_wave: dict[str, list[dict]], wave_names: list[str], end: datetime) -> list[float]:
    """Per wave: the last server LAUNCHED -> the next wave's first StartRecovery job (for the
    last wave: -> the execution's end), in seconds."""
    out = []
    for i, name in enumerate(wave_names):
        servers = [s for j in jobs_by_wave.get(name, []) for s in j["servers"]]
        if not servers or any(s["launchStatus"] != "LAUNCHED" or not s.get("launchEndDateTime") for s in servers):
            raise BenchError(f"wave {name}: not every server LAUNCHED in drs-sim's job snapshot")
        last = max(parse_time(s["launchEndDateTime"]) for s in servers)
        if i + 1 < len(wave_names):
            nxt = jobs_by_wave.get(wave_names[i + 1], [])
            if not nxt:
                raise BenchError(f"wave {wave_names[i + 1]}: no job in drs-sim")
            then = min(parse_time(j["creationDateTime"]) for j in nxt)
        else:
            then = end
        out.append(round((then - last).total_seconds(), 2))
    return out


def seen_after(jobs_by_wave: dict[str, list[dict]], wave_names: list[str], worker: Worker,
               execution_arn: str) -> dict[str, float | None]:
    """Per wave: the last server LAUNCHED -> the check that saw the wave done (the worker's
    "wave finished" line), in seconds: the part of the detection latency the schedule of checks
    decides (with the check's own hand-over). The rest, to the next wave's job, is the engine's
    hand-over of the next start task and that task's work before StartRecovery, which every
    schedule pays alike."""
    seen: dict[str, datetime] = {}
    for ln in worker.lines():
        span = ln.get("span") or {}
        if ln.get("message") == "wave finished" and span.get("execution") == execution_arn:
            seen[ln.get("wave") or span.get("wave")] = parse_time(ln["timestamp"])
    out: dict[str, float | None] = {}
    for name in wave_names:
        servers = [s for j in jobs_by_wave.get(name, []) for s in j["servers"]]
        ends = [parse_time(s["launchEndDateTime"]) for s in servers if s.get("launchEndDateTime")]
        out[name] = round((seen[name] - max(ends)).total_seconds(), 2) if name in seen and ends else None
    return out


WAVE_ITEM_SK = re.compile(re.escape(HISTORY_KEYS["waveSortKeyPrefix"])
                          + r"\d{%d}" % HISTORY_KEYS["waveIndexDigits"])


def ddb_items(stack: Stack, execution_arn: str) -> list[dict]:
    items, start_key = [], None
    while True:
        kw = {"TableName": stack.table, "KeyConditionExpression": "#pk = :pk",
              "ExpressionAttributeNames": {"#pk": CONTRACT["historyTable"]["partitionKey"]},
              "ExpressionAttributeValues": {
                  ":pk": {"S": HISTORY_KEYS["executionPartitionKeyPrefix"] + execution_arn}}}
        if start_key:
            kw["ExclusiveStartKey"] = start_key
        page = stack.ddb.query(**kw)
        items += page["Items"]
        start_key = page.get("LastEvaluatedKey")
        if not start_key:
            return items


def plain(v):
    """A DynamoDB attribute value as plain JSON."""
    (t, x), = v.items()
    if t == "M":
        return {k: plain(y) for k, y in x.items()}
    if t == "L":
        return [plain(y) for y in x]
    if t == "N":
        return float(x) if "." in x else int(x)
    return x


def item_size(item: dict) -> int:
    """Approximate size: the item as compact plain JSON (attribute names and values)."""
    return len(json.dumps({k: plain(v) for k, v in item.items()}, separators=(",", ":")).encode())


# ------------------------------------------------------------------------------- the parts

def learned_of(stack: Stack, execution_arn: str, wave_names: list[str]) -> dict:
    """Per wave, what the worker recorded in its WAVE item: what it learned when the wave started
    (samples, p10/p50/p95 of the completion time, in seconds) and the completion time it
    measured (the next executions' sample)."""
    out = {}
    for item in ddb_items(stack, execution_arn):
        sk = item["sk"]["S"]
        if not WAVE_ITEM_SK.fullmatch(sk):
            continue
        i = {k: plain(v) for k, v in item.items()}
        name = i.get("waveName")
        learned = i.get("learned")
        out[name] = {
            "learned": None if not learned else {
                "samples": learned["samples"], "p10_s": learned["p10Millis"] / 1000,
                "p50_s": learned["p50Millis"] / 1000, "p95_s": learned["p95Millis"] / 1000},
            "completion_s": i["completionMillis"] / 1000 if "completionMillis" in i else None,
        }
    return {w: out.get(w) for w in wave_names}


def min_checks(window_s: float, latency_s: float | None) -> int | None:
    """The fewest checks that detect a completion anywhere in a window of `window_s` seconds
    with at most `latency_s` of delay: checks every `latency_s` from the window's start plus
    `latency_s` to its end, ceil(window / latency), and at least one."""
    if latency_s is None or latency_s <= 0:
        return None
    return max(1, -(-round(window_s * 1000) // round(latency_s * 1000)))


def measure_run(stack: Stack, machine: str, label: str, wave_names: list[str], worker: Worker,
                deadline_s: float) -> dict:
    before = stack.counters()
    run = start(stack, machine, f"{label}-{int(time.time())}")
    wait_all(stack, [run], deadline_s, worker, f"polling {label}")
    calls = counter_delta(before, stack.counters())
    events = history(stack, run.arn)
    tr = transitions(events)
    jobs = wave_jobs(stack, run.arn)
    lat = detection_latency(jobs, wave_names, run.stop_date)
    seen = seen_after(jobs, wave_names, worker, run.arn)
    # Per wave, DescribeJobs = one per check plus the start task's look-up of tagged jobs;
    # preflight makes one more. Checked against drs-sim's own count.
    dj_wave = {k: n + 1 for k, n in tr["checks_per_wave"].items()}
    dj_total = calls.get("DescribeJobs", 0)
    wave_tr = {k: v for k, v in tr["per_wave"].items() if k != "other"}
    result = {
        "execution": run.arn, "seconds": round(run.seconds, 1),
        "transitions": tr["total"], "transitions_per_wave": tr["per_wave"],
        "transitions_in_waves": sum(wave_tr.values()),
        "state_entered": tr["state_entered"], "retries": tr["retries"],
        "checks_per_wave": tr["checks_per_wave"],
        "describe_jobs": dj_total, "drs_calls": calls,
        "describe_jobs_per_wave": dj_wave, "describe_jobs_in_waves": sum(dj_wave.values()),
        "describe_jobs_per_wave_matches_counter": 1 + sum(dj_wave.values()) == dj_total,
        "detection_latency_s": dict(zip(wave_names, lat)),
        "median_detection_latency_s": median(lat),
        "p95_detection_latency_s": percentile(lat, 95),
        "seen_after_s": seen,
        "median_seen_after_s": median([v for v in seen.values() if v is not None]),
        "waves": learned_of(stack, run.arn, wave_names),
    }
    log(f"polling: {label}: {tr['total']} transitions, {dj_total} DescribeJobs, latency {lat} s, "
        f"{run.seconds:.0f} s")
    return result


def part_polling(stack: Stack, g: gen.Generated, paths: dict[str, Path], out: Path, deadline_s: float,
                 learned: bool) -> dict:
    """Runs the plan `bench-poll` on the same servers: adaptive (its first execution: nothing
    learned), fixed, and with `learned` three more times with the adaptive machine, the third of
    which is reported as "learned" (the runs before it are its samples)."""
    dep = Deployment(stack, "bench-poll")
    variants = [("adaptive", g.poll_adaptive), ("fixed", g.poll_fixed)]
    machines = {v: dep.deploy(p.key, paths[p.key]) for v, p in variants}
    runs = list(variants)
    if learned:
        runs += [("learned-1", g.poll_adaptive), ("learned-2", g.poll_adaptive), ("learned", g.poll_adaptive)]
    worker = dep.worker(out / "worker-polling.log", [])
    wave_names = [f"tier-{i + 1}" for i in range(len(g.poll_adaptive.waves))]
    lo, hi = g.sizes.poll_launch
    result = {"plan": {"name": g.poll_adaptive.name, "waves": len(wave_names),
                       "servers_per_wave": g.sizes.poll_servers_per_wave,
                       "launch_range_s": [lo, hi],
                       "launch_seconds": {w: sorted(g.launch_seconds()[s] for s in ids)
                                          for w, ids in zip(wave_names, g.poll_adaptive.waves)},
                       "adaptive_polling": g.poll_adaptive.polling, "fixed_polling": g.poll_fixed.polling},
              "order": [label for label, _ in runs]}
    try:
        for label, plan in runs:
            log(f"polling: {label} run ({plan.variant}: {plan.polling})")
            result[label] = measure_run(stack, machines[plan.variant], label, wave_names, worker, deadline_s)
    finally:
        worker.stop()
    # The theoretical minimum of checks per wave for the latency each variant achieved: a
    # schedule that knows only the launch range must cover it (window hi - lo); one that learned
    # the wave's completion must cover p10..p95 of what it learned.
    for label, _ in runs:
        r = result[label]
        lat = r["median_detection_latency_s"]
        per_wave = {}
        for w in wave_names:
            lw = (r["waves"].get(w) or {}).get("learned")
            usable = lw is not None and lw["samples"] >= 3
            window = (lw["p95_s"] - lw["p10_s"]) if usable else hi - lo
            per_wave[w] = {"window_s": round(window, 2), "knows": "learned p10..p95" if usable else "launch range",
                           "min_checks": min_checks(window, lat)}
        r["theoretical_min_checks"] = per_wave
        r["theoretical_min_checks_total"] = sum(v["min_checks"] or 0 for v in per_wave.values())
    a, f = result["adaptive"], result["fixed"]
    result["ratio_transitions"] = round(f["transitions"] / a["transitions"], 2)
    result["ratio_describe_jobs"] = round(f["describe_jobs"] / max(1, a["describe_jobs"]), 2)
    result["goal"] = {
        "text": ">= 4x fewer transitions and DescribeJobs calls than fixed polling, median detection latency no worse",
        "transitions_met": result["ratio_transitions"] >= 4,
        "describe_jobs_met": result["ratio_describe_jobs"] >= 4,
        "latency_met": a["median_detection_latency_s"] <= f["median_detection_latency_s"],
    }
    result["goal"]["met"] = all(v for k, v in result["goal"].items() if k.endswith("_met"))
    if learned:
        ln = result["learned"]
        result["learned_ratio_transitions_per_wave"] = round(
            f["transitions_in_waves"] / max(1, ln["transitions_in_waves"]), 2)
        result["learned_ratio_describe_jobs_per_wave"] = round(
            f["describe_jobs_in_waves"] / max(1, ln["describe_jobs_in_waves"]), 2)
        result["learned_goal"] = {
            "text": "learned timing: >= 4x fewer DescribeJobs and transitions per wave than fixed polling, "
                    "median detection latency no worse",
            "transitions_met": result["learned_ratio_transitions_per_wave"] >= 4,
            "describe_jobs_met": result["learned_ratio_describe_jobs_per_wave"] >= 4,
            "latency_met": ln["median_detection_latency_s"] <= f["median_detection_latency_s"],
        }
        result["learned_goal"]["met"] = all(v for k, v in result["learned_goal"].items() if k.endswith("_met"))
    return result


def part_scale(stack: Stack, g: gen.Generated, paths: dict[str, Path], out: Path, deadline_s: float) -> dict:
    stack.sim("limits", SCALE_LIMITS)
    dep = Deployment(stack, "bench-scale")
    plan = g.scale
    machine = dep.deploy(plan.key, paths[plan.key])
    worker = dep.worker(out / "worker-scale.log", [
        "--max-servers-per-job", str(SCALE_LIMITS["maxServersPerJob"]),
        "--max-active-servers", str(SCALE_LIMITS["maxServersInActiveJobs"]),
        "--max-concurrent-jobs", str(SCALE_LIMITS["maxConcurrentJobs"])])
    wave_names = [f"tier-{i + 1}" for i in range(len(plan.waves))]
    try:
        log(f"scale: {sum(map(len, plan.waves))} servers in {len(plan.waves)} waves")
        before = stack.counters()
        run = start(stack, machine, f"scale-{int(time.time())}")
        wait_all(stack, [run], deadline_s, worker, "scale")
        calls = counter_delta(before, stack.counters())
    finally:
        worker.stop()
    events = history(stack, run.arn)
    jobs = wave_jobs(stack, run.arn)
    items = ddb_items(stack, run.arn)
    sizes = sorted(((item_size(i), i["sk"]["S"]) for i in items), reverse=True)
    payload = largest_payload(events)
    per_wave_seconds = {}
    for w in wave_names:
        js = jobs.get(w, [])
        if js:
            first = min(parse_time(j["creationDateTime"]) for j in js)
            last = max(parse_time(s["launchEndDateTime"]) for j in js for s in j["servers"] if s.get("launchEndDateTime"))
            per_wave_seconds[w] = round((last - first).total_seconds(), 1)
    result = {
        "servers": sum(map(len, plan.waves)), "waves": len(plan.waves), "limits": SCALE_LIMITS,
        "status": run.status, "seconds": round(run.seconds, 1),
        "servers_per_wave": dict(zip(wave_names, map(len, plan.waves))),
        "jobs_per_wave": {w: len(jobs.get(w, [])) for w in wave_names},
        "launch_seconds_per_wave": per_wave_seconds,
        "largest_payload_bytes": payload["bytes"], "largest_payload_at": f"{payload['event']} ({payload['state']})",
        "definition_bytes": len(dep.definitions[plan.key].encode()),
        "history_events": len(events),
        "transitions": transitions(events)["total"],
        "history_items": len(items),
        "largest_history_item_bytes": sizes[0][0] if sizes else 0,
        "largest_history_item": sizes[0][1] if sizes else None,
        "drs_calls": calls,
    }
    result["goal"] = {"text": "state payload < 32 KB (32,768 bytes) at every step",
                      "met": run.status == "SUCCEEDED" and payload["bytes"] < 32 * 1024}
    log(f"scale: {run.status} in {run.seconds:.0f} s; largest payload {payload['bytes']} bytes")
    return result


# Issue #21 item 9: what a large estate meets on a bad day. Seeded, so that two runs meet the
# same sequence of answers.
WEATHER = {"throttleFraction": 0.3, "errorFraction": 0.05, "retryAfterSeconds": 1, "seed": 9}


def part_weather(stack: Stack, g: gen.Generated, paths: dict[str, Path], out: Path, deadline_s: float) -> dict:
    """The scale plan's 1,000 servers as a drill that terminates its instances, with 30% of DRS
    calls throttled and 5% answered 500: the drill must succeed and leave no instance."""
    plan = g.weather
    stack.sim("limits", SCALE_LIMITS)
    dep = Deployment(stack, "bench-weather")
    machine = dep.deploy(plan.key, paths[plan.key])
    worker = dep.worker(out / "worker-weather.log", [
        "--max-servers-per-job", str(SCALE_LIMITS["maxServersPerJob"]),
        "--max-active-servers", str(SCALE_LIMITS["maxServersInActiveJobs"]),
        "--max-concurrent-jobs", str(SCALE_LIMITS["maxConcurrentJobs"])])
    servers = {sid for wave in plan.waves for sid in wave}
    status_before = stack.sim("counters")
    stack.sim("faults", WEATHER)
    left = None
    try:
        log(f"weather: {len(servers)} servers, DRS faults {WEATHER}")
        run = start(stack, machine, f"weather-{int(time.time())}")
        wait_all(stack, [run], deadline_s, worker, "weather")
        # The drill's clean-up runs in its finish task, and what it could not finish the
        # janitor retries: the worker keeps running, still in the weather, until no drill
        # instance is left (TERMINATE jobs end on drs-sim's schedule) or three minutes pass.
        end = time.monotonic() + 180
        while time.monotonic() < end:
            left = [i for i in stack.sim("recovery-instances")["recoveryInstances"]
                    if i.get("sourceServerID") in servers and i.get("isDrill") and not i.get("terminatedDateTime")]
            if not left:
                break
            time.sleep(2)
    finally:
        worker.stop()
        stack.sim("faults", {"throttleFraction": 0, "errorFraction": 0})
    answers = status_delta(status_before, stack.sim("counters"))
    result = {
        "servers": len(servers), "faults": WEATHER, "status": run.status, "seconds": round(run.seconds, 1),
        "drs_answers_by_status": answers, "instances_left": len(left or []),
    }
    result["goal"] = {"text": "SUCCEEDED with every drill instance terminated",
                      "met": run.status == "SUCCEEDED" and not left}
    log(f"weather: {run.status} in {run.seconds:.0f} s; answers {answers}; {len(left or [])} instance(s) left")
    return result


def status_delta(before: dict, after: dict) -> dict[str, int]:
    """drs-sim's answers by HTTP status between two counter readings, all operations."""
    b, a = before.get("byStatus", {}), after.get("byStatus", {})
    return {k: v - b.get(k, 0) for k, v in sorted(a.items()) if v - b.get(k, 0)}


def part_worker(stack: Stack, g: gen.Generated, paths: dict[str, Path], out: Path, deadline_s: float) -> dict:
    n = len(g.worker)
    # Each execution has one job active at a time: n concurrent jobs, more than the default 20.
    limits = dict(SCALE_LIMITS, maxConcurrentJobs=max(20, 2 * n))
    stack.sim("limits", limits)
    dep = Deployment(stack, "bench-worker")
    machines = [dep.deploy(p.key, paths[p.key]) for p in g.worker]
    worker_args = ["--max-concurrent-jobs", str(limits["maxConcurrentJobs"])]
    worker = dep.worker(out / "worker-worker.log", worker_args)
    try:
        cpu0 = worker.cpu_seconds()
        log(f"worker: {n} executions at once")
        t0 = time.time()
        runs = [start(stack, m, f"w{i:02d}-{int(t0)}") for i, m in enumerate(machines)]
        wait_all(stack, runs, deadline_s, worker, "worker")
        t1 = time.time()
        cpu1 = worker.cpu_seconds()
        rss = worker.peak_rss_kb()
    finally:
        worker.stop()
    answered = [ln for ln in worker.lines() if ln.get("message") in ("task succeeded", "task failed")
                and "elapsed_ms" in ln]
    if not answered:
        raise BenchError(f"no 'task succeeded' lines with elapsed_ms in {worker.log_path}")
    elapsed = [ln["elapsed_ms"] for ln in answered]
    busy = [ln["busy_ms"] for ln in answered]
    waiting = [ln["elapsed_ms"] - ln["busy_ms"] for ln in answered]
    by_activity: dict[str, list[int]] = {}
    for ln in answered:
        by_activity.setdefault((ln.get("span") or {}).get("activity", "?"), []).append(ln["busy_ms"])
    stamps = sorted(parse_time(ln["timestamp"]).timestamp() for ln in answered if "timestamp" in ln)
    peak = 0
    if stamps:
        j = 0
        for i, s in enumerate(stamps):  # the most answers in any 1 s window
            while stamps[j] < s - 1.0:
                j += 1
            peak = max(peak, i - j + 1)
    window = t1 - t0
    result = {
        "executions": n, "succeeded": sum(r.status == "SUCCEEDED" for r in runs),
        "worker_flags": worker_args or ["(defaults)"],
        "tasks": len(answered), "failed_tasks": sum(ln["message"] == "task failed" for ln in answered),
        "window_seconds": round(window, 1),
        "tasks_per_second": round(len(answered) / window, 2),
        "peak_tasks_per_second_1s": peak,
        "elapsed_ms_p50": percentile(elapsed, 50), "elapsed_ms_p99": percentile(elapsed, 99),
        "busy_ms_p50": percentile(busy, 50), "busy_ms_p99": percentile(busy, 99),
        "awaiting_services_ms_p50": percentile(waiting, 50), "awaiting_services_ms_p99": percentile(waiting, 99),
        "busy_ms_p50_by_activity": {k: percentile(v, 50) for k, v in sorted(by_activity.items())},
        "cpu_ms_per_task": round((cpu1 - cpu0) * 1000 / len(answered), 1),
        "tasks_per_cpu_second": round(len(answered) / max(cpu1 - cpu0, 1e-9), 1),
        "peak_rss_kb": rss, "cpu_seconds": round(cpu1 - cpu0, 2), "cpu_seconds_total": round(cpu1, 2),
        "execution_seconds_median": median([r.seconds for r in runs if r.seconds is not None]),
    }
    log(f"worker: {len(answered)} tasks in {window:.0f} s; busy p50 {result['busy_ms_p50']} ms, "
        f"RSS {rss} kB, CPU {result['cpu_seconds']} s")
    return result


def part_codegen(runs: int, out: Path) -> dict:
    plan = REPO / "statemachines" / "fleet.plan.yaml"
    target = out / "fleet.asl.json"
    walls, internal = [], []
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run([str(CODEGEN), "generate", str(plan), "--stats", "-o", str(target)],
                           capture_output=True, text=True, timeout=120)
        walls.append((time.perf_counter() - t) * 1000)
        if r.returncode != 0:
            raise BenchError(f"drs-codegen generate {plan} failed: {r.stderr.strip()}")
        m = re.search(r"in ([0-9.]+) ms", r.stderr)
        if m:
            internal.append(float(m.group(1)))
    states = len(json.loads(target.read_text())["States"])
    plan_doc = plan.read_text()
    return {
        "plan": "statemachines/fleet.plan.yaml", "runs": runs,
        "servers": len(re.findall(r"^\s+- s-", plan_doc, re.M)),
        "process_ms_median": round(median(walls), 1), "generate_ms_median": round(median(internal), 1) if internal else None,
        "output_bytes": target.stat().st_size, "states": states,
    }


# ------------------------------------------------------------------------------- report

def machine() -> dict:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    def git(*args):
        r = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
        return r.stdout.strip()
    return {
        "nproc": os.cpu_count(), "memory_gib": round(mem_kb / 1024 / 1024, 1), "cpu_model": cpu,
        "kernel": platform.release(), "python": platform.python_version(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": git("rev-parse", "--short=12", "HEAD"),
        "build": "release (target/release: drs-worker, drs-codegen; drs-sim as scripts/local-stack.sh starts it, target/debug)",
        # Other work on the machine skews every figure: record how busy it was.
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        v = f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{v}{unit}"


def table(res: dict) -> str:
    rows: list[tuple[str, str, str]] = []
    p = res.get("polling")
    if p and "adaptive" in p:
        a, f = p["adaptive"], p["fixed"]
        waves = list(a["detection_latency_s"])
        rows.append(("1. polling", "", f"adaptive | fixed {p['plan']['fixed_polling']['minWaitSeconds']} s"))
        for i, w in enumerate(waves, 1):
            k = str(i)
            rows.append(("", f"{w}: transitions", f"{a['transitions_per_wave'].get(k)} | {f['transitions_per_wave'].get(k)}"))
            rows.append(("", f"{w}: checks",
                         f"{a['checks_per_wave'].get(k)} | {f['checks_per_wave'].get(k)}"))
            rows.append(("", f"{w}: DescribeJobs calls",
                         f"{a['describe_jobs_per_wave'].get(k)} | {f['describe_jobs_per_wave'].get(k)}"))
            rows.append(("", f"{w}: detection latency",
                         f"{fmt(a['detection_latency_s'][w], ' s')} | {fmt(f['detection_latency_s'][w], ' s')}"))
        rows.append(("", "transitions, total", f"{a['transitions']} | {f['transitions']}  ({p['ratio_transitions']}x fewer)"))
        rows.append(("", "DescribeJobs calls, total", f"{a['describe_jobs']} | {f['describe_jobs']}  ({p['ratio_describe_jobs']}x fewer)"))
        if not (a["describe_jobs_per_wave_matches_counter"] and f["describe_jobs_per_wave_matches_counter"]):
            rows.append(("", "NOTE", "per-wave DescribeJobs (checks + 1) do not add up to drs-sim's count"))
        rows.append(("", "median detection latency",
                     f"{fmt(a['median_detection_latency_s'], ' s')} | {fmt(f['median_detection_latency_s'], ' s')}"))
        rows.append(("", "execution time", f"{fmt(a['seconds'], ' s')} | {fmt(f['seconds'], ' s')}"))
        rows.append(("", "goal (>= 4x fewer, latency no worse)", "MET" if p["goal"]["met"] else "MISSED"))
    if p and "learned" in p and "transitions" in p.get("learned", {}):
        a, f, ln = p["adaptive"], p["fixed"], p["learned"]
        rows.append(("1. learned", "", "learned (3rd run) | adaptive | fixed"))
        for i, w in enumerate(ln["detection_latency_s"], 1):
            k = str(i)
            lw = (ln["waves"].get(w) or {}).get("learned")
            if lw:
                rows.append(("", f"{w}: learned", f"{lw['samples']} samples, p10 {fmt(lw['p10_s'], ' s')}, "
                                                  f"p50 {fmt(lw['p50_s'], ' s')}, p95 {fmt(lw['p95_s'], ' s')}"))
            rows.append(("", f"{w}: transitions", " | ".join(str(r["transitions_per_wave"].get(k)) for r in (ln, a, f))))
            rows.append(("", f"{w}: DescribeJobs calls", " | ".join(str(r["describe_jobs_per_wave"].get(k)) for r in (ln, a, f))))
            rows.append(("", f"{w}: detection latency", " | ".join(fmt(r["detection_latency_s"][w], " s") for r in (ln, a, f))))
            rows.append(("", f"{w}:   of it, until the check saw it",
                         " | ".join(fmt((r.get("seen_after_s") or {}).get(w), " s") for r in (ln, a, f))))
        rows.append(("", "transitions in waves", " | ".join(str(r["transitions_in_waves"]) for r in (ln, a, f))
                     + f"  (learned {p['learned_ratio_transitions_per_wave']}x fewer than fixed)"))
        rows.append(("", "DescribeJobs in waves", " | ".join(str(r["describe_jobs_in_waves"]) for r in (ln, a, f))
                     + f"  (learned {p['learned_ratio_describe_jobs_per_wave']}x fewer than fixed)"))
        rows.append(("", "median / p95 detection latency",
                     " | ".join(f"{fmt(r['median_detection_latency_s'], ' s')} / {fmt(r['p95_detection_latency_s'], ' s')}"
                                for r in (ln, a, f))))
        rows.append(("", "median time until the check saw the end",
                     " | ".join(fmt(r.get("median_seen_after_s"), " s") for r in (ln, a, f))
                     + "  (the rest: the next task's hand-over, the same for all)"))
        rows.append(("", "theoretical min checks (all waves)",
                     " | ".join(str(r["theoretical_min_checks_total"]) for r in (ln, a, f))
                     + "  (ceil(window / median latency) per wave)"))
        rows.append(("", "checks made (all waves)",
                     " | ".join(str(sum(r["checks_per_wave"].values())) for r in (ln, a, f))))
        rows.append(("", "execution time", " | ".join(fmt(r["seconds"], " s") for r in (ln, a, f))))
        rows.append(("", "goal (>= 4x fewer than fixed, latency no worse)",
                     "MET" if p["learned_goal"]["met"] else "MISSED"))
    s = res.get("scale")
    if s and "status" in s:
        rows.append(("2. scale", f"{s['servers']} servers, {s['waves']} waves", f"{s['status']} in {fmt(s['seconds'], ' s')}"))
        rows.append(("", "servers per wave", " ".join(str(v) for v in s["servers_per_wave"].values())))
        rows.append(("", "jobs per wave", " ".join(str(v) for v in s["jobs_per_wave"].values())))
        rows.append(("", "largest state payload", f"{s['largest_payload_bytes']} bytes ({s['largest_payload_at']})"))
        rows.append(("", "definition", f"{s['definition_bytes']} bytes"))
        rows.append(("", "largest history item", f"{s['largest_history_item_bytes']} bytes ({s['largest_history_item']})"))
        rows.append(("", "history events / transitions", f"{s['history_events']} / {s['transitions']}"))
        rows.append(("", "goal (payload < 32 KB)", "MET" if s["goal"]["met"] else "MISSED"))
    wx = res.get("weather")
    if wx and "status" in wx:
        rows.append(("2b. weather", f"{wx['servers']} servers, 30% throttled, 5% 500s",
                     f"{wx['status']} in {fmt(wx['seconds'], ' s')}"))
        rows.append(("", "DRS answers by status", " ".join(f"{k}: {v}" for k, v in wx["drs_answers_by_status"].items())))
        rows.append(("", "drill instances left", str(wx["instances_left"])))
        rows.append(("", "goal (succeeds, cleaned up)", "MET" if wx["goal"]["met"] else "MISSED"))
    w = res.get("worker")
    if w and "tasks" in w:
        rows.append(("3. worker", f"{w['executions']} executions at once", f"{w['succeeded']} succeeded in {fmt(w['window_seconds'], ' s')}"))
        rows.append(("", "tasks answered", f"{w['tasks']} ({w['failed_tasks']} failed)"))
        rows.append(("", "tasks per second (mean / peak 1 s)", f"{w['tasks_per_second']} / {w['peak_tasks_per_second_1s']}"))
        rows.append(("", "worker time per task p50 / p99", f"{w['busy_ms_p50']} / {w['busy_ms_p99']} ms"))
        rows.append(("", "receipt to answer p50 / p99", f"{w['elapsed_ms_p50']} / {w['elapsed_ms_p99']} ms"))
        rows.append(("", "peak RSS", f"{w['peak_rss_kb'] / 1024:.1f} MiB"))
        rows.append(("", "CPU (during the executions / total)", f"{w['cpu_seconds']} / {w['cpu_seconds_total']} s"))
        rows.append(("", "CPU per task", f"{w['cpu_ms_per_task']} ms"))
        rows.append(("", "tasks answered per CPU-second", f"{w['tasks_per_cpu_second']}"))
        rows.append(("", "goal (peak RSS <= 30 MiB)", "MET" if w["peak_rss_kb"] <= 30 * 1024 else "MISSED"))
    e = res.get("estate")
    if e and "runs" in e:
        rows += estate.rows(e)
    c = res.get("codegen")
    if c and "output_bytes" in c:
        rows.append(("4. codegen", f"fleet.plan.yaml ({c['servers']} servers)", f"{c['output_bytes']} bytes, {c['states']} states"))
        rows.append(("", f"time, median of {c['runs']}", f"{c['process_ms_median']} ms process, {c['generate_ms_median']} ms generate"))
    for part in ("polling", "scale", "weather", "worker", "estate", "codegen"):
        if res.get(part, {}).get("error"):
            rows.append((part, "ERROR", res[part]["error"]))
    w0 = max(len(r[0]) for r in rows) if rows else 0
    w1 = max(len(r[1]) for r in rows) if rows else 0
    return "\n".join(f"{a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stack-dir", required=True)
    ap.add_argument("--table", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="polling,learned,scale,weather,worker,estate,codegen",
                    help="comma-separated parts to run")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    out = Path(a.out)
    sizes = gen.QUICK if a.quick else gen.FULL
    g = gen.generate(sizes)
    paths = gen.write(g, out)
    stack = Stack(Path(a.stack_dir), a.table)
    only = set(a.only.split(","))
    res: dict = {"machine": machine(), "quick": a.quick}
    t0 = time.monotonic()
    deadlines = {"polling": 240, "scale": 480, "weather": 900, "worker": 300, "estate": 3600}
    # The learned part runs after polling's two runs, on the same plan: it implies polling.
    if "learned" in only:
        only.add("polling")
    parts = [
        ("polling", lambda: part_polling(stack, g, paths, out, deadlines["polling"], "learned" in only)),
        ("scale", lambda: part_scale(stack, g, paths, out, deadlines["scale"])),
        ("weather", lambda: part_weather(stack, g, paths, out, deadlines["weather"])),
        ("worker", lambda: part_worker(stack, g, paths, out, deadlines["worker"])),
        ("estate", lambda: estate.part_estate(sys.modules[__name__], stack, g, paths, out, deadlines["estate"])),
        ("codegen", lambda: part_codegen(sizes.codegen_runs, out)),
    ]
    ok = True
    for name, fn in parts:
        if name not in only:
            continue
        t = time.monotonic()
        try:
            res[name] = fn()
            # A part that records its own failures (the estate's runs) fails the bench too.
            ok = ok and not res[name].get("error")
        except BenchError as e:
            ok = False
            res[name] = {"error": str(e)}
            log(f"{name}: FAILED: {e}")
        res[name]["bench_seconds"] = round(time.monotonic() - t, 1)
    res["bench_seconds"] = round(time.monotonic() - t0, 1)
    res["machine"]["loadavg_at_end"] = Path("/proc/loadavg").read_text().split()[:3]
    (out / "results.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    m = res["machine"]
    print(f"drs-waves benchmarks ({'quick' if a.quick else 'full'}), {m['date']}, commit {m['git_commit']}")
    print(f"machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, Linux {m['kernel']}; {m['build']}; "
          f"load average {' '.join(m['loadavg_at_start'])} at start, {' '.join(m['loadavg_at_end'])} at end")
    print(table(res))
    print(f"JSON: {out / 'results.json'}  (bench took {res['bench_seconds']:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
