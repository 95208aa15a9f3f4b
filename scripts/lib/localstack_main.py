"""Runs LocalStack's runtime (what `python -m localstack.runtime.main` runs) with one fix to its
Step Functions engine, so that the local stack does not lose activity tasks.

The bug (localstack-core 4.9.2, services/stepfunctions/provider.py,
StepFunctionsProvider._send_activity_task_started): GetActivityTask first takes the task off the
activity's queue, then looks up the task token in every execution's callback pool through
`execution.exec_worker.env`. An execution that was started a moment ago has no worker
environment yet (`exec_worker` or its `env` is still None until its thread runs), so the lookup
raises AttributeError, the worker gets a 500, and the task, already dequeued, is lost: its
execution waits for the task's timeout (600 s for preflight). It shows whenever one execution
starts while another's tasks are being handed out (seen in the end-to-end tests, which run
several executions at once). AWS's Step Functions has no such window.

The fix skips executions without a worker environment: they cannot own the token, because a
task is only queued by an execution whose environment runs. Everything else is LocalStack's own
code, unchanged. Remove this file when the pinned LocalStack no longer has the bug
(docs/local-stack.md, "LocalStack quirks").
"""

from localstack.aws.api.stepfunctions import InvalidToken
from localstack.runtime import main as localstack_main
from localstack.services.stepfunctions import provider as sfn_provider


def _send_activity_task_started(self, context, task_token, worker_name):
    for execution in self._get_executions(context):
        worker = getattr(execution, "exec_worker", None)
        env = getattr(worker, "env", None)
        if env is None:
            continue
        endpoint = env.callback_pool_manager.get(callback_id=task_token)
        if isinstance(endpoint, sfn_provider.ActivityCallbackEndpoint):
            endpoint.notify_activity_task_start(worker_name=worker_name)
            return
    raise InvalidToken()


def patch() -> None:
    original = getattr(sfn_provider.StepFunctionsProvider, "_send_activity_task_started", None)
    if original is None:
        raise SystemExit(
            "scripts/lib/localstack_main.py: LocalStack's Step Functions provider has no "
            "_send_activity_task_started: the pinned version changed; review the fix"
        )
    sfn_provider.StepFunctionsProvider._send_activity_task_started = _send_activity_task_started


if __name__ == "__main__":
    patch()
    localstack_main.main()
