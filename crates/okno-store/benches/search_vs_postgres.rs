//! Search side by side: the store's FTS5 message search against PostgreSQL full-text search
//! (GIN over `to_tsvector('russian', body)`, which stems Russian and English) on the same
//! ~1M messages of the large demo, same 30 queries, same "newest 20 matches" shape.
//!
//! `cargo bench -p okno-store --bench search_vs_postgres` after `cargo xtask bench` (which
//! leaves the dataset in $OKNO_BENCH_DIR, default /tmp/okno-bench-large). PostgreSQL at
//! $OKNO_BENCH_PG (default postgres://postgres@127.0.0.1:5432/postgres); the bench creates and
//! keeps a database `okno_bench_search` so reruns skip the load.

use std::time::Instant;

mod common;
use common::QUERIES;

use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

fn words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

fn summary(name: &str, mut ms: Vec<f64>, hits: usize) {
    ms.sort_by(f64::total_cmp);
    let p = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<46} p50={:>7.2} ms  p95={:>7.2} ms  max={:>7.2} ms  ({hits} hits)",
        p(0.5),
        p(0.95),
        ms[ms.len() - 1]
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let dir = std::env::var("OKNO_BENCH_DIR").unwrap_or_else(|_| "/tmp/okno-bench-large".into());
        let db = std::path::Path::new(&dir).join("okno.db");
        if !db.exists() {
            return Err(format!("no dataset at {}: run `cargo xtask bench` first", db.display()).into());
        }
        let lite = SqlitePoolOptions::new().max_connections(1).connect_with(SqliteConnectOptions::new().filename(&db).read_only(true)).await?;

        let admin_url = std::env::var("OKNO_BENCH_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let admin = sqlx::PgPool::connect(&admin_url).await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'okno_bench_search')").fetch_one(&admin).await?;
        if !exists {
            sqlx::query("CREATE DATABASE okno_bench_search").execute(&admin).await?;
        }
        let base = admin_url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin_url.clone());
        let pg = sqlx::PgPool::connect(&format!("{base}/okno_bench_search")).await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS messages (rid bigint PRIMARY KEY, body text NOT NULL, tsv tsvector)").execute(&pg).await?;
        let loaded: i64 = sqlx::query_scalar("SELECT count(*) FROM messages").fetch_one(&pg).await?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM messages").fetch_one(&lite).await?;
        if loaded != total {
            sqlx::query("TRUNCATE messages").execute(&pg).await?;
            let started = Instant::now();
            let mut last = 0i64;
            loop {
                let rows = sqlx::query("SELECT rid, coalesce(subject || ' ', '') || body AS text FROM messages WHERE rid > ? ORDER BY rid LIMIT 20000")
                    .bind(last)
                    .fetch_all(&lite)
                    .await?;
                if rows.is_empty() {
                    break;
                }
                let rids: Vec<i64> = rows.iter().map(|r| r.get::<i64, _>("rid")).collect();
                let texts: Vec<String> = rows.iter().map(|r| r.get::<String, _>("text")).collect();
                last = *rids.last().unwrap_or(&last);
                sqlx::query("INSERT INTO messages (rid, body, tsv) SELECT r, b, to_tsvector('russian', b) FROM UNNEST($1::bigint[], $2::text[]) AS t(r, b)")
                    .bind(&rids)
                    .bind(&texts)
                    .execute(&pg)
                    .await?;
            }
            sqlx::query("CREATE INDEX IF NOT EXISTS messages_tsv ON messages USING gin (tsv)").execute(&pg).await?;
            sqlx::query("VACUUM ANALYZE messages").execute(&pg).await?;
            println!("loaded {total} messages into PostgreSQL and built the GIN index in {:.1} s", started.elapsed().as_secs_f64());
        }
        let pg_version: String = sqlx::query_scalar("SHOW server_version").fetch_one(&pg).await?;
        println!("PostgreSQL {pg_version}; {total} messages on both sides; newest 20 matches per query, 3 timed rounds after a warm-up\n");

        let (mut lite_ms, mut pg_ms, mut lite_hits, mut pg_hits) = (Vec::new(), Vec::new(), 0, 0);
        for round in 0..4 {
            for q in QUERIES {
                let w = words(q);
                let fts5: String = w.iter().map(|t| if t.chars().count() >= 2 { format!("\"{t}\"*") } else { format!("\"{t}\"") }).collect::<Vec<_>>().join(" ");
                let t = Instant::now();
                let r: Vec<i64> = sqlx::query_scalar("SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT 20")
                    .bind(&fts5)
                    .fetch_all(&lite)
                    .await?;
                if round > 0 {
                    lite_ms.push(t.elapsed().as_secs_f64() * 1e3);
                    lite_hits += r.len();
                }
                let tsquery: String = w.iter().map(|t| format!("{t}:*")).collect::<Vec<_>>().join(" & ");
                let t = Instant::now();
                let r: Vec<i64> = sqlx::query_scalar("SELECT rid FROM messages WHERE tsv @@ to_tsquery('russian', $1) ORDER BY rid DESC LIMIT 20")
                    .bind(&tsquery)
                    .fetch_all(&pg)
                    .await?;
                if round > 0 {
                    pg_ms.push(t.elapsed().as_secs_f64() * 1e3);
                    pg_hits += r.len();
                }
            }
        }
        summary("Okno store: SQLite FTS5 (unicode61, prefix)", lite_ms, lite_hits);
        summary("PostgreSQL: GIN tsvector ('russian', prefix)", pg_ms, pg_hits);
        Ok(())
    })
}
