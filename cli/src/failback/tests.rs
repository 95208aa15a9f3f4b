use super::*;
use drs_waves_contract::{ExecutionStatus, Mode};

fn recovery() -> ExecutionRecord {
    ExecutionRecord {
        mode: Some(Mode::Recovery),
        ..ExecutionRecord::new(
            "arn:aws:states:us-east-1:123456789012:execution:billing:recovery-1",
            "recovery-1",
            "billing",
            ExecutionStatus::Succeeded,
            "2030-01-01T00:00:00Z",
        )
    }
}

fn ready(servers: &[&str]) -> Readiness {
    Readiness {
        ready: servers
            .iter()
            .map(|s| ((*s).to_string(), format!("i-{s}")))
            .collect(),
        not_ready: Vec::new(),
    }
}

fn wave(index: u32, name: &str, readiness: Readiness) -> WaveCheck {
    WaveCheck {
        index,
        name: name.into(),
        account: None,
        readiness,
        optional: Readiness::default(),
    }
}

#[test]
fn every_required_server_ready_says_so_and_exits_0() {
    let waves = [
        wave(2, "web", ready(&["s-web"])),
        wave(1, "db", ready(&["s-db1", "s-db2"])),
    ];
    let text = render("billing", &recovery(), &waves);
    assert!(text.contains("bringing home RECOVERY recovery-1"), "{text}");
    assert!(
        text.contains("waves come home in order: 2 web, 1 db"),
        "{text}"
    );
    assert!(text.contains("ready: every required server (3)"), "{text}");
    assert!(
        !text.contains("failback state"),
        "no table when all are ready: {text}"
    );
    assert_eq!(exit_code(&waves), 0);
}

#[test]
fn servers_not_ready_are_named_with_their_state_and_why_and_exit_1() {
    let mut db = ready(&["s-db1"]);
    db.not_ready.push(NotReady {
        source_server_id: "s-db2".into(),
        recovery_instance_id: Some("i-db2".into()),
        state: "FAILBACK_IN_PROGRESS".into(),
        why: "it is still replicating back".into(),
    });
    let mut optional = Readiness::default();
    optional.not_ready.push(NotReady {
        source_server_id: "s-cache".into(),
        recovery_instance_id: None,
        state: "NO_RECOVERY_INSTANCE".into(),
        why: "the recovery left none".into(),
    });
    let waves = [
        WaveCheck {
            optional,
            ..wave(2, "web", ready(&["s-web"]))
        },
        wave(1, "db", db),
    ];
    let text = render("billing", &recovery(), &waves);
    for expected in [
        "s-db2",
        "i-db2",
        "FAILBACK_IN_PROGRESS",
        "still replicating back",
        "s-cache (optional)",
        "not ready: 1 wave(s)",
        "(2 ready)",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    assert_eq!(exit_code(&waves), 1);
    // An optional server alone does not hold the plan back.
    assert_eq!(exit_code(&waves[..1]), 0);
}

#[test]
fn a_wave_in_another_account_is_checked_there_and_named_with_it() {
    let not_ready = Readiness {
        not_ready: vec![NotReady {
            source_server_id: "s-db".into(),
            recovery_instance_id: Some("i-db".into()),
            state: "FAILBACK_NOT_STARTED".into(),
            why: "start the replication back".into(),
        }],
        ..Readiness::default()
    };
    let waves = [WaveCheck {
        account: Some("111122223333 eu-west-1".into()),
        ..wave(1, "db", not_ready)
    }];
    let text = render("billing", &recovery(), &waves);
    assert!(text.contains("1 db (111122223333 eu-west-1)"), "{text}");
    assert!(text.contains("s-db"), "{text}");
    assert_eq!(exit_code(&waves), 1);
    let home = [WaveCheck {
        account: Some("111122223333 eu-west-1".into()),
        ..wave(1, "db", ready(&["s-db"]))
    }];
    assert_eq!(exit_code(&home), 0);
}
