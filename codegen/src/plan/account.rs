//! A wave's `account` (or the plan's `defaults.account`): the role to assume and the region of
//! the wave's DRS, checked as IAM and STS check them (IAM's role ARN and name rules, STS
//! AssumeRole's ExternalId constraints: docs/REFERENCE.md, "Across accounts").

use super::fields::Scope;
use super::file::AccountFile;
use crate::contract::WaveAccount;

/// STS AssumeRole's ExternalId: 2 to 1224 characters of `[\w+=,.@:/-]`.
const EXTERNAL_ID_CHARS: std::ops::RangeInclusive<usize> = 2..=1224;
/// IAM: a role's name is at most 64 characters, its path at most 512.
const MAX_ROLE_NAME_CHARS: usize = 64;
const MAX_ROLE_PATH_CHARS: usize = 512;

/// The checked account, or None after reporting what is wrong (`prefix` names where it was
/// set: `defaults.account.` or `account.`).
pub(super) fn account(scope: &mut Scope<'_>, prefix: &str, a: &AccountFile) -> Option<WaveAccount> {
    let mut ok = true;
    if a.role_arn.is_none() && a.region.is_none() {
        scope.report(
            prefix.trim_end_matches('.'),
            "names neither roleArn nor region: give the role to assume in the servers' account, their region, or both",
        );
        ok = false;
    }
    if let Some(arn) = &a.role_arn
        && let Err(why) = check_role_arn(arn)
    {
        scope.report(
            format!("{prefix}roleArn"),
            format!("{arn:?} is not an IAM role ARN: {why}"),
        );
        ok = false;
    }
    if let Some(region) = &a.region
        && !is_region(region)
    {
        scope.report(
            format!("{prefix}region"),
            format!("{region:?} is not an AWS region name (like eu-west-1 or us-gov-west-1)"),
        );
        ok = false;
    }
    if let Some(id) = &a.external_id {
        if a.role_arn.is_none() {
            scope.report(
                format!("{prefix}externalId"),
                "an external ID is given to the role being assumed: it needs roleArn",
            );
            ok = false;
        } else if !is_external_id(id) {
            scope.report(
                format!("{prefix}externalId"),
                format!(
                    "must be {} to {} characters of letters, digits and _+=,.@:/- (STS AssumeRole's ExternalId)",
                    EXTERNAL_ID_CHARS.start(),
                    EXTERNAL_ID_CHARS.end()
                ),
            );
            ok = false;
        }
    }
    ok.then(|| WaveAccount {
        role_arn: a.role_arn.clone(),
        region: a.region.clone(),
        external_id: a.external_id.clone(),
    })
}

/// `arn:<partition>:iam::<12 digits>:role/<path/><name>`.
fn check_role_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_word, partition, service, region, account, resource] = parts[..] else {
        return Err("expected arn:aws:iam::<account>:role/<name>".into());
    };
    if arn_word != "arn" || !partition.starts_with("aws") || service != "iam" {
        return Err("expected arn:aws:iam::<account>:role/<name>".into());
    }
    if !region.is_empty() {
        return Err("IAM ARNs have no region (arn:aws:iam::<account>:...)".into());
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the account {account:?} must be 12 digits"));
    }
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return Err(format!("{resource:?} is not a role (role/<name>)"));
    };
    let name = path_and_name.rsplit('/').next().unwrap_or("");
    let role_chars = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
    };
    if name.is_empty()
        || name.len() > MAX_ROLE_NAME_CHARS
        || !role_chars(name)
        || name.contains('/')
    {
        return Err(format!(
            "the role name {name:?} must be 1 to {MAX_ROLE_NAME_CHARS} letters, digits and +=,.@_-"
        ));
    }
    if path_and_name.len() - name.len() > MAX_ROLE_PATH_CHARS || !role_chars(path_and_name) {
        return Err("the role's path is not a valid IAM path".into());
    }
    Ok(())
}

/// `eu-west-1`, `us-gov-west-1`, `ap-southeast-3`: letters, dash-separated, a trailing digit.
pub(super) fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].len() == 1
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

fn is_external_id(s: &str) -> bool {
    EXTERNAL_ID_CHARS.contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@:/-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_are_checked_as_iam_writes_them() {
        assert!(check_role_arn("arn:aws:iam::111111111111:role/drs-waves-target").is_ok());
        assert!(check_role_arn("arn:aws-us-gov:iam::111111111111:role/dr/drs-waves").is_ok());
        assert!(check_role_arn("arn:aws:iam::11111111111:role/x").is_err());
        assert!(check_role_arn("arn:aws:iam:eu-west-1:111111111111:role/x").is_err());
        assert!(check_role_arn("arn:aws:iam::111111111111:user/x").is_err());
        assert!(check_role_arn("arn:aws:sts::111111111111:role/x").is_err());
        assert!(check_role_arn("arn:aws:iam::111111111111:role/").is_err());
        assert!(
            check_role_arn(&format!(
                "arn:aws:iam::111111111111:role/{}",
                "r".repeat(65)
            ))
            .is_err()
        );
    }

    #[test]
    fn regions_and_external_ids() {
        for r in ["eu-west-1", "us-gov-west-1", "ap-southeast-3"] {
            assert!(is_region(r), "{r}");
        }
        for r in ["eu-west", "EU-west-1", "euwest1", "e-west-1", "eu-west-12"] {
            assert!(!is_region(r), "{r}");
        }
        assert!(is_external_id("a1"));
        assert!(!is_external_id("a"));
        assert!(!is_external_id("has space"));
    }
}
