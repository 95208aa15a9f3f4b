//! Conformance cases: the run lock: taken, re-taken by its holder, refused to others, handed
//! over only from the named holder, released only by the holder.

use drs_waves_contract::Mode;

use super::exec_arn;
use crate::LockOutcome;
use crate::prelude::*;

/// Acquire, re-acquire by the holder, refuse another, take over only from the named holder,
/// release only by the holder.
pub async fn run_lock_rules(history: &impl History, prefix: &str) {
    let plan = format!("{prefix}-lock");
    let (a, b, c) = (
        exec_arn(prefix, "a"),
        exec_arn(prefix, "b"),
        exec_arn(prefix, "c"),
    );
    let now = "2030-01-01T00:00:00Z";
    assert_eq!(
        history
            .acquire_lock(&plan, &a, Mode::Drill, now)
            .await
            .expect("acquire"),
        LockOutcome::Acquired,
        "a free lock is taken"
    );
    assert_eq!(
        history
            .acquire_lock(&plan, &a, Mode::Drill, now)
            .await
            .expect("again"),
        LockOutcome::Acquired,
        "the holder may take its own lock again (a retried preflight)"
    );
    assert_eq!(
        history
            .acquire_lock(&plan, &b, Mode::Recovery, now)
            .await
            .expect("other"),
        LockOutcome::HeldBy {
            holder: a.clone(),
            mode: Mode::Drill
        },
        "another execution is told who holds it, and in which mode"
    );
    assert!(
        !history
            .take_over_lock(&plan, &b, Mode::Recovery, &c, now)
            .await
            .expect("wrong takeover"),
        "a takeover names the current holder or fails"
    );
    assert!(
        history
            .take_over_lock(&plan, &b, Mode::Recovery, &a, now)
            .await
            .expect("takeover"),
        "a takeover from the current holder succeeds"
    );
    assert!(
        !history
            .release_lock(&plan, &a)
            .await
            .expect("stale release"),
        "a former holder cannot release the lock"
    );
    assert_eq!(
        history
            .acquire_lock(&plan, &a, Mode::Drill, now)
            .await
            .expect("held"),
        LockOutcome::HeldBy {
            holder: b.clone(),
            mode: Mode::Recovery
        },
        "a takeover records the new holder's mode"
    );
    assert!(history.release_lock(&plan, &b).await.expect("release"));
    assert!(
        !history.release_lock(&plan, &b).await.expect("twice"),
        "releasing a free lock is a no-op"
    );
    assert_eq!(
        history
            .acquire_lock(&plan, &c, Mode::Drill, now)
            .await
            .expect("free"),
        LockOutcome::Acquired
    );
    assert!(history.release_lock(&plan, &c).await.expect("release"));
}
