//! [`DynamoHistory`]: the history in a DynamoDB table, one module per item type (the run lock,
//! the EXECUTION item, the WAVE, JOB and SERVERS items of a wave, the gate on the EXECUTION item,
//! the clean-up items) and [`create_table`]. Here: the adapter and the calls every module shares
//! (a consistent GetItem, a put-if-new, a conditional update, the query of an execution's items).

use std::collections::HashMap;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use drs_waves_contract::history::{PARTITION_KEY, SORT_KEY, WAVE_SK_PREFIX, execution_pk};

use crate::HistoryError;
use crate::codec::{Item, s};
use crate::error::from_sdk;
use update::Update;

mod chunks;
mod cleanup;
mod execution;
mod gate;
mod health;
mod job;
mod json_item;
mod launch_points;
mod lock;
mod network;
mod paged;
#[cfg(any(test, feature = "fake"))]
mod sizes;
mod table;
mod update;
mod wave;

pub use table::create_table;

/// [`crate::History`] in a DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoHistory {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// Whether a conditional write was refused because its condition did not hold (the one
/// expected "failure" of every conditional PutItem, UpdateItem and DeleteItem here).
fn condition_failed<E: ProvideErrorMetadata>(
    e: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool {
    e.as_service_error().and_then(ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

impl DynamoHistory {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoHistory {
            client,
            table: table.into(),
        }
    }

    /// The primary key of an item.
    fn key(pk: String, sk: &str) -> Item {
        HashMap::from([
            (PARTITION_KEY.to_string(), s(pk)),
            (SORT_KEY.to_string(), s(sk)),
        ])
    }

    /// One item, read consistently (a retried task reads what an earlier attempt wrote).
    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, HistoryError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("DynamoDB GetItem", &e))?;
        Ok(resp.item().cloned())
    }

    /// Puts `item` unless an item with its key exists: true when written, false when it
    /// existed (an earlier attempt wrote it).
    async fn put_new(&self, item: Item, what: &str) -> Result<bool, HistoryError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(from_sdk(&format!("DynamoDB PutItem ({what})"), &e)),
        }
    }

    /// Writes `writes` in one TransactWriteItems (`call` names it in an error).
    pub(super) async fn transact(
        &self,
        writes: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
        call: &str,
    ) -> Result<(), HistoryError> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
            .map_err(|e| from_sdk(call, &e))?;
        Ok(())
    }

    /// Puts `item`, replacing any item with its key.
    pub(super) async fn put_whole(&self, item: Item, what: &str) -> Result<(), HistoryError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| from_sdk(&format!("DynamoDB PutItem ({what})"), &e))?;
        Ok(())
    }

    /// Applies `u`; false when its condition failed.
    async fn update(&self, pk: String, sk: &str, u: Update) -> Result<bool, HistoryError> {
        let resp = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .update_expression(u.expression())
            .set_condition_expression(u.condition)
            .set_expression_attribute_names(Some(u.names))
            .set_expression_attribute_values(Some(u.values))
            .send()
            .await;
        match resp {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(from_sdk("DynamoDB UpdateItem", &e)),
        }
    }

    /// Every item of the execution's waves (WAVE, SERVERS and JOB items), all pages.
    async fn query_execution(&self, execution_id: &str) -> Result<Vec<Item>, HistoryError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :wave)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", s(execution_pk(execution_id)))
            .expression_attribute_values(":wave", s(WAVE_SK_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| from_sdk("DynamoDB Query", &e))?;
            items.extend(page.items().iter().cloned());
        }
        Ok(items)
    }
}

/// A conditional write on an EXECUTION item that does not exist: the history lost track of a
/// running execution.
/// The first `limit` items a query finds, over as many pages as it takes: DynamoDB ends a page
/// at 1 MB whatever its `Limit`, so one page may hold fewer items than were asked for while more
/// match.
async fn first_items(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    limit: usize,
    call: &str,
) -> Result<Vec<Item>, HistoryError> {
    let mut pages = query
        .limit(i32::try_from(limit).unwrap_or(i32::MAX))
        .into_paginator()
        .send();
    let mut items = Vec::new();
    while items.len() < limit {
        let Some(page) = pages.next().await else {
            break;
        };
        let page = page.map_err(|e| from_sdk(call, &e))?;
        let room = limit - items.len();
        items.extend(page.items().iter().take(room).cloned());
    }
    Ok(items)
}

fn missing_record(execution_id: &str) -> HistoryError {
    HistoryError::Corrupt(format!(
        "the history has no record of execution {execution_id} (preflight creates it)"
    ))
}
