//! Group commit: the batches that arrive while one is being stored are stored together, in the
//! next transaction.
//!
//! Batches of one city's traffic touch the same items (a dossier received in one batch is
//! assigned in the next), and each transaction locks its items until it commits: batches stored
//! side by side mostly wait for each other. One writer per replica stores every waiting batch in
//! one transaction instead (one set of statements, one commit), which is what the city's
//! workload measured fastest (BENCHMARKS.md, issue 22).
//!
//! Each batch keeps its own outcome. If the shared transaction fails, each batch of the group is
//! stored again on its own, so a batch can only fail for itself.

use crate::store::events::IngestOutcome;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use ioc_shared::event::Event;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Most events stored in one transaction: bounds its statements and how long it holds its locks.
const MAX_GROUP_EVENTS: usize = 8_000;
/// Batches waiting for the writer before senders wait for room (back-pressure on ingest).
const QUEUE: usize = 64;

/// A request's events, given back with what became of them.
type Answer = (Vec<(usize, Event)>, Result<IngestOutcome, StoreError>);

/// One request's checked events, `(index in the request, event)`, and where its outcome goes.
struct Job {
    events: Vec<(usize, Event)>,
    reply: oneshot::Sender<Answer>,
}

/// The running writer: its queue, and its task (to stop it, as a crash would, in tests).
struct Running {
    queue: mpsc::Sender<Job>,
    task: tokio::task::AbortHandle,
}

/// Sends batches to this replica's writer (started at first use, inside the runtime, and
/// started again when it has stopped).
#[derive(Clone)]
pub struct GroupWriter {
    store: Store,
    /// "Now" for each transaction (when its events were stored).
    clock: ioc_shared::time::Clock,
    /// The writer, once started.
    running: Arc<Mutex<Option<Running>>>,
}

impl GroupWriter {
    pub fn new(store: Store, clock: ioc_shared::time::Clock) -> GroupWriter {
        GroupWriter { store, clock, running: Arc::new(Mutex::new(None)) }
    }

    /// The writer's queue; a writer that stopped (a panic) is replaced first, so one bad
    /// moment does not turn this replica's ingest away until a restart.
    fn queue(&self) -> mpsc::Sender<Job> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(writer) = running.as_ref().filter(|w| !w.queue.is_closed()) {
            return writer.queue.clone();
        }
        if running.is_some() {
            tracing::error!("the ingest writer stopped; starting a new one");
        }
        let (queue, receiver) = mpsc::channel(QUEUE);
        let task = tokio::spawn(write_forever(self.store.clone(), self.clock.clone(), receiver));
        *running = Some(Running { queue: queue.clone(), task: task.abort_handle() });
        queue
    }

    /// Stops the writer as a crash would (for tests): the batches it holds get a 503, the next
    /// batch starts a new writer.
    pub fn kill(&self) {
        if let Some(writer) = self.running.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            writer.task.abort();
        }
    }

    /// Stores `events` (with whatever else is waiting); gives them back with their outcome.
    pub async fn ingest(&self, events: Vec<(usize, Event)>) -> Answer {
        let queue = self.queue();
        let (reply, answer) = oneshot::channel();
        // The writer stopped (a panic) before storing this batch: nothing of it was stored.
        let stopped = || StoreError::Unavailable(sqlx::Error::WorkerCrashed);
        if let Err(mpsc::error::SendError(job)) = queue.send(Job { events, reply }).await {
            return (job.events, Err(stopped()));
        }
        match answer.await {
            Ok(answer) => answer,
            Err(_) => (Vec::new(), Err(stopped())),
        }
    }
}

/// The writer: takes the first waiting batch and every other one waiting (up to
/// [`MAX_GROUP_EVENTS`]), stores them in one transaction, answers each.
async fn write_forever(
    store: Store,
    clock: ioc_shared::time::Clock,
    mut queue: mpsc::Receiver<Job>,
) {
    while let Some(first) = queue.recv().await {
        let mut size = first.events.len();
        let mut group = vec![first];
        while size < MAX_GROUP_EVENTS {
            match queue.try_recv() {
                Ok(job) => {
                    size += job.events.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        write_group(&store, clock.now(), group).await;
    }
}

async fn write_group(store: &Store, now: DateTime<Utc>, group: Vec<Job>) {
    if group.len() == 1 {
        for job in group {
            let outcome = store.ingest(&job.events, now).await;
            let _ = job.reply.send((job.events, outcome));
        }
        return;
    }
    // Every event numbered by its place in the group; `starts[j]` is where job j's begin.
    let mut starts = Vec::with_capacity(group.len());
    let mut combined: Vec<(usize, Event)> =
        Vec::with_capacity(group.iter().map(|j| j.events.len()).sum());
    let mut jobs = Vec::with_capacity(group.len());
    for job in group {
        starts.push(combined.len());
        let Job { events, reply } = job;
        let mut indices = Vec::with_capacity(events.len());
        for (index, event) in events {
            indices.push(index);
            combined.push((combined.len(), event));
        }
        jobs.push((indices, reply));
    }
    let result = store.ingest(&combined, now).await;
    let mut events = combined.into_iter().map(|(_, event)| event);
    match result {
        Ok(outcome) => {
            for (j, (indices, reply)) in jobs.into_iter().enumerate() {
                let own =
                    |place: usize| place.checked_sub(starts[j]).filter(|p| *p < indices.len());
                let stored: Vec<usize> =
                    outcome.stored.iter().filter_map(|p| own(*p)).map(|p| indices[p]).collect();
                let rejected: Vec<(usize, String)> = outcome
                    .rejected
                    .iter()
                    .filter_map(|(p, reason)| own(*p).map(|p| (indices[p], reason.clone())))
                    .collect();
                let own_events: Vec<(usize, Event)> =
                    indices.iter().copied().zip(events.by_ref().take(indices.len())).collect();
                let outcome = IngestOutcome {
                    accepted: stored.len(),
                    duplicates: indices.len() - stored.len() - rejected.len(),
                    rejected,
                    changed: outcome.changed && !stored.is_empty(),
                    stored,
                };
                let _ = reply.send((own_events, Ok(outcome)));
            }
        }
        Err(error) => {
            tracing::debug!(%error, batches = jobs.len(), "group transaction failed; each batch stored alone");
            for (indices, reply) in jobs {
                let own: Vec<(usize, Event)> =
                    indices.iter().copied().zip(events.by_ref().take(indices.len())).collect();
                let outcome = store.ingest(&own, now).await;
                let _ = reply.send((own, outcome));
            }
        }
    }
}
