//! What the UI can ask of the app. Each operation is a method on [`AppState`] that calls the
//! store and maps its result; the Tauri commands and the HTTP bridge (`--serve-http`) both
//! call these, so the window and a browser see exactly the same behaviour.

use std::time::Instant;

use okno_core::{AgentState, Mutation, TicketStatus, new_id};
use okno_store::Store;
use okno_store::views::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tauri::State;
use ts_rs::TS;

use crate::error::{ErrorCode, UiError};

pub(crate) struct AppState {
    pub(crate) store: Store,
    pub(crate) demo: bool,
    pub(crate) started: Instant,
    /// The softphone; `None` only if it failed to start (the inbox works without it).
    pub(crate) phone: Option<std::sync::Arc<crate::phone::PhoneService>>,
    pub(crate) sync: std::sync::Arc<crate::sync::SyncService>,
}

type Result<T> = std::result::Result<T, UiError>;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// What the status bar and the first paint need to know about this run.
#[derive(Debug, Clone, Serialize, TS)]
pub(crate) struct AppInfo {
    pub(crate) version: String,
    pub(crate) db_path: String,
    pub(crate) demo: bool,
    pub(crate) stats: StoreStats,
}

impl AppState {
    async fn app_info(&self) -> Result<AppInfo> {
        Ok(AppInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            db_path: self.store.path().display().to_string(),
            demo: self.demo,
            stats: self.store.stats().await?,
        })
    }

    async fn set_agent_state(&self, agent_state: AgentState) -> Result<OperatorView> {
        let me = self.store.me().await?;
        self.store.apply(Mutation::SetAgentState { operator_id: me.id, state: agent_state, at: now_ms() }).await?;
        Ok(self.store.me().await?)
    }

    async fn get_ticket(&self, ticket_id: String) -> Result<TicketDetail> {
        self.store.mark_read(&ticket_id).await?;
        Ok(self.store.ticket_detail(&ticket_id).await?)
    }

    async fn reply_ticket(&self, ticket_id: String, body: String, internal: bool) -> Result<TicketDetail> {
        let mutation =
            Mutation::ReplyTicket { ticket_id: ticket_id.clone(), message_id: new_id(), body, internal, at: now_ms() };
        self.store.apply(mutation).await?;
        Ok(self.store.ticket_detail(&ticket_id).await?)
    }

    async fn set_ticket_status(&self, ticket_id: String, status: TicketStatus) -> Result<TicketRow> {
        self.store.apply(Mutation::SetTicketStatus { ticket_id: ticket_id.clone(), status, at: now_ms() }).await?;
        Ok(self.store.ticket_row(&ticket_id).await?)
    }

    async fn assign_ticket(&self, ticket_id: String, assignee_id: Option<String>) -> Result<TicketRow> {
        self.store.apply(Mutation::AssignTicket { ticket_id: ticket_id.clone(), assignee_id, at: now_ms() }).await?;
        Ok(self.store.ticket_row(&ticket_id).await?)
    }

    async fn set_ticket_tags(&self, ticket_id: String, tags: Vec<String>) -> Result<TicketRow> {
        self.store.apply(Mutation::SetTicketTags { ticket_id: ticket_id.clone(), tags, at: now_ms() }).await?;
        Ok(self.store.ticket_row(&ticket_id).await?)
    }

    async fn search(&self, query: String, limit: u32) -> Result<SearchResults> {
        let started = Instant::now();
        let results = self.store.search(&query, limit).await?;
        tracing::debug!(elapsed_us = started.elapsed().as_micros() as u64, "search");
        Ok(results)
    }

    fn ui_ready(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        tracing::info!(first_paint_ms = ms, "first inbox painted");
    }

    /// Run a command by name with camelCase JSON arguments, as `invoke` sends them.
    pub(crate) async fn dispatch(&self, command: &str, args: &Value) -> Result<Value> {
        fn arg<T: DeserializeOwned>(args: &Value, name: &str) -> Result<T> {
            serde_json::from_value(args.get(name).cloned().unwrap_or(Value::Null))
                .map_err(|e| UiError { code: ErrorCode::InvalidInput, message: format!("argument {name}: {e}") })
        }
        fn json<T: Serialize>(value: T) -> Result<Value> {
            serde_json::to_value(value).map_err(|e| UiError { code: ErrorCode::Internal, message: e.to_string() })
        }
        if let Some(result) = crate::phone::dispatch(self.phone.as_ref(), command, args).await {
            return result;
        }
        let s = &self.store;
        match command {
            "app_info" => json(self.app_info().await?),
            "store_stats" => json(s.stats().await?),
            "list_queues" => json(s.list_queues().await?),
            "list_operators" => json(s.list_operators().await?),
            "me" => json(s.me().await?),
            "set_agent_state" => json(self.set_agent_state(arg(args, "agentState")?).await?),
            "list_tickets" => json(s.list_tickets(&arg(args, "filter")?).await?),
            "list_tags" => json(s.list_tags().await?),
            "get_ticket" => json(self.get_ticket(arg(args, "ticketId")?).await?),
            "reply_ticket" => {
                json(self.reply_ticket(arg(args, "ticketId")?, arg(args, "body")?, arg(args, "internal")?).await?)
            }
            "set_ticket_status" => json(self.set_ticket_status(arg(args, "ticketId")?, arg(args, "status")?).await?),
            "assign_ticket" => json(self.assign_ticket(arg(args, "ticketId")?, arg(args, "assigneeId")?).await?),
            "set_ticket_tags" => json(self.set_ticket_tags(arg(args, "ticketId")?, arg(args, "tags")?).await?),
            "get_customer" => json(s.customer_card(&arg::<String>(args, "customerId")?).await?),
            "search" => json(self.search(arg(args, "query")?, arg(args, "limit")?).await?),
            "sync_status" => json(self.sync.status()),
            "ui_ready" => {
                self.ui_ready();
                Ok(Value::Null)
            }
            other => Err(UiError { code: ErrorCode::NotFound, message: format!("no command {other:?}") }),
        }
    }
}

// The Tauri commands: one line each over the methods above.

#[tauri::command]
pub(crate) async fn app_info(state: State<'_, AppState>) -> Result<AppInfo> {
    state.app_info().await
}

#[tauri::command]
pub(crate) async fn store_stats(state: State<'_, AppState>) -> Result<StoreStats> {
    Ok(state.store.stats().await?)
}

#[tauri::command]
pub(crate) async fn list_queues(state: State<'_, AppState>) -> Result<Vec<QueueSummary>> {
    Ok(state.store.list_queues().await?)
}

#[tauri::command]
pub(crate) async fn list_operators(state: State<'_, AppState>) -> Result<Vec<OperatorView>> {
    Ok(state.store.list_operators().await?)
}

#[tauri::command]
pub(crate) async fn me(state: State<'_, AppState>) -> Result<OperatorView> {
    Ok(state.store.me().await?)
}

#[tauri::command]
pub(crate) async fn set_agent_state(state: State<'_, AppState>, agent_state: AgentState) -> Result<OperatorView> {
    state.set_agent_state(agent_state).await
}

#[tauri::command]
pub(crate) async fn list_tickets(state: State<'_, AppState>, filter: TicketFilter) -> Result<TicketPage> {
    Ok(state.store.list_tickets(&filter).await?)
}

#[tauri::command]
pub(crate) async fn list_tags(state: State<'_, AppState>) -> Result<Vec<String>> {
    Ok(state.store.list_tags().await?)
}

#[tauri::command]
pub(crate) async fn get_ticket(state: State<'_, AppState>, ticket_id: String) -> Result<TicketDetail> {
    state.get_ticket(ticket_id).await
}

#[tauri::command]
pub(crate) async fn reply_ticket(
    state: State<'_, AppState>,
    ticket_id: String,
    body: String,
    internal: bool,
) -> Result<TicketDetail> {
    state.reply_ticket(ticket_id, body, internal).await
}

#[tauri::command]
pub(crate) async fn set_ticket_status(
    state: State<'_, AppState>,
    ticket_id: String,
    status: TicketStatus,
) -> Result<TicketRow> {
    state.set_ticket_status(ticket_id, status).await
}

#[tauri::command]
pub(crate) async fn assign_ticket(
    state: State<'_, AppState>,
    ticket_id: String,
    assignee_id: Option<String>,
) -> Result<TicketRow> {
    state.assign_ticket(ticket_id, assignee_id).await
}

#[tauri::command]
pub(crate) async fn set_ticket_tags(
    state: State<'_, AppState>,
    ticket_id: String,
    tags: Vec<String>,
) -> Result<TicketRow> {
    state.set_ticket_tags(ticket_id, tags).await
}

#[tauri::command]
pub(crate) async fn get_customer(state: State<'_, AppState>, customer_id: String) -> Result<CustomerCard> {
    Ok(state.store.customer_card(&customer_id).await?)
}

#[tauri::command]
pub(crate) async fn search(state: State<'_, AppState>, query: String, limit: u32) -> Result<SearchResults> {
    state.search(query, limit).await
}

/// The UI calls this once the first inbox page is painted: the cold-start figure.
#[tauri::command]
pub(crate) fn ui_ready(state: State<'_, AppState>) {
    state.ui_ready();
}

/// Every softphone command, by name: one entry point shared with the HTTP bridge.
#[tauri::command]
pub(crate) async fn phone_invoke(state: State<'_, AppState>, command: String, args: Value) -> Result<Value> {
    state.dispatch(&command, &args).await
}
