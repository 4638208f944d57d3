//! Typed commands the UI invokes. Each one calls the store and maps its result; nothing else.

use std::time::Instant;

use okno_core::{AgentState, Mutation, TicketStatus, new_id};
use okno_store::Store;
use okno_store::views::*;
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

use crate::error::UiError;

pub(crate) struct AppState {
    pub(crate) store: Store,
    pub(crate) demo: bool,
    pub(crate) started: Instant,
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

#[tauri::command]
pub(crate) async fn app_info(state: State<'_, AppState>) -> Result<AppInfo> {
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        db_path: state.store.path().display().to_string(),
        demo: state.demo,
        stats: state.store.stats().await?,
    })
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
    let me = state.store.me().await?;
    state.store.apply(Mutation::SetAgentState { operator_id: me.id, state: agent_state, at: now_ms() }).await?;
    Ok(state.store.me().await?)
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
    state.store.mark_read(&ticket_id).await?;
    Ok(state.store.ticket_detail(&ticket_id).await?)
}

#[tauri::command]
pub(crate) async fn reply_ticket(
    state: State<'_, AppState>,
    ticket_id: String,
    body: String,
    internal: bool,
) -> Result<TicketDetail> {
    let mutation =
        Mutation::ReplyTicket { ticket_id: ticket_id.clone(), message_id: new_id(), body, internal, at: now_ms() };
    state.store.apply(mutation).await?;
    Ok(state.store.ticket_detail(&ticket_id).await?)
}

#[tauri::command]
pub(crate) async fn set_ticket_status(
    state: State<'_, AppState>,
    ticket_id: String,
    status: TicketStatus,
) -> Result<TicketRow> {
    state.store.apply(Mutation::SetTicketStatus { ticket_id: ticket_id.clone(), status, at: now_ms() }).await?;
    Ok(state.store.ticket_row(&ticket_id).await?)
}

#[tauri::command]
pub(crate) async fn assign_ticket(
    state: State<'_, AppState>,
    ticket_id: String,
    assignee_id: Option<String>,
) -> Result<TicketRow> {
    state.store.apply(Mutation::AssignTicket { ticket_id: ticket_id.clone(), assignee_id, at: now_ms() }).await?;
    Ok(state.store.ticket_row(&ticket_id).await?)
}

#[tauri::command]
pub(crate) async fn set_ticket_tags(
    state: State<'_, AppState>,
    ticket_id: String,
    tags: Vec<String>,
) -> Result<TicketRow> {
    state.store.apply(Mutation::SetTicketTags { ticket_id: ticket_id.clone(), tags, at: now_ms() }).await?;
    Ok(state.store.ticket_row(&ticket_id).await?)
}

#[tauri::command]
pub(crate) async fn get_customer(state: State<'_, AppState>, customer_id: String) -> Result<CustomerCard> {
    Ok(state.store.customer_card(&customer_id).await?)
}

#[tauri::command]
pub(crate) async fn search(state: State<'_, AppState>, query: String, limit: u32) -> Result<SearchResults> {
    let started = Instant::now();
    let results = state.store.search(&query, limit).await?;
    tracing::debug!(elapsed_us = started.elapsed().as_micros() as u64, "search");
    Ok(results)
}

/// The UI calls this once the first inbox page is painted: the cold-start figure.
#[tauri::command]
pub(crate) fn ui_ready(state: State<'_, AppState>) {
    let ms = state.started.elapsed().as_millis() as u64;
    tracing::info!(first_paint_ms = ms, "first inbox painted");
}
