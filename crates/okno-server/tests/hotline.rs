//! The hotline in the server against real peers. A busy hour compressed in time: sipp callers
//! dial the hotline through Kamailio (which routes the number to the hotline's registration and
//! stays in the calls' path) with a busy hour's Poisson arrivals, most of them patient, some who
//! hang up after a second and a half, answered or not; the operators' desks are okno-phone
//! engines registered at Kamailio and rung through it, answering at once and talking for
//! exponentially distributed times. What the peers saw (calls placed by sipp, calls the desks
//! answered) must equal the wallboard's figures, which the server recomputes from the stored raw
//! queue events. And a desk that lets a call ring out: the operator becomes `not_responding` on
//! the server and in what their desk pulls, and is offered calls again once available.
//! Kamailio, sipp and PostgreSQL must be there (`cargo xtask setup`).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{Harness, eventually};
use okno_acd::QueueSpec;
use okno_core::rng::Rng;
use okno_core::{AgentState, Mutation};
use okno_hotline::{AgentLine, Hotline, HotlineConfig};
use okno_phone::engine::{self, EngineConfig, PhoneCommand, PhoneEvent};
use okno_server::hotline::HotlineSettings;
use okno_sip::Uri;
use okno_sync::{PushItem, PushRequest, SCHEMA_VERSION};
use okno_testkit::free_udp_port as free_port;
use okno_testkit::sip::Kamailio;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

const SIP_PASSWORD: &str = "hotline-busy-hour";

/// The busy hour: 300 calls an hour with a mean talk time of 2 minutes (10 Erlangs) for 10
/// operators, compressed 100 times: arrivals over about 36 s, talk times of 1.2 s on average.
/// An understaffed hour: callers wait (most of them briefly) and impatient ones give up.
const CALLS: u32 = 300;
const COMPRESSION: f64 = 100.0;
const MEAN_TALK_S: f64 = 120.0 / COMPRESSION;
const OPERATORS: usize = 10;
/// One caller in five gives up after 100 s (compressed); the others wait as long as it takes.
const IMPATIENT_SHARE: f64 = 0.2;
const IMPATIENT_PATIENCE_MS: u32 = 1_000;
const PATIENT_PATIENCE_MS: u32 = 60_000;

/// What the desks saw: calls answered, and of those the ones the far end hung up at once (the
/// caller gave up just as the desk answered: the hotline had already withdrawn the offer).
#[derive(Default)]
struct DeskCounts {
    answered: AtomicU32,
    cut_at_once: AtomicU32,
    talking: AtomicU32,
    most_talking: AtomicU32,
}

/// How a test desk behaves when the hotline rings it.
#[derive(Clone, Copy)]
enum Desk {
    /// Answers at once and hangs up after an exponentially distributed talk time (drawn from
    /// the seed; at least half a second, so a caller's own hang-up stays told apart).
    Talks { seed: u64 },
    /// Answers at once and hangs up after this many seconds.
    TalksFor { seconds: f64 },
    /// Lets every call ring.
    NeverAnswers,
}

/// An operator's desk registered at Kamailio as `user`.
async fn desk(kamailio: &Kamailio, user: &str, behaviour: Desk, counts: Arc<DeskCounts>) -> engine::PhoneHandle {
    let mut config = EngineConfig::new(SocketAddr::from(([127, 0, 0, 1], free_port())));
    config.account = Some(Uri::parse(&format!("sip:{user}@127.0.0.1")).unwrap());
    config.registrar = Some(kamailio.addr().parse().unwrap());
    config.password = Some(SIP_PASSWORD.into());
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let (phone, _) = engine::spawn(config, Box::new(okno_phone::media::SilentMedia), tx).await.unwrap();
    let handle = phone.clone();
    let (registered_tx, registered) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut registered_tx = Some(registered_tx);
        let (mut talk, fixed) = match behaviour {
            Desk::Talks { seed } => (Some(Rng::new(seed)), None),
            Desk::TalksFor { seconds } => (None, Some(seconds)),
            Desk::NeverAnswers => (None, None),
        };
        while let Some(event) = events.recv().await {
            match event {
                PhoneEvent::Registered { .. } => {
                    if let Some(tx) = registered_tx.take() {
                        let _ = tx.send(());
                    }
                }
                PhoneEvent::Incoming { call_id, .. } if talk.is_some() || fixed.is_some() => {
                    let _ = handle.send(PhoneCommand::Answer { call_id });
                }
                PhoneEvent::Ended { answered: true, talk_s, .. } => {
                    counts.talking.fetch_sub(1, Ordering::SeqCst);
                    if talk_s < 0.25 {
                        counts.cut_at_once.fetch_add(1, Ordering::SeqCst);
                    }
                }
                PhoneEvent::Answered { call_id, .. } => {
                    counts.answered.fetch_add(1, Ordering::SeqCst);
                    let now = counts.talking.fetch_add(1, Ordering::SeqCst) + 1;
                    counts.most_talking.fetch_max(now, Ordering::SeqCst);
                    let seconds = fixed
                        .unwrap_or_else(|| talk.as_mut().map_or(1.0, |rng| 0.5 + rng.exponential(MEAN_TALK_S - 0.5)));
                    let handle = handle.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
                        let _ = handle.send(PhoneCommand::Hangup { call_id });
                    });
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), registered).await.expect("the desk registers").unwrap();
    phone
}

/// The hotline of queue `q1` (the number `hotline`), registered at Kamailio, ringing `agents`.
async fn start_hotline(h: &mut Harness, kamailio: &Kamailio, agents: &[String], ring_timeout_ms: u64) -> Hotline {
    let settings = hotline_settings(kamailio, agents, ring_timeout_ms);
    let hotline = okno_server::hotline::start(&h.pool, h.state.live.clone(), &settings).await.unwrap();
    h.state.hotline = Some((hotline.clone(), Arc::new(vec!["q1".into()])));
    h.app = okno_server::app(h.state.clone());
    hotline
}

/// `[hotline]` for queue `q1` (the number `hotline`) at a port of its own, registering at
/// Kamailio and ringing `agents` there.
fn hotline_settings(kamailio: &Kamailio, agents: &[String], ring_timeout_ms: u64) -> HotlineSettings {
    HotlineSettings {
        config: HotlineConfig {
            registrar: Some(kamailio.addr().parse().unwrap()),
            account: Some(Uri::parse("sip:hotline@127.0.0.1").unwrap()),
            password: Some(SIP_PASSWORD.into()),
            codecs: "pcmu".into(),
            agents: agents
                .iter()
                .map(|a| AgentLine {
                    id: a.clone(),
                    uri: Uri::parse(&format!("sip:{a}@127.0.0.1")).unwrap(),
                    skills: Vec::new(),
                })
                .collect(),
            // Callers come through Kamailio, the registrar: no other host may deliver calls.
            ..HotlineConfig::new(
                SocketAddr::from(([127, 0, 0, 1], free_port())),
                vec![("hotline".into(), "q1".into())],
                vec![QueueSpec {
                    id: "q1".into(),
                    skill: None,
                    ring_timeout_ms,
                    callback_after_ms: None,
                    announce_every_ms: 30_000,
                    wrap_up_ms: 0,
                }],
            )
        },
        drain_limit: Duration::from_secs(30),
    }
}

/// Operators `ids`, set available on the server the way their desks would, and seen so by the
/// hotline.
async fn make_available(h: &Harness, ids: &[String]) {
    sqlx::query("UPDATE operators SET state = 'available' WHERE id = ANY($1)")
        .bind(ids.to_vec())
        .execute(&h.pool)
        .await
        .unwrap();
    tokio::time::sleep(okno_server::hotline::STATE_POLL * 2).await;
}

/// sipp callers through Kamailio, one per line of `arrivals_ms` (when each dials, from sipp's
/// start), each hanging up after `patience_ms` unless the hotline has ended the call.
fn callers(
    kamailio: &Kamailio,
    dir: &Path,
    name: &str,
    arrivals_ms: &[u64],
    patience_ms: u32,
) -> tokio::task::JoinHandle<std::process::Output> {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../okno-hotline/tests/hotline_caller.xml"))
            .unwrap();
    let scenario = dir.join(format!("{name}.xml"));
    std::fs::write(&scenario, template.replace("PATIENCE_MS", &patience_ms.to_string())).unwrap();
    let injection = dir.join(format!("{name}.csv"));
    let lines: Vec<String> = arrivals_ms.iter().map(u64::to_string).collect();
    std::fs::write(&injection, format!("SEQUENTIAL\n{}\n", lines.join("\n"))).unwrap();
    let (proxy, calls) = (kamailio.addr(), arrivals_ms.len().to_string());
    tokio::task::spawn_blocking(move || {
        // Every call starts at once and waits for its arrival time inside the scenario.
        Command::new("sipp")
            .arg(&proxy)
            .arg("-sf")
            .arg(&scenario)
            .arg("-inf")
            .arg(&injection)
            .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-mp", &free_port().to_string()])
            .args(["-m", &calls, "-l", &calls, "-r", "1000", "-nostdin", "-timeout", "180s"])
            .output()
            .unwrap()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_hour_through_the_hotline_adds_up_on_the_wallboard() {
    okno_testkit::require("sipp", "sip-tester");
    let mut h = Harness::new().await;
    let mut agents = vec!["anna".to_owned(), "boris".to_owned()];
    for n in agents.len()..OPERATORS {
        let name = format!("agent{n}");
        okno_server::admin::create_operator(&h.pool, &name, &name, okno_core::Role::Operator, None).await.unwrap();
        agents.push(name);
    }
    let kamailio = Kamailio::start_record_routing(SIP_PASSWORD);
    let hotline = start_hotline(&mut h, &kamailio, &agents, 5_000).await;
    let counts = Arc::new(DeskCounts::default());
    let mut desks = Vec::new();
    for (n, agent) in agents.iter().enumerate() {
        desks.push(desk(&kamailio, agent, Desk::Talks { seed: 7 + n as u64 }, counts.clone()).await);
    }
    let since = okno_core::unix_ms(std::time::SystemTime::now()) - 1_000;
    make_available(&h, &agents).await;

    // A Poisson process of 300 calls an hour, compressed; each caller is impatient by chance,
    // which splits it into two Poisson processes, one per sipp.
    let mut rng = Rng::new(2026);
    let mean_gap_ms = 3_600_000.0 / f64::from(CALLS) / COMPRESSION;
    let (mut patient, mut impatient) = (Vec::new(), Vec::new());
    let mut at = 0.0;
    for _ in 0..CALLS {
        at += rng.exponential(mean_gap_ms);
        if rng.chance(IMPATIENT_SHARE) { &mut impatient } else { &mut patient }.push(at as u64);
    }
    let scenarios = tempfile::tempdir().unwrap();
    let patient_sipp = callers(&kamailio, scenarios.path(), "patient", &patient, PATIENT_PATIENCE_MS);
    let impatient_sipp = callers(&kamailio, scenarios.path(), "impatient", &impatient, IMPATIENT_PATIENCE_MS);
    for (sipp, calls) in
        [(patient_sipp.await.unwrap(), patient.len()), (impatient_sipp.await.unwrap(), impatient.len())]
    {
        let out = String::from_utf8_lossy(&sipp.stdout).into_owned();
        assert_eq!(sipp_stat(&out, "Total Calls created"), Some(calls as u32), "sipp placed every call: {out}");
    }

    // The last conversations end within a talk time; then nothing waits and no leg is left.
    let started = std::time::Instant::now();
    loop {
        let status = hotline.status().await.unwrap();
        if status.waiting.is_empty() && status.legs == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the hotline still holds calls: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let lena = h.token("lena").await;
    let (code, board) = h.call(Method::GET, &format!("/v1/wallboard?since={since}"), Some(&lena), None).await;
    assert_eq!(code, StatusCode::OK, "{board}");
    let q1 = board["queues"].as_array().unwrap().iter().find(|q| q["id"] == "q1").cloned().unwrap();
    let today = &q1["today"];
    let desks_answered = u64::from(counts.answered.load(Ordering::SeqCst));
    let cut_at_once = u64::from(counts.cut_at_once.load(Ordering::SeqCst));
    let count = |v: &Value| v.as_u64().unwrap_or(u64::MAX);
    eprintln!(
        "busy hour: {CALLS} calls placed ({} impatient), {desks_answered} answered at the desks ({cut_at_once} hung \
         up at once, at most {} talking at a time); the board's today: {today}",
        impatient.len(),
        counts.most_talking.load(Ordering::SeqCst)
    );
    let answered = count(&today["answered"]);
    assert_eq!(count(&today["offered"]), u64::from(CALLS), "{q1:#}");
    // A caller who gives up just as a desk picks up is abandoned for the queue, and the desk
    // sees a call that ends at once: those are the only answers the board may not count.
    assert!(
        answered <= desks_answered && desks_answered <= answered + cut_at_once,
        "the desks answered what the board says ({desks_answered} answered, {cut_at_once} of them hung up at once): {q1:#}"
    );
    assert_eq!(count(&today["answered"]) + count(&today["abandoned"]), u64::from(CALLS), "{q1:#}");
    assert_eq!(count(&today["waiting"]), 0, "{q1:#}");
    assert!(
        answered >= patient.len() as u64 && answered < u64::from(CALLS),
        "every patient caller is answered and some impatient ones give up: {q1:#}"
    );
    // Every abandonment came within a second, which the service level leaves out; it is the share
    // of the others answered within 20 s.
    let in_target = count(&today["answered_in_target"]);
    let short_abandons = count(&today["abandoned_in_target"]);
    assert_eq!(short_abandons, u64::from(CALLS) - answered, "{q1:#}");
    let expected = in_target as f64 / (u64::from(CALLS) - short_abandons) as f64;
    let level = today["service_level"].as_f64().unwrap();
    assert!((level - expected).abs() < 1e-9, "service level {level}, recomputed {expected}: {q1:#}");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM acd_events WHERE kind = 'queued'").fetch_one(&h.pool).await.unwrap();
    assert_eq!(stored, i64::from(CALLS));
    // The desks here are bare SIP phones that record nothing: what each agent handled comes from
    // the hotline's records, and together it is every answered call.
    let handled: u64 = board["agents"].as_array().unwrap().iter().map(|a| count(&a["handled_today"])).sum();
    assert_eq!(handled, answered, "the agents' handled calls add up to the answered ones: {:#}", board["agents"]);

    // An operator is refused the move a team lead may make.
    let anna = h.token("anna").await;
    let (code, _) = h.post("/v1/wallboard/move", Some(&anna), json!({"call_id": "x", "queue_id": "q1"})).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, body) = h.post("/v1/wallboard/move", Some(&lena), json!({"call_id": "gone", "queue_id": "q1"})).await;
    assert_eq!(code, StatusCode::CONFLICT, "no such call waiting: {body}");
    // Listening in is for team leads too, and only to a connected call with a supervisor line.
    let listen = json!({"call_id": "gone", "mode": "listen"});
    let (code, _) = h.post("/v1/wallboard/monitor", Some(&anna), listen.clone()).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, body) = h.post("/v1/wallboard/monitor", Some(&lena), listen).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    let (code, _) = h.post("/v1/wallboard/monitor", Some(&lena), json!({"call_id": "x", "mode": "shout"})).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    drop(desks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_that_lets_a_call_ring_out_is_set_not_responding_and_its_operator_told() {
    okno_testkit::require("sipp", "sip-tester");
    let mut h = Harness::new().await;
    let kamailio = Kamailio::start_record_routing(SIP_PASSWORD);
    let (anna, boris) = ("anna".to_owned(), "boris".to_owned());
    let hotline = start_hotline(&mut h, &kamailio, &[anna.clone(), boris.clone()], 1_500).await;
    let counts = Arc::new(DeskCounts::default());
    let _asleep = desk(&kamailio, &anna, Desk::NeverAnswers, counts.clone()).await;
    let _awake = desk(&kamailio, &boris, Desk::Talks { seed: 1 }, counts.clone()).await;
    make_available(&h, std::slice::from_ref(&anna)).await;

    let scenarios = tempfile::tempdir().unwrap();
    let caller = callers(&kamailio, scenarios.path(), "caller", &[0], 30_000);
    let state = || async {
        sqlx::query_scalar::<_, String>("SELECT state FROM operators WHERE id = 'anna'").fetch_one(&h.pool).await.ok()
    };
    eventually(Duration::from_secs(15), "anna set not responding", || async {
        state().await.filter(|s| s == "not_responding")
    })
    .await;
    // Her desk learns it from what it pulls (and the wallboards from the live event of that change).
    let anna_token = h.token("anna").await;
    let (code, pulled) = h.post("/v1/pull", Some(&anna_token), json!({"cursor": 0, "limit": 500})).await;
    assert_eq!(code, StatusCode::OK, "{pulled}");
    let mine =
        pulled["changes"].as_array().unwrap().iter().rev().find(|c| c["entity"] == "operator" && c["id"] == "anna");
    assert_eq!(mine.map(|c| c["data"]["state"].clone()), Some(json!("not_responding")), "{pulled:#}");
    let (by,): (Value,) = sqlx::query_as(
        "SELECT data FROM events WHERE kind = 'agent_state_changed' AND operator_id = 'anna' ORDER BY at DESC LIMIT 1",
    )
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert_eq!(by["by"], "hotline", "the report says who set it: {by}");

    // The caller still waits; boris becomes available and takes the call.
    assert_eq!(hotline.status().await.unwrap().waiting.len(), 1);
    make_available(&h, std::slice::from_ref(&boris)).await;
    let out = caller.await.unwrap();
    assert_eq!(sipp_stat(&String::from_utf8_lossy(&out.stdout), "Successful call"), Some(1));
    assert_eq!(counts.answered.load(Ordering::SeqCst), 1, "boris answered the call");

    // Anna says she is back: the hotline offers her calls again.
    let at = okno_core::unix_ms(std::time::SystemTime::now());
    let mutation = Mutation::SetAgentState { operator_id: anna.clone(), state: AgentState::Available, at };
    let item = PushItem { client_seq: 1, mutation_id: okno_core::new_id(), mutation };
    let back = PushRequest { client_id: "anna-desk".into(), schema_version: SCHEMA_VERSION, mutations: vec![item] };
    let (code, body) = h.post("/v1/push", Some(&anna_token), serde_json::to_value(back).unwrap()).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    eventually(Duration::from_secs(5), "the hotline to see anna available", || async {
        let status = hotline.status().await.unwrap();
        status
            .agents
            .iter()
            .any(|a| a.id == "anna" && !a.not_responding && a.state == AgentState::Available)
            .then_some(())
    })
    .await;
}

/// A caller's phone, registered at Kamailio as `user`; it follows a transfer (REFER) wherever it
/// points, as phones and PBX trunks do.
async fn caller_phone(kamailio: &Kamailio, user: &str) -> (engine::PhoneHandle, UnboundedReceiver<PhoneEvent>) {
    let mut config = EngineConfig::new(SocketAddr::from(([127, 0, 0, 1], free_port())));
    config.account = Some(Uri::parse(&format!("sip:{user}@127.0.0.1")).unwrap());
    config.registrar = Some(kamailio.addr().parse().unwrap());
    config.password = Some(SIP_PASSWORD.into());
    config.codecs = engine::parse_codecs("pcmu").unwrap();
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let (phone, _) = engine::spawn(config, Box::new(okno_phone::media::SilentMedia), tx).await.unwrap();
    next_event(&mut events, "the caller's phone registered", |e| matches!(e, PhoneEvent::Registered { .. })).await;
    (phone, events)
}

async fn next_event(
    events: &mut UnboundedReceiver<PhoneEvent>,
    what: &str,
    wanted: impl Fn(&PhoneEvent) -> bool,
) -> PhoneEvent {
    let found = async {
        while let Some(event) = events.recv().await {
            if wanted(&event) {
                return event;
            }
        }
        panic!("the phone stopped before {what}");
    };
    tokio::time::timeout(Duration::from_secs(20), found).await.unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// The stored queue events of `call_id`: (kind, agent, waited).
async fn call_record(h: &Harness, call_id: &str) -> Vec<(String, Option<String>, Option<i64>)> {
    sqlx::query_as("SELECT kind, agent_id, waited_ms FROM acd_events WHERE call_id = $1 ORDER BY at, id")
        .bind(call_id)
        .fetch_all(&h.pool)
        .await
        .unwrap()
}

/// A rolling restart: two instances run the same hotline, the first active, the second in
/// standby. The first stops while anna talks with one caller and another waits: the talk goes on
/// to its end on the first instance, the waiting caller's phone is sent to the second (which
/// took the number over), keeps the call's record and its place, and boris answers it there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_instance_keeps_its_conversation_and_hands_its_waiting_caller_on() {
    let h = Harness::new().await;
    let kamailio = Kamailio::start_record_routing(SIP_PASSWORD);
    let (anna, boris) = ("anna".to_owned(), "boris".to_owned());
    let agents = [anna.clone(), boris.clone()];
    let settings = hotline_settings(&kamailio, &agents, 15_000);
    let first = okno_server::hotline::start(&h.pool, h.state.live.clone(), &settings).await.unwrap();
    let settings = hotline_settings(&kamailio, &agents, 15_000);
    let second = okno_server::hotline::start(&h.pool, h.state.live.clone(), &settings).await.unwrap();
    let counts = Arc::new(DeskCounts::default());
    let _anna_desk = desk(&kamailio, &anna, Desk::TalksFor { seconds: 6.0 }, counts.clone()).await;
    let _boris_desk = desk(&kamailio, &boris, Desk::TalksFor { seconds: 1.0 }, counts.clone()).await;
    make_available(&h, std::slice::from_ref(&anna)).await;
    let hotline = Uri::parse("sip:hotline@127.0.0.1").unwrap();
    let dial = || PhoneCommand::Dial { to: hotline.clone(), display_name: None, call_info: Vec::new() };

    let (talker, mut talker_events) = caller_phone(&kamailio, "talker").await;
    talker.send(dial()).unwrap();
    let talk = eventually(Duration::from_secs(10), "anna talking on the first instance", || async {
        let agents = first.status().await.ok()?.agents;
        agents.into_iter().find(|a| a.id == "anna").and_then(|a| a.call)
    })
    .await;
    // Her desk says she is busy, as the window's softphone does on a call.
    sqlx::query("UPDATE operators SET state = 'busy' WHERE id = 'anna'").execute(&h.pool).await.unwrap();
    let (waiter, mut waiter_events) = caller_phone(&kamailio, "waiter").await;
    waiter.send(dial()).unwrap();
    let waiting = eventually(Duration::from_secs(10), "a caller waiting on the first instance", || async {
        first.status().await.ok()?.waiting.first().map(|(_, id, _)| id.clone())
    })
    .await;
    assert_eq!(second.status().await.unwrap().legs, 0, "the standby instance took no call");

    // The first instance stops, as on SIGTERM.
    let stopping = tokio::spawn({
        let first = first.clone();
        async move { okno_server::hotline::stop(&first, Duration::from_secs(30)).await }
    });
    let moved = eventually(Duration::from_secs(15), "the waiting caller on the second instance", || async {
        second.status().await.ok()?.waiting.first().map(|(_, id, _)| id.clone())
    })
    .await;
    assert_eq!(moved, waiting, "the same call goes on");
    assert!(first.status().await.unwrap().waiting.is_empty(), "gone from the first instance");
    assert!(!stopping.is_finished(), "the first instance still carries anna's conversation");
    make_available(&h, std::slice::from_ref(&boris)).await;
    eventually(Duration::from_secs(10), "boris to answer the handed-over call", || async {
        call_record(&h, &waiting).await.iter().any(|(kind, _, _)| kind == "answered").then_some(())
    })
    .await;

    // Anna's conversation ended when she hung up, six seconds in; then the first instance stopped.
    let ended =
        next_event(&mut talker_events, "the talker's call ended", |e| matches!(e, PhoneEvent::Ended { .. })).await;
    let PhoneEvent::Ended { talk_s, cause, .. } = ended else { unreachable!() };
    assert!(talk_s > 5.0, "the talk lasted until anna hung up, not cut by the stop: {talk_s:.1} s ({cause:?})");
    tokio::time::timeout(Duration::from_secs(10), stopping).await.expect("the first instance stopped").unwrap();
    let referred =
        next_event(&mut waiter_events, "the waiter's phone transferred", |e| matches!(e, PhoneEvent::Referred { .. }))
            .await;
    assert!(format!("{referred:?}").contains("okno-resume="), "{referred:?}");

    // One record per call, across both instances: no abandonment, the wait counted from the
    // first arrival.
    let talked: Vec<String> = call_record(&h, &talk).await.into_iter().map(|(kind, _, _)| kind).collect();
    assert_eq!(talked, ["queued", "offered", "answered", "ended"]);
    let handed = call_record(&h, &waiting).await;
    let kinds: Vec<&str> = handed.iter().map(|(kind, _, _)| kind.as_str()).take(4).collect();
    assert_eq!(kinds, ["queued", "handed_over", "offered", "answered"], "{handed:?}");
    let answered = handed.iter().find(|(kind, _, _)| kind == "answered").unwrap();
    assert_eq!(answered.1.as_deref(), Some("boris"));
    let handed_after = handed[1].2.unwrap_or(0);
    assert!(answered.2.unwrap_or(0) > handed_after, "the wait spans both instances: {handed:?}");
    drop((talker, waiter));
}

/// A figure of sipp's final statistics screen (`Successful call`, `Failed call`, ...): the
/// cumulative column.
fn sipp_stat(out: &str, name: &str) -> Option<u32> {
    out.lines()
        .rev()
        .find(|l| l.trim_start().starts_with(name))
        .and_then(|l| l.split('|').nth(2).and_then(|c| c.split_whitespace().next()).and_then(|n| n.parse().ok()))
}
