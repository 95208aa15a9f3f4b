//! The CHUNKS items of a wave (`EXEC#<arn>`, `WAVE#0001#CHUNKS#0001` and its pages): the
//! servers of each chunk of an attempt too large to name them in the WAVE item
//! ([`crate::items::INLINE_CHUNK_SERVERS_BYTES`]). Written with the plan that makes the chunks,
//! in the same transaction as the WAVE item's write (a first plan, or a retry), and never
//! changed: a reader that sees a chunk entry finds its servers.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use drs_waves_contract::history::{PARTITION_KEY, SORT_KEY, execution_pk};

use super::DynamoHistory;
use crate::HistoryError;
use crate::codec::Item;
use crate::items::{chunk_servers_of, chunks_sk, fits_one_transaction, spilled_attempts_of};
use crate::records::WaveRecord;

impl DynamoHistory {
    /// Fills in the servers of `w`'s chunks that its WAVE item (`item`) keeps in CHUNKS items.
    pub(super) async fn fill_chunk_servers(
        &self,
        w: &mut WaveRecord,
        item: &Item,
    ) -> Result<(), HistoryError> {
        for attempt in spilled_attempts_of(item)? {
            let first = chunks_sk(w.index, attempt);
            let pages = self
                .read_pages(execution_pk(&w.execution_id), &first, "chunk servers")
                .await?
                .ok_or_else(|| {
                    HistoryError::Corrupt(format!(
                        "history: wave {} of {} has no {first} item for its chunks",
                        w.index, w.execution_id
                    ))
                })?;
            let mut servers = chunk_servers_of(&pages)?;
            for c in w
                .chunks
                .iter_mut()
                .filter(|c| c.attempt == attempt && c.servers.is_empty())
            {
                c.servers = servers.remove(&c.number).ok_or_else(|| {
                    HistoryError::Corrupt(format!(
                        "history: {first} of {} names no servers for chunk {}",
                        w.execution_id, c.number
                    ))
                })?;
            }
        }
        Ok(())
    }

    /// Writes `action` (the WAVE item's conditional write) and `pages` in one transaction. A
    /// refusal comes back as the SDK's error, whatever refused it: the caller reads what is
    /// stored to tell its condition from a failure.
    pub(super) async fn write_with_pages(
        &self,
        action: TransactWriteItem,
        pages: Vec<Item>,
        what: &str,
    ) -> Result<(), HistoryError> {
        let call = format!("DynamoDB TransactWriteItems ({what})");
        fits_one_transaction(&pages, &call)?;
        let mut writes = vec![action];
        for page in pages {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(page))
                .build()
                .map_err(|e| HistoryError::Failed(format!("{what} request: {e}")))?;
            writes.push(TransactWriteItem::builder().put(put).build());
        }
        self.transact(writes, &call).await
    }

    /// A first plan of a wave with CHUNKS items: the WAVE item if none exists, with them.
    /// False when a WAVE item existed (an earlier attempt planned the wave: it wins).
    pub(super) async fn put_new_with_pages(
        &self,
        mut items: Vec<Item>,
    ) -> Result<bool, HistoryError> {
        let wave = items.remove(0);
        let key = |k: &str| {
            wave.get(k)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let (pk, sk) = (key(PARTITION_KEY), key(SORT_KEY));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(wave))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(|e| HistoryError::Failed(format!("wave plan request: {e}")))?;
        let action = TransactWriteItem::builder().put(put).build();
        match self.write_with_pages(action, items, "wave plan").await {
            Ok(()) => Ok(true),
            Err(e) => match self.get(pk, &sk).await? {
                Some(_) => Ok(false),
                None => Err(e),
            },
        }
    }
}
