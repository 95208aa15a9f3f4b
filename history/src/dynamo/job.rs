//! The JOB items (`EXEC#<arn>`, `WAVE#0001#JOB#<jobID>`): one DRS job of a wave with its
//! per-server detail, written whole by each check and read back with the execution's items.

use drs_waves_contract::history::SORT_KEY;

use super::DynamoHistory;
use crate::HistoryError;
use crate::codec::job_of;
use crate::items::job_item;
use crate::records::JobRecord;

impl DynamoHistory {
    /// Writes one JOB item whole (a check sees the job's every server).
    pub(super) async fn put_job(&self, j: &JobRecord) -> Result<(), HistoryError> {
        self.put_whole(job_item(j), "job record").await
    }

    /// Every JOB item of the execution, of all its waves.
    pub(super) async fn jobs_of(&self, execution_id: &str) -> Result<Vec<JobRecord>, HistoryError> {
        self.query_execution(execution_id)
            .await?
            .iter()
            .filter(|i| {
                i.get(SORT_KEY)
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|sk| sk.contains("#JOB#"))
            })
            .map(job_of)
            .collect()
    }
}
