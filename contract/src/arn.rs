//! Activity ARNs, as `NAME=ARN` pairs on the command lines of `drs-codegen generate` and
//! `drs-worker`. One parser, one rule: the ARN must be a Step Functions activity ARN
//! (`arn:<partition>:states:<region>:<account>:activity:<name>`), so a Lambda or state-machine
//! ARN given by mistake is refused where it is typed, not when the first task never arrives.

use std::collections::BTreeMap;

use crate::Activity;

/// Why `--activity-arn` values were refused. Each message names the flag and the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActivityArnError {
    #[error(
        "--activity-arn {0:?}: expected NAME=ARN, for example preflight=arn:aws:states:us-east-1:123456789012:activity:drs-waves-preflight"
    )]
    Malformed(String),
    #[error("--activity-arn {name:?}: unknown activity; the activities are {known}")]
    UnknownActivity { name: String, known: String },
    #[error("--activity-arn {name}: given twice")]
    Duplicate { name: String },
    #[error(
        "--activity-arn {name}={arn:?}: not an activity ARN (arn:<partition>:states:<region>:<account>:activity:<name>)"
    )]
    NotAnActivityArn { name: String, arn: String },
    #[error("--activity-arn: missing {missing}; give every activity")]
    Missing { missing: String },
}

/// Whether `arn` is a Step Functions activity ARN.
pub fn is_activity_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    parts.len() == 7
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "states"
        && !parts[3].is_empty()
        && !parts[4].is_empty()
        && parts[5] == "activity"
        && !parts[6].is_empty()
}

/// One ARN for every activity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityArns(BTreeMap<Activity, String>);

impl ActivityArns {
    /// Parses `NAME=ARN` pairs (surrounding spaces ignored, empty items skipped); every activity
    /// must be given exactly once.
    pub fn from_pairs<S: AsRef<str>>(pairs: &[S]) -> Result<ActivityArns, ActivityArnError> {
        let mut arns = BTreeMap::new();
        for pair in pairs
            .iter()
            .map(|p| p.as_ref().trim())
            .filter(|p| !p.is_empty())
        {
            let (name, arn) = pair
                .split_once('=')
                .ok_or_else(|| ActivityArnError::Malformed(pair.to_owned()))?;
            let (name, arn) = (name.trim(), arn.trim());
            let activity =
                Activity::from_name(name).ok_or_else(|| ActivityArnError::UnknownActivity {
                    name: name.to_owned(),
                    known: Activity::ALL.map(Activity::name).join(", "),
                })?;
            if !is_activity_arn(arn) {
                return Err(ActivityArnError::NotAnActivityArn {
                    name: name.to_owned(),
                    arn: arn.to_owned(),
                });
            }
            if arns.insert(activity, arn.to_owned()).is_some() {
                return Err(ActivityArnError::Duplicate {
                    name: name.to_owned(),
                });
            }
        }
        let missing: Vec<&str> = Activity::ALL
            .into_iter()
            .filter(|a| !arns.contains_key(a))
            .map(Activity::name)
            .collect();
        if !missing.is_empty() {
            return Err(ActivityArnError::Missing {
                missing: missing.join(", "),
            });
        }
        Ok(ActivityArns(arns))
    }

    /// The deployed ARNs for a prefix in one region and account (`<prefix>-preflight`, ...).
    pub fn for_prefix(partition_region_account: (&str, &str, &str), prefix: &str) -> ActivityArns {
        let (partition, region, account) = partition_region_account;
        ActivityArns(
            Activity::ALL
                .into_iter()
                .map(|a| {
                    (
                        a,
                        format!(
                            "arn:{partition}:states:{region}:{account}:activity:{}",
                            a.deployed_name(prefix)
                        ),
                    )
                })
                .collect(),
        )
    }

    pub fn get(&self, activity: Activity) -> &str {
        // Every activity is present: from_pairs and for_prefix guarantee it.
        self.0
            .get(&activity)
            .map(String::as_str)
            .unwrap_or_default()
    }

    pub fn iter(&self) -> impl Iterator<Item = (Activity, &str)> {
        self.0.iter().map(|(a, arn)| (*a, arn.as_str()))
    }

    pub fn into_map(self) -> BTreeMap<Activity, String> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str) -> String {
        format!("{name}=arn:aws:states:us-east-1:123456789012:activity:drs-waves-{name}")
    }

    fn all() -> Vec<String> {
        Activity::ALL.map(|a| pair(a.name())).to_vec()
    }

    #[test]
    fn every_pair_parses_with_spaces_and_empty_items_ignored() {
        let mut pairs = all();
        pairs[0] = format!("  {} ", pairs[0]);
        pairs.push(String::new());
        let arns = ActivityArns::from_pairs(&pairs).expect("every activity");
        assert_eq!(
            arns.get(Activity::CheckWave),
            "arn:aws:states:us-east-1:123456789012:activity:drs-waves-check-wave"
        );
        assert_eq!(arns.iter().count(), Activity::ALL.len());
    }

    #[test]
    fn each_kind_of_mistake_is_named() {
        assert!(matches!(
            ActivityArns::from_pairs(&[pair("preflight")]),
            Err(ActivityArnError::Missing { missing }) if missing == "start-wave, check-wave, finish, record-failure, await-operator, check-health, start-network, check-network"
        ));
        assert!(matches!(
            ActivityArns::from_pairs(&[pair("launch")]),
            Err(ActivityArnError::UnknownActivity { name, .. }) if name == "launch"
        ));
        assert!(matches!(
            ActivityArns::from_pairs(&[pair("finish"), pair("finish")]),
            Err(ActivityArnError::Duplicate { name }) if name == "finish"
        ));
        assert!(matches!(
            ActivityArns::from_pairs(&["finish"]),
            Err(ActivityArnError::Malformed(_))
        ));
        for wrong in [
            "arn:aws:lambda:us-east-1:0:function:f",
            "arn:aws:states:us-east-1:0:stateMachine:m",
            "arn:1",
            "arn:aws:states:us-east-1:0:activity:",
        ] {
            assert!(
                matches!(
                    ActivityArns::from_pairs(&[format!("finish={wrong}")]),
                    Err(ActivityArnError::NotAnActivityArn { .. })
                ),
                "{wrong} was accepted"
            );
        }
    }

    #[test]
    fn prefix_arns_are_activity_arns() {
        let arns = ActivityArns::for_prefix(("aws", "eu-west-1", "111122223333"), "dr");
        for (a, arn) in arns.iter() {
            assert!(is_activity_arn(arn), "{arn}");
            assert!(arn.ends_with(&format!(":activity:dr-{}", a.name())));
        }
    }
}
