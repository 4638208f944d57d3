//! Queries behind the window: the rail, the inbox, a conversation, the customer card.

use okno_core::{Identity, IdentityKind, Millis};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, QueryBuilder, Row, Sqlite};

use crate::db::get;
use crate::views::*;
use crate::{Store, StoreError};

const TICKET_COLUMNS: &str = "t.id, t.number, t.subject, t.customer_id, c.name AS customer_name, t.channel, \
    t.status, t.priority, t.queue_id, q.name AS queue_name, t.assignee_id, o.name AS assignee_name, t.tags, \
    t.created_at, t.updated_at, t.sla_due_at, t.first_response_at, t.unread, t.preview, t.message_count";

const TICKET_JOINS: &str = "JOIN customers c ON c.id = t.customer_id JOIN queues q ON q.id = t.queue_id \
    LEFT JOIN operators o ON o.id = t.assignee_id";

pub(crate) fn ticket_row(row: &SqliteRow) -> Result<TicketRow, StoreError> {
    Ok(TicketRow {
        id: get(row, "id")?,
        number: get::<i64>(row, "number")? as u32,
        subject: get(row, "subject")?,
        customer_id: get(row, "customer_id")?,
        customer_name: get(row, "customer_name")?,
        channel: get::<&str>(row, "channel")?.parse()?,
        status: get::<&str>(row, "status")?.parse()?,
        priority: get::<&str>(row, "priority")?.parse()?,
        queue_id: get(row, "queue_id")?,
        queue_name: get(row, "queue_name")?,
        assignee_id: get(row, "assignee_id")?,
        assignee_name: get(row, "assignee_name")?,
        tags: serde_json::from_str(get::<&str>(row, "tags")?)?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        sla_due_at: get(row, "sla_due_at")?,
        first_response_at: get(row, "first_response_at")?,
        unread: get::<i64>(row, "unread")? != 0,
        preview: get(row, "preview")?,
        message_count: get::<i64>(row, "message_count")? as u32,
    })
}

fn message_view(row: &SqliteRow) -> Result<MessageView, StoreError> {
    Ok(MessageView {
        id: get(row, "id")?,
        ticket_id: get(row, "ticket_id")?,
        channel: get::<&str>(row, "channel")?.parse()?,
        direction: get::<&str>(row, "direction")?.parse()?,
        author_name: get(row, "author_name")?,
        subject: get(row, "subject")?,
        body: get(row, "body")?,
        attachments: serde_json::from_str(get::<&str>(row, "attachments")?)?,
        created_at: get(row, "created_at")?,
        // A shape this build does not know shows the message without its email details.
        email: get::<Option<&str>>(row, "email")?.and_then(|json| serde_json::from_str(json).ok()).map(Box::new),
    })
}

pub(crate) const CALL_COLUMNS: &str = "k.id, k.customer_id, k.ticket_id, k.direction, k.from_number, k.to_number, \
    k.started_at, k.answered_at, k.ended_at, k.outcome, k.disposition, k.notes, k.recording_ref, \
    o.name AS operator_name, q.name AS queue_name";

const CALL_JOINS: &str = "LEFT JOIN operators o ON o.id = k.operator_id LEFT JOIN queues q ON q.id = k.queue_id";

fn call_view(row: &SqliteRow) -> Result<CallView, StoreError> {
    let answered_at: Option<Millis> = get(row, "answered_at")?;
    let ended_at: Option<Millis> = get(row, "ended_at")?;
    let talk_secs = match (answered_at, ended_at) {
        (Some(a), Some(e)) if e > a => ((e - a) / 1000) as u32,
        _ => 0,
    };
    Ok(CallView {
        id: get(row, "id")?,
        customer_id: get(row, "customer_id")?,
        ticket_id: get(row, "ticket_id")?,
        direction: get::<&str>(row, "direction")?.parse()?,
        from_number: get(row, "from_number")?,
        to_number: get(row, "to_number")?,
        started_at: get(row, "started_at")?,
        answered_at,
        ended_at,
        outcome: get::<&str>(row, "outcome")?.parse()?,
        disposition: get(row, "disposition")?,
        notes: get(row, "notes")?,
        recording_ref: get(row, "recording_ref")?,
        operator_name: get(row, "operator_name")?,
        queue_name: get(row, "queue_name")?,
        talk_secs,
    })
}

fn operator_view(row: &SqliteRow) -> Result<OperatorView, StoreError> {
    Ok(OperatorView {
        id: get(row, "id")?,
        name: get(row, "name")?,
        role: get::<&str>(row, "role")?.parse()?,
        state: get::<&str>(row, "state")?.parse()?,
        state_since: get(row, "state_since")?,
        is_me: get::<i64>(row, "is_me")? != 0,
    })
}

/// Appends the WHERE clause of an inbox filter.
fn push_ticket_filter(qb: &mut QueryBuilder<Sqlite>, filter: &TicketFilter, me: Option<&str>) {
    qb.push(" WHERE 1=1");
    if !filter.statuses.is_empty() {
        qb.push(" AND t.status IN (");
        let mut list = qb.separated(", ");
        for status in &filter.statuses {
            list.push_bind(status.as_str());
        }
        qb.push(")");
    }
    if let Some(channel) = filter.channel {
        qb.push(" AND t.channel = ").push_bind(channel.as_str());
    }
    if let Some(queue) = &filter.queue_id {
        qb.push(" AND t.queue_id = ").push_bind(queue.clone());
    }
    match &filter.assignee {
        None => {}
        Some(AssigneeFilter::Unassigned) => {
            qb.push(" AND t.assignee_id IS NULL");
        }
        Some(AssigneeFilter::Me) => {
            qb.push(" AND t.assignee_id = ").push_bind(me.unwrap_or_default().to_owned());
        }
        Some(AssigneeFilter::Operator(id)) => {
            qb.push(" AND t.assignee_id = ").push_bind(id.clone());
        }
    }
    if let Some(tag) = &filter.tag {
        qb.push(" AND EXISTS (SELECT 1 FROM ticket_tags g WHERE g.tag = ")
            .push_bind(tag.clone())
            .push(" AND g.ticket_id = t.id)");
    }
}

fn order_by(sort: TicketSort) -> &'static str {
    match sort {
        // Tickets without an SLA sort after every dated one.
        TicketSort::SlaDue => " ORDER BY coalesce(t.sla_due_at, 9223372036854775807), t.rid",
        TicketSort::Updated => " ORDER BY t.updated_at DESC, t.rid DESC",
        TicketSort::Created => " ORDER BY t.created_at DESC, t.rid DESC",
    }
}

impl Store {
    pub(crate) async fn my_id(&self) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT id FROM operators WHERE is_me = 1 LIMIT 1").fetch_optional(&self.read).await?)
    }

    /// The operator signed in on this desktop.
    pub async fn me(&self) -> Result<OperatorView, StoreError> {
        let row = sqlx::query("SELECT * FROM operators WHERE is_me = 1 LIMIT 1")
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound { what: "signed-in operator", id: "me".into() })?;
        operator_view(&row)
    }

    pub async fn list_operators(&self) -> Result<Vec<OperatorView>, StoreError> {
        let rows = sqlx::query("SELECT * FROM operators ORDER BY name").fetch_all(&self.read).await?;
        rows.iter().map(operator_view).collect()
    }

    /// A queue's name, if this store knows the queue.
    pub async fn queue_name(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT name FROM queues WHERE id = ?").bind(id).fetch_optional(&self.read).await?)
    }

    pub async fn list_queues(&self) -> Result<Vec<QueueSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT q.id, q.name, q.channel, q.department_id, d.name AS department_name, \
               (SELECT count(*) FROM tickets t WHERE t.queue_id = q.id AND t.status IN ('new','open')) AS open_count, \
               (SELECT count(*) FROM tickets t WHERE t.queue_id = q.id AND t.status IN ('new','open') AND t.unread = 1) AS unread_count \
             FROM queues q JOIN departments d ON d.id = q.department_id ORDER BY d.name, q.name",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(QueueSummary {
                    id: get(row, "id")?,
                    name: get(row, "name")?,
                    channel: get::<&str>(row, "channel")?.parse()?,
                    department_id: get(row, "department_id")?,
                    department_name: get(row, "department_name")?,
                    open_count: get::<i64>(row, "open_count")? as u32,
                    unread_count: get::<i64>(row, "unread_count")? as u32,
                })
            })
            .collect()
    }

    /// One window of the inbox, for a virtualized list.
    pub async fn list_tickets(&self, filter: &TicketFilter) -> Result<TicketPage, StoreError> {
        let me = self.my_id().await?;
        let limit = filter.limit.clamp(1, 500);

        let mut count = QueryBuilder::<Sqlite>::new("SELECT count(*) FROM tickets t");
        push_ticket_filter(&mut count, filter, me.as_deref());
        let total: i64 = count.build_query_scalar().fetch_one(&self.read).await?;

        // Pick the page's rows by index first, then join only those: OFFSET over joined rows
        // would join every skipped row too.
        let mut page = QueryBuilder::<Sqlite>::new(
            "WITH page AS (SELECT t.rid, t.sla_due_at, t.updated_at, t.created_at FROM tickets t",
        );
        push_ticket_filter(&mut page, filter, me.as_deref());
        page.push(order_by(filter.sort));
        page.push(" LIMIT ").push_bind(i64::from(limit));
        page.push(" OFFSET ").push_bind(i64::from(filter.offset));
        page.push(format_args!(
            ") SELECT {TICKET_COLUMNS} FROM page JOIN tickets t ON t.rid = page.rid {TICKET_JOINS}"
        ));
        page.push(order_by(filter.sort));
        let rows = page.build().fetch_all(&self.read).await?;
        Ok(TicketPage {
            total: total as u32,
            offset: filter.offset,
            rows: rows.iter().map(ticket_row).collect::<Result<_, _>>()?,
        })
    }

    pub async fn ticket_row(&self, ticket_id: &str) -> Result<TicketRow, StoreError> {
        let row =
            sqlx::query(AssertSqlSafe(format!("SELECT {TICKET_COLUMNS} FROM tickets t {TICKET_JOINS} WHERE t.id = ?")))
                .bind(ticket_id)
                .fetch_optional(&self.read)
                .await?
                .ok_or_else(|| StoreError::NotFound { what: "ticket", id: ticket_id.to_owned() })?;
        ticket_row(&row)
    }

    /// A ticket with its messages, notes and calls in time order.
    pub async fn ticket_detail(&self, ticket_id: &str) -> Result<TicketDetail, StoreError> {
        let ticket = self.ticket_row(ticket_id).await?;
        let messages = sqlx::query("SELECT * FROM messages WHERE ticket_id = ? ORDER BY created_at, rid")
            .bind(ticket_id)
            .fetch_all(&self.read)
            .await?;
        let calls = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CALL_COLUMNS} FROM calls k {CALL_JOINS} WHERE k.ticket_id = ? ORDER BY k.started_at"
        )))
        .bind(ticket_id)
        .fetch_all(&self.read)
        .await?;
        let mut timeline = Vec::with_capacity(messages.len() + calls.len());
        for row in &messages {
            timeline.push(TimelineItem::Message(message_view(row)?));
        }
        for row in &calls {
            timeline.push(TimelineItem::Call(call_view(row)?));
        }
        timeline.sort_by_key(TimelineItem::at);
        let visitor_read_at: Option<Millis> = sqlx::query_scalar("SELECT visitor_read_at FROM tickets WHERE id = ?")
            .bind(ticket_id)
            .fetch_one(&self.read)
            .await?;
        Ok(TicketDetail { ticket, timeline, visitor_read_at })
    }

    /// Every tag in use, most used first.
    pub async fn list_tags(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT tag FROM ticket_tags GROUP BY tag ORDER BY count(*) DESC, tag LIMIT 200")
            .fetch_all(&self.read)
            .await?)
    }

    pub async fn customer_card(&self, customer_id: &str) -> Result<CustomerCard, StoreError> {
        let row = sqlx::query("SELECT * FROM customers WHERE id = ?")
            .bind(customer_id)
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| StoreError::NotFound { what: "customer", id: customer_id.to_owned() })?;
        let identities =
            sqlx::query("SELECT kind, value FROM customer_identities WHERE customer_id = ? ORDER BY kind, value")
                .bind(customer_id)
                .fetch_all(&self.read)
                .await?
                .iter()
                .map(|r| {
                    Ok(Identity { kind: get::<&str>(r, "kind")?.parse::<IdentityKind>()?, value: get(r, "value")? })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
        let stats = sqlx::query(
            "SELECT \
               (SELECT count(*) FROM tickets WHERE customer_id = ?1) AS tickets_total, \
               (SELECT count(*) FROM tickets WHERE customer_id = ?1 AND status IN ('new','open','pending')) AS tickets_open, \
               (SELECT count(*) FROM calls WHERE customer_id = ?1) AS calls_total, \
               (SELECT count(*) FROM calls WHERE customer_id = ?1 AND outcome IN ('missed','abandoned')) AS calls_missed, \
               (SELECT count(*) FROM orders WHERE customer_id = ?1) AS orders_total, \
               (SELECT coalesce(sum(total_cents), 0) FROM orders WHERE customer_id = ?1 AND status NOT IN ('cancelled','returned')) AS ltv, \
               (SELECT min(at) FROM (SELECT min(created_at) AS at FROM tickets WHERE customer_id = ?1 UNION ALL SELECT min(started_at) FROM calls WHERE customer_id = ?1)) AS first_at, \
               (SELECT max(at) FROM (SELECT max(updated_at) AS at FROM tickets WHERE customer_id = ?1 UNION ALL SELECT max(started_at) FROM calls WHERE customer_id = ?1)) AS last_at",
        )
        .bind(customer_id)
        .fetch_one(&self.read)
        .await?;
        let stats = CustomerStats {
            tickets_total: get::<i64>(&stats, "tickets_total")? as u32,
            tickets_open: get::<i64>(&stats, "tickets_open")? as u32,
            calls_total: get::<i64>(&stats, "calls_total")? as u32,
            calls_missed: get::<i64>(&stats, "calls_missed")? as u32,
            orders_total: get::<i64>(&stats, "orders_total")? as u32,
            lifetime_value_cents: get(&stats, "ltv")?,
            first_contact_at: get(&stats, "first_at")?,
            last_contact_at: get(&stats, "last_at")?,
        };
        let contacts = sqlx::query(
            "SELECT 'ticket' AS kind, id, id AS ticket_id, channel, subject AS title, status AS state, updated_at AS at \
               FROM tickets WHERE customer_id = ?1 \
             UNION ALL \
             SELECT 'call', id, ticket_id, 'phone', from_number || ' → ' || to_number, outcome, started_at \
               FROM calls WHERE customer_id = ?1 \
             ORDER BY at DESC LIMIT 50",
        )
        .bind(customer_id)
        .fetch_all(&self.read)
        .await?;
        let recent_contacts = contacts
            .iter()
            .map(|r| {
                Ok(ContactItem {
                    kind: if get::<&str>(r, "kind")? == "ticket" { ContactKind::Ticket } else { ContactKind::Call },
                    id: get(r, "id")?,
                    ticket_id: get(r, "ticket_id")?,
                    channel: get::<&str>(r, "channel")?.parse()?,
                    title: get(r, "title")?,
                    state: get(r, "state")?,
                    at: get(r, "at")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let orders = sqlx::query("SELECT * FROM orders WHERE customer_id = ? ORDER BY created_at DESC LIMIT 50")
            .bind(customer_id)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| {
                Ok(OrderView {
                    id: get(r, "id")?,
                    number: get(r, "number")?,
                    status: get::<&str>(r, "status")?.parse()?,
                    total_cents: get(r, "total_cents")?,
                    currency: get(r, "currency")?,
                    items: get(r, "items")?,
                    created_at: get(r, "created_at")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(CustomerCard {
            id: get(&row, "id")?,
            name: get(&row, "name")?,
            company: get(&row, "company")?,
            tier: get::<&str>(&row, "tier")?.parse()?,
            tags: serde_json::from_str(get::<&str>(&row, "tags")?)?,
            identities,
            created_at: get(&row, "created_at")?,
            stats,
            recent_contacts,
            orders,
        })
    }

    /// Customers whose phone matches `number` by its digits (caller-ID screen pop).
    pub async fn customers_by_phone(&self, number: &str) -> Result<Vec<String>, StoreError> {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        if digits.len() < 5 {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_scalar("SELECT customer_id FROM customer_identities WHERE kind = 'phone' AND normalized = ?")
            .bind(digits)
            .fetch_all(&self.read)
            .await?)
    }

    /// Caller ID: the customer the number belongs to (the most recently active if several share
    /// it), with their open tickets newest first; `None` for an unknown number.
    pub async fn caller_match(&self, number: &str) -> Result<Option<CallerMatch>, StoreError> {
        let ids = self.customers_by_phone(number).await?;
        if ids.is_empty() {
            return Ok(None);
        }
        let mut best: Option<(String, String, Millis)> = None;
        for id in ids {
            let row = sqlx::query(
                "SELECT c.id, c.name, coalesce((SELECT max(updated_at) FROM tickets WHERE customer_id = c.id), 0) AS active \
                 FROM customers c WHERE c.id = ?",
            )
            .bind(&id)
            .fetch_optional(&self.read)
            .await?;
            if let Some(row) = row {
                let active: Millis = get(&row, "active")?;
                if best.as_ref().is_none_or(|b| active > b.2) {
                    best = Some((get(&row, "id")?, get(&row, "name")?, active));
                }
            }
        }
        let Some((customer_id, name, _)) = best else { return Ok(None) };
        let open_tickets = self.open_tickets_of(&customer_id).await?;
        Ok(Some(CallerMatch { customer_id, name, open_tickets }))
    }

    /// The screen pop of a website call: the customer of the visitor's chat ticket, that ticket
    /// first, then their other open ones; `None` when this desk does not hold the ticket (or it
    /// has no customer), and the caller is then looked up by number.
    pub async fn caller_by_ticket(&self, ticket_id: &str) -> Result<Option<CallerMatch>, StoreError> {
        let row = sqlx::query(
            "SELECT t.id, t.subject, c.id AS customer_id, c.name FROM tickets t JOIN customers c ON c.id = t.customer_id \
             WHERE t.id = ?",
        )
        .bind(ticket_id)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let chat = TicketRef { id: get(&row, "id")?, subject: get(&row, "subject")? };
        let customer_id: String = get(&row, "customer_id")?;
        let mut open_tickets = vec![chat];
        open_tickets.extend(self.open_tickets_of(&customer_id).await?.into_iter().filter(|t| t.id != ticket_id));
        Ok(Some(CallerMatch { customer_id, name: get(&row, "name")?, open_tickets }))
    }

    async fn open_tickets_of(&self, customer_id: &str) -> Result<Vec<TicketRef>, StoreError> {
        sqlx::query(
            "SELECT id, subject FROM tickets WHERE customer_id = ? AND status NOT IN ('resolved', 'closed') \
             ORDER BY updated_at DESC LIMIT 10",
        )
        .bind(customer_id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| Ok(TicketRef { id: get(r, "id")?, subject: get(r, "subject")? }))
        .collect()
    }

    /// The latest calls, newest first, with the customer's name (the call history).
    pub async fn recent_calls(&self, limit: u32) -> Result<Vec<RecentCall>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CALL_COLUMNS}, cu.name AS customer_name FROM calls k {CALL_JOINS} \
             LEFT JOIN customers cu ON cu.id = k.customer_id ORDER BY k.started_at DESC LIMIT ?"
        )))
        .bind(i64::from(limit.min(1000)))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| Ok(RecentCall { call: call_view(r)?, customer_name: get(r, "customer_name")? })).collect()
    }

    /// The signed-in account's notices, newest first, and how many are not seen yet.
    pub async fn notices(&self, limit: u32) -> Result<NoticeList, StoreError> {
        type NoticeRow = (String, String, String, i64, String, String, i64, bool);
        let rows: Vec<NoticeRow> = sqlx::query_as(
            "SELECT id, kind, ticket_id, number, by_name, excerpt, at, seen FROM notices ORDER BY at DESC, id LIMIT ?",
        )
        .bind(i64::from(limit.min(1000)))
        .fetch_all(&self.read)
        .await?;
        let unseen: i64 =
            sqlx::query_scalar("SELECT count(*) FROM notices WHERE seen = 0").fetch_one(&self.read).await?;
        let notices = rows
            .into_iter()
            .map(|(id, kind, ticket_id, number, by, excerpt, at, seen)| NoticeView {
                id,
                kind,
                ticket_id,
                number: u32::try_from(number).unwrap_or(0),
                by,
                excerpt,
                at,
                seen,
            })
            .collect();
        Ok(NoticeList { notices, unseen: u32::try_from(unseen).unwrap_or(0) })
    }

    /// Every notice counts as seen (the operator opened the list).
    pub async fn mark_notices_seen(&self) -> Result<(), StoreError> {
        sqlx::query("UPDATE notices SET seen = 1 WHERE seen = 0").execute(&self.write).await?;
        Ok(())
    }

    pub async fn stats(&self) -> Result<StoreStats, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM tickets) AS tickets, (SELECT count(*) FROM messages) AS messages, \
               (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM calls) AS calls, \
               (SELECT count(*) FROM outbox) AS outbox",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(StoreStats {
            tickets: row.try_get::<i64, _>("tickets")? as u32,
            messages: row.try_get::<i64, _>("messages")? as u32,
            customers: row.try_get::<i64, _>("customers")? as u32,
            calls: row.try_get::<i64, _>("calls")? as u32,
            outbox_pending: row.try_get::<i64, _>("outbox")? as u32,
        })
    }
}
