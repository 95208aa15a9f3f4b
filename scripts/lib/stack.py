"""Process and provisioning helpers of scripts/local-stack.sh (run with <repo>/.venv's python).

Subcommands:
  free-port                      print a free TCP port on 127.0.0.1
  spawn NAME PIDFILE LOG -- CMD  start CMD in its own session, record "PID STARTTIME" in PIDFILE
  alive PIDFILE                  exit 0 when the recorded process still runs
  stop NAME PIDFILE [--grace S]  SIGTERM, wait at most S seconds, SIGKILL the same PID
  wait NAME KIND URL PIDFILE LOG [--deadline S]   poll until the service answers
  provision ...                  history table, activities, state machines, env file

Every process is identified by its PID *and* its start time (field 22 of /proc/PID/stat), so
a PID that the kernel reused for something else is never signalled.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def fail(msg: str) -> "NoReturn":  # type: ignore[name-defined]
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def log(msg: str) -> None:
    try:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
    except OSError:
        pass  # a closed stderr (the drill's terminal or pipe is gone) must not stop a stop


# ---------------------------------------------------------------- processes

def proc_start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited; only its parent's wait is missing
        return None
    return fields[19]


def read_pidfile(path: Path) -> tuple[int, str] | None:
    try:
        pid, start = path.read_text().split()
        return int(pid), start
    except (OSError, ValueError):
        return None


def recorded_alive(path: Path) -> int | None:
    """The recorded PID if that very process still runs, else None."""
    rec = read_pidfile(path)
    if rec and proc_start_time(rec[0]) == rec[1]:
        return rec[0]
    return None


def cmd_free_port(_: argparse.Namespace) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def cmd_spawn(a: argparse.Namespace) -> None:
    if a.command and a.command[0] == "--":
        a.command = a.command[1:]
    if not a.command:
        fail("spawn: no command")
    # A signal (a Ctrl-C, `timeout`'s SIGTERM to the caller's group) between the start and the
    # pid file would leave a service that nothing knows to stop: it is acted on after the file.
    deferred: list[int] = []
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, lambda signum, _frame: deferred.append(signum))
    with open(a.log, "ab") as out:
        # A session of its own: the service outlives the shell that started it, and a Ctrl-C in
        # that terminal does not reach it (down / the drill's trap stop it by PID).
        p = subprocess.Popen(a.command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True, cwd=a.cwd or None)
    start = None
    for _ in range(50):
        start = proc_start_time(p.pid)
        if start:
            break
        time.sleep(0.01)
    if start:
        Path(a.pidfile).write_text(f"{p.pid} {start}\n")
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    if deferred:  # die of it, as without the handler
        signal.signal(deferred[0], signal.SIG_DFL)
        os.kill(os.getpid(), deferred[0])
    if not start:
        fail(f"{a.name} exited at once (see {a.log})")
    print(p.pid)


def cmd_alive(a: argparse.Namespace) -> None:
    sys.exit(0 if recorded_alive(Path(a.pidfile)) else 1)


def stop_process(name: str, pidfile: Path, grace: float) -> None:
    rec = read_pidfile(pidfile)
    if not rec:
        return
    pid, start = rec
    if proc_start_time(pid) != start:
        log(f"{name}: not running (pid {pid} gone)")
        pidfile.unlink(missing_ok=True)
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc_start_time(pid) != start:
            log(f"{name}: stopped (pid {pid}, SIGTERM)")
            pidfile.unlink(missing_ok=True)
            return
        time.sleep(0.1)
    if proc_start_time(pid) == start:
        os.kill(pid, signal.SIGKILL)
        # SIGKILL cannot be ignored; wait briefly so the port is free when we return.
        deadline = time.monotonic() + 5
        while proc_start_time(pid) == start and time.monotonic() < deadline:
            time.sleep(0.05)
        log(f"{name}: killed (pid {pid}, SIGKILL after {grace:g} s)")
    pidfile.unlink(missing_ok=True)


def cmd_stop(a: argparse.Namespace) -> None:
    stop_process(a.name, Path(a.pidfile), a.grace)


def tail(path: str, n: int = 15) -> str:
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in lines[-n:])


def probe(kind: str, url: str) -> bool:
    try:
        if kind == "localstack":
            with urllib.request.urlopen(f"{url}/_localstack/health", timeout=2) as r:
                services = json.load(r).get("services", {})
            ready = ("running", "available")
            return services.get("stepfunctions") in ready and services.get("s3") in ready
        if kind == "moto":
            # Any answer from moto's own API means the server is serving requests.
            with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=2) as r:
                return r.status == 200
        if kind == "drs-sim":
            with urllib.request.urlopen(f"{url}/_sim/counters", timeout=2) as r:
                return r.status == 200
        if kind == "drs-sim-sts":
            with urllib.request.urlopen(f"{url}/_sts/calls", timeout=2) as r:
                return r.status == 200
    except (OSError, ValueError, urllib.error.URLError):
        return False
    raise ValueError(kind)


def cmd_wait(a: argparse.Namespace) -> None:
    deadline = time.monotonic() + a.deadline
    t0 = time.monotonic()
    while True:
        if probe(a.kind, a.url):
            log(f"{a.name}: ready at {a.url} ({time.monotonic() - t0:.1f} s)")
            return
        if a.pidfile and not recorded_alive(Path(a.pidfile)):
            fail(f"{a.name} exited before it answered; last lines of {a.log}:\n{tail(a.log)}")
        if time.monotonic() > deadline:
            fail(f"{a.name} did not answer at {a.url} within {a.deadline:g} s; last lines of {a.log}:\n{tail(a.log)}")
        time.sleep(0.2)


# ---------------------------------------------------------------- provisioning

def clients(env: dict[str, str]):
    import boto3
    from botocore.config import Config

    cfg = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    common = dict(region_name=env["AWS_REGION"], aws_access_key_id="test", aws_secret_access_key="test", config=cfg)
    return (boto3.client("stepfunctions", endpoint_url=env["AWS_ENDPOINT_URL_SFN"], **common),
            boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"], **common))


def create_report_bucket(env: dict[str, str], bucket: str) -> None:
    """The report bucket on LocalStack's S3 as the CDK app makes it: versioned, with Object Lock
    and a default retention (GOVERNANCE, 1 day here, 365 days by default there), so that the
    worker's uploads meet what a locked bucket asks of them. Kept if it exists; its lock
    configuration is set again either way (LocalStack, like S3, lets a versioned bucket that was
    made without Object Lock turn it on)."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"], region_name=env["AWS_REGION"],
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=Config(s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=30))
    try:
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
    })


def plan_name(plan: Path) -> str:
    import yaml

    try:
        text = plan.read_text()
        doc = json.loads(text) if plan.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as e:
        fail(f"plan {plan}: cannot read it: {e}")
    name = doc.get("name") if isinstance(doc, dict) else None
    if not isinstance(name, str) or not name:
        fail(f"plan {plan}: no 'name'")
    return name


def create_table_with_boto3(ddb, table: str, contract: dict) -> None:
    """Fallback when the drs-worker binary is not there: the same keys, from contract.json."""
    t = contract["historyTable"]
    attrs = {t["partitionKey"], t["sortKey"]}
    gsis = []
    for ix in t["indexes"]:
        attrs |= {ix["partitionKey"], ix["sortKey"]}
        gsis.append({"IndexName": ix["name"], "Projection": {"ProjectionType": "ALL"},
                     "KeySchema": [{"AttributeName": ix["partitionKey"], "KeyType": "HASH"},
                                   {"AttributeName": ix["sortKey"], "KeyType": "RANGE"}]})
    try:
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in sorted(attrs)],
                         KeySchema=[{"AttributeName": t["partitionKey"], "KeyType": "HASH"},
                                    {"AttributeName": t["sortKey"], "KeyType": "RANGE"}],
                         GlobalSecondaryIndexes=gsis)
    except ddb.exceptions.ResourceInUseException:
        pass


def upsert_state_machine(sfn, name: str, definition: str, role: str) -> str:
    arn = None
    for page in sfn.get_paginator("list_state_machines").paginate():
        for sm in page["stateMachines"]:
            if sm["name"] == name:
                arn = sm["stateMachineArn"]
    if arn:
        sfn.update_state_machine(stateMachineArn=arn, definition=definition)
        return arn
    return sfn.create_state_machine(name=name, definition=definition, roleArn=role, type="STANDARD")["stateMachineArn"]


def env_key(plan: str) -> str:
    return "DRS_WAVES_STATE_MACHINE_ARN_" + re.sub(r"[^A-Z0-9]", "_", plan.upper())


def cmd_provision(a: argparse.Namespace) -> None:
    state = Path(a.state_dir)
    env = {
        "AWS_ENDPOINT_URL_SFN": a.sfn_url,
        "AWS_ENDPOINT_URL_DRS": a.drs_url,
        "AWS_ENDPOINT_URL_DYNAMODB": a.ddb_url,
        # LocalStack's STS at its one gateway: `drs-waves` records who acted (GetCallerIdentity).
        "AWS_ENDPOINT_URL_STS": a.sfn_url,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        # Never reach for instance metadata (a link-local address, not loopback).
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        "DRS_WAVES_TABLE": a.table,
    }
    if a.sts_url:
        # drs-sim-sts evaluates trust policies and external IDs (LocalStack's STS does not).
        env["AWS_ENDPOINT_URL_STS"] = a.sts_url
    if a.drs_endpoints:
        env["DRS_WAVES_DRS_ENDPOINTS"] = a.drs_endpoints
    if a.s3_url:
        # LocalStack serves S3 at its one gateway; path-style, since the bucket is not a host.
        env["AWS_ENDPOINT_URL_S3"] = a.s3_url
        env["DRS_WAVES_S3_FORCE_PATH_STYLE"] = "true"
        env["DRS_WAVES_REPORT_BUCKET"] = a.report_bucket
    sfn, ddb = clients(env)
    if a.s3_url:
        create_report_bucket(env, a.report_bucket)
        log(f"report bucket {a.report_bucket}: ready")
    contract = json.loads((REPO / "statemachines" / "contract.json").read_text())
    prefix = a.activity_prefix or contract["activityPrefix"]
    env["DRS_WAVES_ACTIVITY_PREFIX"] = prefix

    worker = REPO / "target" / "debug" / "drs-worker"
    if worker.exists():
        child_env = {**os.environ, **env}
        r = subprocess.run([str(worker), "create-table", "--table", a.table], env=child_env,
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            fail(f"drs-worker create-table failed:\n{r.stdout}{r.stderr}")
        log(f"history table {a.table}: ready (drs-worker create-table)")
    else:
        create_table_with_boto3(ddb, a.table, contract)
        log(f"history table {a.table}: ready (boto3; target/debug/drs-worker not built)")

    arns = {}
    for act in contract["activities"]:
        arns[act["name"]] = sfn.create_activity(name=f"{prefix}-{act['name']}")["activityArn"]
    env["DRS_WAVES_ACTIVITY_ARNS"] = ",".join(f"{k}={v}" for k, v in arns.items())
    log(f"activities: {', '.join(f'{prefix}-{k}' for k in arns)}")

    machines_file = state / "machines.json"
    machines = json.loads(machines_file.read_text()) if machines_file.exists() else {}
    codegen = REPO / "target" / "debug" / "drs-codegen"
    for plan in map(Path, a.plans):
        if not plan.is_file():
            fail(f"plan {plan}: no such file")
        if not codegen.exists():
            fail("target/debug/drs-codegen is not built (scripts/bootstrap.sh builds it)")
        name = plan_name(plan)
        cmd = [str(codegen), "generate", str(plan)]
        for k, v in arns.items():
            cmd += ["--activity-arn", f"{k}={v}"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            fail(f"drs-codegen generate {plan} failed:\n{r.stderr.strip()}")
        asl_dir = state / "machines"
        asl_dir.mkdir(exist_ok=True)
        (asl_dir / f"{name}.asl.json").write_text(r.stdout)
        sm_name = f"{prefix}-{name}"
        arn = upsert_state_machine(sfn, sm_name, r.stdout, "arn:aws:iam::000000000000:role/drs-waves-local")
        machines[name] = {"arn": arn, "plan": str(plan.resolve())}
        log(f"state machine {sm_name}: {arn}")
    machines_file.write_text(json.dumps(machines, indent=2) + "\n")
    for name, m in sorted(machines.items()):
        env[env_key(name)] = m["arn"]

    tmp = state / "env.tmp"
    tmp.write_text("# Written by scripts/local-stack.sh up: source it (set -a; . .local-stack/env; set +a).\n"
                   + "".join(f"export {k}={v}\n" for k, v in env.items()))
    tmp.replace(state / "env")


def cmd_stop_execution(a: argparse.Namespace) -> None:
    """Stops a local execution still RUNNING (a drill that ended early must not keep the plan's
    run lock or take tasks from the next drill's worker); the endpoint comes from the stack's
    env file."""
    env = read_env(Path(a.state) / "env")
    endpoint = env.get("AWS_ENDPOINT_URL_SFN") or env.get("AWS_ENDPOINT_URL")
    if not endpoint:
        fail(f"{a.state}/env names no Step Functions endpoint: is the stack up?")
    import boto3
    from botocore.config import Config
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name=env.get("AWS_REGION", "us-east-1"),
                       aws_access_key_id="test", aws_secret_access_key="test",
                       config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=5))
    if sfn.describe_execution(executionArn=a.arn)["status"] == "RUNNING":
        sfn.stop_execution(executionArn=a.arn, error="LocalDrill.Stopped", cause="local-drill.sh: " + a.why)
        log(f"stopped the execution {a.arn}")


def read_env(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("export ") and "=" in line:
                k, v = line[len("export "):].split("=", 1)
                out[k] = v
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("free-port").set_defaults(fn=cmd_free_port)
    s = sub.add_parser("spawn")
    s.add_argument("name"); s.add_argument("pidfile"); s.add_argument("log")
    s.add_argument("--cwd")
    s.add_argument("command", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_spawn)
    s = sub.add_parser("alive"); s.add_argument("pidfile"); s.set_defaults(fn=cmd_alive)
    s = sub.add_parser("stop")
    s.add_argument("name"); s.add_argument("pidfile"); s.add_argument("--grace", type=float, default=10)
    s.set_defaults(fn=cmd_stop)
    s = sub.add_parser("stop-execution")
    s.add_argument("state"); s.add_argument("arn"); s.add_argument("why")
    s.set_defaults(fn=cmd_stop_execution)
    s = sub.add_parser("wait")
    s.add_argument("name"); s.add_argument("kind", choices=["localstack", "moto", "drs-sim", "drs-sim-sts"])
    s.add_argument("url"); s.add_argument("pidfile"); s.add_argument("log")
    s.add_argument("--deadline", type=float, default=60)
    s.set_defaults(fn=cmd_wait)
    s = sub.add_parser("provision")
    s.add_argument("--state-dir", required=True)
    s.add_argument("--sfn-url", required=True); s.add_argument("--ddb-url", required=True)
    s.add_argument("--drs-url", required=True)
    # The STS stand-in (drs-sim-sts), when the stack runs waves in other accounts.
    s.add_argument("--sts-url")
    # DRS_WAVES_DRS_ENDPOINTS: each other account's drs-sim.
    s.add_argument("--drs-endpoints")
    s.add_argument("--s3-url", help="S3 (LocalStack): the report bucket is created there")
    s.add_argument("--report-bucket", default="drs-waves-reports")
    s.add_argument("--table", required=True)
    s.add_argument("--activity-prefix")
    s.add_argument("plans", nargs="*")
    s.set_defaults(fn=cmd_provision)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
