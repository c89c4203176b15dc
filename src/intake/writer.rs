//! Group commit: each writer thread (`CX_INTAKE_WRITERS`: one on SQLite, two on PostgreSQL)
//! takes every intake item waiting in the queue, stores them in one transaction and only then
//! acknowledges each. A `201` therefore always
//! means "committed", while one fsync serves many responses.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use diesel::prelude::*;
use tokio::sync::oneshot;

use crate::db::{self, AnyConnection, Pool};
use crate::error::ApiError;
use crate::intake::limit::{self, ClientBucket};
use crate::responses::{insert_batch, NewImpression, NewResponse, Stored};

type Reply<T> = oneshot::Sender<Result<T, ApiError>>;

/// A submission and the client it counts against (`None`: not rate-limited).
enum Item {
    Response(Box<NewResponse>, Option<ClientBucket>, Reply<Stored>),
    Impression(NewImpression, Option<ClientBucket>, Reply<()>),
}

impl Item {
    fn client(&self) -> Option<&ClientBucket> {
        match self {
            Item::Response(_, c, _) | Item::Impression(_, c, _) => c.as_ref(),
        }
    }

    fn fail(self, err: ApiError) {
        match self {
            Item::Response(_, _, reply) => drop(reply.send(Err(err))),
            Item::Impression(_, _, reply) => drop(reply.send(Err(err))),
        }
    }
}

#[derive(Clone)]
pub struct Writer {
    tx: Sender<Item>,
}

impl Writer {
    /// Starts `threads` writer threads on `pool`. They stop once every `Writer` clone is dropped
    /// and the queue is drained, so in-flight responses are committed at shutdown.
    /// `per_minute` is the shared per-client budget (0: off).
    pub fn start(
        pool: Pool,
        threads: usize,
        capacity: usize,
        max_batch: usize,
        per_minute: u32,
    ) -> (Writer, Vec<std::thread::JoinHandle<()>>) {
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        let handles = (0..threads.max(1))
            .map(|i| {
                let (rx, pool) = (rx.clone(), pool.clone());
                std::thread::Builder::new()
                    .name(format!("intake-writer-{i}"))
                    .spawn(move || run(rx, pool, max_batch, per_minute))
                    .expect("spawn writer thread")
            })
            .collect();
        (Writer { tx }, handles)
    }

    pub async fn store_response(
        &self,
        r: NewResponse,
        client: Option<ClientBucket>,
    ) -> Result<Stored, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.enqueue(Item::Response(Box::new(r), client, reply))?;
        await_reply(rx).await
    }

    pub async fn record_impression(
        &self,
        i: NewImpression,
        client: Option<ClientBucket>,
    ) -> Result<(), ApiError> {
        let (reply, rx) = oneshot::channel();
        self.enqueue(Item::Impression(i, client, reply))?;
        await_reply(rx).await
    }

    pub fn queue_len(&self) -> usize {
        self.tx.len()
    }

    fn enqueue(&self, item: Item) -> Result<(), ApiError> {
        self.tx.try_send(item).map_err(|e| match e {
            TrySendError::Full(_) => ApiError::Unavailable {
                detail: "intake is saturated; retry shortly".into(),
                retry_after: 1,
            },
            TrySendError::Disconnected(_) => ApiError::Unavailable {
                detail: "the service is shutting down".into(),
                retry_after: 2,
            },
        })
    }
}

async fn await_reply<T>(rx: oneshot::Receiver<Result<T, ApiError>>) -> Result<T, ApiError> {
    match tokio::time::timeout(Duration::from_secs(15), rx).await {
        Ok(Ok(result)) => result,
        // Either the writer is stuck on the database or gone; the client retries the same
        // submission_id, which intake treats idempotently.
        _ => Err(ApiError::Unavailable {
            detail: "the database did not confirm in time; retry with the same submission_id"
                .into(),
            retry_after: 2,
        }),
    }
}

fn run(rx: Receiver<Item>, pool: Pool, max_batch: usize, per_minute: u32) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        crate::metrics::metrics()
            .writer_batch
            .observe(batch.len() as f64);
        if let Err(down) = commit(&pool, batch, per_minute) {
            // What queued up while this batch waited out the connection or busy timeout would
            // wait as long again: answer it now; the clients retry with the same submission_id.
            while let Ok(item) = rx.try_recv() {
                item.fail(clone_err(&down));
            }
        }
    }
}

/// Stores one batch and answers each item; `Err` when the database made the batch wait out a
/// timeout before failing (no connection to be had, or SQLite's busy timeout).
fn commit(pool: &Pool, batch: Vec<Item>, per_minute: u32) -> Result<(), ApiError> {
    let mut conn = match pool.get() {
        Ok(c) => c,
        Err(e) => {
            let err = ApiError::from(e);
            fail_all(batch, &err);
            return Err(err);
        }
    };
    let batch = match shared_limit(&mut conn, batch, per_minute) {
        Ok(kept) => kept,
        Err((batch, e)) => match crate::error::unavailable_or_internal(&e) {
            err @ ApiError::Unavailable { .. } => {
                fail_all(batch, &err);
                return if waited(&e) { Err(err) } else { Ok(()) };
            }
            // The limit's own bookkeeping failed: a response is worth more than a rate limit.
            _ => {
                tracing::error!(error = %e, "shared rate-limit count failed; batch stored unlimited");
                batch
            }
        },
    };
    let (mut resps, mut imps) = (vec![], vec![]);
    for item in batch {
        match item {
            Item::Response(r, _, reply) => resps.push((*r, reply)),
            Item::Impression(i, _, reply) => imps.push((i, reply)),
        }
    }
    let rows: Vec<NewResponse> = resps.iter().map(|(r, _)| r.clone()).collect();
    let imp_rows: Vec<NewImpression> = imps.iter().map(|(i, _)| i.clone()).collect();
    let stored = conn
        .transaction(|c| insert_batch(c, &rows, &imp_rows))
        .map_err(|e| (crate::error::unavailable_or_internal(&e), e));
    match stored {
        Ok(outcomes) => {
            for ((_, reply), o) in resps.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(o));
            }
            for (_, reply) in imps {
                let _ = reply.send(Ok(()));
            }
        }
        // The database is away or locked: trying each item alone would only wait as long
        // again before the same answer.
        Err((err @ ApiError::Unavailable { .. }, e)) => {
            for (_, reply) in resps {
                let _ = reply.send(Err(clone_err(&err)));
            }
            for (_, reply) in imps {
                let _ = reply.send(Err(clone_err(&err)));
            }
            if waited(&e) {
                return Err(err);
            }
        }
        // A single bad item, or a race with another writer on the same submission_id (a unique
        // violation), must not fail its neighbours: retry each on its own, where the race
        // resolves into a duplicate.
        Err(_) => one_by_one(&mut conn, resps, imps),
    }
    Ok(())
}

/// Stores each item of a failed batch on its own, so one bad item (or a race with another
/// writer on the same submission_id, which resolves into a duplicate) cannot fail the others.
fn one_by_one(
    conn: &mut AnyConnection,
    resps: Vec<(NewResponse, Reply<Stored>)>,
    imps: Vec<(NewImpression, Reply<()>)>,
) {
    for (r, reply) in resps {
        let mut res = conn.transaction(|c| insert_batch(c, std::slice::from_ref(&r), &[]));
        // The other writer may still be committing the same submission_id.
        for _ in 0..3 {
            match &res {
                Err(e) if db::is_unique_violation(e) => {
                    res = conn.transaction(|c| insert_batch(c, std::slice::from_ref(&r), &[]));
                }
                _ => break,
            }
        }
        let res = res
            .map(|mut v| v.remove(0))
            .map_err(|e| crate::error::unavailable_or_internal(&e));
        let _ = reply.send(res);
    }
    for (i, reply) in imps {
        let res = conn
            .transaction(|c| insert_batch(c, &[], std::slice::from_ref(&i)))
            .map(|_| ())
            .map_err(|e| crate::error::unavailable_or_internal(&e));
        let _ = reply.send(res);
    }
}

/// Counts the batch's submissions per client in the shared one-minute windows (one statement
/// for the whole batch) and answers `429` to those over the budget; the rest are kept. Every
/// attempt counts, so a client that keeps flooding stays limited until the window ends.
type Unstored = (Vec<Item>, diesel::result::Error);
fn shared_limit(
    conn: &mut AnyConnection,
    batch: Vec<Item>,
    per_minute: u32,
) -> Result<Vec<Item>, Unstored> {
    let mut hits: BTreeMap<ClientBucket, i32> = BTreeMap::new();
    if per_minute > 0 {
        for c in batch.iter().filter_map(Item::client) {
            *hits.entry(c.clone()).or_default() += 1;
        }
    }
    if hits.is_empty() {
        return Ok(batch);
    }
    let (window, secs_left) = limit::window_now();
    let list: Vec<(&ClientBucket, i32)> = hits.iter().map(|(b, n)| (b, *n)).collect();
    let totals = match limit::count_shared(conn, window, &list) {
        Ok(t) => t,
        Err(e) => return Err((batch, e)),
    };
    // What each client had left before this batch.
    let mut left: HashMap<String, i32> = totals
        .into_iter()
        .map(|(b, total)| {
            let here = hits.get(&ClientBucket(b.clone())).copied().unwrap_or(0);
            (b, (per_minute as i32).saturating_sub(total - here).max(0))
        })
        .collect();
    let mut kept = Vec::with_capacity(batch.len());
    for item in batch {
        let budget = item.client().and_then(|c| left.get_mut(&c.0));
        match budget {
            Some(n) if *n == 0 => item.fail(ApiError::RateLimited(secs_left)),
            Some(n) => {
                *n -= 1;
                kept.push(item);
            }
            None => kept.push(item),
        }
    }
    Ok(kept)
}

/// SQLite gave up after its busy timeout ("database is locked").
fn waited(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(_, info) if info.message().contains("locked"))
}

fn fail_all(batch: Vec<Item>, err: &ApiError) {
    for item in batch {
        item.fail(clone_err(err));
    }
}

fn clone_err(e: &ApiError) -> ApiError {
    match e {
        ApiError::Unavailable {
            detail,
            retry_after,
        } => ApiError::Unavailable {
            detail: detail.clone(),
            retry_after: *retry_after,
        },
        other => ApiError::Internal(other.to_string()),
    }
}
