"""Checks that the Step Functions engine behaves as the generated machines rely on.

Run against a local stack (reads <stack dir>/env, default .local-stack/env):
    .venv/bin/python scripts/lib/check_sfn_engine.py [STACK_DIR]
Exit 0 when every check holds; each failure is printed. Takes about 10 s. Worth running after
changing LocalStack's pins (requirements-localstack.txt). docs/local-stack.md says what was seen.
"""
from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drill import load_env  # noqa: E402

ROLE = "arn:aws:iam::000000000000:role/drs-waves-check"
failures: list[str] = []


def check(what: str, ok: bool, seen) -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {what}" + ("" if ok else f": saw {seen!r}"))
    if not ok:
        failures.append(what)


class Worker(threading.Thread):
    """Answers one activity's tasks with handler(n, input) -> ("ok", out) | ("fail", err, cause) | ("drop",)."""

    def __init__(self, sfn, arn, handler):
        super().__init__(daemon=True)
        self.sfn, self.arn, self.handler, self.times = sfn, arn, handler, []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            t = self.sfn.get_activity_task(activityArn=self.arn, workerName="check")
            token = t.get("taskToken")
            if not token:
                continue
            self.times.append(time.monotonic())
            r = self.handler(len(self.times), json.loads(t["input"]))
            if r[0] == "ok":
                self.sfn.send_task_success(taskToken=token, output=json.dumps(r[1]))
            elif r[0] == "fail":
                self.sfn.send_task_failure(taskToken=token, error=r[1], cause=r[2])


def main() -> int:
    stack = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / ".local-stack")
    env = load_env(stack / "env")
    sfn = boto3.client("stepfunctions", endpoint_url=env["AWS_ENDPOINT_URL_SFN"], region_name=env["AWS_REGION"],
                       aws_access_key_id="test", aws_secret_access_key="test",
                       config=Config(read_timeout=75, retries={"max_attempts": 2}, max_pool_connections=20))
    tag = uuid.uuid4().hex[:6]

    def run(name: str, definition: dict, payload: dict) -> dict:
        arn = sfn.create_state_machine(name=f"check-{name}-{tag}", definition=json.dumps(definition),
                                       roleArn=ROLE)["stateMachineArn"]
        ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            d = sfn.describe_execution(executionArn=ex)
            if d["status"] != "RUNNING":
                d["events"] = sfn.get_execution_history(executionArn=ex)["events"]
                return d
            time.sleep(0.1)
        raise SystemExit(f"{name}: still running after 30 s")

    def activity(name: str, handler) -> tuple[str, Worker]:
        arn = sfn.create_activity(name=f"check-{name}-{tag}")["activityArn"]
        w = Worker(sfn, arn, handler)
        w.start()
        return arn, w

    # (a) ResultPath into a missing parent, twice; (e) Wait SecondsPath, Choice, context object.
    a_arn, _ = activity("a", lambda n, i: ("ok", {"jobIds": [f"job-{n}"], "nextWaitSeconds": 1, "status": "SUCCEEDED"}))
    task = {"Type": "Task", "Resource": a_arn, "TimeoutSeconds": 20, "HeartbeatSeconds": 10}
    d = run("paths", {"StartAt": "Ctx", "States": {
        "Ctx": {"Type": "Pass", "ResultPath": "$.run", "Next": "W1", "Parameters": {
            "id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "startTime.$": "$$.Execution.StartTime"}},
        "W1": {**task, "ResultPath": "$.waves.w1", "Next": "W2"},
        "W2": {**task, "ResultPath": "$.waves.w2", "Next": "Wait"},
        "Wait": {"Type": "Wait", "SecondsPath": "$.waves.w2.nextWaitSeconds", "Next": "Done?"},
        "Done?": {"Type": "Choice", "Default": "No",
                  "Choices": [{"Variable": "$.waves.w2.status", "StringEquals": "SUCCEEDED", "Next": "Yes"}]},
        "Yes": {"Type": "Succeed"}, "No": {"Type": "Fail", "Error": "Choice", "Cause": "took Default"}}},
        {"mode": "DRILL"})
    out = json.loads(d.get("output") or "{}")
    check("(a) ResultPath $.waves.w1 creates $.waves; $.waves.w2 keeps w1",
          d["status"] == "SUCCEEDED" and sorted(out.get("waves", {})) == ["w1", "w2"], d.get("output") or d.get("cause"))
    run_ctx = out.get("run", {})
    check("(e) $$.Execution.Id is the execution ARN", run_ctx.get("id") == d["executionArn"], run_ctx.get("id"))
    check("(e) $$.Execution.StartTime is ISO 8601 UTC with Z",
          isinstance(run_ctx.get("startTime"), str) and run_ctx["startTime"].endswith("Z") and "T" in run_ctx["startTime"],
          run_ctx.get("startTime"))
    waited = (d["stopDate"] - d["startDate"]).total_seconds()
    check("(e) Wait SecondsPath waits", waited >= 1.0, waited)
    types = [e["type"] for e in d["events"]]
    sched = [e for e in d["events"] if e["type"] == "ActivityScheduled"]
    check("(f) history has ActivityScheduled with the task input and every state's entry",
          len(sched) == 2 and "input" in sched[0]["activityScheduledEventDetails"]
          and types.count("TaskStateEntered") == 2 and "ChoiceStateEntered" in types and "WaitStateEntered" in types,
          types)

    # (b) Fail with ErrorPath / CausePath.
    d = run("fail", {"StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "ResultPath": "$.error", "Next": "Failed",
                "Result": {"Error": "DrsWaves.WaveFailed", "Cause": "wave 2: s-1 FAILED"}},
        "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}}}, {})
    check("(b) Fail ErrorPath/CausePath set the execution's error and cause",
          (d["status"], d.get("error"), d.get("cause")) == ("FAILED", "DrsWaves.WaveFailed", "wave 2: s-1 FAILED"),
          (d["status"], d.get("error"), d.get("cause")))

    # (c) Retry with backoff on a custom error, then Catch into $.error.
    c_arn, cw = activity("c", lambda n, i: ("fail", "DrsWaves.Transient", f"attempt {n}"))
    d = run("retry", {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": c_arn, "TimeoutSeconds": 20, "HeartbeatSeconds": 10, "End": True,
              "Retry": [{"ErrorEquals": ["DrsWaves.Transient"], "IntervalSeconds": 1, "BackoffRate": 2, "MaxAttempts": 2}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}}}, {"keep": 1})
    out = json.loads(d.get("output") or "{}")
    check("(c) Catch ResultPath $.error holds {Error, Cause} of the last attempt, input kept",
          out == {"keep": 1, "error": {"Error": "DrsWaves.Transient", "Cause": "attempt 3"}}, out)
    gaps = [round(b - a, 1) for a, b in zip(cw.times, cw.times[1:])]
    check("(c) Retry re-delivers after IntervalSeconds x BackoffRate (1 s, 2 s)",
          len(gaps) == 2 and 0.8 <= gaps[0] <= 5 and 1.8 <= gaps[1] <= 6, gaps)

    # (d) Heartbeat timeout: the error name, and Retry re-delivering the task.
    d_arn, dw = activity("d", lambda n, i: ("drop",) if n == 1 else ("ok", {"attempt": n}))
    d = run("heartbeat", {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": d_arn, "TimeoutSeconds": 20, "HeartbeatSeconds": 1, "End": True,
              "Retry": [{"ErrorEquals": ["States.HeartbeatTimeout", "States.Timeout"], "IntervalSeconds": 1, "MaxAttempts": 1}]}}},
        {})
    timed_out = [e["activityTimedOutEventDetails"].get("error") for e in d["events"] if e["type"] == "ActivityTimedOut"]
    check("(d) a silent worker's task times out as States.Timeout", timed_out == ["States.Timeout"], timed_out)
    check("(d) Retry on it delivers the task again to the next poll",
          d["status"] == "SUCCEEDED" and json.loads(d.get("output") or "{}") == {"attempt": 2}, d.get("output") or d.get("cause"))

    print(f"{'all checks hold' if not failures else f'{len(failures)} check(s) failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
