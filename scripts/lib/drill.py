"""Starts an execution of a deployed plan on the local stack and follows it to the end.

Prints each wave's start, its job IDs, its servers' launch statuses as they change (from
drs-sim's DescribeJobs), and at the end the final status with every wave's job IDs and
duration. Exit status: 0 when the execution SUCCEEDED, 1 when it ended otherwise (the failing
wave and reason are printed), 2 on a usage or setup error, 3 when the worker died, the deadline
passed or it was interrupted (SIGINT/SIGTERM/SIGHUP); then it stops the execution.

Talks only to the loopback endpoints in <stack dir>/env.
"""
from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import recorded_alive, tail  # noqa: E402

WAVE_STATE = re.compile(r"^Wave (\d+) (.*): (start|wait|check|done\?|failed)$")
TERMINAL = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}

T0 = time.monotonic()


class Interrupted(BaseException):
    """A signal: a BaseException, so that no `except Exception` on the way swallows it."""


def on_signal(signum, _frame):
    # Once: a second signal (`timeout` signals the drill and then its whole group) must not cut
    # the StopExecution that follows short.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signal.Signals(signum).name)


def say(msg: str) -> None:
    try:
        print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)
    except OSError:
        pass  # stdout closed (the terminal or the pipe reader is gone): keep following, then stop


def load_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            k, v = line[len("export "):].split("=", 1)
            env[k] = v
    return env


def parse_time(s: str | None) -> datetime | None:
    if not s:
        return None
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None


class Wave:
    def __init__(self, index: int, name: str):
        self.index, self.name = index, name
        self.status = "PENDING"
        self.job_ids: list[str] = []
        self.started: datetime | None = None
        self.ended: datetime | None = None
        self.reason = ""
        self.servers: dict[str, str] = {}  # source server -> launch status
        self.counts: dict = {}
        self.final_polls = 0

    @property
    def label(self) -> str:
        return f"wave {self.index} {self.name}"

    def duration(self) -> float | None:
        if self.started and self.ended:
            return (self.ended - self.started).total_seconds()
        return None


class Follower:
    def __init__(self, sfn, drs, execution_arn: str, worker_pidfile: Path | None, worker_log: str | None):
        self.sfn, self.drs, self.arn = sfn, drs, execution_arn
        self.worker_pidfile, self.worker_log = worker_pidfile, worker_log
        self.last_event = 0
        self.waves: dict[int, Wave] = {}
        self.hostnames: dict[str, str] = {}
        self.run: dict = {}
        self.result: dict = {}
        self.done = False

    def wave(self, index: int, name: str) -> Wave:
        if index not in self.waves:
            self.waves[index] = Wave(index, name)
        return self.waves[index]

    def poll_history(self) -> None:
        # LocalStack returns the whole history in one page (it ignores maxResults); follow
        # nextToken all the same so this also works against AWS.
        events, token = [], None
        while True:
            kw = {"executionArn": self.arn, "maxResults": 1000}
            if token:
                kw["nextToken"] = token
            page = self.sfn.get_execution_history(**kw)
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        for ev in events:
            if ev["id"] > self.last_event:
                self.last_event = ev["id"]
                self.on_event(ev)

    def on_event(self, ev: dict) -> None:
        typ = ev["type"]
        if typ == "TaskStateEntered":
            name = ev["stateEnteredEventDetails"]["name"]
            m = WAVE_STATE.match(name)
            if name == "Preflight":
                say("preflight: validating the input, resolving servers, taking the plan's lock")
            elif m and m.group(3) == "start":
                w = self.wave(int(m.group(1)), m.group(2))
                w.status = "STARTING"
                say(f"{w.label}: starting")
            elif name == "Finish":
                say("finish: recording the outcome")
            elif name == "Record failure":
                say("record failure: recording what failed")
        elif typ == "TaskStateExited":
            details = ev["stateExitedEventDetails"]
            name = details["name"]
            try:
                out = json.loads(details.get("output") or "{}")
            except ValueError:
                out = {}
            if name == "Preflight" and isinstance(out.get("run"), dict):
                self.run = out["run"]
                say(f"preflight: ok, {self.run.get('serverCount')} servers in {self.run.get('waveCount')} waves, "
                    f"mode {self.run.get('mode')}")
            m = WAVE_STATE.match(name)
            if m:
                self.on_wave_state(int(m.group(1)), m.group(2), out)
            if name == "Finish" and isinstance(out.get("result"), dict):
                self.result = out["result"]
        elif typ == "ActivityFailed":
            d = ev.get("activityFailedEventDetails", {})
            say(f"  task failed: {d.get('error')}: {short(d.get('cause'))} (the machine's Retry/Catch decide what next)")
        elif typ == "ActivityTimedOut":
            d = ev.get("activityTimedOutEventDetails", {})
            say(f"  task timed out: {d.get('error')} (no answer or heartbeat from a worker in time)")
        elif typ in TERMINAL:
            self.done = True

    def on_wave_state(self, index: int, name: str, out: dict) -> None:
        state = (out.get("waves") or {}).get(f"w{index}")
        if not isinstance(state, dict):
            return
        w = self.wave(index, name)
        w.started = parse_time(state.get("startedAt")) or w.started
        w.ended = parse_time(state.get("endedAt")) or w.ended
        w.counts = state.get("servers") or {}
        new_jobs = [j for j in state.get("jobIds") or [] if j not in w.job_ids]
        if new_jobs:
            w.job_ids += new_jobs
            say(f"{w.label}: job{'s' if len(new_jobs) > 1 else ''} {', '.join(new_jobs)}")
        status = state.get("status", w.status)
        if status != w.status:
            w.status = status
            c = w.counts
            counts = f"{c.get('launched', 0)}/{c.get('total', 0)} launched, {c.get('failed', 0)} failed"
            if c.get("optionalFailed"):
                counts += f" ({c['optionalFailed']} optional)"
            if status == "SUCCEEDED":
                say(f"{w.label}: SUCCEEDED in {fmt_secs(w.duration())} ({counts})")
            elif status == "FAILED":
                w.reason = state.get("reason", "")
                say(f"{w.label}: FAILED: {w.reason} ({counts})")
            elif status == "LAUNCHING":
                say(f"{w.label}: launching, next check in {state.get('nextWaitSeconds')} s")

    def poll_launches(self) -> None:
        for w in self.waves.values():
            if not w.job_ids or w.final_polls >= 1:
                continue
            if w.status in ("SUCCEEDED", "FAILED"):
                w.final_polls += 1  # one last look so the final statuses are printed
            try:
                jobs = self.drs.describe_jobs(filters={"jobIDs": w.job_ids})["items"]
            except Exception as e:  # a throttled or failed look is not the drill's failure
                say(f"  (DescribeJobs for {w.label} failed: {e}; retrying)")
                continue
            for job in jobs:
                for srv in job.get("participatingServers", []):
                    sid, st = srv.get("sourceServerID"), srv.get("launchStatus")
                    if sid and st and w.servers.get(sid) != st:
                        before = w.servers.get(sid)
                        w.servers[sid] = st
                        host = self.hostname(sid)
                        arrow = f"{before} -> {st}" if before else st
                        extra = f" ({srv['recoveryInstanceID']})" if st == "LAUNCHED" and srv.get("recoveryInstanceID") else ""
                        say(f"  {w.label}: {sid}{host} {arrow}{extra}  [{job['jobID']}]")

    def hostname(self, sid: str) -> str:
        if sid not in self.hostnames:
            self.hostnames[sid] = ""
            try:
                for s in self.drs.describe_source_servers(filters={"sourceServerIDs": [sid]})["items"]:
                    h = s.get("sourceProperties", {}).get("identificationHints", {}).get("hostname")
                    if h:
                        self.hostnames[sid] = f" {h}"
            except Exception:
                pass
        return self.hostnames[sid]

    def worker_alive(self) -> bool:
        return self.worker_pidfile is None or recorded_alive(self.worker_pidfile) is not None


def short(s: str | None, n: int = 300) -> str:
    s = (s or "").replace("\n", " ")
    return s if len(s) <= n else s[: n - 3] + "..."


def fmt_secs(s: float | None) -> str:
    return "?" if s is None else f"{s:.1f} s"


def report(f: Follower, desc: dict, wall: float) -> int:
    status = desc["status"]
    print()
    print(f"execution {desc['executionArn']}")
    print(f"status    {status} after {wall:.1f} s")
    durations = {w.get("wave"): w.get("durationSeconds") for w in f.result.get("waves", []) if isinstance(w, dict)}
    for i in sorted(f.waves):
        w = f.waves[i]
        d = w.duration()
        if d is None and durations.get(w.name) is not None:
            d = float(durations[w.name])
        print(f"  wave {i} {w.name:<20} {w.status:<10} {fmt_secs(d):>8}  jobs: {', '.join(w.job_ids) or '-'}")
    if f.result.get("terminateJobIds"):
        print(f"  drill clean-up jobs: {', '.join(f.result['terminateJobIds'])}")
    if status == "SUCCEEDED":
        outcome = f.result.get("outcome")
        if outcome and outcome != "SUCCEEDED":
            print(f"outcome   {outcome}")
        return 0
    failed = [w for w in f.waves.values() if w.status == "FAILED"]
    if failed:
        where = f"at {failed[0].label}"
    elif f.waves:
        where = f"at {max(f.waves.values(), key=lambda w: w.index).label} (the last wave started)"
    else:
        where = "before the first wave"
    reason = (failed[0].reason if failed and failed[0].reason else "") or desc.get("cause") or ""
    print(f"{status} {where}: {short(reason, 1000)}")
    if desc.get("error"):
        print(f"error     {desc['error']}: {short(desc.get('cause'), 1000)}")
    return 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stack-dir", required=True)
    p.add_argument("--plan", required=True, help="the plan's name (as in machines.json)")
    p.add_argument("--input", default='{"mode": "DRILL"}')
    p.add_argument("--name", help="execution name (default <drill|recovery>-<time>-<random>)")
    p.add_argument("--worker-pidfile")
    p.add_argument("--worker-log")
    p.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    a = p.parse_args()

    import boto3
    from botocore.config import Config

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    state = Path(a.stack_dir)
    try:
        env = load_env(state / "env")
        machines = json.loads((state / "machines.json").read_text())
    except OSError as e:
        print(f"error: the local stack is not up ({e}); run scripts/local-stack.sh up PLAN", file=sys.stderr)
        return 2
    if a.plan not in machines:
        print(f"error: plan {a.plan!r} is not deployed on the local stack (deployed: {', '.join(machines) or 'none'})",
              file=sys.stderr)
        return 2
    common = dict(region_name=env["AWS_REGION"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                  aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                  config=Config(retries={"max_attempts": 5, "mode": "standard"}, read_timeout=30))
    sfn = boto3.client("stepfunctions", endpoint_url=env["AWS_ENDPOINT_URL_SFN"], **common)
    drs = boto3.client("drs", endpoint_url=env["AWS_ENDPOINT_URL_DRS"], **common)

    try:
        mode = str(json.loads(a.input).get("mode", "drill")).lower()
    except (ValueError, AttributeError):
        mode = "drill"
    kind = mode if mode in ("drill", "recovery") else "drill"
    name = a.name or f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    arn = machines[a.plan]["arn"]
    started = time.monotonic()
    ex = sfn.start_execution(stateMachineArn=arn, name=name, input=a.input)["executionArn"]
    say(f"started {name} of plan {a.plan} with input {a.input}")
    f = Follower(sfn, drs, ex, Path(a.worker_pidfile) if a.worker_pidfile else None, a.worker_log)
    deadline = started + a.timeout
    why = None
    try:
        while True:
            f.poll_history()
            f.poll_launches()
            if f.done:
                break
            if not f.worker_alive():
                why = f"the worker exited; last lines of {a.worker_log}:\n{tail(a.worker_log or '', 20)}"
                break
            if time.monotonic() > deadline:
                why = f"gave up after {a.timeout:g} s"
                break
            time.sleep(0.5)
    except Interrupted as e:
        why = f"interrupted ({e})"
    if why:
        say(why)
        # An execution left running would keep the plan's run lock and take tasks from the
        # next drill's worker; a stopped one lets the next preflight take the lock over.
        # A client that gives up within seconds: further signals are ignored from here on.
        quick = {**common, "config": Config(retries={"max_attempts": 2, "mode": "standard"},
                                            connect_timeout=3, read_timeout=5)}
        try:
            boto3.client("stepfunctions", endpoint_url=env["AWS_ENDPOINT_URL_SFN"], **quick).stop_execution(
                executionArn=ex, error="LocalDrill.Stopped", cause=f"local-drill.sh: {why.splitlines()[0]}")
            say(f"stopped the execution {ex}")
        except Exception as e:
            say(f"could not stop the execution {ex}: {e}")
        return 3
    f.poll_launches()
    desc = sfn.describe_execution(executionArn=ex)
    return report(f, desc, time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(main())
