//! Preflight: the confirmation a RECOVERY needs, the input it validates (naming every
//! problem at once), the quotas it checks, and the run lock it takes, refuses or takes over.

use super::*;

#[tokio::test]
async fn recovery_without_confirmation_fails_before_anything_else() {
    let w = World::with_servers(2);
    // If preflight looked at DRS first, this error would come out instead.
    w.drs.fail_next(
        "describe_source_servers",
        AwsError::Failed("DRS was called".into()),
    );
    for input in [
        json!({"mode": "RECOVERY"}),
        json!({"mode": "RECOVERY", "confirm": "storefront"}),
    ] {
        let err = w
            .handlers()
            .preflight(preflight_input(input, vec![all_tagged_wave()]))
            .await
            .expect_err("refused");
        assert_eq!(err.name(), ErrorName::RecoveryNotConfirmed, "{err}");
        assert!(
            err.to_string().contains("\"confirm\": \"billing\""),
            "says what to type: {err}"
        );
    }
    assert!(w.history.lock_holder(PLAN).is_none());
    assert!(w.history.execution(EXEC).is_none());
    assert!(w.drs.start_calls().is_empty());
}

#[tokio::test]
async fn malformed_execution_input_is_invalid_input_naming_the_problem() {
    let w = World::with_servers(1);
    for (input, needle) in [
        (json!({"mode": "drill"}), "drill"),
        (
            json!({"mode": "DRILL", "confirmation": "x"}),
            "confirmation",
        ),
        (json!("DRILL"), "expected"),
    ] {
        let err = w
            .handlers()
            .preflight(preflight_input(input, vec![all_tagged_wave()]))
            .await
            .expect_err("bad input");
        assert_eq!(err.name(), ErrorName::InvalidInput, "{err}");
        assert!(err.to_string().contains(needle), "{err}");
    }
}

#[tokio::test]
async fn preflight_names_every_problem_at_once_and_writes_nothing() {
    let w = World::new();
    w.drs.add_server(&server_id(1), &[("App", PLAN)]);
    w.drs.add_server_in_state(&server_id(2), &[], "STALLED");
    w.drs.add_server(&server_id(3), &[]);
    w.drs.add_job(Job {
        id: "drsjob-active".into(),
        status: JobStatus::Started,
        job_type: Some("LAUNCH".into()),
        tags: BTreeMap::new(),
        networks: Vec::new(),
        created_at: None,
        ended_at: None,
        servers: vec![JobServer {
            source_server_id: server_id(3),
            recovery_instance_id: None,
            launch_status: LaunchStatus::InProgress,
            launch_actions: Vec::new(),
        }],
    });
    let waves = vec![
        wave(
            1,
            "db",
            &[
                server_id(1),
                server_id(2),
                server_id(3),
                "s-99999999999999999".into(),
            ],
            &[],
        ),
        wave(2, "app", &[server_id(1)], &[]),
        wave(3, "web", &[], &[("App", "nothing-has-this")]),
    ];
    let err = w
        .handlers()
        .preflight(preflight_input(json!({"mode": "DRILL"}), waves))
        .await
        .expect_err("problems");
    assert_eq!(err.name(), ErrorName::PreflightFailed);
    let cause = err.to_string();
    for needle in [
        "s-99999999999999999 is not known",
        "is not ready for a drill: replication STALLED",
        "already in DRS job drsjob-active",
        "wave 'web' selects no source server",
        "selected by wave 'db' and by wave 'app'",
    ] {
        assert!(cause.contains(needle), "missing {needle:?} in {cause}");
    }
    assert!(w.history.lock_holder(PLAN).is_none(), "no lock on failure");
    assert!(w.history.execution(EXEC).is_none(), "no record on failure");
}

#[tokio::test]
async fn preflight_checks_the_quotas_it_is_configured_with() {
    let w = World::with_servers(250);
    let limits = Limits {
        max_servers_per_job: 10,
        max_active_servers: 200,
        max_concurrent_jobs: 20,
    };
    let h = Handlers::new(
        w.drs.clone(),
        w.history.clone(),
        w.executions.clone(),
        limits,
    );
    let err = h
        .preflight(preflight_input(
            json!({"mode": "DRILL"}),
            vec![all_tagged_wave()],
        ))
        .await
        .expect_err("quota");
    let cause = err.to_string();
    assert!(cause.contains("250 servers, more than the 200"), "{cause}");
    assert!(cause.contains("needs 25 DRS jobs"), "{cause}");
}

#[tokio::test]
async fn preflight_takes_the_lock_creates_the_record_and_is_idempotent() {
    let w = World::with_servers(3);
    let input = preflight_input(json!({"mode": "DRILL"}), vec![all_tagged_wave()]);
    let run = w
        .handlers()
        .preflight(input.clone())
        .await
        .expect("preflight");
    assert_eq!(run.mode, Mode::Drill);
    assert_eq!(run.server_count, 3);
    assert_eq!(w.history.lock_holder(PLAN).as_deref(), Some(EXEC));
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.status, ExecutionStatus::Running);
    assert_eq!(record.plan_name, PLAN);
    let again = w
        .handlers()
        .preflight(input)
        .await
        .expect("a retried preflight passes");
    assert_eq!(again, run);
}

#[tokio::test]
async fn a_second_execution_of_a_running_plan_is_refused() {
    let w = World::with_servers(1);
    let other = "arn:aws:states:us-east-1:123456789012:execution:billing:run-0";
    w.history.set_lock_holder(PLAN, other);
    w.executions.set(other, "RUNNING");
    let err = w
        .handlers()
        .preflight(preflight_input(
            json!({"mode": "DRILL"}),
            vec![all_tagged_wave()],
        ))
        .await
        .expect_err("refused");
    assert_eq!(err.name(), ErrorName::PlanAlreadyRunning);
    assert!(err.to_string().contains(other), "names the holder: {err}");
    assert_eq!(w.history.lock_holder(PLAN).as_deref(), Some(other));
}

#[tokio::test]
async fn a_running_plan_is_named_as_such_even_though_its_servers_are_busy() {
    // While the first execution runs, its servers are in active DRS jobs: the refusal must say
    // the plan is running (what the operator acts on), not list the busy servers.
    let w = World::with_servers(1);
    let other = "arn:aws:states:us-east-1:123456789012:execution:billing:run-0";
    w.history.set_lock_holder(PLAN, other);
    w.executions.set(other, "RUNNING");
    w.drs.add_job(Job {
        id: "drsjob-of-the-running-execution".into(),
        status: JobStatus::Started,
        job_type: Some("LAUNCH".into()),
        tags: BTreeMap::new(),
        networks: Vec::new(),
        created_at: None,
        ended_at: None,
        servers: vec![JobServer {
            source_server_id: server_id(1),
            recovery_instance_id: None,
            launch_status: LaunchStatus::InProgress,
            launch_actions: Vec::new(),
        }],
    });
    let err = w
        .handlers()
        .preflight(preflight_input(
            json!({"mode": "DRILL"}),
            vec![all_tagged_wave()],
        ))
        .await
        .expect_err("refused");
    assert_eq!(err.name(), ErrorName::PlanAlreadyRunning, "{err}");
}

#[tokio::test]
async fn a_lock_left_by_an_execution_that_ended_is_taken_over() {
    for status in [Some("ABORTED"), Some("FAILED"), Some("TIMED_OUT"), None] {
        let w = World::with_servers(1);
        let other = "arn:aws:states:us-east-1:123456789012:execution:billing:run-0";
        w.history.set_lock_holder(PLAN, other);
        if let Some(s) = status {
            w.executions.set(other, s);
        }
        w.handlers()
            .preflight(preflight_input(
                json!({"mode": "DRILL"}),
                vec![all_tagged_wave()],
            ))
            .await
            .expect("stale lock taken over");
        assert_eq!(
            w.history.lock_holder(PLAN).as_deref(),
            Some(EXEC),
            "{status:?}"
        );
    }
}
