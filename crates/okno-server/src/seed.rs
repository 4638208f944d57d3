//! `okno-server seed --demo`: a small center to try the desktop against — one department, two
//! queues (and an empty one for the website chat), two operators who can sign in, customers and open tickets with a first message —
//! written through [`crate::admin`] so every row is in the changelog like real intake.

use anyhow::Context;
use okno_core::{Channel, CustomerTier, Identity, IdentityKind, Priority, Role, new_id};
use sqlx::PgPool;

use crate::admin::{self, NewCustomer, NewTicket};
use crate::changelog::{self, NewChange, queue_bucket};

/// What to create.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub tickets: usize,
    /// (operator name, password); operators without one get a generated password.
    pub passwords: Vec<(String, String)>,
    pub now: okno_core::Millis,
}

/// The accounts the seed creates, with their roles; each one's id is also its sign-in name.
/// `lena` is a team lead (she assigns tickets to others and watches the wallboard).
pub const OPERATORS: [(&str, Role); 3] =
    [("anna", Role::Operator), ("boris", Role::Operator), ("lena", Role::TeamLead)];
pub const QUEUES: [(&str, &str, Channel); 2] =
    [("hotline", "Hotline", Channel::Phone), ("email", "Email", Channel::Email)];
/// The website chat's queue (`queue = "chat"` in a `[[chat]]` table); it starts empty.
pub const CHAT_QUEUE: (&str, &str, Channel) = ("chat", "Web chat", Channel::Chat);

const SUBJECTS: [&str; 8] = [
    "Where is my order?",
    "Refund for a damaged parcel",
    "Не приходит код подтверждения",
    "Change the delivery address",
    "Вернуть деньги за заказ",
    "Invoice for last month",
    "Курьер не приехал",
    "Cannot sign in to my account",
];
const NAMES: [&str; 6] = ["Olga Petrova", "John Carter", "Иван Кузнецов", "Maria Garcia", "Светлана Орлова", "Li Wei"];

/// Fill an empty database; returns each operator's name and password (to print).
pub async fn seed(pool: &PgPool, options: &SeedOptions) -> anyhow::Result<Vec<(String, String)>> {
    admin::create_department(pool, "support", "Customer support").await.context("is the database empty?")?;
    for (id, name, channel) in QUEUES.into_iter().chain([CHAT_QUEUE]) {
        admin::create_queue(pool, id, name, channel, "support").await?;
    }
    let mut credentials = Vec::new();
    for (id, role) in OPERATORS {
        let password = match options.passwords.iter().find(|(n, _)| n == id) {
            Some((_, p)) => p.clone(),
            None => {
                let mut bytes = [0u8; 9];
                getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
                hex::encode(bytes)
            }
        };
        admin::create_operator(pool, id, id, role, Some(&password)).await?;
        for (queue, _, _) in QUEUES.into_iter().chain([CHAT_QUEUE]) {
            admin::grant_queue(pool, id, queue).await?;
        }
        credentials.push((id.to_owned(), password));
    }
    let customers: Vec<String> = (0..NAMES.len().min(options.tickets.max(1))).map(|_| new_id()).collect();
    for (i, id) in customers.iter().enumerate() {
        let customer = NewCustomer {
            id: id.clone(),
            name: NAMES[i].to_owned(),
            company: None,
            tier: if i % 3 == 0 { CustomerTier::Premium } else { CustomerTier::Standard },
            identities: vec![
                Identity { kind: IdentityKind::Phone, value: format!("+7 900 555-{:02}-{:02}", i / 100, i % 100) },
                Identity { kind: IdentityKind::Email, value: format!("customer{i}@example.com") },
            ],
            created_at: options.now - 86_400_000,
        };
        admin::create_customer(pool, &customer).await?;
    }
    for n in 0..options.tickets {
        let (queue_id, _, channel) = QUEUES[n % QUEUES.len()];
        let at = options.now - ((options.tickets - n) as i64) * 60_000;
        let ticket = NewTicket {
            id: new_id(),
            number: 1000 + n as i64,
            subject: SUBJECTS[n % SUBJECTS.len()].to_owned(),
            customer_id: customers[n % customers.len()].clone(),
            channel,
            priority: if n % 5 == 0 { Priority::High } else { Priority::Normal },
            queue_id: queue_id.to_owned(),
            created_at: at,
        };
        admin::create_ticket(pool, &ticket).await?;
        let author = NAMES[n % customers.len()];
        inbound_message(pool, &ticket, author, &format!("{} (#{})", ticket.subject, ticket.number)).await?;
    }
    Ok(credentials)
}

/// The customer's first message on a seeded ticket, as intake would record it.
async fn inbound_message(pool: &PgPool, t: &NewTicket, author: &str, body: &str) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let message: serde_json::Value = sqlx::query_scalar(
        "INSERT INTO messages (id, ticket_id, channel, direction, author_name, body, created_at) \
         VALUES ($1, $2, $3, 'inbound', $4, $5, $6) RETURNING to_jsonb(messages.*)",
    )
    .bind(new_id())
    .bind(&t.id)
    .bind(t.channel.as_str())
    .bind(author)
    .bind(body)
    .bind(t.created_at)
    .fetch_one(&mut *tx)
    .await?;
    let ticket: serde_json::Value = sqlx::query_scalar(
        "UPDATE tickets SET preview = $2, message_count = message_count + 1 WHERE id = $1 RETURNING to_jsonb(tickets.*)",
    )
    .bind(&t.id)
    .bind(body.chars().take(140).collect::<String>())
    .fetch_one(&mut *tx)
    .await?;
    let bucket = queue_bucket(&t.queue_id);
    let id = message["id"].as_str().unwrap_or_default().to_owned();
    let changes = [
        NewChange { bucket: bucket.clone(), entity: "message", id, op: okno_sync::Op::Upsert, data: message },
        NewChange { bucket, entity: "ticket", id: t.id.clone(), op: okno_sync::Op::Upsert, data: ticket },
    ];
    changelog::append_and_commit(tx, &changes).await?;
    Ok(())
}
