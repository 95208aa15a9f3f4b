//! The attribute codec: history records to DynamoDB attribute maps and back. Reading is strict
//! ([`Fields`]): a missing or mistyped attribute is a [`HistoryError::Corrupt`] naming the item
//! and the attribute. Every attribute name of the table is spelled here or in [`crate::dynamo`].

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use drs_waves_aws::drs::{JobStatus, LaunchStatus};
use drs_waves_contract::history::{
    PARTITION_KEY, PLAN_INDEX_PARTITION_KEY, SORT_KEY, STATUS_INDEX_PARTITION_KEY,
    STATUS_INDEX_SORT_KEY,
};
use drs_waves_contract::timing::LearnedTiming;
use drs_waves_contract::{
    CleanupStatus, ExecutionStatus, Mode, PendingGate, ServerCounts, WaveStatus,
};

use crate::HistoryError;
use crate::records::{
    ExecutionRecord, JobRecord, ServerLaunchPoint, ServerRecord, WaveChunk, WaveRecord, sort_gates,
};

pub(crate) type Item = HashMap<String, AttributeValue>;

/// The EXECUTION item's pending gates (a map keyed by [`PendingGate::key`]).
pub(crate) const PENDING_GATES: &str = "pendingGates";
/// An entry's token and its gate (JSON).
pub(crate) const GATE_TOKEN: &str = "token";
pub(crate) const GATE_JSON: &str = "gate";
/// The previous release's one gate (JSON) and its token: read, cleared, never written.
pub(crate) const LEGACY_PENDING_GATE: &str = "pendingGate";
pub(crate) const LEGACY_PENDING_GATE_TOKEN: &str = "pendingGateToken";

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn list_s(v: &[String]) -> AttributeValue {
    AttributeValue::L(v.iter().map(|x| s(x.clone())).collect())
}

pub(crate) fn wave_statuses_av(v: &BTreeMap<String, WaveStatus>) -> AttributeValue {
    AttributeValue::M(v.iter().map(|(k, x)| (k.clone(), s(x.as_str()))).collect())
}

pub(crate) fn counts_av(c: &ServerCounts) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("total".to_string(), n(c.total)),
        ("launched".to_string(), n(c.launched)),
        ("failed".to_string(), n(c.failed)),
        ("launching".to_string(), n(c.launching)),
        ("optionalFailed".to_string(), n(c.optional_failed)),
    ]))
}

/// Reads one history item strictly: a missing attribute, or one of the wrong type, is an error
/// naming the item and the attribute, never a silent "" or 0 (a half-written or hand-edited item
/// must not pass for a valid one).
pub(crate) struct Fields<'a> {
    pub(crate) item: &'a Item,
    /// `pk / sk`, for messages.
    pub(crate) what: String,
}

impl<'a> Fields<'a> {
    pub(crate) fn of(item: &'a Item) -> Self {
        let key = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_s().ok())
                .map_or("?", String::as_str)
                .to_string()
        };
        Fields {
            item,
            what: format!("{} / {}", key(PARTITION_KEY), key(SORT_KEY)),
        }
    }

    pub(crate) fn nested(item: &'a Item, what: String) -> Self {
        Fields { item, what }
    }

    pub(crate) fn bad(&self, k: &str, problem: &str) -> HistoryError {
        HistoryError::Corrupt(format!(
            "history item {}: attribute {k} {problem}",
            self.what
        ))
    }

    pub(crate) fn opt_s(&self, k: &str) -> Result<Option<String>, HistoryError> {
        match self.item.get(k) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(v) => v
                .as_s()
                .map(|x| Some(x.clone()))
                .map_err(|_| self.bad(k, "is not a string")),
        }
    }

    pub(crate) fn s(&self, k: &str) -> Result<String, HistoryError> {
        self.opt_s(k)?.ok_or_else(|| self.bad(k, "is missing"))
    }

    pub(crate) fn n(&self, k: &str) -> Result<u32, HistoryError> {
        let v = self.item.get(k).ok_or_else(|| self.bad(k, "is missing"))?;
        v.as_n()
            .map_err(|_| self.bad(k, "is not a number"))?
            .parse()
            .map_err(|_| self.bad(k, "is not a whole number"))
    }

    pub(crate) fn opt_u64(&self, k: &str) -> Result<Option<u64>, HistoryError> {
        match self.item.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_n()
                .map_err(|_| self.bad(k, "is not a number"))?
                .parse()
                .map(Some)
                .map_err(|_| self.bad(k, "is not a whole number")),
        }
    }

    pub(crate) fn bool(&self, k: &str) -> Result<bool, HistoryError> {
        let v = self.item.get(k).ok_or_else(|| self.bad(k, "is missing"))?;
        v.as_bool()
            .copied()
            .map_err(|_| self.bad(k, "is not a boolean"))
    }

    pub(crate) fn opt_list_s(&self, k: &str) -> Result<Option<Vec<String>>, HistoryError> {
        match self.item.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_l()
                .map_err(|_| self.bad(k, "is not a list"))?
                .iter()
                .map(|x| {
                    x.as_s()
                        .cloned()
                        .map_err(|_| self.bad(k, "has an item that is not a string"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
        }
    }

    pub(crate) fn list_s(&self, k: &str) -> Result<Vec<String>, HistoryError> {
        self.opt_list_s(k)?.ok_or_else(|| self.bad(k, "is missing"))
    }

    /// A string attribute holding JSON (the operator records: a gate, a cancel request).
    pub(crate) fn opt_json<T: serde::de::DeserializeOwned>(
        &self,
        k: &str,
    ) -> Result<Option<T>, HistoryError> {
        self.opt_s(k)?
            .map(|text| {
                serde_json::from_str(&text)
                    .map_err(|e| self.bad(k, &format!("is not the JSON it should be: {e}")))
            })
            .transpose()
    }

    pub(crate) fn map(&self, k: &str) -> Result<&'a HashMap<String, AttributeValue>, HistoryError> {
        self.item
            .get(k)
            .ok_or_else(|| self.bad(k, "is missing"))?
            .as_m()
            .map_err(|_| self.bad(k, "is not a map"))
    }

    /// A parsed enum value: an unknown one is an error naming it.
    pub(crate) fn parsed<T>(
        &self,
        k: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, HistoryError> {
        let v = self.s(k)?;
        parse(&v).ok_or_else(|| self.bad(k, &format!("has an unknown value {v:?}")))
    }
}

fn wave_status_of(s: &str) -> Option<WaveStatus> {
    WaveStatus::ALL.into_iter().find(|w| w.as_str() == s)
}

fn counts_of(f: &Fields<'_>, k: &str) -> Result<ServerCounts, HistoryError> {
    let m = Fields::nested(f.map(k)?, format!("{} ({k})", f.what));
    Ok(ServerCounts {
        total: m.n("total")?,
        launched: m.n("launched")?,
        failed: m.n("failed")?,
        launching: m.n("launching")?,
        optional_failed: m.n("optionalFailed")?,
    })
}

pub(crate) fn execution_of(item: &Item) -> Result<ExecutionRecord, HistoryError> {
    let f = Fields::of(item);
    let wave_statuses = f
        .map("waveStatuses")?
        .iter()
        .map(|(wave, v)| {
            let status = v
                .as_s()
                .ok()
                .and_then(|x| wave_status_of(x))
                .ok_or_else(|| f.bad("waveStatuses", &format!("has a bad status for {wave}")))?;
            Ok((wave.clone(), status))
        })
        .collect::<Result<_, HistoryError>>()?;
    Ok(ExecutionRecord {
        execution_id: f.s("executionId")?,
        execution_name: f.s("executionName")?,
        plan_name: f.s(PLAN_INDEX_PARTITION_KEY)?,
        mode: f
            .opt_s("mode")?
            .map(|m| {
                Mode::parse(&m).ok_or_else(|| f.bad("mode", &format!("has an unknown value {m:?}")))
            })
            .transpose()?,
        status: f.parsed(STATUS_INDEX_PARTITION_KEY, ExecutionStatus::parse)?,
        started_at: f.s(STATUS_INDEX_SORT_KEY)?,
        ended_at: f.opt_s("endedAt")?,
        error: f.opt_s("error")?,
        cause: f.opt_s("cause")?,
        wave_count: f.n("waveCount")?,
        server_count: f.n("serverCount")?,
        wave_statuses,
        terminate_job_ids: f.opt_list_s("terminateJobIds")?.unwrap_or_default(),
        terminating_instances: f.opt_list_s("terminatingInstances")?.unwrap_or_default(),
        cleanup: f
            .opt_s("cleanup")?
            .map(|c| {
                CleanupStatus::parse(&c)
                    .ok_or_else(|| f.bad("cleanup", &format!("has an unknown value {c:?}")))
            })
            .transpose()?,
        cleanup_error: f.opt_s("cleanupError")?,
        terminate_drill_instances: f.bool("terminateDrillInstances")?,
        point_in_time: f.opt_s("pointInTime")?,
        worst_rpo_seconds: f.opt_u64("worstRpoSeconds")?,
        warnings: f.opt_list_s("warnings")?.unwrap_or_default(),
        preempted_by: f.opt_s("preemptedBy")?,
        started_by: f.opt_s("startedBy")?,
        pending_gates: pending_gates_of(&f)?,
        cancel_requested: f.opt_json("cancelRequested")?,
        operator_actions: f
            .opt_list_s("operatorActions")?
            .unwrap_or_default()
            .iter()
            .map(|a| {
                serde_json::from_str(a).map_err(|e| {
                    f.bad("operatorActions", &format!("has an unreadable action: {e}"))
                })
            })
            .collect::<Result<_, HistoryError>>()?,
    })
}

/// The EXECUTION item's pending gates: the map `pendingGates`, keyed by [`PendingGate::key`],
/// each entry `{token, gate}` (the token apart, for the conditional write that answers it; the
/// gate as JSON). An item the previous release wrote may hold its one gate as `pendingGate`
/// (JSON): it is read as one more gate, unless the map holds a gate of the same key (the gate
/// opened again since, with a fresh token).
fn pending_gates_of(f: &Fields<'_>) -> Result<Vec<PendingGate>, HistoryError> {
    let mut gates = Vec::new();
    if f.item.contains_key(PENDING_GATES) {
        for (key, entry) in f.map(PENDING_GATES)? {
            let what = format!("{} ({PENDING_GATES}.{key})", f.what);
            let m = entry.as_m().map_err(|_| {
                f.bad(
                    PENDING_GATES,
                    &format!("has an entry {key} that is not a map"),
                )
            })?;
            let g = Fields::nested(m, what);
            let gate: PendingGate = g
                .opt_json(GATE_JSON)?
                .ok_or_else(|| g.bad(GATE_JSON, "is missing"))?;
            if gate.key() != *key || g.s(GATE_TOKEN)? != gate.token {
                return Err(g.bad(GATE_JSON, "does not match its key and token"));
            }
            gates.push(gate);
        }
    }
    if let Some(old) = f.opt_json::<PendingGate>(LEGACY_PENDING_GATE)?
        && !gates.iter().any(|g| g.key() == old.key())
    {
        gates.push(old);
    }
    sort_gates(&mut gates);
    Ok(gates)
}

/// An entry of `pendingGates`.
pub(crate) fn gate_entry_av(gate: &PendingGate) -> Result<AttributeValue, HistoryError> {
    Ok(AttributeValue::M(HashMap::from([
        (GATE_TOKEN.to_string(), s(&gate.token)),
        (GATE_JSON.to_string(), s(to_json(gate)?)),
    ])))
}

pub(crate) fn wave_of(item: &Item) -> Result<WaveRecord, HistoryError> {
    let f = Fields::of(item);
    Ok(WaveRecord {
        execution_id: f.s("executionId")?,
        index: f.n("waveIndex")?,
        name: f.s("waveName")?,
        status: f.parsed("waveStatus", wave_status_of)?,
        job_ids: f.list_s("jobIds")?,
        started_at: f.s("waveStartedAt")?,
        ended_at: f.opt_s("waveEndedAt")?,
        checks: f.n("checks")?,
        servers: counts_of(&f, "counts")?,
        reason: f.s("reason")?,
        chunks: chunks_of(&f)?,
        learned: learned_of(&f)?,
        completion_ms: f.opt_u64("completionMillis")?,
        account: account_of(&f)?,
    })
}

/// A wave's account as the item keeps it: a map of `roleArn`, `region` and `externalId`, each
/// only when the plan gave it.
pub(crate) fn account_av(a: &drs_waves_contract::WaveAccount) -> AttributeValue {
    let fields = [
        ("roleArn", &a.role_arn),
        ("region", &a.region),
        ("externalId", &a.external_id),
    ];
    AttributeValue::M(
        fields
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_string(), s(v))))
            .collect(),
    )
}

fn account_of(f: &Fields<'_>) -> Result<Option<drs_waves_contract::WaveAccount>, HistoryError> {
    if !f.item.contains_key("waveAccount") {
        return Ok(None);
    }
    let m = Fields::nested(f.map("waveAccount")?, format!("{} (waveAccount)", f.what));
    Ok(Some(drs_waves_contract::WaveAccount {
        role_arn: m.opt_s("roleArn")?,
        region: m.opt_s("region")?,
        external_id: m.opt_s("externalId")?,
    }))
}

fn learned_of(f: &Fields<'_>) -> Result<Option<LearnedTiming>, HistoryError> {
    if !f.item.contains_key("learned") {
        return Ok(None);
    }
    let m = Fields::nested(f.map("learned")?, format!("{} (learned)", f.what));
    let ms = |k: &str| m.opt_u64(k)?.ok_or_else(|| m.bad(k, "is missing"));
    Ok(Some(LearnedTiming {
        samples: m.n("samples")?,
        p10_ms: ms("p10Millis")?,
        p50_ms: ms("p50Millis")?,
        p95_ms: ms("p95Millis")?,
        // Items written before the forecast had a p90 carry none: p95 bounds it.
        p90_ms: m
            .opt_u64("p90Millis")?
            .map_or_else(|| ms("p95Millis"), Ok)?,
    }))
}

pub(crate) fn learned_av(l: &LearnedTiming) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("samples".to_string(), n(l.samples)),
        ("p10Millis".to_string(), n(l.p10_ms)),
        ("p50Millis".to_string(), n(l.p50_ms)),
        ("p95Millis".to_string(), n(l.p95_ms)),
        ("p90Millis".to_string(), n(l.p90_ms)),
    ]))
}

fn chunks_of(f: &Fields<'_>) -> Result<Vec<WaveChunk>, HistoryError> {
    let mut chunks = f
        .map("chunks")?
        .iter()
        .map(|(k, v)| {
            let number: u32 = k
                .parse()
                .map_err(|_| f.bad("chunks", &format!("has a key {k:?} that is not a number")))?;
            let m = v
                .as_m()
                .map_err(|_| f.bad("chunks", &format!("has a non-map chunk {k}")))?;
            let cf = Fields::nested(m, format!("{} (chunks.{k})", f.what));
            Ok(WaveChunk {
                number,
                // A chunk of a large attempt names its servers in that attempt's CHUNKS items
                // (`serversAttempt`): the adapter fills them in after this read.
                servers: match cf.opt_list_s("servers")? {
                    Some(servers) => servers,
                    None if m.contains_key("serversAttempt") => Vec::new(),
                    None => return Err(cf.bad("servers", "is missing")),
                },
                job_id: cf.opt_s("jobId")?,
                // Chunks of the first launch carry no attempt (nor did any before retries).
                attempt: cf.opt_u64("attempt")?.map_or(Ok(1), |a| {
                    u32::try_from(a).map_err(|_| cf.bad("attempt", "is too large"))
                })?,
                planned_at: cf.opt_s("plannedAt")?,
            })
        })
        .collect::<Result<Vec<_>, HistoryError>>()?;
    chunks.sort_by_key(|c| c.number);
    Ok(chunks)
}

pub(crate) fn chunks_av(chunks: &[WaveChunk]) -> AttributeValue {
    AttributeValue::M(
        chunks
            .iter()
            .map(|c| {
                let mut m = HashMap::from([("servers".to_string(), list_s(&c.servers))]);
                if let Some(job) = &c.job_id {
                    m.insert("jobId".to_string(), s(job));
                }
                if c.attempt > 1 {
                    m.insert("attempt".to_string(), n(c.attempt));
                }
                if let Some(at) = &c.planned_at {
                    m.insert("plannedAt".to_string(), s(at));
                }
                (c.number.to_string(), AttributeValue::M(m))
            })
            .collect(),
    )
}

pub(crate) fn job_of(item: &Item) -> Result<JobRecord, HistoryError> {
    let f = Fields::of(item);
    let servers = f
        .map("servers")?
        .iter()
        .map(|(id, v)| {
            let fields = v
                .as_m()
                .map_err(|_| f.bad("servers", &format!("has a non-map entry for {id}")))?;
            let sf = Fields::nested(fields, format!("{} (servers.{id})", f.what));
            Ok((
                id.clone(),
                ServerRecord {
                    launch_status: LaunchStatus::parse(&sf.s("launchStatus")?),
                    recovery_instance_id: sf.opt_s("recoveryInstanceID")?,
                    required: sf.bool("required")?,
                    failure_reason: sf.opt_s("failureReason")?,
                    action_warnings: sf.opt_list_s("actionWarnings")?.unwrap_or_default(),
                },
            ))
        })
        .collect::<Result<_, HistoryError>>()?;
    Ok(JobRecord {
        execution_id: f.s("executionId")?,
        wave_index: f.n("waveIndex")?,
        job_id: f.s("jobId")?,
        job_status: JobStatus::parse(&f.s("jobStatus")?),
        servers,
        updated_at: f.s("updatedAt")?,
    })
}

/// The `servers` map of a JOB item: each server's launch status and detail.
pub(crate) fn job_servers_av(servers: &BTreeMap<String, ServerRecord>) -> AttributeValue {
    let servers = servers
        .iter()
        .map(|(id, r)| {
            let mut m = HashMap::from([
                ("launchStatus".to_string(), s(r.launch_status.as_str())),
                ("required".to_string(), AttributeValue::Bool(r.required)),
            ]);
            if let Some(ri) = &r.recovery_instance_id {
                m.insert("recoveryInstanceID".to_string(), s(ri));
            }
            if let Some(why) = &r.failure_reason {
                m.insert("failureReason".to_string(), s(why));
            }
            if !r.action_warnings.is_empty() {
                m.insert("actionWarnings".to_string(), list_s(&r.action_warnings));
            }
            (id.clone(), AttributeValue::M(m))
        })
        .collect();
    AttributeValue::M(servers)
}

/// The `servers` map of a SERVERS item: each server's launch point.
pub(crate) fn launch_points_av(points: &[ServerLaunchPoint]) -> AttributeValue {
    let servers = points
        .iter()
        .map(|p| {
            let mut m = HashMap::from([
                ("required".to_string(), AttributeValue::Bool(p.required)),
                ("replication".to_string(), s(&p.replication)),
            ]);
            if let Some(id) = &p.snapshot_id {
                m.insert("snapshotID".into(), s(id));
            }
            if let Some(t) = &p.snapshot_taken_at {
                m.insert("snapshotTakenAt".into(), s(t));
            }
            if let Some(rpo) = p.rpo_seconds {
                m.insert("rpoSeconds".into(), n(rpo));
            }
            (p.server_id.clone(), AttributeValue::M(m))
        })
        .collect();
    AttributeValue::M(servers)
}

/// The launch points of a SERVERS item, by server ID.
pub(crate) fn launch_points_of(item: &Item) -> Result<Vec<ServerLaunchPoint>, HistoryError> {
    let f = Fields::of(item);
    f.map("servers")?
        .iter()
        .map(|(id, v)| {
            let m = v
                .as_m()
                .map_err(|_| f.bad("servers", &format!("has a non-map entry for {id}")))?;
            let sf = Fields::nested(m, format!("{} (servers.{id})", f.what));
            Ok(ServerLaunchPoint {
                server_id: id.clone(),
                required: sf.bool("required")?,
                snapshot_id: sf.opt_s("snapshotID")?,
                snapshot_taken_at: sf.opt_s("snapshotTakenAt")?,
                rpo_seconds: sf.opt_u64("rpoSeconds")?,
                replication: sf.s("replication")?,
            })
        })
        .collect::<Result<Vec<_>, HistoryError>>()
        .map(|mut v| {
            v.sort_by(|a, b| a.server_id.cmp(&b.server_id));
            v
        })
}

/// A record that the table keeps as a JSON string (the operator records: a gate, an action).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, HistoryError> {
    serde_json::to_string(value)
        .map_err(|e| HistoryError::Failed(format!("serializing a history record: {e}")))
}
