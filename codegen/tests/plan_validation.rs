//! One bad plan per validation rule, each asserting the message a user sees.

use drs_codegen::generate::ActivityResources;
use drs_codegen::plan::{self, PlanError};
use drs_codegen::{compile_str, contract::OnFailure};

const FILE: &str = "plans/billing.plan.yaml";

/// A valid plan's text with `waves` replaced.
fn with_waves(waves: &str) -> String {
    format!("name: billing\nwaves:\n{waves}")
}

/// The error's lines as the CLI prints them.
fn rejection(text: &str) -> Vec<String> {
    rejection_in(FILE, text)
}

fn rejection_in(file: &str, text: &str) -> Vec<String> {
    match compile_str(file, text, &ActivityResources::Placeholders) {
        Ok(_) => panic!("plan was accepted:\n{text}"),
        Err(e) => {
            assert_eq!(e.exit_code(), 2, "{e}");
            e.to_string().lines().map(str::to_owned).collect()
        }
    }
}

fn assert_one(text: &str, expected: &str) {
    assert_eq!(rejection(text), vec![expected.to_owned()]);
}

const DB: &str = "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n";

#[test]
fn a_minimal_plan_gets_every_default() {
    let plan = plan::load_str(FILE, &with_waves(DB)).expect("valid");
    let wave = &plan.spec.waves[0];
    assert_eq!(
        wave.launch_timeout_seconds,
        plan::DEFAULT_LAUNCH_TIMEOUT_SECONDS
    );
    assert_eq!(wave.polling, plan::DEFAULT_POLLING);
    assert_eq!(wave.on_failure, OnFailure::Stop);
    assert_eq!(plan.heartbeat_seconds, plan::DEFAULT_HEARTBEAT_SECONDS);
    assert!(!plan.spec.terminate_drill_instances);
    assert!(!plan.execution_timeout_from_plan);
}

#[test]
fn waves_override_defaults_field_by_field() {
    let plan = plan::load_str(
        FILE,
        "name: billing\ndefaults:\n  launchTimeoutMinutes: 0.25\n  onFailure: continue\n  polling: {minWaitSeconds: 2, maxWaitSeconds: 9, expectedLaunchSeconds: 8}\n\
         waves:\n  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    polling: {maxWaitSeconds: 4}\n    onFailure: stop\n\
         \x20 - name: web\n    servers: {tags: {Tier: web}}\n    launchTimeoutSeconds: 600\n",
    )
    .expect("valid");
    let (db, web) = (&plan.spec.waves[0], &plan.spec.waves[1]);
    assert_eq!(db.launch_timeout_seconds, 15);
    assert_eq!(
        (
            db.polling.min_wait_seconds,
            db.polling.max_wait_seconds,
            db.polling.expected_launch_seconds
        ),
        (2, 4, 8)
    );
    assert_eq!(db.on_failure, OnFailure::Stop);
    assert_eq!(web.launch_timeout_seconds, 600);
    assert_eq!(web.polling.max_wait_seconds, 9);
    assert_eq!(web.on_failure, OnFailure::Continue);
}

#[test]
fn fixed_polling_is_min_equal_to_max() {
    let plan = plan::load_str(
        FILE,
        &with_waves("  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    polling: {minWaitSeconds: 60, maxWaitSeconds: 60}\n"),
    )
    .expect("valid");
    assert_eq!(
        plan.spec.waves[0].polling.min_wait_seconds,
        plan.spec.waves[0].polling.max_wait_seconds
    );
}

#[test]
fn rejects_an_unknown_field_with_its_path_line_and_column() {
    assert_one(
        "name: billing\nwavez: []\n",
        "plans/billing.plan.yaml: line 2, column 1: unknown field `wavez`, expected one of `name`, `description`, \
         `terminateDrillInstances`, `executionTimeoutMinutes`, `executionTimeoutSeconds`, `rtoMinutes`, `rpoMinutes`, `defaults`, `tasks`, `waves`, `failback`",
    );
    assert_one(
        &with_waves(&format!(
            "{DB}  - name: web\n    servers: {{idz: [s-a1b2c3d4e5f600002]}}\n"
        )),
        "plans/billing.plan.yaml: line 6, column 15: wave 2: servers: unknown field `idz`, expected `ids` or `tags`",
    );
}

#[test]
fn rejects_a_value_of_the_wrong_type_naming_the_field() {
    assert_one(
        &with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    onFailure: retry\n",
        ),
        "plans/billing.plan.yaml: line 5, column 16: wave 1: onFailure: unknown variant `retry`, expected one of `stop`, `continue`, `ask`",
    );
    let lines = rejection(&with_waves(
        "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    launchTimeoutMinutes: ten\n",
    ));
    assert!(
        lines[0].starts_with(
            "plans/billing.plan.yaml: line 5, column 27: wave 1: launchTimeoutMinutes: invalid type"
        ),
        "{lines:?}"
    );
}

#[test]
fn rejects_malformed_yaml_with_line_and_column() {
    let lines = rejection(
        "name: billing\nwaves:\n  - name: db\n   servers: {ids: [s-a1b2c3d4e5f600001]}\n",
    );
    assert_eq!(
        lines,
        vec!["plans/billing.plan.yaml: line 4, column 4: waves: did not find expected '-' indicator, while parsing a block collection".to_owned()]
    );
}

#[test]
fn rejects_malformed_json_with_line_and_column() {
    let lines = rejection_in(
        "plans/billing.plan.json",
        "{\"name\": \"billing\",\n \"waves\": [}\n",
    );
    assert_eq!(
        lines,
        vec!["plans/billing.plan.json: line 2, column 12: wave 1: expected value".to_owned()]
    );
}

#[test]
fn accepts_json_plans() {
    let text = r#"{"name": "billing", "waves": [{"name": "db", "servers": {"ids": ["s-a1b2c3d4e5f600001"]}}]}"#;
    assert!(compile_str("billing.plan.json", text, &ActivityResources::Placeholders).is_ok());
}

#[test]
fn rejects_an_empty_file() {
    assert_one("  \n", "plans/billing.plan.yaml: the plan file is empty");
}

#[test]
fn rejects_a_plan_without_waves() {
    assert_one(
        "name: billing\nwaves: []\n",
        "plans/billing.plan.yaml: waves: the plan has no waves: add at least one wave with servers",
    );
    assert_one(
        "name: billing\n",
        "plans/billing.plan.yaml: waves: the plan has no waves: add at least one wave with servers",
    );
}

#[test]
fn rejects_a_bad_plan_name() {
    assert_one(
        &format!("name: bill ing\nwaves:\n{DB}"),
        "plans/billing.plan.yaml: name: \"bill ing\" is not a valid plan name: use 1 to 40 letters, digits, '-' or '_' \
         (it becomes part of resource names)",
    );
    assert_eq!(
        rejection(&format!("name: {}\nwaves:\n{DB}", "b".repeat(41))).len(),
        1
    );
}

#[test]
fn rejects_a_bad_wave_name() {
    assert_one(
        &with_waves("  - name: data bases\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n"),
        "plans/billing.plan.yaml: wave 1 \"data bases\": name: \"data bases\" is not a valid wave name: use 1 to 40 letters, digits, '-' or '_'",
    );
}

#[test]
fn rejects_a_wave_without_a_server_selector() {
    let expected = "plans/billing.plan.yaml: wave 2 \"web\": servers: the wave selects no servers: give servers.ids \
                    (source server IDs) and/or servers.tags";
    assert_one(&with_waves(&format!("{DB}  - name: web\n")), expected);
    assert_one(
        &with_waves(&format!(
            "{DB}  - name: web\n    servers: {{ids: [], tags: {{}}}}\n"
        )),
        expected,
    );
}

#[test]
fn rejects_duplicate_wave_names() {
    assert_one(
        &with_waves(&format!(
            "{DB}  - name: db\n    servers: {{tags: {{Tier: db}}}}\n"
        )),
        "plans/billing.plan.yaml: wave 2 \"db\": name: \"db\" is also the name of wave 1: wave names must be unique",
    );
}

#[test]
fn rejects_a_malformed_server_id() {
    assert_one(
        &with_waves(&format!(
            "{DB}  - name: app\n    servers: {{ids: [s-a1b2c3d4e5f600002, s-12]}}\n"
        )),
        "plans/billing.plan.yaml: wave 2 \"app\": servers.ids[1]: \"s-12\" is not a source server ID (s- followed by 17 letters or digits)",
    );
    // 17 characters, but not all letters or digits.
    assert_eq!(
        rejection(&with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f60000_]}\n"
        ))
        .len(),
        1
    );
}

#[test]
fn rejects_a_server_in_two_waves() {
    assert_one(
        &with_waves(&format!(
            "{DB}  - name: app\n    servers: {{ids: [s-a1b2c3d4e5f600001]}}\n"
        )),
        "plans/billing.plan.yaml: wave 2 \"app\": servers.ids[0]: \"s-a1b2c3d4e5f600001\" is already in wave 1 \"db\": a server may be in one wave only",
    );
}

#[test]
fn rejects_a_server_listed_twice_in_a_wave() {
    assert_one(
        &with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001, s-a1b2c3d4e5f600001]}\n",
        ),
        "plans/billing.plan.yaml: wave 1 \"db\": servers.ids[1]: \"s-a1b2c3d4e5f600001\" is listed twice in this wave",
    );
}

#[test]
fn rejects_an_optional_server_its_wave_does_not_select() {
    assert_one(
        &with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    optional: [s-a1b2c3d4e5f600009]\n",
        ),
        "plans/billing.plan.yaml: wave 1 \"db\": optional[0]: \"s-a1b2c3d4e5f600009\" is not selected by this wave: \
         list it in servers.ids (or select it by tags)",
    );
    assert_one(
        &with_waves(&format!(
            "{DB}  - name: app\n    servers: {{tags: {{Tier: app}}}}\n    optional: [s-a1b2c3d4e5f600001]\n"
        )),
        "plans/billing.plan.yaml: wave 2 \"app\": optional[0]: \"s-a1b2c3d4e5f600001\" is in wave 1 \"db\": a wave can only make its own servers optional",
    );
    assert_one(
        &with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    optional: [s-a1b2c3d4e5f60000x1]\n",
        ),
        "plans/billing.plan.yaml: wave 1 \"db\": optional[0]: \"s-a1b2c3d4e5f60000x1\" is not a source server ID (s- followed by 17 letters or digits)",
    );
}

#[test]
fn an_optional_server_of_a_tag_selected_wave_is_accepted() {
    let text = with_waves(
        "  - name: web\n    servers: {tags: {Tier: web}}\n    optional: [s-a1b2c3d4e5f600009]\n",
    );
    assert!(compile_str(FILE, &text, &ActivityResources::Placeholders).is_ok());
}

#[test]
fn rejects_invalid_tags() {
    assert_one(
        &with_waves("  - name: web\n    servers: {tags: {'aws:cloudformation:stack-name': web}}\n"),
        "plans/billing.plan.yaml: wave 1 \"web\": servers.tags.aws:cloudformation:stack-name: \"aws:cloudformation:stack-name\": \
         tag keys starting with aws: are reserved by AWS",
    );
    assert_one(
        &with_waves("  - name: web\n    servers: {tags: {'Tier.$': web}}\n"),
        "plans/billing.plan.yaml: wave 1 \"web\": servers.tags.Tier.$: \"Tier.$\" is not a valid tag key: 1 to 128 letters, \
         digits, spaces or _ . : / = + - @",
    );
}

#[test]
fn rejects_non_positive_limits() {
    assert_one(
        &with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    launchTimeoutMinutes: 0\n",
        ),
        "plans/billing.plan.yaml: wave 1 \"db\": launchTimeoutMinutes: 0 must be a positive number of minutes",
    );
    assert_one(
        &format!("name: billing\ndefaults: {{polling: {{minWaitSeconds: -5}}}}\nwaves:\n{DB}"),
        "plans/billing.plan.yaml: defaults.polling.minWaitSeconds: -5 must be a positive number of seconds",
    );
    assert_one(
        &format!("name: billing\ntasks: {{heartbeatSeconds: 0}}\nwaves:\n{DB}"),
        "plans/billing.plan.yaml: tasks.heartbeatSeconds: 0 must be a positive number of seconds",
    );
    assert_one(
        &format!("name: billing\ntasks: {{gateHeartbeatSeconds: -30}}\nwaves:\n{DB}"),
        "plans/billing.plan.yaml: tasks.gateHeartbeatSeconds: -30 must be a positive number of seconds",
    );
    assert_one(
        &format!("name: billing\nexecutionTimeoutSeconds: -1\nwaves:\n{DB}"),
        "plans/billing.plan.yaml: executionTimeoutSeconds: -1 must be a positive number of seconds",
    );
}

#[test]
fn rejects_inverted_polling_bounds() {
    assert_one(
        &with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    polling: {minWaitSeconds: 60, maxWaitSeconds: 10}\n",
        ),
        "plans/billing.plan.yaml: wave 1 \"db\": polling: minWaitSeconds 60 is more than maxWaitSeconds 10: the shortest wait \
         must not exceed the longest",
    );
    // Inverted by the defaults: reported once, at the defaults, not for every wave.
    assert_one(
        &format!(
            "name: billing\ndefaults: {{polling: {{minWaitSeconds: 400}}}}\nwaves:\n{DB}  - name: web\n    servers: {{tags: {{T: w}}}}\n"
        ),
        "plans/billing.plan.yaml: defaults.polling: minWaitSeconds 400 is more than maxWaitSeconds 300: the shortest wait \
         must not exceed the longest",
    );
}

#[test]
fn rejects_an_expected_launch_longer_than_the_launch_timeout() {
    assert_one(
        &with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    launchTimeoutSeconds: 60\n    polling: {minWaitSeconds: 5, maxWaitSeconds: 10}\n",
        ),
        "plans/billing.plan.yaml: wave 1 \"db\": polling.expectedLaunchSeconds: 600 is more than the launch timeout of 60 s: \
         the wave would time out before its launch is expected to finish",
    );
}

#[test]
fn rejects_a_limit_given_twice() {
    assert_one(
        &with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    launchTimeoutMinutes: 1\n    launchTimeoutSeconds: 60\n",
        ),
        "plans/billing.plan.yaml: wave 1 \"db\": launchTimeoutMinutes, launchTimeoutSeconds: give the limit in minutes or in seconds, not both",
    );
}

#[test]
fn rejects_minutes_that_are_not_whole_seconds() {
    assert_one(
        &with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    launchTimeoutMinutes: 10.001\n",
        ),
        "plans/billing.plan.yaml: wave 1 \"db\": launchTimeoutMinutes: 10.001 minutes is 600.06 seconds; use a whole number \
         of seconds (launchTimeoutSeconds)",
    );
}

#[test]
fn rejects_an_execution_timeout_shorter_than_the_launch_timeouts() {
    assert_one(
        &format!("name: billing\nexecutionTimeoutMinutes: 10\nwaves:\n{DB}"),
        "plans/billing.plan.yaml: executionTimeoutMinutes: 600 s is less than the waves' launch timeouts together (1800 s): \
         the execution would time out before its waves could",
    );
}

#[test]
fn rejects_a_plan_that_could_overflow_the_execution_history() {
    // 2 waves of 24 h launch timeout with a check at least every 5 s: ~17,000 checks each.
    let lines = rejection(&format!(
        "name: billing\ndefaults: {{launchTimeoutMinutes: 1440, polling: {{minWaitSeconds: 5, maxWaitSeconds: 60}}}}\n\
         waves:\n{DB}  - name: web\n    servers: {{tags: {{T: w}}}}\n"
    ));
    assert_eq!(lines.len(), 1, "{lines:?}");
    for needle in [
        "plans/billing.plan.yaml: waves: in the worst case an execution would record about 345700 history events, over Step Functions' limit of 25000",
        "wave 1 \"db\" may check 17281 times (86400 s launch timeout / 5 s minWaitSeconds)",
        "Raise polling.minWaitSeconds, shorten launch timeouts, or split the plan",
    ] {
        assert!(lines[0].contains(needle), "{needle:?} not in {lines:?}");
    }
}

#[test]
fn rejects_a_plan_whose_machine_exceeds_the_definition_limit() {
    // Many small waves: each adds five states to the machine but little to the plan.
    let mut text = String::from(
        "name: billing\ndefaults: {launchTimeoutSeconds: 2, polling: {minWaitSeconds: 1, maxWaitSeconds: 1, expectedLaunchSeconds: 1}}\nwaves:\n",
    );
    for i in 0..300 {
        text.push_str(&format!(
            "  - name: w{i}\n    servers: {{ids: [s-a1b2c3d4e5f6{i:05}]}}\n"
        ));
    }
    let lines = rejection(&text);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(
            "plans/billing.plan.yaml: waves: the generated state machine would be about "
        ),
        "{lines:?}"
    );
    assert!(
        lines[0].contains("over Step Functions' definition limit of 1048576 bytes"),
        "{lines:?}"
    );
}

#[test]
fn rejects_a_plan_too_large_for_the_preflight_input() {
    let ids: Vec<String> = (0..12_000)
        .map(|i| format!("s-a1b2c3d4e5f6{i:05}"))
        .collect();
    let lines = rejection(&with_waves(&format!(
        "  - name: db\n    servers: {{ids: [{}]}}\n",
        ids.join(", ")
    )));
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with("plans/billing.plan.yaml: waves: the plan lists too many servers: the preflight task's input"));
}

#[test]
fn reports_every_problem_at_once() {
    let lines = rejection(
        "name: bad name\ntasks: {heartbeatSeconds: 0}\nwaves:\n\
         \x20 - name: db\n    servers: {ids: [s-1]}\n\
         \x20 - name: db\n\
         \x20 - name: web\n    servers: {tags: {T: w}}\n    polling: {minWaitSeconds: 9, maxWaitSeconds: 3}\n",
    );
    assert_eq!(
        lines,
        vec![
            "plans/billing.plan.yaml: name: \"bad name\" is not a valid plan name: use 1 to 40 letters, digits, '-' or '_' (it becomes part of resource names)",
            "plans/billing.plan.yaml: tasks.heartbeatSeconds: 0 must be a positive number of seconds",
            "plans/billing.plan.yaml: wave 1 \"db\": servers.ids[0]: \"s-1\" is not a source server ID (s- followed by 17 letters or digits)",
            "plans/billing.plan.yaml: wave 2 \"db\": name: \"db\" is also the name of wave 1: wave names must be unique",
            "plans/billing.plan.yaml: wave 2 \"db\": servers: the wave selects no servers: give servers.ids (source server IDs) and/or servers.tags",
            "plans/billing.plan.yaml: wave 3 \"web\": polling: minWaitSeconds 9 is more than maxWaitSeconds 3: the shortest wait must not exceed the longest",
        ]
    );
}

#[test]
fn an_unreadable_file_is_an_io_error() {
    let err = drs_codegen::compile_file(
        std::path::Path::new("/nonexistent/x.plan.yaml"),
        &ActivityResources::Placeholders,
    )
    .expect_err("no such file");
    assert!(matches!(err, PlanError::Read { .. }));
    assert_eq!(err.exit_code(), 1);
    assert!(
        err.to_string()
            .starts_with("/nonexistent/x.plan.yaml: cannot read: ")
    );
}

#[test]
fn gates_and_decisions_take_their_defaults_and_waves_may_turn_a_gate_off() {
    let plan = plan::load_str(
        FILE,
        "name: billing\ndefaults:\n  approval: {before: true, timeoutMinutes: 30, notify: arn:aws:sns:us-east-1:123456789012:dr-team}\n  \
         onFailure: ask\n  maxAttempts: 3\n\
         waves:\n  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    approval: {before: false}\n\
         \x20 - name: web\n    servers: {tags: {Tier: web}}\n    decision: {timeoutMinutes: 0.5}\n",
    )
    .expect("valid");
    let (db, web) = (&plan.spec.waves[0], &plan.spec.waves[1]);
    assert_eq!(
        db.approval, None,
        "before: false turns the default gate off"
    );
    let gate = web.approval.as_ref().expect("the default gate");
    assert_eq!(gate.timeout_seconds, 1800);
    assert_eq!(
        gate.notify.as_deref(),
        Some("arn:aws:sns:us-east-1:123456789012:dr-team")
    );
    assert_eq!((db.on_failure, db.max_attempts), (OnFailure::Ask, 3));
    assert_eq!(
        db.decision_timeout_seconds,
        Some(4 * 3600),
        "a decision waits 4 hours by default"
    );
    assert_eq!(web.decision_timeout_seconds, Some(30));
    assert!(
        plan.execution_timeout_seconds >= 1800 + 3 * 30 + 3 * 4 * 3600,
        "the machine's timeout leaves room for every gate, decision and launch: {}",
        plan.execution_timeout_seconds
    );
}

#[test]
fn bad_gates_and_decisions_are_named() {
    assert_one(
        &with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    approval: {before: true, notify: arn:aws:sqs:us-east-1:123456789012:q}\n",
        ),
        "plans/billing.plan.yaml: wave 1 \"db\": approval.notify: \"arn:aws:sqs:us-east-1:123456789012:q\" is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)",
    );
    assert_one(
        &with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    approval: {before: true, timeoutMinutes: 20000}\n",
        ),
        "plans/billing.plan.yaml: wave 1 \"db\": approval.timeoutMinutes: 20000 minutes is more than 7 days: a gate that long is a plan nobody is watching",
    );
    assert_one(
        &with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    maxAttempts: 3\n",
        ),
        "plans/billing.plan.yaml: wave 1 \"db\": maxAttempts: 3 launches need an operator to ask for them: set onFailure: ask (it is stop)",
    );
    assert_one(
        &with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    onFailure: continue\n    decision: {timeoutMinutes: 5}\n",
        ),
        "plans/billing.plan.yaml: wave 1 \"db\": decision: a decision is asked only with onFailure: ask, of the wave or of one of its actions (it is continue)",
    );
    assert_one(
        &with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    onFailure: ask\n    maxAttempts: 11\n",
        ),
        "plans/billing.plan.yaml: wave 1 \"db\": maxAttempts: 11 must be between 1 and 10 launches",
    );
    // A gate's timeout has no timeoutSeconds field: the message must not point to one.
    assert_one(
        &with_waves(
            "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    approval: {before: true, timeoutMinutes: 0.01}\n",
        ),
        "plans/billing.plan.yaml: wave 1 \"db\": approval.timeoutMinutes: 0.01 minutes is 0.6 seconds; use a whole number of seconds",
    );
}

#[test]
fn failback_order_names_every_wave_once() {
    let waves = "  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n\
                 \x20 - name: app\n    servers: {ids: [s-a1b2c3d4e5f600002]}\n\
                 \x20 - name: web\n    servers: {ids: [s-a1b2c3d4e5f600003]}\n";
    let with_order =
        |order: &str| format!("name: billing\nfailback: {{order: {order}}}\nwaves:\n{waves}");
    let reverse = plan::load_str(FILE, &format!("name: billing\nwaves:\n{waves}")).expect("valid");
    assert_eq!(reverse.failback_order, vec![3, 2, 1]);
    let given = plan::load_str(FILE, &with_order("[app, web, db]")).expect("valid");
    assert_eq!(given.failback_order, vec![2, 3, 1]);
    assert_one(
        &with_order("[web, cache, app, db]"),
        "plans/billing.plan.yaml: failback.order: \"cache\" is not a wave of the plan",
    );
    assert_one(
        &with_order("[web, web, app, db]"),
        "plans/billing.plan.yaml: failback.order: wave \"web\" is named twice: every wave comes home once",
    );
    assert_one(
        &with_order("[web, app]"),
        "plans/billing.plan.yaml: failback.order: leaves out db: every wave comes home once",
    );
}
