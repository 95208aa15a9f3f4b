//! The region and credential check a program makes before its first call, so that a missing
//! region or missing credentials is one line saying which (and how to set them), not the SDK's
//! whole error chain on the first call. The CLI and the worker say it in their own words
//! ([`OPERATOR_CREDENTIALS_HINT`], [`WORKER_CREDENTIALS_HINT`]).

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;

/// How an operator gets credentials, for the CLI's one-line error.
pub const OPERATOR_CREDENTIALS_HINT: &str = "export AWS_PROFILE=<profile> (after `aws sso login` if it uses SSO), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; on the local stack: set -a; . .local-stack/env; set +a";

/// How the worker gets credentials.
pub const WORKER_CREDENTIALS_HINT: &str = "give the worker an IAM role (the ECS task role), or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";

/// What the check found missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("no AWS region")]
    NoRegion,
    #[error("no AWS credentials: {}", .0.detail())]
    NoCredentials(CredentialsProblem),
}

/// Why no credentials loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsProblem {
    /// The configuration has no credential provider at all.
    NoProvider,
    /// The chain looked everywhere and found none.
    NotFound,
    /// The provider did not answer in time; `message` is the SDK's.
    TimedOut { message: String },
    /// The provider failed; `message` is the SDK's, `chain` it with its sources.
    Failed { message: String, chain: String },
}

impl CredentialsProblem {
    /// What went wrong, for an operator (one line, without the hint).
    pub fn detail(&self) -> String {
        match self {
            CredentialsProblem::NoProvider => "none configured".to_string(),
            CredentialsProblem::NotFound => {
                "none found in the environment, the AWS profile files, SSO or an instance or container role".to_string()
            }
            CredentialsProblem::TimedOut { .. } => {
                "the credential provider did not answer in time".to_string()
            }
            CredentialsProblem::Failed { chain, .. } => {
                format!("the credential provider failed ({})", one_line(chain))
            }
        }
    }

    /// The SDK's own words for it (what the worker logs); None when there is no provider.
    pub fn sdk_message(&self) -> Option<&str> {
        match self {
            CredentialsProblem::NoProvider => None,
            CredentialsProblem::NotFound => Some("none found"),
            CredentialsProblem::TimedOut { message }
            | CredentialsProblem::Failed { message, .. } => Some(message),
        }
    }
}

/// The region is set and credentials load.
pub async fn check(sdk: &SdkConfig) -> Result<(), SetupError> {
    if sdk.region().is_none() {
        return Err(SetupError::NoRegion);
    }
    let Some(provider) = sdk.credentials_provider() else {
        return Err(SetupError::NoCredentials(CredentialsProblem::NoProvider));
    };
    provider
        .provide_credentials()
        .await
        .map(|_| ())
        .map_err(|e| SetupError::NoCredentials(problem_of(&e)))
}

/// A credential chain that found nothing or failed.
pub fn problem_of(e: &CredentialsError) -> CredentialsProblem {
    match e {
        CredentialsError::CredentialsNotLoaded(_) => CredentialsProblem::NotFound,
        CredentialsError::ProviderTimedOut(_) => CredentialsProblem::TimedOut {
            message: e.to_string(),
        },
        other => {
            let mut chain = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                source = s.source();
            }
            CredentialsProblem::Failed {
                message: other.to_string(),
                chain,
            }
        }
    }
}

/// Newlines and runs of spaces folded.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_problem_is_one_line_for_an_operator_and_the_sdk_words_for_the_worker() {
        let failed = CredentialsProblem::Failed {
            message: "an error occurred".into(),
            chain: "an error occurred: profile\n  sso   expired".into(),
        };
        assert_eq!(
            failed.detail(),
            "the credential provider failed (an error occurred: profile sso expired)"
        );
        assert_eq!(failed.sdk_message(), Some("an error occurred"));
        assert_eq!(
            CredentialsProblem::NotFound.sdk_message(),
            Some("none found")
        );
        assert_eq!(CredentialsProblem::NoProvider.sdk_message(), None);
        assert_eq!(
            SetupError::NoCredentials(CredentialsProblem::NoProvider).to_string(),
            "no AWS credentials: none configured"
        );
    }
}
