//! Counters for `GET /metrics`, in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub pushes: AtomicU64,
    pub mutations_applied: AtomicU64,
    pub mutations_duplicate: AtomicU64,
    pub mutations_rejected: AtomicU64,
    pub pulls: AtomicU64,
    pub changes_pulled: AtomicU64,
    pub logins_ok: AtomicU64,
    pub logins_failed: AtomicU64,
    /// WebSockets open now (a gauge).
    pub live_sockets: AtomicU64,
    pub live_events_sent: AtomicU64,
    pub live_sockets_dropped: AtomicU64,
    pub live_bus_dropped: AtomicU64,
}

pub(crate) fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        counter("okno_push_requests_total", "Push requests received.", &[("", get(&self.pushes))]);
        counter(
            "okno_mutations_total",
            "Pushed mutations by outcome.",
            &[
                ("{outcome=\"applied\"}", get(&self.mutations_applied)),
                ("{outcome=\"duplicate\"}", get(&self.mutations_duplicate)),
                ("{outcome=\"rejected\"}", get(&self.mutations_rejected)),
            ],
        );
        counter("okno_pull_requests_total", "Pull requests served.", &[("", get(&self.pulls))]);
        counter("okno_changes_pulled_total", "Changes sent in pull responses.", &[("", get(&self.changes_pulled))]);
        counter(
            "okno_logins_total",
            "Sign-in attempts by result.",
            &[("{result=\"ok\"}", get(&self.logins_ok)), ("{result=\"failed\"}", get(&self.logins_failed))],
        );
        counter("okno_live_events_total", "Live events queued to WebSockets.", &[("", get(&self.live_events_sent))]);
        counter(
            "okno_live_sockets_dropped_total",
            "WebSockets closed for falling behind.",
            &[("", get(&self.live_sockets_dropped))],
        );
        counter(
            "okno_live_bus_dropped_total",
            "Live events not handed to NATS (queue full).",
            &[("", get(&self.live_bus_dropped))],
        );
        let _ = writeln!(
            out,
            "# HELP okno_live_sockets WebSockets open now.\n# TYPE okno_live_sockets gauge\nokno_live_sockets {}",
            get(&self.live_sockets)
        );
        out
    }
}
