//! [`Waves`] in memory: a wave's record, its chunks' jobs, its checks' JOB records, retries,
//! its end and its launch points, with DynamoDB's conditional-write rules.

use drs_waves_contract::WaveStatus;

use super::{MemoryHistory, lock, missing_execution};
use crate::roles::Waves;
use crate::{ChunkWrite, HistoryError, JobRecord, ServerLaunchPoint, WaveChunk, WaveRecord};

impl Waves for MemoryHistory {
    async fn get_wave(&self, id: &str, index: u32) -> Result<Option<WaveRecord>, HistoryError> {
        self.injected("get_wave")?;
        Ok(self.wave(id, index))
    }

    async fn plan_wave(&self, wave: WaveRecord) -> Result<WaveRecord, HistoryError> {
        self.injected("plan_wave")?;
        let mut state = lock(&self.state);
        let key = (wave.execution_id.clone(), wave.index);
        let stored = state.waves.entry(key).or_insert_with(|| WaveRecord {
            status: WaveStatus::Launching,
            job_ids: Vec::new(),
            ended_at: None,
            checks: 0,
            reason: String::new(),
            chunks: wave
                .chunks
                .iter()
                .map(|c| WaveChunk {
                    job_id: None,
                    ..c.clone()
                })
                .collect(),
            completion_ms: None,
            ..wave
        });
        Ok(stored.clone())
    }

    async fn record_chunk_job(
        &self,
        execution_id: &str,
        wave_index: u32,
        chunk: u32,
        job_id: &str,
    ) -> Result<ChunkWrite, HistoryError> {
        self.injected("record_chunk_job")?;
        let mut state = lock(&self.state);
        let wave = state
            .waves
            .get_mut(&(execution_id.to_string(), wave_index))
            .ok_or_else(|| HistoryError::conflict("history (chunk job)", "no wave record"))?;
        let planned = wave
            .chunks
            .iter_mut()
            .find(|c| c.number == chunk)
            .ok_or_else(|| {
                HistoryError::Corrupt(format!(
                    "history: wave {wave_index} of {execution_id} has no planned chunk {chunk}"
                ))
            })?;
        match &planned.job_id {
            Some(id) if id == job_id => Ok(ChunkWrite::Written),
            Some(id) => Ok(ChunkWrite::Conflict {
                recorded: id.clone(),
            }),
            None => {
                planned.job_id = Some(job_id.to_string());
                wave.job_ids.push(job_id.to_string());
                Ok(ChunkWrite::Written)
            }
        }
    }

    async fn record_wave_check(
        &self,
        wave: WaveRecord,
        jobs: Vec<JobRecord>,
    ) -> Result<(), HistoryError> {
        self.injected("record_wave_check")?;
        let mut state = lock(&self.state);
        for j in jobs {
            state
                .jobs
                .insert((j.execution_id.clone(), j.job_id.clone()), j);
        }
        let key = (wave.execution_id.clone(), wave.index);
        // The first start time stays (DynamoDB writes it with if_not_exists); the chunk plan and
        // what was learned stay (DynamoDB's update leaves them), and so does a completion time
        // the check does not give.
        // The account is written with the plan and stays too.
        let (started_at, chunks, learned, completion_ms, account) =
            state.waves.get(&key).map_or_else(
                || {
                    (
                        wave.started_at.clone(),
                        wave.chunks.clone(),
                        None,
                        wave.completion_ms,
                        None,
                    )
                },
                |w| {
                    (
                        w.started_at.clone(),
                        w.chunks.clone(),
                        w.learned,
                        wave.completion_ms.or(w.completion_ms),
                        w.account.clone(),
                    )
                },
            );
        state.waves.insert(
            key,
            WaveRecord {
                started_at,
                chunks,
                learned,
                completion_ms,
                account,
                ..wave
            },
        );
        Ok(())
    }

    async fn list_jobs(&self, id: &str) -> Result<Vec<JobRecord>, HistoryError> {
        self.injected("list_jobs")?;
        Ok(self.job_records(id))
    }

    async fn plan_retry(
        &self,
        execution_id: &str,
        wave_index: u32,
        chunks: Vec<WaveChunk>,
    ) -> Result<WaveRecord, HistoryError> {
        self.injected("plan_retry")?;
        let mut state = lock(&self.state);
        let wave = state
            .waves
            .get_mut(&(execution_id.to_string(), wave_index))
            .ok_or_else(|| missing_execution(execution_id))?;
        let fresh = chunks
            .iter()
            .all(|c| wave.chunks.iter().all(|w| w.number != c.number));
        if wave.status == WaveStatus::Failed && fresh {
            wave.status = WaveStatus::Launching;
            wave.reason = String::new();
            wave.ended_at = None;
            wave.completion_ms = None;
            wave.chunks
                .extend(chunks.into_iter().map(|c| WaveChunk { job_id: None, ..c }));
            wave.chunks.sort_by_key(|c| c.number);
        }
        Ok(wave.clone())
    }

    async fn end_wave(
        &self,
        id: &str,
        wave_index: u32,
        status: WaveStatus,
        reason: &str,
        ended_at: &str,
    ) -> Result<bool, HistoryError> {
        self.injected("end_wave")?;
        let mut state = lock(&self.state);
        let Some(wave) = state.waves.get_mut(&(id.to_string(), wave_index)) else {
            return Ok(false);
        };
        wave.status = status;
        wave.reason = reason.to_string();
        if wave.ended_at.is_none() {
            wave.ended_at = Some(ended_at.to_string());
        }
        Ok(true)
    }

    async fn record_launch_points(
        &self,
        execution_id: &str,
        wave_index: u32,
        mut points: Vec<ServerLaunchPoint>,
    ) -> Result<(), HistoryError> {
        self.injected("record_launch_points")?;
        // What one DynamoDB transaction cannot hold, the adapter refuses.
        let pages = crate::items::launch_point_items(execution_id, wave_index, &points);
        crate::items::fits_one_transaction(&pages, "history (launch points)")?;
        points.sort_by(|a, b| a.server_id.cmp(&b.server_id));
        lock(&self.state)
            .launch_points
            .insert((execution_id.to_string(), wave_index), points);
        Ok(())
    }

    async fn launch_points(
        &self,
        execution_id: &str,
        wave_index: u32,
    ) -> Result<Vec<ServerLaunchPoint>, HistoryError> {
        self.injected("launch_points")?;
        Ok(lock(&self.state)
            .launch_points
            .get(&(execution_id.to_string(), wave_index))
            .cloned()
            .unwrap_or_default())
    }

    async fn record_wave_health(
        &self,
        health: crate::WaveHealthRecord,
    ) -> Result<(), HistoryError> {
        self.injected("record_wave_health")?;
        crate::items::fits_one_transaction(
            &crate::items::health_items(&health)?,
            "history (health)",
        )?;
        lock(&self.state)
            .health
            .insert((health.execution_id.clone(), health.wave_index), health);
        Ok(())
    }

    async fn wave_health(
        &self,
        execution_id: &str,
        wave_index: u32,
    ) -> Result<Option<crate::WaveHealthRecord>, HistoryError> {
        self.injected("wave_health")?;
        Ok(lock(&self.state)
            .health
            .get(&(execution_id.to_string(), wave_index))
            .cloned())
    }

    async fn record_network(&self, record: crate::NetworkRecord) -> Result<(), HistoryError> {
        self.injected("record_network")?;
        let key = drs_waves_contract::history::network_sk(
            record.wave_index,
            &record.phase,
            record.position,
        );
        lock(&self.state)
            .networks
            .insert((record.execution_id.clone(), key), record);
        Ok(())
    }

    async fn network(
        &self,
        execution_id: &str,
        wave_index: u32,
        phase: &str,
        position: u32,
    ) -> Result<Option<crate::NetworkRecord>, HistoryError> {
        self.injected("network")?;
        let key = drs_waves_contract::history::network_sk(wave_index, phase, position);
        Ok(lock(&self.state)
            .networks
            .get(&(execution_id.to_string(), key))
            .cloned())
    }
}
