//! A rolling restart under load: how long a stopping hotline takes to hand its waiting callers
//! to the next instance. Kamailio routes the number `hotline` to whichever instance is
//! registered; [`CALLERS`] okno-phone engines (the headless phone's engine, which follows a
//! transfer) call it and wait with nobody available. Then the first instance stands down and
//! drains while the second activates, as the server does on SIGTERM (it waits for the database
//! lease in between, at most 500 ms, which this bench leaves out).
//!
//! Prints, per run: the time from the stand-down until every caller waits on the second
//! instance, until the first has no leg left, and whether every caller kept their place (the
//! same order by arrival on both). Asserts nothing about time.
//!
//! Run: `cargo bench -p okno-hotline --bench handover` (Kamailio must be installed).

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use okno_acd::QueueSpec;
use okno_hotline::{HandoverKey, Hotline, HotlineConfig};
use okno_phone::engine::{self, EngineConfig, PhoneCommand, PhoneEvent, PhoneHandle};
use okno_sip::Uri;
use okno_testkit::sip::Kamailio;

const PASSWORD: &str = "hotline-bench-only";
const CALLERS: usize = 200;
const RUNS: usize = 3;

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn hotline(kamailio: &Kamailio, standby: bool) -> Hotline {
    let queue = QueueSpec {
        id: "q".into(),
        skill: None,
        ring_timeout_ms: 15_000,
        callback_after_ms: None,
        announce_every_ms: 60_000,
        wrap_up_ms: 0,
    };
    let config = HotlineConfig {
        registrar: Some(kamailio.addr().parse().unwrap()),
        account: Some(Uri::parse("sip:hotline@127.0.0.1").unwrap()),
        password: Some(PASSWORD.into()),
        codecs: "pcmu".into(),
        standby,
        handover: Some(HandoverKey::new(b"bench key")),
        ..HotlineConfig::new(
            SocketAddr::from(([127, 0, 0, 1], free_port())),
            vec![("hotline".into(), "q".into())],
            vec![queue],
        )
    };
    let (hotline, mut reports) = Hotline::start(config).await.unwrap();
    tokio::spawn(async move { while reports.recv().await.is_some() {} });
    hotline
}

/// A caller's phone registered at Kamailio; it answers nothing and follows transfers.
async fn caller(kamailio: &Kamailio, n: usize) -> PhoneHandle {
    let mut config = EngineConfig::new(SocketAddr::from(([127, 0, 0, 1], free_port())));
    config.account = Some(Uri::parse(&format!("sip:caller{n}@127.0.0.1")).unwrap());
    config.registrar = Some(kamailio.addr().parse().unwrap());
    config.password = Some(PASSWORD.into());
    config.codecs = engine::parse_codecs("pcmu").unwrap();
    config.rtp_port = 0;
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let (phone, _) = engine::spawn(config, Box::new(okno_phone::media::SilentMedia), tx).await.unwrap();
    let registered = async {
        while let Some(event) = events.recv().await {
            if matches!(event, PhoneEvent::Registered { .. }) {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), registered).await.expect("the caller registers");
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    phone
}

async fn until(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("cargo bench -p okno-hotline --bench handover");
    for run in 1..=RUNS {
        let kamailio = Kamailio::start(PASSWORD);
        let first = hotline(&kamailio, false).await;
        let second = hotline(&kamailio, true).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut phones = Vec::new();
        for n in 0..CALLERS {
            phones.push(caller(&kamailio, n).await);
        }
        let to = Uri::parse("sip:hotline@127.0.0.1").unwrap();
        for phone in &phones {
            phone.send(PhoneCommand::Dial { to: to.clone(), display_name: None, call_info: Vec::new() }).unwrap();
            // Apart in time, so the order by arrival is one order.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        until("every caller waiting on the first", Duration::from_secs(20), async || {
            first.status().await.unwrap().waiting.len() == CALLERS
        })
        .await;
        let order: Vec<String> = first.status().await.unwrap().waiting.into_iter().map(|(_, id, _)| id).collect();

        let started = Instant::now();
        first.stand_down().await.unwrap();
        second.activate().unwrap();
        let draining = tokio::spawn({
            let first = first.clone();
            async move {
                first.drain().await.unwrap();
                Instant::now()
            }
        });
        until("every caller waiting on the second", Duration::from_secs(60), async || {
            second.status().await.unwrap().waiting.len() == CALLERS
        })
        .await;
        let moved = started.elapsed();
        let drained = draining.await.unwrap() - started;
        let after: Vec<String> = second.status().await.unwrap().waiting.into_iter().map(|(_, id, _)| id).collect();
        println!(
            "run {run}: {CALLERS} waiting callers on the second instance {:.2} s after the stand-down; the first \
             drained (no leg left) at {:.2} s; order by arrival kept: {}",
            moved.as_secs_f64(),
            drained.as_secs_f64(),
            after == order
        );
        drop(phones);
        drop(second);
    }
}
