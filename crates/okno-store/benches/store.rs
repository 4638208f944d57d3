//! Store figures on the large demo dataset (100k tickets, ~1M messages, 50k customers, 200k
//! calls): generation, inbox pages, global search, opening a long ticket, the customer card.
//!
//! `cargo bench -p okno-store --bench store` (or `cargo xtask bench`). The dataset is kept in
//! `$OKNO_BENCH_DIR` (default: a temp dir) and reused when it is already there.

use std::time::Instant;

mod common;
use common::QUERIES;

use okno_store::Store;
use okno_store::demo::DemoSize;
use okno_store::views::{AssigneeFilter, TicketFilter, TicketSort};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<f64>) {
    samples.sort_by(f64::total_cmp);
    println!(
        "{name:<44} n={:<5} p50={:>8.2} ms  p95={:>8.2} ms  max={:>8.2} ms",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.95),
        samples.last().copied().unwrap_or(0.0)
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let dir = std::env::var_os("OKNO_BENCH_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("okno-bench-large"));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("okno.db");
        let store = Store::open(&path).await?;
        let started = Instant::now();
        // Anchor fixed so the dataset (and the figures) are the same on every machine.
        if let Some(summary) = store.generate_demo(DemoSize::Large, 1, 1_795_176_000_000).await? {
            println!("generated {summary:?} in {:.1} s", started.elapsed().as_secs_f64());
        }
        let stats = store.stats().await?;
        let size = std::fs::metadata(&path)?.len() as f64 / 1e6;
        println!(
            "dataset: {} tickets, {} messages, {} customers, {} calls; okno.db {size:.0} MB",
            stats.tickets, stats.messages, stats.customers, stats.calls
        );

        // Warm the page cache once, as a running app would have.
        store.list_tickets(&TicketFilter { limit: 100, ..Default::default() }).await?;

        let mut first = Vec::new();
        let open = TicketFilter {
            statuses: vec![okno_core::TicketStatus::New, okno_core::TicketStatus::Open],
            limit: 100,
            ..Default::default()
        };
        for _ in 0..30 {
            let t = Instant::now();
            store.list_tickets(&open).await?;
            first.push(t.elapsed().as_secs_f64() * 1e3);
        }
        report("inbox: open tickets by SLA, first page", first);

        let mut deep = Vec::new();
        let all = TicketFilter { limit: 100, sort: TicketSort::SlaDue, ..Default::default() };
        let total = store.list_tickets(&all).await?.total;
        for i in 0..30u32 {
            let offset = (i * 7919 * 13) % total.max(1);
            let t = Instant::now();
            store.list_tickets(&TicketFilter { offset, ..all.clone() }).await?;
            deep.push(t.elapsed().as_secs_f64() * 1e3);
        }
        report("inbox: all 100k by SLA, random page", deep);

        let mut mine = Vec::new();
        for _ in 0..30 {
            let t = Instant::now();
            store
                .list_tickets(&TicketFilter {
                    assignee: Some(AssigneeFilter::Me),
                    sort: TicketSort::Updated,
                    limit: 100,
                    ..Default::default()
                })
                .await?;
            mine.push(t.elapsed().as_secs_f64() * 1e3);
        }
        report("inbox: my tickets by update, first page", mine);

        let mut search = Vec::new();
        let mut hits = 0usize;
        for round in 0..4 {
            for q in QUERIES {
                let t = Instant::now();
                let r = store.search(q, 20).await?;
                if round > 0 {
                    search.push(t.elapsed().as_secs_f64() * 1e3);
                }
                hits += r.tickets.len() + r.messages.len() + r.customers.len() + r.calls.len();
            }
        }
        report("search: 30 queries × 3 (4 groups, 20 each)", search);
        println!("{:<44} {hits} hits in total", "");

        let long: Vec<String> = sqlx_long_tickets(&store).await?;
        let mut open_ticket = Vec::new();
        for id in long.iter().cycle().take(30) {
            let t = Instant::now();
            let d = store.ticket_detail(id).await?;
            open_ticket.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(d.timeline.len() >= 200);
        }
        report("open a ticket with 200+ messages", open_ticket);

        let mut card = Vec::new();
        let rows = store.list_tickets(&TicketFilter { limit: 30, ..Default::default() }).await?.rows;
        for row in &rows {
            let t = Instant::now();
            store.customer_card(&row.customer_id).await?;
            card.push(t.elapsed().as_secs_f64() * 1e3);
        }
        report("customer card", card);
        store.close().await;
        Ok(())
    })
}

/// Tickets with the longest conversations.
async fn sqlx_long_tickets(store: &Store) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let page =
        store.list_tickets(&TicketFilter { limit: 500, sort: TicketSort::Created, ..Default::default() }).await?;
    let mut ids: Vec<String> = page.rows.into_iter().filter(|t| t.message_count >= 200).map(|t| t.id).collect();
    if ids.is_empty() {
        // Fall back to a scan by pages until a few long threads are found.
        let mut offset = 500;
        while ids.len() < 5 {
            let p = store
                .list_tickets(&TicketFilter { limit: 500, offset, sort: TicketSort::Created, ..Default::default() })
                .await?;
            if p.rows.is_empty() {
                break;
            }
            ids.extend(p.rows.into_iter().filter(|t| t.message_count >= 200).map(|t| t.id));
            offset += 500;
        }
    }
    Ok(ids)
}
