//! Whole items as the DynamoDB adapter writes them, built once here so that the in-memory fake
//! can size the very items the adapter would store, and DynamoDB's count of an item's size.
//!
//! Two records grow with a wave's server count: its launch points (about 170 bytes a server:
//! 255 KB for a wave of 1,500) and its health checks (a probe of each recovered server, about
//! 120 bytes each per check). Each is split into pages of at most [`PAGE_BYTES`]: the item at
//! the record's own sort key (`WAVE#0001#SERVERS`, `WAVE#0001#HEALTH`) holds the first page and
//! the number of pages, `<sort key>#0002` and on the others; the adapter writes and reads all
//! pages of a record in one transaction (`dynamo/paged.rs`). A page of launch points is a
//! `servers` map of whole servers; a page of health is a piece of the record's JSON. A third
//! record grows with the plan: the instances a drill's clean-up terminates, kept per TERMINATE
//! job in an item of its own beside the EXECUTION item.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use drs_waves_contract::WaveStatus;
use drs_waves_contract::history::{
    EXECUTION_SK, PARTITION_KEY, PLAN_INDEX_PARTITION_KEY, SORT_KEY, STATUS_INDEX_PARTITION_KEY,
    STATUS_INDEX_SORT_KEY, execution_pk, health_sk, network_sk, servers_sk, wave_sk,
};

use crate::HistoryError;
use crate::codec::{
    Fields, Item, account_av, chunks_av, counts_av, job_servers_av, launch_points_av, learned_av,
    list_s, n, s, wave_statuses_av,
};
use crate::records::{
    ExecutionRecord, JobRecord, MAX_WARNINGS_RECORDED, ServerLaunchPoint, WaveChunk, WaveRecord,
};
use crate::{NetworkRecord, WaveHealthRecord};

/// The largest item this history may store (issue #26's bar; DynamoDB's own limit is 400 KB).
pub const MAX_ITEM_BYTES: usize = 100_000;
/// The most one page holds (its `servers` map or its piece of JSON, as DynamoDB counts it):
/// the rest of the item (keys, type, wave) is under 1 KB, so a page stays well under
/// [`MAX_ITEM_BYTES`].
pub(crate) const PAGE_BYTES: usize = 64 * 1024;
/// DynamoDB's limits on one TransactWriteItems or TransactGetItems: its actions and their
/// total size. A record that needs more (launch points of over 20,000 servers, far beyond what
/// DRS launches in one account) cannot be written whole and is refused.
pub(crate) const MAX_TRANSACTION_ITEMS: usize = 100;
pub(crate) const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;
/// The first page's number of pages. An item the previous release wrote has none: it held the
/// whole record, one page.
pub(crate) const PAGES: &str = "pages";

/// The sort key of page `page` (1-based) of the record at `first_sk`: the first page is the
/// record's own item, so that the previous layout (one item) reads as one page.
pub(crate) fn page_sk(first_sk: &str, page: u32) -> String {
    if page <= 1 {
        first_sk.to_string()
    } else {
        format!("{first_sk}#{page:04}")
    }
}

/// An item's size as DynamoDB counts it against its limits: each attribute's name and value;
/// a string its UTF-8 bytes, a number one byte per two significant digits plus one, a list
/// or map 3 bytes plus its elements (a map's with their names) and 1 byte each.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(x) => x.len(),
        AttributeValue::N(x) => {
            let digits = x.trim_start_matches(['-', '0']).replace('.', "");
            digits.trim_end_matches('0').len().div_ceil(2) + 1
        }
        AttributeValue::B(x) => x.as_ref().len(),
        AttributeValue::L(xs) => 3 + xs.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, x)| map_entry_size(k, x)).sum::<usize>(),
        AttributeValue::Ss(xs) => xs.iter().map(String::len).sum(),
        AttributeValue::Ns(xs) => xs.iter().map(|x| value_size(&n(x))).sum(),
        AttributeValue::Bs(xs) => xs.iter().map(|x| x.as_ref().len()).sum(),
        _ => 1,
    }
}

fn map_entry_size(name: &str, v: &AttributeValue) -> usize {
    1 + name.len() + value_size(v)
}

fn keyed(pk: String, sk: String) -> Item {
    HashMap::from([
        (PARTITION_KEY.to_string(), s(pk)),
        (SORT_KEY.to_string(), s(sk)),
    ])
}

/// The items of a paged record of a wave: one per body (the attribute that holds the page),
/// the first at `first_sk` with `item_type`, the page count and `extra`, the others
/// `<item_type>_PAGE` with their number.
fn paged_items(
    (execution_id, wave_index): (&str, u32),
    (first_sk, item_type): (&str, &str),
    extra: &[(&str, &str)],
    bodies: Vec<(&str, AttributeValue)>,
) -> Vec<Item> {
    let count = bodies.len();
    bodies
        .into_iter()
        .zip(1u32..)
        .map(|((attribute, body), number)| {
            let mut item = keyed(execution_pk(execution_id), page_sk(first_sk, number));
            item.insert("executionId".into(), s(execution_id));
            item.insert("waveIndex".into(), n(wave_index));
            item.insert(attribute.into(), body);
            if number == 1 {
                item.insert("itemType".into(), s(item_type));
                item.insert(PAGES.into(), n(count));
                for (k, v) in extra {
                    item.insert((*k).to_string(), s(*v));
                }
            } else {
                item.insert("itemType".into(), s(format!("{item_type}_PAGE")));
                item.insert("page".into(), n(number));
            }
            item
        })
        .collect()
}

/// The items that hold a wave's launch points: the SERVERS item then its other pages, each
/// `servers` map at most [`PAGE_BYTES`], servers in ID order.
pub(crate) fn launch_point_items(
    execution_id: &str,
    wave_index: u32,
    points: &[ServerLaunchPoint],
) -> Vec<Item> {
    let mut sorted: Vec<&ServerLaunchPoint> = points.iter().collect();
    sorted.sort_by(|a, b| a.server_id.cmp(&b.server_id));
    let mut pages: Vec<Vec<ServerLaunchPoint>> = vec![Vec::new()];
    let mut bytes = 0;
    for p in sorted {
        let entry = match launch_points_av(std::slice::from_ref(p)) {
            AttributeValue::M(m) => m.iter().map(|(k, v)| map_entry_size(k, v)).sum(),
            _ => 0,
        };
        if bytes + entry > PAGE_BYTES && pages.last().is_some_and(|page| !page.is_empty()) {
            pages.push(Vec::new());
            bytes = 0;
        }
        bytes += entry;
        if let Some(page) = pages.last_mut() {
            page.push(p.clone());
        }
    }
    let bodies = pages
        .iter()
        .map(|page| ("servers", launch_points_av(page)))
        .collect();
    paged_items(
        (execution_id, wave_index),
        (&servers_sk(wave_index), "SERVERS"),
        &[],
        bodies,
    )
}

/// How many pages the first item of a paged record says it has (1 for the previous layout).
pub(crate) fn pages_of(first: &Item) -> Result<u32, HistoryError> {
    if !first.contains_key(PAGES) {
        return Ok(1);
    }
    let f = Fields::of(first);
    match f.n(PAGES)? {
        0 => Err(f.bad(PAGES, "is 0")),
        pages => Ok(pages),
    }
}

/// Refuses a write of `items` that one DynamoDB transaction cannot hold.
pub(crate) fn fits_one_transaction(items: &[Item], call: &str) -> Result<(), HistoryError> {
    let bytes: usize = items.iter().map(item_size).sum();
    if items.len() > MAX_TRANSACTION_ITEMS || bytes > MAX_TRANSACTION_BYTES {
        return Err(HistoryError::Failed(format!(
            "{call}: {} items of {bytes} bytes do not fit one DynamoDB transaction (at most \
             {MAX_TRANSACTION_ITEMS} items, {MAX_TRANSACTION_BYTES} bytes): split the wave",
            items.len()
        )));
    }
    Ok(())
}

/// The most an attempt's chunks may name inline in the WAVE item (about 800 servers): a
/// larger attempt's chunk servers go to CHUNKS items of their own
/// (`WAVE#0001#CHUNKS#0001`, paged like the launch points), the chunk entries keeping only
/// their job, attempt and plan time (and `serversAttempt`, where their servers are). The
/// servers of a chunk are written once, with its plan, and never change.
pub(crate) const INLINE_CHUNK_SERVERS_BYTES: usize = 16 * 1024;
/// A chunk entry whose servers are in its attempt's CHUNKS items.
pub(crate) const SERVERS_ATTEMPT: &str = "serversAttempt";

/// The sort key of the first CHUNKS item of a wave's attempt.
pub(crate) fn chunks_sk(wave_index: u32, attempt: u32) -> String {
    format!("{}#CHUNKS#{attempt:04}", wave_sk(wave_index))
}

/// The attempts of `chunks` whose servers are too many to name inline.
pub(crate) fn spilled_attempts(chunks: &[WaveChunk]) -> BTreeSet<u32> {
    let mut bytes: BTreeMap<u32, usize> = BTreeMap::new();
    for c in chunks {
        *bytes.entry(c.attempt).or_default() +=
            c.servers.iter().map(|s| 1 + s.len()).sum::<usize>();
    }
    bytes
        .into_iter()
        .filter(|(_, b)| *b > INLINE_CHUNK_SERVERS_BYTES)
        .map(|(attempt, _)| attempt)
        .collect()
}

/// The WAVE item's `chunks` map: each chunk's servers inline, or, for a chunk of a `spilled`
/// attempt, where they are.
pub(crate) fn chunk_entries_av(chunks: &[WaveChunk], spilled: &BTreeSet<u32>) -> AttributeValue {
    let AttributeValue::M(mut entries) = chunks_av(chunks) else {
        return chunks_av(chunks);
    };
    for c in chunks.iter().filter(|c| spilled.contains(&c.attempt)) {
        if let Some(AttributeValue::M(entry)) = entries.get_mut(&c.number.to_string()) {
            entry.remove("servers");
            entry.insert(SERVERS_ATTEMPT.into(), n(c.attempt));
        }
    }
    AttributeValue::M(entries)
}

/// The CHUNKS items of one attempt of a wave: its chunks' servers (a map of chunk number to
/// server IDs), in pages of at most [`PAGE_BYTES`].
pub(crate) fn chunk_server_items(
    execution_id: &str,
    wave_index: u32,
    attempt: u32,
    chunks: &[WaveChunk],
) -> Vec<Item> {
    let mut pages: Vec<HashMap<String, AttributeValue>> = vec![HashMap::new()];
    let mut bytes = 0;
    for c in chunks.iter().filter(|c| c.attempt == attempt) {
        let entry = map_entry_size(&c.number.to_string(), &list_s(&c.servers));
        if bytes + entry > PAGE_BYTES && pages.last().is_some_and(|p| !p.is_empty()) {
            pages.push(HashMap::new());
            bytes = 0;
        }
        bytes += entry;
        if let Some(page) = pages.last_mut() {
            page.insert(c.number.to_string(), list_s(&c.servers));
        }
    }
    let bodies = pages
        .into_iter()
        .map(|page| ("chunks", AttributeValue::M(page)))
        .collect();
    paged_items(
        (execution_id, wave_index),
        (&chunks_sk(wave_index, attempt), "CHUNKS"),
        &[],
        bodies,
    )
}

/// Chunk number to servers, from an attempt's CHUNKS items.
pub(crate) fn chunk_servers_of(pages: &[Item]) -> Result<BTreeMap<u32, Vec<String>>, HistoryError> {
    let mut servers = BTreeMap::new();
    for page in pages {
        let f = Fields::of(page);
        for (number, list) in f.map("chunks")? {
            let n: u32 = number.parse().map_err(|_| {
                f.bad(
                    "chunks",
                    &format!("has a key {number:?} that is not a number"),
                )
            })?;
            let list = list
                .as_l()
                .map_err(|_| f.bad("chunks", &format!("has a non-list entry {number}")))?
                .iter()
                .map(|v| {
                    v.as_s().cloned().map_err(|_| {
                        f.bad("chunks", &format!("has a non-string server in {number}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            servers.insert(n, list);
        }
    }
    Ok(servers)
}

/// The attempts whose chunk servers a WAVE item keeps in CHUNKS items.
pub(crate) fn spilled_attempts_of(wave: &Item) -> Result<BTreeSet<u32>, HistoryError> {
    let f = Fields::of(wave);
    let mut attempts = BTreeSet::new();
    for (number, entry) in f.map("chunks")? {
        if let AttributeValue::M(m) = entry
            && m.contains_key(SERVERS_ATTEMPT)
        {
            attempts.insert(
                Fields::nested(m, format!("{} (chunks.{number})", f.what)).n(SERVERS_ATTEMPT)?,
            );
        }
    }
    Ok(attempts)
}

/// A wave's items as its plan writes them: the WAVE item, then the CHUNKS items of each attempt
/// too large to name its servers inline.
pub(crate) fn wave_items(w: &WaveRecord) -> Vec<Item> {
    let spilled = spilled_attempts(&w.chunks);
    let mut item = wave_item(w);
    item.insert("chunks".into(), chunk_entries_av(&w.chunks, &spilled));
    let mut items = vec![item];
    for attempt in spilled {
        items.extend(chunk_server_items(
            &w.execution_id,
            w.index,
            attempt,
            &w.chunks,
        ));
    }
    items
}

/// The WAVE item of `w` whole, as a first plan writes it (and as the fake sizes a wave).
pub(crate) fn wave_item(w: &WaveRecord) -> Item {
    let mut item = keyed(execution_pk(&w.execution_id), wave_sk(w.index));
    item.insert("itemType".into(), s("WAVE"));
    item.insert("executionId".into(), s(&w.execution_id));
    item.insert("waveIndex".into(), n(w.index));
    item.insert("waveName".into(), s(&w.name));
    item.insert("waveStatus".into(), s(w.status.as_str()));
    item.insert("jobIds".into(), list_s(&w.job_ids));
    item.insert("checks".into(), n(w.checks));
    item.insert("counts".into(), counts_av(&w.servers));
    item.insert("reason".into(), s(&w.reason));
    item.insert("waveStartedAt".into(), s(&w.started_at));
    item.insert("chunks".into(), chunks_av(&w.chunks));
    if let Some(ended) = &w.ended_at {
        item.insert("waveEndedAt".into(), s(ended));
    }
    if let Some(ms) = w.completion_ms {
        item.insert("completionMillis".into(), n(ms));
    }
    if let Some(l) = &w.learned {
        item.insert("learned".into(), learned_av(l));
    }
    if let Some(a) = &w.account {
        item.insert("waveAccount".into(), account_av(a));
    }
    item
}

/// A wave as its first plan records it: LAUNCHING, no job, no check, chunks without jobs.
pub(crate) fn planned_wave(w: &WaveRecord) -> WaveRecord {
    WaveRecord {
        status: WaveStatus::Launching,
        job_ids: Vec::new(),
        checks: 0,
        reason: String::new(),
        ended_at: None,
        completion_ms: None,
        ..w.clone()
    }
}

/// A JOB item whole, as each check writes it.
pub(crate) fn job_item(j: &JobRecord) -> Item {
    let mut item = keyed(
        execution_pk(&j.execution_id),
        drs_waves_contract::history::job_sk(j.wave_index, &j.job_id),
    );
    item.insert("itemType".into(), s("JOB"));
    item.insert("executionId".into(), s(&j.execution_id));
    item.insert("waveIndex".into(), n(j.wave_index));
    item.insert("jobId".into(), s(&j.job_id));
    item.insert("jobStatus".into(), s(j.job_status.as_str()));
    item.insert("updatedAt".into(), s(&j.updated_at));
    item.insert("servers".into(), job_servers_av(&j.servers));
    item
}

fn to_json(record: &impl serde::Serialize, what: &str) -> Result<String, HistoryError> {
    serde_json::to_string(record)
        .map_err(|e| HistoryError::Failed(format!("encoding a {what} record: {e}")))
}

/// The attribute of a HEALTH item (and of its pages) that holds its record's JSON.
pub(crate) const HEALTH_JSON: &str = "health";
/// The attribute of a NETWORK item that holds its record.
pub(crate) const NETWORK_JSON: &str = "network";

/// A wave's HEALTH item and its pages, as each round of its checks writes them: the record's
/// JSON cut into pieces of at most [`PAGE_BYTES`] (at character boundaries), in order.
pub(crate) fn health_items(h: &WaveHealthRecord) -> Result<Vec<Item>, HistoryError> {
    let json = to_json(h, "health")?;
    let mut bodies = Vec::new();
    let mut rest = json.as_str();
    while !rest.is_empty() || bodies.is_empty() {
        let mut cut = rest.len().min(PAGE_BYTES);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, tail) = rest.split_at(cut);
        bodies.push((HEALTH_JSON, s(piece)));
        rest = tail;
    }
    Ok(paged_items(
        (&h.execution_id, h.wave_index),
        (&health_sk(h.wave_index), "HEALTH"),
        &[("healthStatus", h.status.as_str())],
        bodies,
    ))
}

/// A wave's health record from its HEALTH item's pages, in order.
pub(crate) fn health_of(pages: &[Item]) -> Result<WaveHealthRecord, HistoryError> {
    let mut json = String::new();
    for page in pages {
        json.push_str(&Fields::of(page).s(HEALTH_JSON)?);
    }
    let what = pages
        .first()
        .map(|p| Fields::of(p).what)
        .unwrap_or_default();
    serde_json::from_str(&json)
        .map_err(|e| HistoryError::Corrupt(format!("history item {what}: {HEALTH_JSON}: {e}")))
}

/// A network recovery action's NETWORK item whole (the record as JSON, the job ID beside it
/// for a person reading the table).
pub(crate) fn network_item(r: &NetworkRecord) -> Result<Item, HistoryError> {
    let mut item = keyed(
        execution_pk(&r.execution_id),
        network_sk(r.wave_index, &r.phase, r.position),
    );
    item.insert("itemType".into(), s("NETWORK"));
    item.insert("executionId".into(), s(&r.execution_id));
    item.insert("waveIndex".into(), n(r.wave_index));
    item.insert("jobId".into(), s(&r.job_id));
    item.insert("networkStatus".into(), s(&r.status));
    item.insert(NETWORK_JSON.into(), s(to_json(r, "network")?));
    Ok(item)
}

/// The EXECUTION item as preflight creates it (and as the fake sizes an execution, with the
/// TERMINATE jobs the clean-up adds).
pub(crate) fn execution_item(r: &ExecutionRecord) -> Item {
    let mut item = keyed(execution_pk(&r.execution_id), EXECUTION_SK.to_string());
    item.insert("itemType".into(), s("EXECUTION"));
    item.insert("executionId".into(), s(&r.execution_id));
    item.insert("executionName".into(), s(&r.execution_name));
    item.insert(PLAN_INDEX_PARTITION_KEY.into(), s(&r.plan_name));
    if let Some(mode) = r.mode {
        item.insert("mode".into(), s(mode.as_str()));
    }
    item.insert(STATUS_INDEX_PARTITION_KEY.into(), s(r.status.as_str()));
    item.insert("waveStatuses".into(), wave_statuses_av(&BTreeMap::new()));
    item.insert(STATUS_INDEX_SORT_KEY.into(), s(&r.started_at));
    item.insert("waveCount".into(), n(r.wave_count));
    item.insert("serverCount".into(), n(r.server_count));
    item.insert(
        "terminateDrillInstances".into(),
        AttributeValue::Bool(r.terminate_drill_instances),
    );
    if let Some(t) = &r.point_in_time {
        item.insert("pointInTime".into(), s(t));
    }
    if let Some(rpo) = r.worst_rpo_seconds {
        item.insert("worstRpoSeconds".into(), n(rpo));
    }
    if let Some(by) = &r.started_by {
        item.insert("startedBy".into(), s(by));
    }
    if !r.warnings.is_empty() {
        let kept: Vec<String> = r
            .warnings
            .iter()
            .take(MAX_WARNINGS_RECORDED)
            .cloned()
            .collect();
        item.insert("warnings".into(), list_s(&kept));
        item.insert("warningCount".into(), n(r.warnings.len()));
    }
    item
}

/// The sort key of a TERMINATE item: the instances one TERMINATE job of a drill's clean-up
/// terminates (`TERMINATE#<jobID>`), beside the EXECUTION item that lists the job. The
/// instances lived on the EXECUTION item before, where a 10,000-server drill's would fill
/// some 200 KB; one job names at most a few hundred.
pub(crate) const TERMINATE_SK_PREFIX: &str = "TERMINATE#";

/// A TERMINATE item whole.
pub(crate) fn terminate_item(execution_id: &str, job_id: &str, instances: &[String]) -> Item {
    let mut item = keyed(
        execution_pk(execution_id),
        format!("{TERMINATE_SK_PREFIX}{job_id}"),
    );
    item.insert("itemType".into(), s("TERMINATE"));
    item.insert("executionId".into(), s(execution_id));
    item.insert("jobId".into(), s(job_id));
    item.insert("instances".into(), list_s(instances));
    item
}

/// A TERMINATE item's job and instances.
pub(crate) fn terminate_of(item: &Item) -> Result<(String, Vec<String>), HistoryError> {
    let f = Fields::of(item);
    Ok((f.s("jobId")?, f.list_s("instances")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(i: usize) -> ServerLaunchPoint {
        ServerLaunchPoint {
            server_id: format!("s-{i:017x}"),
            required: true,
            snapshot_id: Some(format!("pit-{i:017x}")),
            snapshot_taken_at: Some("2030-01-01T00:00:00.123456Z".into()),
            rpo_seconds: Some(600),
            replication: "CONTINUOUS".into(),
        }
    }

    #[test]
    fn a_small_wave_keeps_one_servers_item_with_its_page_count() {
        let items = launch_point_items("arn:x", 1, &[point(2), point(1)]);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0][SORT_KEY], s(servers_sk(1)));
        assert_eq!(pages_of(&items[0]).expect("pages"), 1);
    }

    #[test]
    fn a_large_wave_is_split_into_pages_under_the_item_limit_in_server_order() {
        let points: Vec<_> = (0..5_000).rev().map(point).collect();
        let items = launch_point_items("arn:x", 3, &points);
        assert!(items.len() > 5, "{} pages", items.len());
        assert_eq!(pages_of(&items[0]).expect("pages") as usize, items.len());
        assert_eq!(items[1][SORT_KEY], s("WAVE#0003#SERVERS#0002"));
        let mut read = Vec::new();
        for item in &items {
            assert!(item_size(item) <= MAX_ITEM_BYTES, "{}", item_size(item));
            read.extend(crate::codec::launch_points_of(item).expect("a page reads"));
        }
        let mut want = points.clone();
        want.sort_by(|a, b| a.server_id.cmp(&b.server_id));
        assert_eq!(read, want);
    }

    #[test]
    fn a_servers_item_of_the_previous_layout_is_one_page() {
        let mut item = launch_point_items("arn:x", 1, &[point(1)]).remove(0);
        item.remove(PAGES);
        assert_eq!(pages_of(&item).expect("pages"), 1);
    }

    #[test]
    fn a_large_health_record_is_cut_at_character_boundaries_and_reads_back_whole() {
        use crate::{HealthCheckRecord, ProbeRecord};
        let last = (0..3_000)
            .map(|i| ProbeRecord {
                target: format!("http://10.0.{}.{}:8080/santé", i / 256, i % 256),
                ok: false,
                answer: "délai dépassé ".to_string() + &"✗".repeat(20),
                at: "2030-01-01T00:31:00Z".into(),
            })
            .collect();
        let mut record = WaveHealthRecord {
            execution_id: "arn:x".into(),
            wave_index: 4,
            status: drs_waves_contract::HealthStatus::Checking,
            started_at: "2030-01-01T00:30:00Z".into(),
            healthy_at: None,
            rounds: 1,
            checks: vec![HealthCheckRecord {
                what: "http http://{privateIp}:8080/santé expects 2xx".into(),
                passed_at: None,
                probes: 1,
                last,
            }],
        };
        // Shifted a byte at a time until the first cut falls inside a character.
        while serde_json::to_string(&record)
            .expect("json")
            .is_char_boundary(PAGE_BYTES)
        {
            record.execution_id.push('x');
            assert!(record.execution_id.len() < 16, "no cut inside a character");
        }
        let items = health_items(&record).expect("items");
        assert!(items.len() > 2, "{} pages", items.len());
        assert!(items.iter().all(|i| item_size(i) <= MAX_ITEM_BYTES));
        assert_eq!(pages_of(&items[0]).expect("pages") as usize, items.len());
        assert_eq!(health_of(&items).expect("reads back"), record);
    }

    #[test]
    fn item_size_counts_names_values_and_nesting_as_dynamodb_does() {
        let item = HashMap::from([
            ("ab".to_string(), s("xyz")),
            ("n".to_string(), n(12345)),
            ("l".to_string(), list_s(&["a".into(), "bc".into()])),
        ]);
        // 2 + 3, 1 + (3 + 1), 1 + (3 + 1 + 1 + 1 + 2)
        assert_eq!(item_size(&item), 5 + 5 + 9);
    }
}
