//! [`RecordingNotifier`]: SNS in memory, recording what would have been published.

use std::sync::{Arc, Mutex};

use super::lock;
use drs_waves_aws::AwsError;

/// What SNS would have delivered: each published (topic, subject, message), or the error the
/// next publish fails with.
#[derive(Clone, Default)]
pub struct RecordingNotifier {
    sent: Arc<Mutex<Vec<(String, String, String)>>>,
    fail_next: Arc<Mutex<Option<AwsError>>>,
}

impl RecordingNotifier {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn sent(&self) -> Vec<(String, String, String)> {
        lock(&self.sent).clone()
    }

    pub fn fail_next(&self, err: AwsError) {
        *lock(&self.fail_next) = Some(err);
    }
}

impl drs_waves_aws::sns::Notifier for RecordingNotifier {
    fn publish<'a>(
        &'a self,
        topic_arn: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> drs_waves_aws::sns::Publishing<'a> {
        Box::pin(async move {
            if let Some(err) = lock(&self.fail_next).take() {
                return Err(err);
            }
            lock(&self.sent).push((topic_arn.into(), subject.into(), message.into()));
            Ok(())
        })
    }
}
