//! Names, pure: how an operator names an execution, how plans map to state machines, the
//! close names an error lists, and the generated states' names.

/// How an operator named an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionRef {
    /// `arn:aws:states:...:execution:<machine>:<name>`.
    Arn(String),
    /// `PLAN:latest`: the plan's newest execution.
    Latest(String),
    /// An execution name, searched in the plans' state machines.
    Name(String),
}

pub fn parse_execution_ref(text: &str) -> ExecutionRef {
    let text = text.trim();
    if text.starts_with("arn:") {
        ExecutionRef::Arn(text.to_string())
    } else if let Some(plan) = text.strip_suffix(":latest") {
        ExecutionRef::Latest(plan.to_string())
    } else {
        ExecutionRef::Name(text.to_string())
    }
}

/// The plan a state machine runs: machines are named `<prefix>-<plan>`.
pub fn plan_of_machine<'a>(prefix: &str, machine_name: &'a str) -> Option<&'a str> {
    machine_name
        .strip_prefix(prefix)?
        .strip_prefix('-')
        .filter(|p| !p.is_empty())
}

pub fn machine_name(prefix: &str, plan: &str) -> String {
    format!("{prefix}-{plan}")
}

/// The ARN an execution named `name` of `machine_arn` has.
pub fn execution_arn(machine_arn: &str, name: &str) -> Option<String> {
    let (head, machine) = machine_arn.split_once(":stateMachine:")?;
    Some(format!("{head}:execution:{machine}:{name}"))
}

/// The machine name and execution name in an execution ARN.
pub fn split_execution_arn(arn: &str) -> Option<(&str, &str)> {
    let (_, rest) = arn.split_once(":execution:")?;
    rest.split_once(':')
}

/// Up to five of `candidates` close to `query`: those containing it (or contained in it), and
/// those within a few edits, closest first.
pub fn close_names<S: AsRef<str>>(query: &str, candidates: &[S]) -> Vec<String> {
    let q = query.to_lowercase();
    let mut scored: Vec<((bool, usize), String)> = candidates
        .iter()
        .map(AsRef::as_ref)
        .filter_map(|c| {
            let lc = c.to_lowercase();
            // A name typed short (or mistyped near its start) is compared with the candidate's
            // start too: "storefrnt" is close to "storefront-gated".
            let head: String = lc.chars().take(q.chars().count() + 1).collect();
            let d = edit_distance(&q, &lc).min(edit_distance(&q, &head) + 1);
            let allowed = (q.chars().count().max(lc.chars().count()) / 3).max(2);
            let contains = !q.is_empty() && (lc.contains(&q) || q.contains(&lc));
            (d <= allowed || contains).then(|| ((d > allowed, d), c.to_string()))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(5).map(|(_, c)| c).collect()
}

/// ", close: a, b" or "" (for error messages).
pub fn close_suffix<S: AsRef<str>>(query: &str, candidates: &[S]) -> String {
    let close = close_names(query, candidates);
    if close.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executions_are_named_by_arn_by_name_or_plan_latest() {
        let arn = "arn:aws:states:us-east-1:1:execution:drs-waves-billing:drill-1";
        assert_eq!(parse_execution_ref(arn), ExecutionRef::Arn(arn.into()));
        assert_eq!(
            parse_execution_ref("billing:latest"),
            ExecutionRef::Latest("billing".into())
        );
        assert_eq!(
            parse_execution_ref(" drill-20261128T2200Z "),
            ExecutionRef::Name("drill-20261128T2200Z".into())
        );
    }

    #[test]
    fn machines_are_prefix_dash_plan() {
        assert_eq!(
            plan_of_machine("drs-waves", "drs-waves-billing"),
            Some("billing")
        );
        assert_eq!(plan_of_machine("drs-waves", "drs-wavesbilling"), None);
        assert_eq!(plan_of_machine("drs-waves", "drs-waves-"), None);
        assert_eq!(plan_of_machine("other", "drs-waves-billing"), None);
        assert_eq!(machine_name("p", "billing"), "p-billing");
    }

    #[test]
    fn execution_arns_follow_their_machine() {
        let machine = "arn:aws:states:us-east-1:000000000000:stateMachine:drs-waves-billing";
        let arn = execution_arn(machine, "drill-1").expect("arn");
        assert_eq!(
            arn,
            "arn:aws:states:us-east-1:000000000000:execution:drs-waves-billing:drill-1"
        );
        assert_eq!(
            split_execution_arn(&arn),
            Some(("drs-waves-billing", "drill-1"))
        );
        assert_eq!(execution_arn("not-an-arn", "x"), None);
    }

    #[test]
    fn close_names_are_typos_and_substrings_closest_first() {
        let plans = ["billing", "storefront", "fleet", "billing-eu"];
        assert_eq!(close_names("biling", &plans), vec!["billing", "billing-eu"]);
        assert_eq!(
            close_names("billing-e", &plans),
            vec!["billing-eu", "billing"]
        );
        assert_eq!(close_names("store", &plans), vec!["storefront"]);
        assert!(close_names("zzzzzzzz", &plans).is_empty());
        assert_eq!(
            close_names("storefrnt", &["storefront-gated", "billing"]),
            vec!["storefront-gated"]
        );
        assert_eq!(close_suffix("fleeet", &plans), "; did you mean fleet?");
        assert_eq!(close_suffix("zzzzzzzz", &plans), "");
    }
}
