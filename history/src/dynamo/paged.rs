//! Records written as pages (a wave's launch points, its health checks): the first page is the
//! item at the record's own sort key and says how many pages there are (`pages`, none in the
//! previous layout: one page); the others follow at `<sort key>#0002`, ... (built by
//! [`crate::items`]). All pages of one write go in one TransactWriteItems and are read in one
//! TransactGetItems, which DynamoDB serializes with each other, so a reader meets one write
//! whole: never half of it, never pages of two writes.
//!
//! A write replaces what was there, unconditionally as before the pages: writing the same
//! record again leaves the same items, and the last write wins. Pages of an earlier, longer
//! write are deleted in the same transaction; were one left behind, the first page's count
//! still names only the current write's pages.

use aws_sdk_dynamodb::types::{Delete, Get, Put, TransactGetItem, TransactWriteItem};
use drs_waves_contract::history::SORT_KEY;

use super::DynamoHistory;
use crate::HistoryError;
use crate::codec::Item;
use crate::error::from_sdk;
use crate::items::{MAX_TRANSACTION_ITEMS, fits_one_transaction, page_sk, pages_of};

/// How often a read starts again when the page count changed between its two reads (a write
/// landed in between): more than once in a row means writers are racing each other.
const READ_ATTEMPTS: usize = 3;

fn request_error(what: &str, e: aws_sdk_dynamodb::error::BuildError) -> HistoryError {
    HistoryError::Failed(format!("{what} request: {e}"))
}

impl DynamoHistory {
    /// Replaces a paged record with `pages` (the first at the record's key; see the module).
    pub(super) async fn put_pages(
        &self,
        pk: String,
        pages: Vec<Item>,
        what: &str,
    ) -> Result<(), HistoryError> {
        let first_sk = pages
            .first()
            .and_then(|p| p.get(SORT_KEY))
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| HistoryError::Failed(format!("{what}: no page to write")))?;
        let stale = match self.get(pk.clone(), &first_sk).await? {
            Some(head) => pages_of(&head)?,
            None => 0,
        };
        let count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
        if count == 1 && stale <= 1 {
            let page = pages.into_iter().next().expect("one page");
            return self.put_whole(page, what).await;
        }
        let call = format!("DynamoDB TransactWriteItems ({what})");
        fits_one_transaction(&pages, &call)?;
        let mut writes = Vec::new();
        for page in pages {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(page))
                .build()
                .map_err(|e| request_error(what, e))?;
            writes.push(TransactWriteItem::builder().put(put).build());
        }
        for page in count + 1..=stale {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(pk.clone(), &page_sk(&first_sk, page))))
                .build()
                .map_err(|e| request_error(what, e))?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
        }
        // The deletes after a much longer write may not all fit: pages past the count are
        // never read, so only the ones that fit are deleted.
        writes.truncate(MAX_TRANSACTION_ITEMS);
        self.transact(writes, &call).await
    }

    /// A paged record's pages in order, or none when its first item does not exist. One page
    /// is one consistent GetItem; more are read with the first in one TransactGetItems.
    pub(super) async fn read_pages(
        &self,
        pk: String,
        first_sk: &str,
        what: &str,
    ) -> Result<Option<Vec<Item>>, HistoryError> {
        let Some(mut head) = self.get(pk.clone(), first_sk).await? else {
            return Ok(None);
        };
        for _ in 0..READ_ATTEMPTS {
            let count = pages_of(&head)?;
            if count == 1 {
                return Ok(Some(vec![head]));
            }
            let Some(pages) = self.get_pages(pk.clone(), first_sk, count, what).await? else {
                return Ok(None);
            };
            let now = pages_of(&pages[0])?;
            if now != count {
                head = pages[0].clone();
                continue;
            }
            if pages.len() != count as usize {
                return Err(HistoryError::Corrupt(format!(
                    "history: {what} {pk} / {first_sk} names {count} pages, {} are stored",
                    pages.len()
                )));
            }
            return Ok(Some(pages));
        }
        Err(HistoryError::conflict(
            format!("DynamoDB TransactGetItems ({what})"),
            format!("{pk} / {first_sk} kept changing while read"),
        ))
    }

    /// Pages 1 to `count` in one transaction: the ones that exist, in order; none when the
    /// first is gone.
    async fn get_pages(
        &self,
        pk: String,
        first_sk: &str,
        count: u32,
        what: &str,
    ) -> Result<Option<Vec<Item>>, HistoryError> {
        if count as usize > MAX_TRANSACTION_ITEMS {
            return Err(HistoryError::Corrupt(format!(
                "history: {what} {pk} / {first_sk} names {count} pages, more than one \
                 transaction reads"
            )));
        }
        let mut gets = Vec::new();
        for page in 1..=count {
            let get = Get::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(pk.clone(), &page_sk(first_sk, page))))
                .build()
                .map_err(|e| request_error(what, e))?;
            gets.push(TransactGetItem::builder().get(get).build());
        }
        let resp = self
            .client
            .transact_get_items()
            .set_transact_items(Some(gets))
            .send()
            .await
            .map_err(|e| from_sdk(&format!("DynamoDB TransactGetItems ({what})"), &e))?;
        let mut pages = Vec::new();
        for (i, response) in resp.responses().iter().enumerate() {
            match response.item() {
                Some(item) => pages.push(item.clone()),
                None if i == 0 => return Ok(None),
                None => {}
            }
        }
        if pages.is_empty() {
            return Ok(None);
        }
        Ok(Some(pages))
    }
}
