//! Global search (Ctrl+K): FTS5 over tickets, messages, customers and call notes.
//!
//! Each group is read newest first by rowid and cut at `limit`, which FTS5 can stop early on;
//! ranking every match by bm25 would touch every matching row of a million-message store.

use sqlx::Row;

use crate::db::get;
use crate::views::{SearchHit, SearchKind, SearchResults};
use crate::{Store, StoreError};

/// Turn what the operator typed into an FTS5 query: every word must match, as a prefix when it
/// is long enough to be selective (Russian endings vary: "заказ" finds "заказа", "заказом").
/// Operators and quotes in the input are never interpreted, so no input is a syntax error.
pub(crate) fn fts_query(input: &str) -> Option<String> {
    let terms: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(8)
        .map(|w| {
            let w = w.to_lowercase();
            if w.chars().count() >= 2 { format!("\"{w}\"*") } else { format!("\"{w}\"") }
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

impl Store {
    pub async fn search(&self, input: &str, limit: u32) -> Result<SearchResults, StoreError> {
        let mut results = SearchResults { query: input.to_owned(), ..Default::default() };
        let Some(query) = fts_query(input) else {
            return Ok(results);
        };
        let limit = i64::from(limit.clamp(1, 100));

        // The snippet comes from the subject only: the tags column is JSON text, which the
        // window shows as chips from `tags`, never as a raw string.
        let rows = sqlx::query(
            "WITH hits AS (SELECT rowid AS rid, snippet(tickets_fts, 0, char(2), char(3), '…', 12) AS snip \
               FROM tickets_fts WHERE tickets_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2) \
             SELECT t.id, t.customer_id, '#' || t.number || ' ' || t.subject AS title, hits.snip, t.tags, \
                    t.updated_at AS at \
               FROM hits JOIN tickets t ON t.rid = hits.rid ORDER BY hits.rid DESC",
        )
        .bind(&query)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        results.tickets = hits(&rows, SearchKind::Ticket, |r| get(r, "id"))?;
        for (hit, row) in results.tickets.iter_mut().zip(&rows) {
            hit.tags = serde_json::from_str(get::<&str>(row, "tags")?)?;
        }

        let rows = sqlx::query(
            "WITH hits AS (SELECT rowid AS rid, snippet(messages_fts, -1, char(2), char(3), '…', 14) AS snip \
               FROM messages_fts WHERE messages_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2) \
             SELECT m.id, m.ticket_id, t.customer_id, m.author_name || ' · #' || t.number || ' ' || t.subject AS title, \
                    hits.snip, m.created_at AS at \
               FROM hits JOIN messages m ON m.rid = hits.rid JOIN tickets t ON t.id = m.ticket_id ORDER BY hits.rid DESC",
        )
        .bind(&query)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        results.messages = hits(&rows, SearchKind::Message, |r| get(r, "ticket_id"))?;

        let rows = sqlx::query(
            "WITH hits AS (SELECT rowid AS rid, snippet(customers_fts, -1, char(2), char(3), '…', 10) AS snip \
               FROM customers_fts WHERE customers_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2) \
             SELECT c.id, c.id AS customer_id, \
                    (SELECT t.id FROM tickets t WHERE t.customer_id = c.id ORDER BY t.updated_at DESC LIMIT 1) AS ticket_id, \
                    c.name || coalesce(' · ' || c.company, '') AS title, hits.snip, c.created_at AS at \
               FROM hits JOIN customers c ON c.rid = hits.rid ORDER BY hits.rid DESC",
        )
        .bind(&query)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        results.customers = hits(&rows, SearchKind::Customer, |r| get(r, "ticket_id"))?;

        let rows = sqlx::query(
            "WITH hits AS (SELECT rowid AS rid, snippet(calls_fts, -1, char(2), char(3), '…', 12) AS snip \
               FROM calls_fts WHERE calls_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2) \
             SELECT k.id, k.ticket_id, k.customer_id, k.from_number || ' → ' || k.to_number AS title, hits.snip, \
                    k.started_at AS at \
               FROM hits JOIN calls k ON k.rid = hits.rid ORDER BY hits.rid DESC",
        )
        .bind(&query)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        results.calls = hits(&rows, SearchKind::Call, |r| get(r, "ticket_id"))?;
        Ok(results)
    }
}

fn hits(
    rows: &[sqlx::sqlite::SqliteRow],
    kind: SearchKind,
    ticket_of: impl Fn(&sqlx::sqlite::SqliteRow) -> Result<Option<String>, StoreError>,
) -> Result<Vec<SearchHit>, StoreError> {
    rows.iter()
        .map(|r| {
            Ok(SearchHit {
                kind,
                id: get(r, "id")?,
                ticket_id: ticket_of(r)?,
                customer_id: r.try_get("customer_id").map_err(StoreError::Sql)?,
                title: get(r, "title")?,
                snippet: get::<Option<String>>(r, "snip")?.unwrap_or_default(),
                tags: Vec::new(),
                at: get(r, "at")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn input_is_quoted_words_with_prefixes() {
        assert_eq!(fts_query("Заказ доставка").as_deref(), Some("\"заказ\"* \"доставка\"*"));
        assert_eq!(fts_query("a OR \"b\" NEAR(c)").as_deref(), Some("\"a\" \"or\"* \"b\" \"near\"* \"c\""));
        assert_eq!(fts_query("  ***  "), None);
    }
}
