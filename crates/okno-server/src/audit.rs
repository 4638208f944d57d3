//! The audit log: who signed in (or failed to), whose account was disabled, enabled or signed
//! out everywhere, and later every data export, with the server's receive time beside the
//! client's where it has one.
//!
//! Each entry carries the SHA-256 of the one before it and its own over both (a hash chain), so
//! an entry edited or removed in the database afterwards is found by [`verify`]
//! (`okno-server audit verify`): the edited one no longer matches its hash, the one after a
//! removed one no longer points at its predecessor. (Someone who can rewrite the whole table
//! from the tampered entry on can forge the rest; shipping the head hash elsewhere, e.g. to the
//! log collector with every entry, closes that, and the server logs it for that reason.)
//!
//! Appends are serialized by a transaction-level advisory lock, so two instances never chain
//! two entries to the same predecessor.

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};

/// "oknoaudi": the advisory lock that orders audit appends.
const AUDIT_LOCK: i64 = 0x6F6B_6E6F_6175_6469;
/// The predecessor of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened (stored as its text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SignIn,
    SignInFailed,
    SignOut,
    AccountDisabled,
    AccountEnabled,
    SessionsRevoked,
    Export,
    /// The routing rule set was saved (work rules).
    RulesChanged,
    /// An SLA policy was saved or a queue put on another one.
    SlaPolicyChanged,
    /// A team lead joined an operator's live call (listen, whisper or barge).
    CallMonitored,
    /// How the center asks for satisfaction marks was changed.
    CsatSettingsChanged,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "sign_in",
            Action::SignInFailed => "sign_in_failed",
            Action::SignOut => "sign_out",
            Action::AccountDisabled => "account_disabled",
            Action::AccountEnabled => "account_enabled",
            Action::SessionsRevoked => "sessions_revoked",
            Action::Export => "export",
            Action::RulesChanged => "rules_changed",
            Action::SlaPolicyChanged => "sla_policy_changed",
            Action::CallMonitored => "call_monitored",
            Action::CsatSettingsChanged => "csat_settings_changed",
        }
    }
}

/// One entry to append.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub action: Action,
    /// Who did it (an operator id; `None` for a failed sign-in or the admin command line).
    pub actor: Option<&'a str>,
    /// Whom or what it concerns (an account name, an export's query).
    pub subject: Option<&'a str>,
    /// The client's address, when there is one.
    pub address: Option<String>,
    /// The client's own clock (ms), when it sent one.
    pub client_at: Option<i64>,
    pub detail: Value,
}

/// The hash of an entry: over its predecessor's hash and its fields, each length-prefixed so no
/// two different entries hash the same text.
fn entry_hash(prev: &str, id: i64, at_micros: i64, client_at: Option<i64>, fields: [&str; 5]) -> String {
    let mut h = Sha256::new();
    let mut put = |s: &str| {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    put(prev);
    put(&id.to_string());
    put(&at_micros.to_string());
    put(&client_at.map(|c| c.to_string()).unwrap_or_default());
    for f in fields {
        put(f);
    }
    hex::encode(h.finalize())
}

/// Appends `entry`; returns its id. The server's receive time is the database's `now()`.
pub async fn record(pool: &PgPool, entry: Entry<'_>) -> Result<i64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(AUDIT_LOCK).execute(&mut *tx).await?;
    let prev: Option<String> =
        sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetch_optional(&mut *tx).await?;
    let prev = prev.unwrap_or_else(|| GENESIS.to_owned());
    let row = sqlx::query(
        "INSERT INTO audit_log (action, actor, subject, address, client_at, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, '') \
         RETURNING id, (EXTRACT(EPOCH FROM at) * 1000000)::bigint AS at_micros",
    )
    .bind(entry.action.as_str())
    .bind(entry.actor)
    .bind(entry.subject)
    .bind(&entry.address)
    .bind(entry.client_at)
    .bind(entry.detail.to_string())
    .bind(&prev)
    .fetch_one(&mut *tx)
    .await?;
    let (id, at_micros): (i64, i64) = (row.try_get("id")?, row.try_get("at_micros")?);
    let detail = entry.detail.to_string();
    let fields = [
        entry.action.as_str(),
        entry.actor.unwrap_or_default(),
        entry.subject.unwrap_or_default(),
        entry.address.as_deref().unwrap_or_default(),
        &detail,
    ];
    let hash = entry_hash(&prev, id, at_micros, entry.client_at, fields);
    sqlx::query("UPDATE audit_log SET hash = $2 WHERE id = $1").bind(id).bind(&hash).execute(&mut *tx).await?;
    tx.commit().await?;
    // The head leaves the database with every entry: a rewritten table no longer matches the logs.
    tracing::info!(audit = id, action = entry.action.as_str(), head = %hash, "audit entry");
    Ok(id)
}

/// Appends `entry`, logging instead of failing: an audit write must not turn a sign-in into an
/// error for the user, and the log line keeps the event.
pub async fn record_or_log(pool: &PgPool, entry: Entry<'_>) {
    let action = entry.action.as_str();
    if let Err(e) = record(pool, entry).await {
        tracing::error!(action, error = %e, "cannot write the audit log");
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub entries: u64,
    /// The first entry that does not hold: edited, or its predecessor removed.
    pub first_broken: Option<i64>,
    /// The last entry's hash.
    pub head: String,
}

/// Walks the whole chain.
pub async fn verify(pool: &PgPool) -> Result<Verified, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, (EXTRACT(EPOCH FROM at) * 1000000)::bigint AS at_micros, client_at, action, actor, subject, \
           address, detail, prev_hash, hash FROM audit_log ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    let mut prev = GENESIS.to_owned();
    let mut first_broken = None;
    let mut entries = 0;
    for row in rows {
        entries += 1;
        let id: i64 = row.try_get("id")?;
        let detail: String = row.try_get("detail")?;
        let fields: [String; 4] = [
            row.try_get("action")?,
            row.try_get::<Option<String>, _>("actor")?.unwrap_or_default(),
            row.try_get::<Option<String>, _>("subject")?.unwrap_or_default(),
            row.try_get::<Option<String>, _>("address")?.unwrap_or_default(),
        ];
        let expected = entry_hash(
            &prev,
            id,
            row.try_get("at_micros")?,
            row.try_get("client_at")?,
            [&fields[0], &fields[1], &fields[2], &fields[3], &detail],
        );
        let (stored_prev, stored): (String, String) = (row.try_get("prev_hash")?, row.try_get("hash")?);
        if first_broken.is_none() && (stored_prev != prev || stored != expected) {
            first_broken = Some(id);
        }
        prev = stored;
    }
    Ok(Verified { entries, first_broken, head: prev })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_moved_to_its_neighbour_changes_the_hash() {
        let a = entry_hash(GENESIS, 1, 5, None, ["sign_in", "anna", "", "10.0.0.1", "{}"]);
        let b = entry_hash(GENESIS, 1, 5, None, ["sign_in", "", "anna", "10.0.0.1", "{}"]);
        assert_ne!(a, b);
        assert_eq!(a, entry_hash(GENESIS, 1, 5, None, ["sign_in", "anna", "", "10.0.0.1", "{}"]));
        assert_ne!(a, entry_hash(GENESIS, 1, 5, Some(5), ["sign_in", "anna", "", "10.0.0.1", "{}"]));
    }
}
