//! The journal of acknowledged writes: what the server said it has, kept after it leaves the
//! outbox, so that a server restored from a backup that predates some of it gets those writes
//! again instead of losing a day's replies.
//!
//! Each entry keeps the changelog version the server applied it at. When a desk finds the
//! server's changelog behind its own cursor (a restore), it asks for the entries applied after
//! the restored head ([`Store::requeue_acknowledged`]): those are exactly what the backup lacks.
//! They go back into the outbox ahead of the pending writes, in their original order; the
//! driver then numbers everything under a new client id. An entry acknowledged as a duplicate
//! has no version and is sent again too: a reply the server has is a duplicate there again
//! (its message id), and a field set again to the same value changes nothing.
//!
//! Bounds: entries older than [`JOURNAL_KEEP`] (a center restores last night's backup, not
//! last month's) or beyond the newest [`JOURNAL_MAX`] are dropped when new ones come in.
//!
//! Invariants: a write is in the outbox or in the journal, never both; the journal holds only
//! the signed-in operator's writes (another account's sign-in empties it with the rest of the
//! previous account's data).

use okno_core::Millis;
use okno_sync::Ack;

use crate::{Store, StoreError};

/// How long an acknowledged write is kept.
pub const JOURNAL_KEEP: Millis = 14 * 24 * 3600 * 1000;
/// How many acknowledged writes are kept at most.
pub const JOURNAL_MAX: i64 = 50_000;

impl Store {
    /// The server has these outbox entries: they move to the journal with their versions, in
    /// one transaction, and the journal is trimmed to its bounds.
    pub async fn ack_outbox(&self, acks: &[Ack]) -> Result<(), StoreError> {
        let now = okno_core::unix_ms(std::time::SystemTime::now());
        let mut tx = self.write.begin().await?;
        for ack in acks {
            sqlx::query(
                "INSERT OR IGNORE INTO sent_journal (mutation_id, name, body, created_at, acked_at, version) \
                 SELECT mutation_id, name, body, created_at, ?, ? FROM outbox WHERE seq = ?",
            )
            .bind(now)
            .bind(ack.version.map(|v| v as i64))
            .bind(ack.seq as i64)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM outbox WHERE seq = ?").bind(ack.seq as i64).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM sent_journal WHERE acked_at < ?").bind(now - JOURNAL_KEEP).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM sent_journal WHERE seq <= (SELECT max(seq) FROM sent_journal) - ?")
            .bind(JOURNAL_MAX)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The server was restored and its changelog head is `head`: the journal's writes applied
    /// after it (and those of unknown version) go back into the outbox ahead of the pending
    /// ones, oldest first, and leave the journal. Returns how many.
    pub async fn requeue_acknowledged(&self, head: u64) -> Result<u64, StoreError> {
        let mut tx = self.write.begin().await?;
        let head = head as i64;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sent_journal WHERE version IS NULL OR version > ?")
            .bind(head)
            .fetch_one(&mut *tx)
            .await?;
        if n > 0 {
            // Pending entries follow the requeued ones, numbered on from `n + 1` (through negative
            // numbers, so no two rows collide on the way).
            let first: Option<i64> = sqlx::query_scalar("SELECT min(seq) FROM outbox").fetch_one(&mut *tx).await?;
            if let Some(first) = first {
                sqlx::query("UPDATE outbox SET seq = -seq").execute(&mut *tx).await?;
                sqlx::query("UPDATE outbox SET seq = -seq - ? + 1 + ?").bind(first).bind(n).execute(&mut *tx).await?;
            }
            sqlx::query(
                "INSERT OR IGNORE INTO outbox (seq, mutation_id, name, body, created_at) \
                 SELECT row_number() OVER (ORDER BY seq), mutation_id, name, body, created_at \
                 FROM sent_journal WHERE version IS NULL OR version > ?",
            )
            .bind(head)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM sent_journal WHERE version IS NULL OR version > ?")
                .bind(head)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE sqlite_sequence SET seq = (SELECT COALESCE(max(seq), 0) FROM outbox) WHERE name = 'outbox'",
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(n as u64)
    }

    /// How many acknowledged writes the journal holds.
    pub async fn journal_len(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sent_journal").fetch_one(&self.read).await?;
        Ok(n as u64)
    }
}
