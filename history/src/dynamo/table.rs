//! [`create_table`]: the history table and its two indexes, created the one way every caller
//! creates it.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus,
};
use drs_waves_contract::history::{
    PARTITION_KEY, PLAN_INDEX, PLAN_INDEX_PARTITION_KEY, PLAN_INDEX_SORT_KEY, SORT_KEY,
    STATUS_INDEX, STATUS_INDEX_PARTITION_KEY, STATUS_INDEX_SORT_KEY,
};

use crate::HistoryError;
use crate::error::from_sdk;

/// Creates the history table with its two indexes (on-demand billing) and waits until it is
/// ACTIVE. Returns false when it already existed. Used by `drs-worker create-table`, the local
/// stack scripts and the tests, so all create it the same way.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<bool, HistoryError> {
    let build = |e: aws_sdk_dynamodb::error::BuildError| {
        HistoryError::Failed(format!("CreateTable request: {e}"))
    };
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build)
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(build)
    };
    let gsi = |name: &str, pk: &str, sk: &str| -> Result<GlobalSecondaryIndex, HistoryError> {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(pk, KeyType::Hash)?)
            .key_schema(key(sk, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(build)
    };
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(PARTITION_KEY)?)
        .attribute_definitions(attr(SORT_KEY)?)
        .attribute_definitions(attr(STATUS_INDEX_PARTITION_KEY)?)
        .attribute_definitions(attr(STATUS_INDEX_SORT_KEY)?)
        .attribute_definitions(attr(PLAN_INDEX_PARTITION_KEY)?)
        .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
        .key_schema(key(SORT_KEY, KeyType::Range)?)
        .global_secondary_indexes(gsi(
            STATUS_INDEX,
            STATUS_INDEX_PARTITION_KEY,
            STATUS_INDEX_SORT_KEY,
        )?)
        .global_secondary_indexes(gsi(
            PLAN_INDEX,
            PLAN_INDEX_PARTITION_KEY,
            PLAN_INDEX_SORT_KEY,
        )?)
        .send()
        .await;
    let created = match created {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_in_use_exception()) =>
        {
            false
        }
        Err(e) => return Err(from_sdk("DynamoDB CreateTable", &e)),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let resp = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| from_sdk("DynamoDB DescribeTable", &e))?;
        if resp.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(created);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(HistoryError::Transient {
                call: "DynamoDB DescribeTable".into(),
                detail: format!("table {table} is not ACTIVE after 120 s"),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
