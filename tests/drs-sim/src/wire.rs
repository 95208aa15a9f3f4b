//! The DRS restJson1 wire format: operation names, request bodies, error answers, dates.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::config::DateStyle;

/// The operations the simulator answers (`POST /<name>`).
pub const OPERATIONS: &[&str] = &[
    "StartRecovery",
    "DescribeJobs",
    "DescribeJobLogItems",
    "DescribeSourceServers",
    "DescribeRecoveryInstances",
    "TerminateRecoveryInstances",
    "DescribeRecoverySnapshots",
    "DescribeSourceNetworks",
    "StartSourceNetworkRecovery",
    "StartFailbackLaunch",
    "ReverseReplication",
    "StopFailback",
];

/// The recovery-plan operations the simulator answers (`state/recovery_plans.rs` and
/// `state/recovery_plan_executions.rs`): the model's 20.
pub const RECOVERY_PLAN_OPERATIONS: &[&str] = &[
    "CreateRecoveryPlan",
    "GetRecoveryPlan",
    "ListRecoveryPlans",
    "UpdateRecoveryPlan",
    "DeleteRecoveryPlan",
    "CreateRecoveryPlanStep",
    "GetRecoveryPlanStep",
    "ListRecoveryPlanSteps",
    "UpdateRecoveryPlanStep",
    "DeleteRecoveryPlanStep",
    "ReorderRecoveryPlanSteps",
    "StartRecoveryPlanExecution",
    "GetRecoveryPlanExecution",
    "ListRecoveryPlanExecutions",
    "CancelRecoveryPlanExecution",
    "DeleteRecoveryPlanExecution",
    "GetRecoveryPlanExecutionStep",
    "ListRecoveryPlanExecutionSteps",
    "RetryRecoveryPlanExecutionStep",
    "UpdateRecoveryPlanExecutionStep",
];

/// The counter key for calls to paths that are no DRS operation.
pub const UNKNOWN_OPERATION: &str = "UnknownOperation";

/// An error answer, as DRS writes it: status, `x-amzn-errortype`, and a JSON body with
/// `message`, `__type` and the exception's own members.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Boxed to keep `Result<_, ApiError>` small.
    pub members: Box<serde_json::Map<String, Value>>,
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            members: Box::default(),
            headers: Vec::new(),
        }
    }

    fn member(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.members.insert(key.to_owned(), value.into());
        self
    }

    /// ValidationException (400). `reason` is one of the model's values: unknownOperation,
    /// cannotParse, fieldValidationFailed, other.
    pub fn validation(reason: &str, message: impl Into<String>, fields: &[(&str, &str)]) -> Self {
        let message = message.into();
        let mut e = Self::new(400, "ValidationException", message)
            .member("code", "ValidationException")
            .member("reason", reason);
        if !fields.is_empty() {
            let list: Vec<Value> = fields
                .iter()
                .map(|(name, msg)| json!({"name": name, "message": msg}))
                .collect();
            e = e.member("fieldList", list);
        }
        e
    }

    /// A field that failed validation.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::validation(
            "fieldValidationFailed",
            message.clone(),
            &[(field, &message)],
        )
    }

    /// ConflictException (409).
    pub fn conflict(message: impl Into<String>, resource_id: &str, resource_type: &str) -> Self {
        Self::new(409, "ConflictException", message)
            .member("code", "ConflictException")
            .member("resourceId", resource_id)
            .member("resourceType", resource_type)
    }

    /// ResourceNotFoundException (404), with the model's resourceId and resourceType.
    pub fn not_found(message: impl Into<String>, resource_id: &str, resource_type: &str) -> Self {
        Self::new(404, "ResourceNotFoundException", message)
            .member("code", "ResourceNotFoundException")
            .member("resourceId", resource_id)
            .member("resourceType", resource_type)
    }

    /// ServiceQuotaExceededException (402). Quota codes are the simulator's own names.
    pub fn quota(message: impl Into<String>, quota_code: &str, resource_type: &str) -> Self {
        Self::new(402, "ServiceQuotaExceededException", message)
            .member("code", "ServiceQuotaExceededException")
            .member("serviceCode", "drs")
            .member("quotaCode", quota_code)
            .member("resourceType", resource_type)
    }

    /// ThrottlingException (429) with the model's `Retry-After` header binding.
    pub fn throttling(retry_after_seconds: u32) -> Self {
        let mut e = Self::new(429, "ThrottlingException", "Rate exceeded")
            .member("serviceCode", "drs")
            .member("quotaCode", "RequestRate");
        e.headers
            .push(("retry-after", retry_after_seconds.to_string()));
        e
    }

    /// InternalServerException (500).
    pub fn internal() -> Self {
        Self::new(
            500,
            "InternalServerException",
            "Simulated internal server error",
        )
    }

    pub fn access_denied() -> Self {
        Self::new(
            403,
            "AccessDeniedException",
            "User is not authorized to perform this action (simulated)",
        )
        .member("code", "AccessDeniedException")
    }

    /// A 403 the service answers before it looks at the request (who signed it, and for
    /// which region): `UnrecognizedClientException`, `InvalidSignatureException`, ...
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(403, code, message)
    }

    pub fn uninitialized_account() -> Self {
        Self::new(
            400,
            "UninitializedAccountException",
            "Account is not initialized for Elastic Disaster Recovery (simulated)",
        )
        .member("code", "UninitializedAccountException")
    }

    pub fn body(&self) -> Value {
        let mut body = serde_json::Map::new();
        body.insert("message".to_owned(), Value::from(self.message.clone()));
        body.insert("__type".to_owned(), Value::from(self.code));
        for (k, v) in self.members.iter() {
            body.insert(k.clone(), v.clone());
        }
        Value::Object(body)
    }
}

/// Parses a request body into `T`; an empty body counts as `{}` (the SDK sends `{}`, curl
/// may send nothing).
pub fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        let reason = match e.classify() {
            serde_json::error::Category::Data => "fieldValidationFailed",
            _ => "cannotParse",
        };
        ApiError::validation(reason, format!("Invalid request body: {e}"), &[])
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartRecoveryRequest {
    #[serde(default)]
    pub source_servers: Vec<StartRecoverySourceServer>,
    #[serde(default)]
    pub is_drill: Option<bool>,
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
pub struct StartRecoverySourceServer {
    #[serde(rename = "sourceServerID")]
    pub source_server_id: String,
    #[serde(rename = "recoverySnapshotID", default)]
    pub recovery_snapshot_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeJobsRequest {
    #[serde(default)]
    pub filters: Option<DescribeJobsFilters>,
    #[serde(default)]
    pub max_results: Option<i64>,
    #[serde(default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeJobsFilters {
    #[serde(rename = "jobIDs", default)]
    pub job_ids: Vec<String>,
    #[serde(default)]
    pub from_date: Option<String>,
    #[serde(default)]
    pub to_date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeJobLogItemsRequest {
    #[serde(rename = "jobID", default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub max_results: Option<i64>,
    #[serde(default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeSourceServersRequest {
    #[serde(default)]
    pub filters: Option<DescribeSourceServersFilters>,
    #[serde(default)]
    pub max_results: Option<i64>,
    #[serde(default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeSourceServersFilters {
    #[serde(rename = "sourceServerIDs", default)]
    pub source_server_ids: Vec<String>,
    #[serde(default)]
    pub hardware_id: Option<String>,
    #[serde(rename = "stagingAccountIDs", default)]
    pub staging_account_ids: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeRecoveryInstancesRequest {
    #[serde(default)]
    pub filters: Option<DescribeRecoveryInstancesFilters>,
    #[serde(default)]
    pub max_results: Option<i64>,
    #[serde(default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DescribeRecoveryInstancesFilters {
    #[serde(rename = "recoveryInstanceIDs", default)]
    pub recovery_instance_ids: Vec<String>,
    #[serde(rename = "sourceServerIDs", default)]
    pub source_server_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct TerminateRecoveryInstancesRequest {
    #[serde(rename = "recoveryInstanceIDs", default)]
    pub recovery_instance_ids: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeRecoverySnapshotsRequest {
    #[serde(rename = "sourceServerID", default)]
    pub source_server_id: Option<String>,
    #[serde(default)]
    pub filters: Option<DescribeRecoverySnapshotsFilters>,
    #[serde(default)]
    pub order: Option<String>,
    #[serde(default)]
    pub max_results: Option<i64>,
    #[serde(default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeRecoverySnapshotsFilters {
    #[serde(default)]
    pub from_date_time: Option<String>,
    #[serde(default)]
    pub to_date_time: Option<String>,
}

/// Formats a timestamp as DRS does: ISO-8601 in UTC with microseconds.
pub fn format_date(t: OffsetDateTime, style: DateStyle) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let base = t
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]"
        ))
        .unwrap_or_else(|_| t.to_string());
    match style {
        DateStyle::Offset => format!("{base}+00:00"),
        DateStyle::Zulu => format!("{base}Z"),
    }
}

/// Parses a DescribeJobs date filter: RFC 3339 (with `Z` or an offset) or a bare date.
pub fn parse_date(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    time::Date::parse(s, format_description!("[year]-[month]-[day]"))
        .ok()
        .map(|d| d.midnight().assume_utc())
}

/// The most items a page holds, whatever `maxResults` asks: the model sets no maximum
/// (StrictlyPositiveInteger, min 1), and a page shorter than asked, with a `nextToken`, is
/// an answer the model allows.
pub const MAX_PAGE_SIZE: usize = 1000;

/// Applies the default page size and the simulator's cap to `maxResults`, whose minimum of
/// 1 the model's check has enforced (refused here too for callers that skip it).
pub fn page_size(max_results: Option<i64>, default: usize) -> Result<usize, ApiError> {
    match max_results {
        None => Ok(default.min(MAX_PAGE_SIZE)),
        Some(n) if n >= 1 => Ok(usize::try_from(n)
            .unwrap_or(MAX_PAGE_SIZE)
            .min(MAX_PAGE_SIZE)),
        Some(n) => Err(ApiError::field(
            "maxResults",
            format!("maxResults {n} is less than 1"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn dates_round_trip_in_both_styles() {
        let t = datetime!(2024-05-01 12:00:00.123456 UTC);
        let offset = format_date(t, DateStyle::Offset);
        assert_eq!(offset, "2024-05-01T12:00:00.123456+00:00");
        assert_eq!(parse_date(&offset), Some(t));
        let zulu = format_date(t, DateStyle::Zulu);
        assert_eq!(zulu, "2024-05-01T12:00:00.123456Z");
        assert_eq!(parse_date(&zulu), Some(t));
        assert_eq!(
            parse_date("2024-05-01"),
            Some(datetime!(2024-05-01 00:00 UTC))
        );
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn error_body_carries_type_message_and_members() {
        let e = ApiError::quota("too many", "ConcurrentJobs", "JOB");
        let body = e.body();
        assert_eq!(e.status, 402);
        assert_eq!(body["__type"], "ServiceQuotaExceededException");
        assert_eq!(body["message"], "too many");
        assert_eq!(body["quotaCode"], "ConcurrentJobs");
        let t = ApiError::throttling(2);
        assert_eq!(t.headers, vec![("retry-after", "2".to_owned())]);
    }

    #[test]
    fn bodies_parse_or_fail_with_a_reason() {
        let ok: DescribeJobsRequest = parse_body(b"").expect("empty is {}");
        assert!(ok.filters.is_none());
        let e = parse_body::<DescribeJobsRequest>(b"{not json").expect_err("bad json");
        assert_eq!(e.members["reason"], "cannotParse");
        let e = parse_body::<DescribeJobsRequest>(br#"{"maxResults":"x"}"#).expect_err("type");
        assert_eq!(e.members["reason"], "fieldValidationFailed");
    }
}
