//! Telling people that a gate waits: an SNS message to the topic the plan names
//! (`approval.notify`, `decisionNotify`). A narrow seam, like the others: [`SnsNotifier`] is
//! the real one, `drs_worker::testing::RecordingNotifier` records what would have been sent.

use std::future::Future;
use std::pin::Pin;

use crate::AwsError;
use crate::failure::from_sdk;

pub type Publishing<'a> = Pin<Box<dyn Future<Output = Result<(), AwsError>> + Send + 'a>>;

/// Publishes one message to an SNS topic.
pub trait Notifier: Send + Sync + 'static {
    fn publish<'a>(
        &'a self,
        topic_arn: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> Publishing<'a>;
}

/// SNS Publish. The subject is cut to SNS's 100 characters (e-mail subjects).
#[derive(Clone, Debug)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
}

/// SNS refuses a longer Subject.
const MAX_SUBJECT_CHARS: usize = 100;

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        SnsNotifier { client }
    }
}

impl Notifier for SnsNotifier {
    fn publish<'a>(
        &'a self,
        topic_arn: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> Publishing<'a> {
        Box::pin(async move {
            let subject: String = subject.chars().take(MAX_SUBJECT_CHARS).collect();
            self.client
                .publish()
                .topic_arn(topic_arn)
                .subject(subject)
                .message(message)
                .send()
                .await
                .map_err(|e| from_sdk("SNS Publish", &e))?;
            Ok(())
        })
    }
}

/// No SNS client: a plan that names a topic gets a clear error in the log, never a silent gap.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoNotifier;

impl Notifier for NoNotifier {
    fn publish<'a>(&'a self, topic_arn: &'a str, _: &'a str, _: &'a str) -> Publishing<'a> {
        Box::pin(async move {
            Err(AwsError::Failed(format!(
                "this worker has no SNS client, so it cannot notify {topic_arn}"
            )))
        })
    }
}
