//! The hotline in the server (`[hotline]` in `--config`, issue 19): okno-hotline queues the
//! callers the PBX routes to it and rings the operators' desks; the server tells it who is
//! available and keeps what it reports.
//!
//! - **Agent states** come from the `operators` table, read every [`STATE_POLL`]: a desk's
//!   `set_agent_state` (or a team lead's) reaches the hotline whichever instance applied it.
//! - **Every queue event** (queued, offered, answered, abandoned with its wait...) is stored in
//!   `acd_events` as it happens; the wallboard and the reports recompute their figures from these
//!   rows (okno-acd's arithmetic), so nothing is a running total that could drift.
//! - The queues the hotline serves are the server's own queues, by id; the agents are operators,
//!   by name; both are checked at start.
//!
//! Every instance whose config has `[hotline]` starts it; one at a time takes the PBX's calls
//! (the lease), a stopping one hands its waiting callers on, a team lead's command reaches the
//! call wherever it is, and the calls of a dead instance are closed in the records: see
//! [`instances`]. Calls live in the process that answered them (their media goes through it).
//!
//! ```toml
//! [hotline]
//! sip_listen = "10.0.0.5:5080"         # where the PBX routes the hotline's number
//! registrar = "10.0.0.2:5060"          # the PBX; desks are rung through it
//! account = "sip:hotline@pbx.example"  # registered there (optional)
//! password_env = "OKNO_HOTLINE_SIP_PASSWORD"
//! trunks = ["10.0.0.3"]                # hosts besides the registrar that deliver calls
//! prompts = "/etc/okno/prompts"        # greeting.wav, music.wav, position.wav, 0-9.wav, callback.wav
//!
//! [[hotline.queue]]
//! id = "q-support"          # a server queue
//! numbers = ["hotline", "8800"]
//! ring_timeout_s = 15
//! callback_after_s = 120    # offer "press 1 for a callback" after this wait
//!
//! [[hotline.agent]]
//! operator = "alice"        # an operator's name
//! uri = "sip:alice@pbx.example"
//!
//! [[hotline.supervisor]]    # a team lead who may listen in, whisper and barge
//! operator = "lena"
//! uri = "sip:lena@pbx.example"
//! ```
//!
//! `announce_monitoring = true` makes an operator hear a short beep when a team lead joins.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use okno_acd::{AcdEvent, AcdEventKind, QueueSpec};
use okno_core::{AgentState, Millis};
use okno_hotline::{AgentLine, Hotline, HotlineConfig, Prompts, Report};
use okno_sip::Uri;
use serde::Deserialize;
use sqlx::PgPool;

pub mod instances;

pub use instances::{
    CallCommand, CommandBus, LEASE_RETRY, RECOVERY_EVERY, RELAY_WAIT, close_orphaned_calls, command, stop,
};

use crate::changelog;
use crate::config_file::{ConfigError, error};
use crate::live::Live;

/// How often the operators' states are read for the hotline.
pub const STATE_POLL: Duration = Duration::from_millis(500);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHotline {
    sip_listen: String,
    registrar: Option<String>,
    account: Option<String>,
    password_env: Option<String>,
    #[serde(default)]
    trunks: Vec<String>,
    codecs: Option<String>,
    prompts: Option<PathBuf>,
    max_legs: Option<usize>,
    rtp_port: Option<u16>,
    #[serde(default)]
    queue: Vec<RawQueue>,
    #[serde(default)]
    agent: Vec<RawAgent>,
    #[serde(default)]
    supervisor: Vec<RawAgent>,
    /// The operator hears a beep when a team lead joins their call.
    #[serde(default)]
    announce_monitoring: bool,
    /// How long a stopping instance keeps its conversations going before it hangs them up.
    drain_limit_s: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    id: String,
    numbers: Vec<String>,
    skill: Option<String>,
    ring_timeout_s: Option<u64>,
    callback_after_s: Option<u64>,
    announce_every_s: Option<u64>,
    wrap_up_s: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    operator: String,
    uri: String,
    #[serde(default)]
    skills: Vec<String>,
}

/// `[hotline]` as read: the agents still named by operator name (ids are looked up at start).
#[derive(Debug, Clone)]
pub struct HotlineSettings {
    pub config: HotlineConfig,
    /// How long a stopping instance keeps its conversations going (default 10 minutes).
    pub drain_limit: Duration,
}

pub(crate) fn from_file(
    raw: RawHotline,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<HotlineSettings, ConfigError> {
    let addr = |key: &str, text: &str| {
        text.parse::<SocketAddr>().map_err(|_| error(format!("hotline.{key}"), format!("{text:?}: say IP:PORT")))
    };
    let sip_listen = addr("sip_listen", &raw.sip_listen)?;
    let registrar = raw.registrar.as_deref().map(|r| addr("registrar", r)).transpose()?;
    if sip_listen.ip().is_unspecified() && registrar.is_none() {
        return Err(error(
            "hotline.sip_listen",
            "an unspecified IP needs a registrar to find the interface; name the IP",
        ));
    }
    let uri =
        |key: String, text: &str| Uri::parse(text).map_err(|e| error(key, format!("{text:?} is not a SIP URI: {e}")));
    let account = raw.account.as_deref().map(|a| uri("hotline.account".into(), a)).transpose()?;
    let password = crate::config_file::secret_from_env("hotline.password_env", raw.password_env.as_deref(), env)?;
    let trunks = raw
        .trunks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.parse().map_err(|_| error(format!("hotline.trunks[{i}]"), format!("{t:?} is not an IP address")))
        })
        .collect::<Result<Vec<std::net::IpAddr>, ConfigError>>()?;
    let codecs = raw.codecs.unwrap_or_else(|| "pcmu,pcma".to_owned());
    okno_hotline::codecs(&codecs).map_err(|e| error("hotline.codecs", e.to_string()))?;
    let prompts = Prompts::from_dir(raw.prompts.as_deref()).map_err(|e| error("hotline.prompts", e.to_string()))?;
    if raw.queue.is_empty() {
        return Err(error("hotline.queue", "at least one [[hotline.queue]]: which number enters which queue"));
    }
    let mut numbers = Vec::new();
    let mut queues = Vec::new();
    for (i, q) in raw.queue.into_iter().enumerate() {
        if q.numbers.is_empty() {
            return Err(error(format!("hotline.queue[{i}].numbers"), "at least one number"));
        }
        for number in q.numbers {
            if numbers.iter().any(|(n, _)| n == &number) {
                return Err(error(format!("hotline.queue[{i}].numbers"), format!("{number} is in two queues")));
            }
            numbers.push((number, q.id.clone()));
        }
        queues.push(QueueSpec {
            id: q.id,
            skill: q.skill,
            ring_timeout_ms: q.ring_timeout_s.unwrap_or(15) * 1000,
            callback_after_ms: q.callback_after_s.map(|s| s * 1000),
            announce_every_ms: q.announce_every_s.unwrap_or(45) * 1000,
            wrap_up_ms: q.wrap_up_s.unwrap_or(0) * 1000,
        });
    }
    let lines = |table: &str, raw: Vec<RawAgent>| {
        raw.into_iter()
            .enumerate()
            .map(|(i, a)| {
                Ok(AgentLine {
                    id: a.operator,
                    uri: uri(format!("hotline.{table}[{i}].uri"), &a.uri)?,
                    skills: a.skills,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()
    };
    let agents = lines("agent", raw.agent)?;
    let supervisors = lines("supervisor", raw.supervisor)?;
    Ok(HotlineSettings {
        config: HotlineConfig {
            sip_listen,
            registrar,
            account,
            password,
            trunks,
            codecs,
            rtp_port: raw.rtp_port.unwrap_or(0),
            max_legs: raw.max_legs.unwrap_or(400),
            numbers,
            queues,
            agents,
            supervisors,
            announce_monitoring: raw.announce_monitoring,
            prompts,
            // Whether it waits in standby and the hand-over key are decided at `start`.
            standby: false,
            handover: None,
        },
        drain_limit: Duration::from_secs(raw.drain_limit_s.unwrap_or(600)),
    })
}

/// Start the hotline: resolve its agents' names and check its queues, then keep its reports
/// and feed it the operators' states until the server stops.
pub async fn start(pool: &PgPool, live: Arc<Live>, settings: &HotlineSettings) -> anyhow::Result<Hotline> {
    use anyhow::Context;
    let mut config = settings.config.clone();
    for queue in &config.queues {
        let known: Option<String> =
            sqlx::query_scalar("SELECT id FROM queues WHERE id = $1").bind(&queue.id).fetch_optional(pool).await?;
        known.with_context(|| format!("[hotline] queue {:?} is not a queue of this server", queue.id))?;
    }
    for agent in &mut config.agents {
        let id: Option<String> = sqlx::query_scalar("SELECT id FROM operators WHERE name = $1 AND disabled_at IS NULL")
            .bind(&agent.id)
            .fetch_optional(pool)
            .await?;
        agent.id = id.with_context(|| format!("[hotline] agent {:?} is not an operator who can work", agent.id))?;
    }
    for lead in &mut config.supervisors {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM operators WHERE name = $1 AND disabled_at IS NULL AND role IN ('team_lead', 'admin')",
        )
        .bind(&lead.id)
        .fetch_optional(pool)
        .await?;
        lead.id = id.with_context(|| format!("[hotline] supervisor {:?} is not a team lead or admin", lead.id))?;
    }
    let agent_ids: Vec<String> = config.agents.iter().map(|a| a.id.clone()).collect();
    // This hotline's own id in the records: the instance that takes over after it died closes
    // the calls it left open by it.
    let me = okno_core::new_id();
    instances::hold_liveness(pool, &me).await?;
    let mut lease = pool.acquire().await?.detach();
    config.standby = true;
    config.handover = Some(instances::handover_key(&mut lease).await?);
    let (hotline, mut reports) = Hotline::start(config).await.context("[hotline]")?;
    // The first try is made before returning, so a lone instance takes calls at once.
    let held = instances::try_lease(&mut lease).await?;
    if held {
        hotline.activate()?;
    } else {
        tracing::info!("another instance runs the hotline: this one waits in standby");
    }
    tokio::spawn(instances::keep_lease(lease, hotline.clone(), held, pool.clone(), me.clone()));
    let store = pool.clone();
    tokio::spawn(async move {
        while let Some(report) = reports.recv().await {
            match report {
                Report::Event(event) => {
                    if let Err(e) = store_event(&store, &event, &me).await {
                        // The call goes on; the figures will miss this fact, which the log says.
                        tracing::error!(error = %e, ?event, "a call-queue event was not stored");
                    }
                }
                Report::AgentNotResponding { agent_id } => {
                    tracing::warn!(agent_id, "a desk let a hotline call ring out: no offers until its state is set");
                    let at = okno_core::unix_ms(std::time::SystemTime::now());
                    if let Err(e) = mark_not_responding(&store, &live, &agent_id, at).await {
                        // The hotline offers it nothing either way; only the desk is not told.
                        tracing::error!(error = %e, agent_id, "the operator was not set to not responding");
                    }
                }
            }
        }
    });
    let feed = hotline.clone();
    let pool = pool.clone();
    tokio::spawn(async move {
        let mut known: HashMap<String, String> = HashMap::new();
        let mut tick = tokio::time::interval(STATE_POLL);
        loop {
            tick.tick().await;
            let rows: Vec<(String, String)> = match sqlx::query_as("SELECT id, state FROM operators WHERE id = ANY($1)")
                .bind(&agent_ids)
                .fetch_all(&pool)
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "operators' states not read for the hotline");
                    continue;
                }
            };
            for (id, state) in rows {
                if known.get(&id) == Some(&state) {
                    continue;
                }
                let Ok(parsed) = state.parse::<AgentState>() else { continue };
                if feed.agent_state(&id, parsed).is_err() {
                    return;
                }
                known.insert(id, state);
            }
        }
    });
    Ok(hotline)
}

/// An available operator whose desk let a hotline call ring out becomes `not_responding`, with a
/// report event and a change to their own bucket: their desk shows it and the team lead's
/// wallboard sees it live. An operator who changed their state meanwhile keeps it.
pub async fn mark_not_responding(pool: &PgPool, live: &Live, operator_id: &str, at: Millis) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let set = crate::admin::set_state(&mut tx, operator_id, AgentState::NotResponding, at, Some(AgentState::Available));
    let Some((data, from)) = set.await? else { return Ok(false) };
    sqlx::query("INSERT INTO events (id, at, kind, operator_id, data) VALUES ($1, $2, $3, $4, $5)")
        .bind(okno_core::new_id())
        .bind(at)
        .bind(okno_core::EventKind::AgentStateChanged.as_str())
        .bind(operator_id)
        .bind(serde_json::json!({ "from": from, "to": AgentState::NotResponding, "by": "hotline" }))
        .execute(&mut *tx)
        .await?;
    let change = changelog::operator_change(operator_id, data);
    let version = changelog::append_and_commit(tx, std::slice::from_ref(&change)).await?;
    live.committed(&[change], version);
    Ok(true)
}

/// Store `event` as written by the hotline instance `instance`.
async fn store_event(pool: &PgPool, event: &AcdEvent, instance: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO acd_events (at, call_id, queue_id, kind, agent_id, waited_ms, instance) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(event.at)
    .bind(&event.call_id)
    .bind(&event.queue_id)
    .bind(event.kind.as_str())
    .bind(&event.agent_id)
    .bind(event.waited_ms.map(|w| i64::try_from(w).unwrap_or(i64::MAX)))
    .bind(instance)
    .execute(pool)
    .await?;
    Ok(())
}

/// The stored events of calls that arrived from `since`, in the order they happened.
pub async fn events_since(conn: &mut sqlx::PgConnection, since: okno_core::Millis) -> sqlx::Result<Vec<AcdEvent>> {
    type Row = (okno_core::Millis, String, String, String, Option<String>, Option<i64>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT at, call_id, queue_id, kind, agent_id, waited_ms FROM acd_events \
         WHERE call_id IN (SELECT call_id FROM acd_events WHERE kind = 'queued' AND at >= $1) ORDER BY at, id",
    )
    .bind(since)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(at, call_id, queue_id, kind, agent_id, waited)| {
            let kind: AcdEventKind = kind.parse().ok()?;
            Some(AcdEvent {
                at,
                call_id,
                queue_id,
                kind,
                agent_id,
                waited_ms: waited.and_then(|w| u64::try_from(w).ok()),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HotlineSettings, ConfigError> {
        let raw: RawHotline = toml::from_str(text).map_err(|e| error("toml", e.to_string()))?;
        from_file(raw, &|var| (var == "PW").then(|| "secret".to_owned()))
    }

    #[test]
    fn a_hotline_section_is_read_with_its_defaults() {
        let settings = parse(
            r#"
            sip_listen = "127.0.0.1:5080"
            password_env = "PW"
            [[queue]]
            id = "q-support"
            numbers = ["hotline", "8800"]
            callback_after_s = 90
            [[agent]]
            operator = "alice"
            uri = "sip:alice@127.0.0.1"
            "#,
        )
        .unwrap();
        let config = settings.config;
        assert_eq!(config.numbers, [("hotline".into(), "q-support".into()), ("8800".into(), "q-support".into())]);
        assert_eq!(config.queues[0].ring_timeout_ms, 15_000);
        assert_eq!(config.queues[0].callback_after_ms, Some(90_000));
        assert_eq!(config.password.as_deref(), Some("secret"));
        assert_eq!(config.codecs, "pcmu,pcma");
        assert!(!format!("{config:?}").contains("secret"), "the password never shows");
    }

    #[test]
    fn mistakes_are_refused_with_the_key() {
        let base = "sip_listen = \"127.0.0.1:5080\"\n";
        let cases = [
            ("", "hotline.queue"),
            ("[[queue]]\nid = \"q\"\nnumbers = []\n", "hotline.queue[0].numbers"),
            (
                "[[queue]]\nid = \"a\"\nnumbers = [\"1\"]\n[[queue]]\nid = \"b\"\nnumbers = [\"1\"]\n",
                "hotline.queue[1].numbers",
            ),
            ("password_env = \"NOPE\"\n[[queue]]\nid = \"q\"\nnumbers = [\"1\"]\n", "hotline.password_env"),
            ("codecs = \"g729\"\n[[queue]]\nid = \"q\"\nnumbers = [\"1\"]\n", "hotline.codecs"),
            ("codecs = \"opus\"\n[[queue]]\nid = \"q\"\nnumbers = [\"1\"]\n", "hotline.codecs"),
            (
                "[[queue]]\nid = \"q\"\nnumbers = [\"1\"]\n[[agent]]\noperator = \"a\"\nuri = \"nope\"\n",
                "hotline.agent[0].uri",
            ),
        ];
        for (text, key) in cases {
            let err = parse(&format!("{base}{text}")).unwrap_err();
            assert_eq!(err.key, key, "{text}: {err}");
        }
        assert_eq!(parse("sip_listen = \"0.0.0.0:5080\"\n").unwrap_err().key, "hotline.sip_listen");
    }
}
