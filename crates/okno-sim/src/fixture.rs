//! The call center a run works in, written straight to the server's PostgreSQL: two queues,
//! one operator account per simulated desktop (granted both queues), a few tickets to fight
//! over, and an access token per account (issued directly: the sign-in's deliberately slow
//! password hash would only slow the run down).
//!
//! Ids carry a run tag, so runs can share a database; the checks only look at this run's rows.

use anyhow::Context;
use okno_core::{Channel, CustomerTier, Priority, Role};
use okno_server::admin::{self, NewCustomer, NewTicket};
use okno_server::{Caller, auth};
use sqlx::PgPool;

#[derive(Debug, Clone)]
pub struct Fixture {
    pub tag: String,
    pub queues: Vec<String>,
    pub tickets: Vec<String>,
    /// (operator id, access token), one per client.
    pub operators: Vec<(String, String)>,
}

pub async fn create(pool: &PgPool, seed: u64, clients: usize, tickets: usize) -> anyhow::Result<Fixture> {
    // The seed names the run for people reading the database; the nonce keeps reruns apart.
    let nonce = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let tag = format!("sim{seed}-{:x}", nonce ^ u128::from(std::process::id()));
    let dept = format!("{tag}-d");
    admin::create_department(pool, &dept, "Simulated").await.context("fixture: department")?;
    let queues = vec![format!("{tag}-q1"), format!("{tag}-q2")];
    admin::create_queue(pool, &queues[0], "Sim hotline", Channel::Phone, &dept).await?;
    admin::create_queue(pool, &queues[1], "Sim chat", Channel::Chat, &dept).await?;
    let customer = NewCustomer {
        id: format!("{tag}-c"),
        name: "Simulated customer".into(),
        company: None,
        tier: CustomerTier::Standard,
        identities: vec![],
        created_at: 0,
    };
    admin::create_customer(pool, &customer).await?;
    let first_number: i64 =
        sqlx::query_scalar("SELECT COALESCE(max(number), 0) + 1 FROM tickets").fetch_one(pool).await?;
    let mut ticket_ids = Vec::new();
    for k in 0..tickets {
        let ticket = NewTicket {
            id: format!("{tag}-t{k}"),
            number: first_number + k as i64,
            subject: format!("Simulated ticket {k}"),
            customer_id: customer.id.clone(),
            channel: Channel::Phone,
            priority: Priority::Normal,
            queue_id: queues[k % queues.len()].clone(),
            created_at: 0,
        };
        admin::create_ticket(pool, &ticket).await?;
        ticket_ids.push(ticket.id);
    }
    let mut operators = Vec::new();
    for i in 0..clients {
        let id = format!("{tag}-op{i}");
        admin::create_operator(pool, &id, &id, Role::Operator, None).await?;
        for q in &queues {
            admin::grant_queue(pool, &id, q).await?;
        }
        let caller = Caller { id: id.clone(), name: id.clone(), role: Role::Operator, session_id: None };
        let token = auth::issue_tokens(pool, caller).await.map_err(|e| anyhow::anyhow!("fixture: token: {e}"))?;
        operators.push((id, token.access_token));
    }
    Ok(Fixture { tag, queues, tickets: ticket_ids, operators })
}
