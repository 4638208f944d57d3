//! The hotline under load with its media running (issue 19's benchmark goals), on real sockets:
//!
//! 1. **Waiting callers**: sipp places 200 calls at 20 calls/s to a hotline with nobody
//!    available; every caller is answered and hears music on hold. Prints whether all 200 were
//!    answered and are waiting (none dropped), and the hotline process's CPU over 10 s with
//!    200 callers on music: per waiting caller.
//! 2. **Offer latency**: with those 200 waiting, an agent becomes available 50 times; the time
//!    from the state change to the INVITE arriving at that agent's desk (a UDP socket of this
//!    bench): the moment the desk starts ringing. p50 and p99.
//! 3. **Bridged calls**: 100 agents whose desks are one sipp UAS become available; 100 callers
//!    are bridged to them (the other 100 keep waiting). CPU over 10 s, and per bridged call
//!    after taking out the waiting callers' share from step 1.
//!
//! Run: `cargo bench -p okno-hotline --bench hotline` (sipp must be installed). Prints figures;
//! asserts nothing about time. CPU is this process's (the hotline, its engine and media tasks;
//! sipp runs in its own processes).

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use okno_acd::QueueSpec;
use okno_core::AgentState;
use okno_hotline::{AgentLine, Hotline, HotlineConfig};
use okno_sip::Uri;

const CALLERS: usize = 200;
const BRIDGED: usize = 100;
const WINDOW: Duration = Duration::from_secs(10);

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// This process's CPU time so far (user + system), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn cpu_share_over(window: Duration) -> f64 {
    let (cpu, wall) = (cpu_time(), Instant::now());
    tokio::time::sleep(window).await;
    (cpu_time() - cpu).as_secs_f64() / wall.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("cargo bench -p okno-hotline --bench hotline");
    let uas_port = free_port();
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let probe_port = probe.local_addr().unwrap().port();
    let mut agents: Vec<AgentLine> = (0..BRIDGED)
        .map(|n| AgentLine {
            id: format!("agent-{n}"),
            uri: Uri::parse(&format!("sip:agent{n}@127.0.0.1:{uas_port}")).unwrap(),
            skills: Vec::new(),
        })
        .collect();
    agents.push(AgentLine {
        id: "probe".into(),
        uri: Uri::parse(&format!("sip:probe@127.0.0.1:{probe_port}")).unwrap(),
        skills: Vec::new(),
    });
    let hotline_port = free_port();
    let queue = QueueSpec {
        id: "q".into(),
        skill: None,
        ring_timeout_ms: 60_000,
        callback_after_ms: None,
        announce_every_ms: 30_000,
        wrap_up_ms: 0,
    };
    let config = HotlineConfig {
        codecs: "pcmu".into(),
        max_legs: 1_000,
        agents,
        ..HotlineConfig::new(
            SocketAddr::from(([127, 0, 0, 1], hotline_port)),
            vec![("hotline".into(), "q".into())],
            vec![queue],
        )
    };
    let (hotline, mut reports) = Hotline::start(config).await.unwrap();
    tokio::spawn(async move { while reports.recv().await.is_some() {} });

    // 1. 200 callers at 20 calls/s, nobody available.
    let dir = tempfile_dir();
    let scenario = dir.join("caller.xml");
    let template = include_str!("../tests/hotline_caller.xml");
    std::fs::write(&scenario, template.replace("PATIENCE_MS", "600000")).unwrap();
    let at_once = dir.join("at-once.csv");
    std::fs::write(&at_once, "SEQUENTIAL\n0\n").unwrap();
    let uac = Command::new("sipp")
        .arg(format!("127.0.0.1:{hotline_port}"))
        .arg("-sf")
        .arg(&scenario)
        .arg("-inf")
        .arg(&at_once)
        .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-mp", &free_port().to_string()])
        .args(["-m", &CALLERS.to_string(), "-l", &CALLERS.to_string(), "-r", "20", "-nostdin", "-bg"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let _uac = KillOnDrop(uac.expect("sipp is installed"));
    let arrived = Instant::now();
    let waiting = loop {
        let status = hotline.status().await.unwrap();
        if status.waiting.len() >= CALLERS || arrived.elapsed() > Duration::from_secs(30) {
            break status.waiting.len();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!(
        "waiting callers: {waiting} of {CALLERS} placed at 20 calls/s answered and queued in {:.1} s",
        arrived.elapsed().as_secs_f64()
    );
    let waiting_cpu = cpu_share_over(WINDOW).await;
    let legs = hotline.status().await.unwrap().legs;
    println!(
        "  CPU with {waiting} callers on music on hold: {:.1} % of a core; {:.3} % per waiting caller; {legs} legs with audio",
        waiting_cpu * 100.0,
        waiting_cpu * 100.0 / waiting.max(1) as f64
    );

    // 2. Offer latency: the probe agent becomes available; its desk (our socket) gets the INVITE.
    let mut latencies = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut buf = [0u8; 4096];
    for _ in 0..50 {
        let started = Instant::now();
        hotline.agent_state("probe", AgentState::Available).unwrap();
        let arrived = loop {
            let Ok(n) = probe.recv(&mut buf) else { break None };
            let text = String::from_utf8_lossy(&buf[..n]);
            let call_id = text.lines().find_map(|l| l.strip_prefix("Call-ID: ")).map(str::to_owned);
            if text.starts_with("INVITE ") && call_id.is_some_and(|c| seen.insert(c)) {
                break Some(started.elapsed());
            }
        };
        if let Some(latency) = arrived {
            latencies.push(latency.as_secs_f64() * 1000.0);
        }
        hotline.agent_state("probe", AgentState::Break).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!(
        "offer latency (agent available -> INVITE at the desk), {} offers with {waiting} waiting: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        pct(0.5),
        pct(0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );

    // 3. 100 agents (one sipp UAS answering for all) take 100 of the callers.
    let uas = Command::new("sipp")
        .args(["-sn", "uas", "-i", "127.0.0.1", "-p", &uas_port.to_string(), "-mp", &free_port().to_string()])
        .args(["-nostdin", "-bg"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let _uas = KillOnDrop(uas.expect("sipp is installed"));
    // sipp in the background binds its port a moment after it forks.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for n in 0..BRIDGED {
        hotline.agent_state(&format!("agent-{n}"), AgentState::Available).unwrap();
    }
    let started = Instant::now();
    let (bridged, bridging) = loop {
        let status = hotline.status().await.unwrap();
        let bridged = CALLERS - status.waiting.len();
        if bridged >= BRIDGED || started.elapsed() > Duration::from_secs(20) {
            break (bridged, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let bridged_cpu = cpu_share_over(WINDOW).await;
    let status = hotline.status().await.unwrap();
    let per_bridged =
        (bridged_cpu - waiting_cpu * status.waiting.len() as f64 / waiting.max(1) as f64) / bridged.max(1) as f64;
    println!(
        "bridged calls: {bridged} (all offered and answered within {:.1} s), {} still waiting, {} legs with audio",
        bridging.as_secs_f64(),
        status.waiting.len(),
        status.legs
    );
    println!(
        "  CPU: {:.1} % of a core in all; {:.3} % per bridged call (two legs), the waiting callers' share taken out",
        bridged_cpu * 100.0,
        per_bridged * 100.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("okno-hotline-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
