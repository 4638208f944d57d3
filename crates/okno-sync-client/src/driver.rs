//! The driver: okno-sync's engine on top of the local store. It follows the engine's driving
//! contract (drain `poll_output`, do what it asks, feed back what happened, sleep until the
//! returned deadline) and keeps the store's side of the protocol:
//!
//! - the engine always holds the store's whole outbox ([`Driver::feed_outbox`] after a write);
//! - acknowledged entries leave the outbox for the store's journal, refused ones are rolled back
//!   in the store;
//! - a pulled batch is written with its cursor, or held back while a local write is pending
//!   (the engine then starts over from the store: push first, pull again);
//! - a server restored from a backup (its changelog head behind this desk's cursor, or a
//!   sequence number it already used for another write) makes the desk pull everything again
//!   and send its pending writes under a new client id; after a restore, the acknowledged
//!   writes the backup lacks go first, from the journal.
//!
//! A request is carried by the caller's [`Link`], which also hears what the driver did: the
//! app signs in again on a 401 and updates the window; `okno-sim` injects its faults there.

use std::future::Future;
use std::time::{Instant, SystemTime};

use okno_store::Store;
use okno_store::StoreError;
use okno_store::sync::{BatchOutcome, Rejection};
use okno_sync::{Ack, Change, Config, Engine, Input, Output, PushItem, Request, codes};

/// The caller's side: how a request reaches the server, and what to do with the driver's news.
pub trait Link {
    /// Carry `request` to the server; the engine's input for what came back (a network
    /// error for anything but an answer).
    fn exchange(&mut self, request: &Request) -> impl Future<Output = Input> + Send;

    /// These outbox entries were acknowledged (already cleared from the store).
    fn acked(&mut self, _seqs: &[u64]) {}

    /// The server refused entry `seq`; `recorded` is the store's record of it (None when the
    /// entry was already gone).
    fn rejected(&mut self, _seq: u64, _code: &str, _recorded: Option<Rejection>) {}

    /// A pulled batch is about to be written: the store still shows what was there before.
    fn before_batch(&mut self, _store: &Store, _changes: &[Change]) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// The batch before was written with its cursor.
    fn batch_applied(&mut self, _applied: usize, _skipped: usize, _cursor: u64) {}

    /// The server turned out to be restored from a backup (its head is `head`); the desk pulls
    /// everything again and sends its pending writes under a new client id.
    fn restored(&mut self, _head: u64) {}
}

/// The engine and the store of one signed-in operator.
#[derive(Debug)]
pub struct Driver {
    store: Store,
    operator_id: String,
    /// The engine's settings; `client_id` follows the store's.
    config: Config,
    engine: Engine,
}

impl Driver {
    /// A driver for `operator_id` on `store`, under the store's client id for them, with
    /// `config`'s timings (its `client_id` is replaced). The engine starts from the store's
    /// cursor and outbox.
    pub async fn new(store: Store, operator_id: &str, mut config: Config) -> Result<Driver, StoreError> {
        config.client_id = store.sync_client_id(operator_id).await?;
        let cursor = store.sync_cursor().await?;
        let engine = Engine::new(config.clone(), cursor);
        let mut driver = Driver { store, operator_id: operator_id.to_owned(), config, engine };
        driver.feed_outbox().await;
        Ok(driver)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn client_id(&self) -> &str {
        &self.config.client_id
    }

    /// Nothing to push, no request in flight.
    pub fn is_idle(&self) -> bool {
        self.engine.is_idle()
    }

    /// A fresh engine from what the store has: its cursor and its whole outbox. Safe whenever
    /// no request is in flight (requests are awaited inside [`Driver::drain`]); what a
    /// restarted desk does.
    pub async fn restart(&mut self) {
        let cursor = self.store.sync_cursor().await.unwrap_or(0);
        self.engine = Engine::new(self.config.clone(), cursor);
        self.feed_outbox().await;
    }

    /// Hand the engine the store's outbox (after a local write).
    pub async fn feed_outbox(&mut self) {
        match self.store.outbox_entries(u32::MAX).await {
            Ok(entries) => {
                let items = entries
                    .into_iter()
                    .map(|e| PushItem { client_seq: e.seq, mutation_id: e.mutation_id, mutation: e.mutation })
                    .collect();
                self.engine.handle_input(Instant::now(), Input::Outbox(items));
            }
            Err(e) => tracing::error!(error = %e, "cannot read the outbox"),
        }
    }

    /// The changelog moved on to `version`.
    pub fn poke(&mut self, version: u64) {
        self.engine.handle_input(Instant::now(), Input::Poke { version });
    }

    /// The live socket is up and the server's head is `head`: whatever backoff the engine is
    /// in, the server is back, so start over from the store and pull. A head behind this
    /// desk's cursor may mean a server restored from a backup, or only a hello older than the
    /// desk's last pull: a pull decides (see [`Driver::drain`]).
    pub async fn server_up(&mut self, head: u64) {
        self.restart().await;
        let cursor = self.engine.cursor();
        self.poke(if head < cursor { cursor + 1 } else { head });
    }

    /// A server whose changelog head is behind what this desk has pulled was restored from a
    /// backup: everything it says now is older than this desk's cursor, and the sequences it
    /// remembers for this client are behind the outbox's. The desk pulls everything again from
    /// the server's state and sends its pending writes under a new client id, so they are
    /// neither taken for duplicates nor stuck behind a gap. Writes the server had acknowledged
    /// after the backup was taken (applied at versions past `head`) are gone from it: they come
    /// back from the store's journal and go first.
    async fn went_back_in_time(&mut self, head: u64, cursor: u64) -> bool {
        tracing::warn!(head, cursor, "the server's changelog is behind this desk: it was restored from a backup");
        let reset = async {
            self.store.reset_sync_cursor().await?;
            let resent = self.store.requeue_acknowledged(head).await?;
            if resent > 0 {
                tracing::warn!(resent, head, "sending again the writes the restored server lost");
            }
            self.store.restart_client(&self.operator_id).await
        };
        match reset.await {
            Ok(id) => {
                self.config.client_id = id;
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot start over after the server's restore");
                false
            }
        }
    }

    /// Drain the engine (its driving contract), doing what it asks; returns when to wake.
    pub async fn drain(&mut self, link: &mut impl Link) -> Instant {
        loop {
            match self.engine.poll_output(Instant::now()) {
                Output::Transmit(request) => {
                    let input = link.exchange(&request).await;
                    if let (Request::Pull(pull), Input::PullResponse(answer)) = (&request, &input)
                        && let Some(head) = answer.head
                        && head < pull.cursor
                        && self.went_back_in_time(head, pull.cursor).await
                    {
                        link.restored(head);
                        self.restart().await;
                        continue;
                    }
                    self.engine.handle_input(Instant::now(), input);
                }
                Output::Acked(acks) => {
                    if let Err(e) = self.store.ack_outbox(&acks).await {
                        tracing::error!(error = %e, "cannot clear acknowledged outbox entries");
                    }
                    link.acked(&Ack::seqs(&acks));
                }
                Output::Rejected { code, .. } if code == codes::SEQUENCE_REUSED => {
                    // Not a refusal of the write: this database went back in time. The same
                    // writes go again, numbered under a new client id.
                    match self.store.restart_client(&self.operator_id).await {
                        Ok(id) => {
                            self.config.client_id = id;
                            self.restart().await;
                        }
                        Err(e) => tracing::error!(error = %e, "cannot start a new client id"),
                    }
                }
                Output::Rejected { seq, code, reason } => {
                    let now = okno_core::unix_ms(SystemTime::now());
                    match self.store.reject_outbox(seq, &code, &reason, now).await {
                        Ok(recorded) => link.rejected(seq, &code, recorded),
                        Err(e) => tracing::error!(error = %e, seq, "cannot roll back a refused write"),
                    }
                }
                Output::ApplyBatch { changes, cursor } => {
                    let started = Instant::now();
                    link.before_batch(&self.store, &changes).await;
                    match self.store.apply_server_changes(&changes, cursor).await {
                        Ok(BatchOutcome::Applied { applied, skipped }) => {
                            tracing::info!(
                                applied,
                                skipped,
                                cursor,
                                ms = started.elapsed().as_millis() as u64,
                                "pulled batch applied"
                            );
                            link.batch_applied(applied, skipped, cursor);
                        }
                        Ok(BatchOutcome::HeldBack) => {
                            // A local write arrived after the engine decided: push it, then pull again.
                            self.restart().await;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "cannot apply a pulled batch");
                            self.restart().await;
                        }
                    }
                }
                Output::Timeout(at) => return at,
            }
        }
    }
}
