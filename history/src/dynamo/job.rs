//! The JOB items (`EXEC#<arn>`, `WAVE#0001#JOB#<jobID>`): one DRS job of a wave with its
//! per-server detail, written whole by each check and read back with the execution's items.

use drs_waves_contract::history::{SORT_KEY, execution_pk, job_sk};

use super::DynamoHistory;
use crate::HistoryError;
use crate::codec::{job_of, job_servers_av, n, s};
use crate::error::from_sdk;
use crate::records::JobRecord;

impl DynamoHistory {
    /// Writes one JOB item whole (a check sees the job's every server).
    pub(super) async fn put_job(&self, j: &JobRecord) -> Result<(), HistoryError> {
        let mut item = Self::key(
            execution_pk(&j.execution_id),
            &job_sk(j.wave_index, &j.job_id),
        );
        item.insert("itemType".into(), s("JOB"));
        item.insert("executionId".into(), s(&j.execution_id));
        item.insert("waveIndex".into(), n(j.wave_index));
        item.insert("jobId".into(), s(&j.job_id));
        item.insert("jobStatus".into(), s(j.job_status.as_str()));
        item.insert("updatedAt".into(), s(&j.updated_at));
        item.insert("servers".into(), job_servers_av(&j.servers));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| from_sdk("DynamoDB PutItem (job record)", &e))?;
        Ok(())
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
