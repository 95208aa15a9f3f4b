//! The WAVE item (`EXEC#<arn>`, `WAVE#0001`): planned before the first StartRecovery, each
//! chunk's job recorded once, updated by every check, re-planned by a retry, ended. The wave's
//! role also reaches its JOB items ([`super::job`]) and its SERVERS item
//! ([`super::launch_points`]).

use aws_sdk_dynamodb::types::AttributeValue;
use drs_waves_contract::WaveStatus;
use drs_waves_contract::history::{PARTITION_KEY, execution_pk, wave_sk};

use super::{DynamoHistory, Update, missing_record};
use crate::HistoryError;
use crate::codec::{counts_av, list_s, n, s, wave_of};
use crate::items::{
    chunk_entries_av, chunk_server_items, planned_wave, spilled_attempts, wave_items,
};
use crate::records::{ChunkWrite, JobRecord, ServerLaunchPoint, WaveChunk, WaveRecord};
use crate::roles::Waves;

impl Waves for DynamoHistory {
    async fn get_wave(
        &self,
        execution_id: &str,
        index: u32,
    ) -> Result<Option<WaveRecord>, HistoryError> {
        let Some(item) = self
            .get(execution_pk(execution_id), &wave_sk(index))
            .await?
        else {
            return Ok(None);
        };
        let mut wave = wave_of(&item)?;
        self.fill_chunk_servers(&mut wave, &item).await?;
        Ok(Some(wave))
    }

    async fn plan_wave(&self, w: WaveRecord) -> Result<WaveRecord, HistoryError> {
        let mut items = wave_items(&planned_wave(&w));
        // An existing plan was written by an earlier attempt: it wins.
        if items.len() == 1 {
            self.put_new(items.remove(0), "wave plan").await?;
        } else {
            self.put_new_with_pages(items).await?;
        }
        self.get_wave(&w.execution_id, w.index)
            .await?
            .ok_or_else(|| {
                HistoryError::conflict(
                    "DynamoDB GetItem (wave plan)",
                    "the wave's record is not readable yet",
                )
            })
    }

    async fn record_chunk_job(
        &self,
        execution_id: &str,
        wave_index: u32,
        chunk: u32,
        job_id: &str,
    ) -> Result<ChunkWrite, HistoryError> {
        let mut u = Update::default();
        u.set_path("#chunks.#c.#job", s(job_id))
            .name("#chunks", "chunks")
            .name("#c", &chunk.to_string())
            .name("#job", "jobId")
            .append("jobIds", list_s(&[job_id.to_string()]));
        u.condition("attribute_exists(#chunks.#c) AND attribute_not_exists(#chunks.#c.#job)");
        if self
            .update(execution_pk(execution_id), &wave_sk(wave_index), u)
            .await?
        {
            return Ok(ChunkWrite::Written);
        }
        let recorded = self
            .get_wave(execution_id, wave_index)
            .await?
            .and_then(|w| w.chunks.into_iter().find(|c| c.number == chunk))
            .ok_or_else(|| {
                HistoryError::Corrupt(format!(
                    "history: wave {wave_index} of {execution_id} has no planned chunk {chunk}"
                ))
            })?
            .job_id;
        match recorded {
            Some(id) if id == job_id => Ok(ChunkWrite::Written),
            Some(id) => Ok(ChunkWrite::Conflict { recorded: id }),
            None => Err(HistoryError::conflict(
                "DynamoDB UpdateItem (chunk job)",
                format!("chunk {chunk} of wave {wave_index} could not be recorded"),
            )),
        }
    }

    async fn record_wave_check(
        &self,
        w: WaveRecord,
        jobs: Vec<JobRecord>,
    ) -> Result<(), HistoryError> {
        for j in &jobs {
            self.put_job(j).await?;
        }
        let mut u = Update::default();
        u.set("itemType", s("WAVE"))
            .set("executionId", s(&w.execution_id))
            .set("waveIndex", n(w.index))
            .set("waveName", s(&w.name))
            .set("waveStatus", s(w.status.as_str()))
            .set("jobIds", list_s(&w.job_ids))
            .set("checks", n(w.checks))
            .set("counts", counts_av(&w.servers))
            .set("reason", s(&w.reason))
            .set_if_not_exists("waveStartedAt", s(&w.started_at));
        if let Some(ended) = &w.ended_at {
            u.set("waveEndedAt", s(ended));
        }
        if let Some(ms) = w.completion_ms {
            u.set("completionMillis", n(ms));
        }
        self.update(execution_pk(&w.execution_id), &wave_sk(w.index), u)
            .await
            .map(|_| ())
    }

    async fn list_jobs(&self, execution_id: &str) -> Result<Vec<JobRecord>, HistoryError> {
        self.jobs_of(execution_id).await
    }

    async fn plan_retry(
        &self,
        execution_id: &str,
        wave_index: u32,
        chunks: Vec<WaveChunk>,
    ) -> Result<WaveRecord, HistoryError> {
        let mut u = Update::default();
        u.set("waveStatus", s(WaveStatus::Launching.as_str()))
            .set("reason", s(""))
            .remove("waveEndedAt")
            .remove("completionMillis")
            .name("#chunks", "chunks")
            .name("#st", "waveStatus")
            .value(":failed", s(WaveStatus::Failed.as_str()));
        let mut condition = "#st = :failed".to_string();
        let spilled = spilled_attempts(&chunks);
        if let AttributeValue::M(planned) = chunk_entries_av(&chunks, &spilled) {
            for (i, (number, chunk)) in planned.into_iter().enumerate() {
                u.name(&format!("#c{i}"), &number);
                u.set_path(&format!("#chunks.#c{i}"), chunk);
                condition.push_str(&format!(" AND attribute_not_exists(#chunks.#c{i})"));
            }
        }
        u.condition(&condition);
        // Refused: an earlier attempt of this start task planned the retry (or the wave is not
        // FAILED); what is stored wins, as for the first plan.
        let (pk, sk) = (execution_pk(execution_id), wave_sk(wave_index));
        if spilled.is_empty() {
            self.update(pk, &sk, u).await?;
        } else {
            let pages = spilled
                .iter()
                .flat_map(|a| chunk_server_items(execution_id, wave_index, *a, &chunks))
                .collect();
            let action = u.into_transact(&self.table, Self::key(pk, &sk))?;
            if let Err(e) = self.write_with_pages(action, pages, "wave retry").await {
                // Refused by its condition only if the stored wave no longer meets it.
                let stored = self.get_wave(execution_id, wave_index).await?;
                let still_open = stored.as_ref().is_some_and(|w| {
                    w.status == WaveStatus::Failed
                        && !w
                            .chunks
                            .iter()
                            .any(|c| chunks.iter().any(|n| n.number == c.number))
                });
                if still_open {
                    return Err(e);
                }
            }
        }
        self.get_wave(execution_id, wave_index)
            .await?
            .ok_or_else(|| missing_record(execution_id))
    }

    async fn end_wave(
        &self,
        execution_id: &str,
        wave_index: u32,
        status: WaveStatus,
        reason: &str,
        ended_at: &str,
    ) -> Result<bool, HistoryError> {
        let mut u = Update::default();
        u.set("waveStatus", s(status.as_str()))
            .set("reason", s(reason))
            .set_if_not_exists("waveEndedAt", s(ended_at))
            .condition("attribute_exists(#pk)")
            .name("#pk", PARTITION_KEY);
        self.update(execution_pk(execution_id), &wave_sk(wave_index), u)
            .await
    }

    async fn record_launch_points(
        &self,
        execution_id: &str,
        wave_index: u32,
        points: Vec<ServerLaunchPoint>,
    ) -> Result<(), HistoryError> {
        self.put_launch_points(execution_id, wave_index, &points)
            .await
    }

    async fn launch_points(
        &self,
        execution_id: &str,
        wave_index: u32,
    ) -> Result<Vec<ServerLaunchPoint>, HistoryError> {
        self.read_launch_points(execution_id, wave_index).await
    }

    async fn record_wave_health(
        &self,
        health: crate::WaveHealthRecord,
    ) -> Result<(), HistoryError> {
        self.put_health(&health).await
    }

    async fn wave_health(
        &self,
        execution_id: &str,
        wave_index: u32,
    ) -> Result<Option<crate::WaveHealthRecord>, HistoryError> {
        self.read_health(execution_id, wave_index).await
    }

    async fn record_network(&self, record: crate::NetworkRecord) -> Result<(), HistoryError> {
        self.put_network(&record).await
    }

    async fn network(
        &self,
        execution_id: &str,
        wave_index: u32,
        phase: &str,
        position: u32,
    ) -> Result<Option<crate::NetworkRecord>, HistoryError> {
        self.read_network(execution_id, wave_index, phase, position)
            .await
    }
}
