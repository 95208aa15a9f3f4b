//! `health` as a plan's author meets it: what is accepted, the defaults, and each rejection as
//! the CLI prints it, naming file, wave and field.

use crate::contract::{Probe, StatusRange};
use crate::plan::{PlanError, load_str};

const FILE: &str = "plans/shop.plan.yaml";

fn plan_text(health: &str) -> String {
    format!(
        "name: shop\nwaves:\n  - name: app\n    servers: {{tags: {{Tier: app}}}}\n    health:\n{health}"
    )
}

fn rejection(text: &str) -> Vec<String> {
    match load_str(FILE, text) {
        Ok(_) => panic!("plan was accepted:\n{text}"),
        Err(e @ PlanError::Invalid { .. }) => e.to_string().lines().map(str::to_owned).collect(),
        Err(e) => panic!("not a validation error: {e}"),
    }
}

#[test]
fn checks_are_read_with_their_defaults_and_a_wave_inherits_the_plans() {
    let plan = load_str(
        FILE,
        "name: shop\ndefaults:\n  health: [{tcp: {port: 22}}]\nwaves:\n\
         \x20 - name: db\n    servers: {tags: {Tier: db}}\n\
         \x20 - name: app\n    servers: {tags: {Tier: app}}\n    health:\n\
         \x20     - http: {url: \"http://{privateIp}:8080/ready\", expect: 204}\n\
         \x20       timeoutMinutes: 2\n        intervalSeconds: 5\n\
         \x20     - http: {url: \"http://lb.internal/\", expect: \"200-399\"}\n\
         \x20     - tcp: {port: 5432, host: db.internal}\n\
         \x20 - name: web\n    servers: {tags: {Tier: web}}\n    health: []\n",
    )
    .expect("valid");
    let waves = &plan.spec.waves;
    assert_eq!(
        waves[0].health[0].probe,
        Probe::Tcp {
            port: 22,
            host: None
        }
    );
    assert_eq!(
        (
            waves[0].health[0].timeout_seconds,
            waves[0].health[0].interval_seconds
        ),
        (600, 30)
    );
    assert_eq!(waves[1].health.len(), 3);
    assert_eq!(
        waves[1].health[0].probe,
        Probe::Http {
            url: "http://{privateIp}:8080/ready".into(),
            expect: StatusRange { min: 204, max: 204 }
        }
    );
    assert_eq!(
        (
            waves[1].health[0].timeout_seconds,
            waves[1].health[0].interval_seconds
        ),
        (120, 5)
    );
    assert_eq!(
        waves[1].health[1].probe,
        Probe::Http {
            url: "http://lb.internal/".into(),
            expect: StatusRange { min: 200, max: 399 }
        }
    );
    assert!(waves[2].health.is_empty(), "[] turns the defaults off");
}

#[test]
fn bad_urls_ports_statuses_and_timings_are_named() {
    let lines = rejection(&plan_text(
        "      - http: {url: \"https://{privateIp}/health\"}\n\
         \x20     - http: {url: \"ftp://x/\"}\n\
         \x20     - http: {url: \"http://{privateIp}:99999/\"}\n\
         \x20     - http: {url: \"http://x/{privateIp}\", expect: 700}\n\
         \x20     - tcp: {port: 0}\n\
         \x20     - tcp: {port: 22, host: \"bad host\"}\n\
         \x20     - {timeoutMinutes: 1}\n\
         \x20     - {tcp: {port: 22}, http: {url: \"http://x/\"}}\n\
         \x20     - tcp: {port: 22}\n        timeoutMinutes: 1\n        intervalSeconds: 120\n\
         \x20     - http: {url: \"http://x/\", expect: 6xx}\n        timeoutMinutes: 2000\n",
    ));
    let at =
        |k: usize, rest: &str| format!("plans/shop.plan.yaml: wave 1 \"app\": health[{k}].{rest}");
    assert_eq!(
        lines,
        vec![
            at(0, "http.url: \"https://{privateIp}/health\" is https: the worker probes http:// only (put the check on the plain port, or check the TLS port with tcp)"),
            at(1, "http.url: \"ftp://x/\" is not an http:// URL"),
            at(2, "http.url: \"http://{privateIp}:99999/\" names port \"99999\": a port is 1-65535"),
            at(3, "http.url: \"http://x/{privateIp}\" has a placeholder outside its host: only the host may be {privateIp} or {hostname}"),
            at(3, "http.expect: 700 is not an HTTP status: give a code (200), a class (\"2xx\") or a range (\"200-399\") within 100-599"),
            at(4, "tcp.port: 0 is not a port: give 1-65535"),
            at(5, "tcp.host: \"bad host\" is not a host: give a host name, an IPv4 address, {privateIp} or {hostname}"),
            "plans/shop.plan.yaml: wave 1 \"app\": health[6]: a health check needs a kind: give http, tcp or alarm".to_owned(),
            "plans/shop.plan.yaml: wave 1 \"app\": health[7]: a health check is one kind: give one of http, tcp or alarm".to_owned(),
            at(8, "intervalSeconds: 120 seconds between probes is more than the check's timeout (60 s): it would be probed once at most"),
            at(9, "http.expect: \"6xx\" is not an HTTP status: give a code (200), a class (\"2xx\") or a range (\"200-399\") within 100-599"),
            at(9, "timeoutMinutes: 2000 minutes is more than a day (1440): a check that long holds the recovery for nothing"),
        ]
    );
}

#[test]
fn the_defaults_checks_are_named_as_the_defaults() {
    let lines = rejection(
        "name: shop\ndefaults:\n  health: [{tcp: {port: 70000}}]\nwaves:\n  - name: app\n    servers: {tags: {Tier: app}}\n",
    );
    assert_eq!(
        lines,
        vec![
            "plans/shop.plan.yaml: defaults.health[0].tcp.port: 70000 is not a port: give 1-65535"
        ]
    );
}

#[test]
fn alarm_checks_are_read_once_per_name_and_bad_names_are_refused() {
    let plan = load_str(
        FILE,
        &plan_text(
            "      - alarm: app-5xx\n        intervalSeconds: 60\n\
             \x20     - alarm: app-latency\n\
             \x20     - alarm: app-5xx\n        timeoutMinutes: 20\n",
        ),
    )
    .expect("valid plan");
    let checks = &plan.spec.waves[0].health;
    assert_eq!(
        checks[0].probe,
        Probe::Alarm {
            name: "app-5xx".into()
        }
    );
    assert_eq!(checks[0].interval_seconds, 60);
    assert_eq!(
        crate::plan::health::alarm_names(checks),
        ["app-5xx", "app-latency"]
    );
    let long = "a".repeat(256);
    let lines = rejection(&plan_text(&format!(
        "      - alarm: \"{long}\"\n\
         \x20     - alarm: \"app-*\"\n\
         \x20     - {{alarm: x, tcp: {{port: 22}}}}\n"
    )));
    let at =
        |k: usize, rest: &str| format!("plans/shop.plan.yaml: wave 1 \"app\": health[{k}]{rest}");
    assert_eq!(
        lines,
        [
            at(
                0,
                &format!(
                    ".alarm: \"{long}\" is not a CloudWatch alarm name: give 1 to 255 characters without control characters"
                )
            ),
            at(
                1,
                ".alarm: \"app-*\": * and ? would be wildcards in the IAM policy that lets Step Functions read the alarm: rename the alarm"
            ),
            at(
                2,
                ": a health check is one kind: give one of http, tcp or alarm"
            ),
        ]
    );
    let many: String = (0..101).map(|k| format!("      - alarm: a{k}\n")).collect();
    assert_eq!(
        rejection(&plan_text(&many)),
        [
            "plans/shop.plan.yaml: wave 1 \"app\": health: 101 alarms: DescribeAlarms reads at most 100 at once; check a composite of them, or fewer"
        ]
    );
}
