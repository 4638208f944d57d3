//! The command table: every command the window (Tauri's `invoke`) and the HTTP bridge can call,
//! declared once with typed arguments and results.
//!
//! From the one [`command_table!`] invocation below come: [`COMMAND_NAMES`] (the shell's invoke
//! handler answers exactly these), [`Desk::dispatch`] (run a command by name with the camelCase
//! JSON arguments `invoke` sends; the window and the bridge both use it), and the signatures
//! that `bindings.rs` turns into the TypeScript `Backend` and `PhoneCommands` interfaces and
//! their `invoke` wrappers. Each entry names a method of [`Desk`] with the same name and
//! parameters, so a command whose method does not exist, or whose types differ, does not compile.
//!
//! Invariant: a command exists in the UI exactly when it has a line in the table.

use std::time::Instant;

use okno_acd::wire::WallboardView;
use okno_core::{AgentState, AttachmentRef, Mutation, TicketStatus, new_id};
use okno_rules::wire::{
    CsatView, DryRunReport, Followers, People, RenderedTemplate, RuleSetView, SlaPolicies, TemplateList,
};
use okno_rules::{CsatSettings, Rule, SlaPolicySpec, Template};
use okno_softphone::{
    AudioDevices, CallHistoryEntry, DispositionNode, PhoneCall, PhoneSnapshot, SipAccount, SipAccountInput, TicketLink,
    TransferTarget,
};
use okno_store::views::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use ts_rs::TS;

use crate::error::{ErrorCode, UiError};
use crate::phone::PhoneService;
use crate::sync::{RejectionView, SyncStatus};
use crate::{Desk, now_ms};

type Result<T> = std::result::Result<T, UiError>;

/// Which generated interface a command belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    /// `Backend`: the inbox, tickets, customers, search, sync.
    Desk,
    /// `PhoneCommands`: the softphone.
    Phone,
}

/// A command as the generated TypeScript sees it.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct CommandSignature {
    /// The Rust method's name, which is also the name passed to `invoke`.
    pub(crate) name: &'static str,
    pub(crate) group: Group,
    pub(crate) doc: &'static str,
    /// (name in the Rust signature, TypeScript type)
    pub(crate) params: Vec<(&'static str, String)>,
    pub(crate) returns: String,
}

macro_rules! command_table {
    ($($group:ident { $($(#[doc = $doc:literal])* $name:ident($($param:ident: $ty:ty),*) -> $ret:ty;)* })*) => {
        /// Every command's name, as `invoke` sends it.
        pub const COMMAND_NAMES: &[&str] = &[$($(stringify!($name)),*),*];

        impl Desk {
            /// Run a command by name with camelCase JSON arguments, as `invoke` sends them.
            pub async fn dispatch(&self, command: &str, args: &Value) -> Result<Value> {
                match command {
                    $($(stringify!($name) => {
                        $(let $param: $ty = arg(args, stringify!($param))?;)*
                        let result: $ret = self.$name($($param),*).await?;
                        json(result)
                    })*)*
                    other => Err(UiError::new(ErrorCode::NotFound, format!("no command {other:?}"))),
                }
            }
        }

        #[cfg_attr(not(test), allow(dead_code))]
        pub(crate) fn command_signatures(cfg: &ts_rs::Config) -> Vec<CommandSignature> {
            vec![$($(CommandSignature {
                name: stringify!($name),
                group: Group::$group,
                doc: concat!($($doc),*),
                params: vec![$((stringify!($param), <$ty as TS>::name(cfg))),*],
                returns: <$ret as TS>::name(cfg),
            }),*),*]
        }
    };
}

command_table! {
    Desk {
        app_info() -> AppInfo;
        store_stats() -> StoreStats;
        list_queues() -> Vec<QueueSummary>;
        list_operators() -> Vec<OperatorView>;
        me() -> OperatorView;
        set_agent_state(agent_state: AgentState) -> OperatorView;
        list_tickets(filter: TicketFilter) -> TicketPage;
        list_tags() -> Vec<String>;
        /// Also marks the ticket read.
        get_ticket(ticket_id: String) -> TicketDetail;
        /// `cc` and `attachments`: on an email ticket, addresses that also get the reply and files
        /// sent with it (each uploaded first with `upload_attachment`).
        reply_ticket(ticket_id: String, body: String, internal: bool, cc: Vec<String>, attachments: Vec<AttachmentRef>) -> TicketDetail;
        set_ticket_status(ticket_id: String, status: TicketStatus) -> TicketRow;
        assign_ticket(ticket_id: String, assignee_id: Option<String>) -> TicketRow;
        set_ticket_tags(ticket_id: String, tags: Vec<String>) -> TicketRow;
        get_customer(customer_id: String) -> CustomerCard;
        search(query: String, limit: u32) -> SearchResults;
        /// Tells the app the first inbox page is on screen (the cold-start measurement).
        ui_ready() -> ();
        /// Where sync with the server stands (also sent as the "sync" event).
        sync_status() -> SyncStatus;
        /// The local writes the server refused (rolled back here), newest first.
        list_rejections() -> Vec<RejectionView>;
        /// This operator's notices (@mentions, news on followed tickets), newest first.
        list_notices() -> NoticeList;
        /// The operator opened the notices: none is new any more.
        mark_notices_seen() -> NoticeList;
        /// Saves an email attachment from the server into the Downloads folder; returns the path.
        download_attachment(sha256: String, name: String) -> String;
        /// An attachment's bytes from the server, base64-encoded (inline pictures of an email's HTML).
        attachment_data(sha256: String) -> String;
        /// Puts a file (its bytes base64-encoded) on the server to attach to a reply.
        upload_attachment(name: String, mime: String, data_base64: String) -> AttachmentRef;
        /// The operator is typing in a website chat: its visitor sees "typing" (best effort).
        chat_typing(ticket_id: String) -> ();
        /// The center's routing rules, from the server (admins and team leads).
        work_rules() -> RuleSetView;
        /// Saves the whole rule set edited from `version`; a newer version on the server is a conflict.
        save_work_rules(version: i64, rules: Vec<Rule>) -> RuleSetView;
        /// What `rules` would have done to the latest `last` tickets, changing nothing.
        dry_run_rules(rules: Vec<Rule>, last: u32) -> DryRunReport;
        /// Who a note can @mention (the server's accounts; a mentioned one is told and follows the ticket).
        mention_people() -> People;
        /// Who follows a ticket (told of the customer's new messages), and whether this operator does.
        ticket_followers(ticket_id: String) -> Followers;
        /// This operator follows the ticket, or stops.
        follow_ticket(ticket_id: String, follow: bool) -> Followers;
        /// The reply templates this operator may use.
        list_templates() -> TemplateList;
        save_template(template: Template) -> TemplateList;
        delete_template(template_id: String) -> TemplateList;
        /// A template filled in for a ticket, with the variables that had no value.
        render_template(template_id: String, ticket_id: String) -> RenderedTemplate;
        /// Merges `source_id` into `target_id` (one customer's); returns the ticket that holds both now.
        merge_tickets(source_id: String, target_id: String) -> String;
        /// Moves a message out into a new ticket of the same customer; returns the new ticket's id.
        split_message(message_id: String) -> String;
        /// SLA policies and the policy of each queue (admins and team leads).
        sla_policies() -> SlaPolicies;
        save_sla_policy(policy: SlaPolicySpec) -> SlaPolicies;
        set_queue_policy(queue_id: String, policy_id: Option<String>) -> SlaPolicies;
        /// How the center asks for satisfaction marks (admins and team leads).
        csat_settings() -> CsatView;
        save_csat_settings(settings: CsatSettings) -> CsatView;
        /// The team lead's live view: queues (today from `since`, and the last 15 minutes) and agents.
        wallboard(since: i64) -> WallboardView;
        /// A team lead moves a call waiting in the hotline to another queue; the wallboard after.
        wallboard_move(call_id: String, queue_id: String, since: i64) -> WallboardView;
        /// A team lead joins an operator's hotline call from their own desk: `listen`, `whisper` or `barge`.
        wallboard_monitor(call_id: String, mode: String) -> ();
        /// A team lead sets another agent's state (synced; the server refuses it from others).
        set_operator_state(operator_id: String, agent_state: AgentState) -> ();
    }
    Phone {
        /// The phone as it is now (also sent as the "phone" event on every change).
        phone_snapshot() -> PhoneSnapshot;
        phone_dial(number: String, account_id: Option<String>) -> PhoneCall;
        phone_answer(call_id: String) -> ();
        phone_reject(call_id: String, to_queue: bool) -> ();
        phone_hangup(call_id: String) -> ();
        phone_hold(call_id: String, hold: bool) -> ();
        phone_mute(call_id: String, muted: bool) -> ();
        phone_dtmf(call_id: String, digits: String) -> ();
        /// Returns the consult leg when attended.
        phone_transfer(call_id: String, target: TransferTarget, attended: bool) -> Option<PhoneCall>;
        phone_complete_transfer(call_id: String, consult_id: String) -> ();
        phone_conference(call_id: String, consult_id: String) -> ();
        phone_recording(call_id: String, paused: bool) -> ();
        phone_set_note(call_id: String, note: String) -> ();
        phone_wrap_up(call_id: String, disposition_id: String, comment: String, ticket: TicketLink) -> ();
        list_dispositions() -> Vec<DispositionNode>;
        call_history(limit: u32) -> Vec<CallHistoryEntry>;
        mark_calls_seen() -> ();
        list_sip_accounts() -> Vec<SipAccount>;
        save_sip_account(input: SipAccountInput) -> SipAccount;
        delete_sip_account(id: String) -> ();
        /// Codec names this build can negotiate, in the default order.
        sip_codecs() -> Vec<String>;
        audio_devices() -> AudioDevices;
        set_audio_devices(input: Option<String>, output: Option<String>, ring: Option<String>) -> AudioDevices;
    }
}

/// `ticket_id` is sent as `ticketId`, as Tauri's `invoke` names arguments.
pub(crate) fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn arg<T: DeserializeOwned>(args: &Value, name: &str) -> Result<T> {
    let key = camel(name);
    serde_json::from_value(args.get(&key).cloned().unwrap_or(Value::Null))
        .map_err(|e| UiError::new(ErrorCode::InvalidInput, format!("argument {key}: {e}")))
}

/// An attachment is named by the hex SHA-256 of its content; anything else never reaches the server.
fn blob_name(sha256: &str) -> Result<()> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(UiError::new(ErrorCode::InvalidInput, "not an attachment's name"));
    }
    Ok(())
}

fn json<T: Serialize>(value: T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| UiError::new(ErrorCode::Internal, e.to_string()))
}

/// What the status bar and the first paint need to know about this run.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AppInfo {
    pub version: String,
    pub db_path: String,
    pub demo: bool,
    pub stats: StoreStats,
}

// The desk's commands: each calls the store or a service and maps its result.
impl Desk {
    async fn app_info(&self) -> Result<AppInfo> {
        Ok(AppInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            db_path: self.store.path().display().to_string(),
            demo: self.demo,
            stats: self.store.stats().await?,
        })
    }

    async fn store_stats(&self) -> Result<StoreStats> {
        Ok(self.store.stats().await?)
    }

    async fn list_queues(&self) -> Result<Vec<QueueSummary>> {
        Ok(self.store.list_queues().await?)
    }

    async fn list_operators(&self) -> Result<Vec<OperatorView>> {
        Ok(self.store.list_operators().await?)
    }

    async fn me(&self) -> Result<OperatorView> {
        Ok(self.store.me().await?)
    }

    async fn set_agent_state(&self, agent_state: AgentState) -> Result<OperatorView> {
        let me = self.store.me().await?;
        self.set_operator_state(me.id, agent_state).await?;
        Ok(self.store.me().await?)
    }

    async fn list_tickets(&self, filter: TicketFilter) -> Result<TicketPage> {
        Ok(self.store.list_tickets(&filter).await?)
    }

    async fn list_tags(&self) -> Result<Vec<String>> {
        Ok(self.store.list_tags().await?)
    }

    async fn get_ticket(&self, ticket_id: String) -> Result<TicketDetail> {
        self.store.mark_read(&ticket_id).await?;
        Ok(self.store.ticket_detail(&ticket_id).await?)
    }

    async fn reply_ticket(
        &self,
        ticket_id: String,
        body: String,
        internal: bool,
        cc: Vec<String>,
        attachments: Vec<AttachmentRef>,
    ) -> Result<TicketDetail> {
        let mutation = Mutation::ReplyTicket {
            ticket_id: ticket_id.clone(),
            message_id: new_id(),
            body,
            internal,
            at: now_ms(),
            cc,
            attachments,
        };
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

    async fn get_customer(&self, customer_id: String) -> Result<CustomerCard> {
        Ok(self.store.customer_card(&customer_id).await?)
    }

    async fn search(&self, query: String, limit: u32) -> Result<SearchResults> {
        let started = Instant::now();
        let results = self.store.search(&query, limit).await?;
        tracing::debug!(elapsed_us = started.elapsed().as_micros() as u64, "search");
        Ok(results)
    }

    async fn ui_ready(&self) -> Result<()> {
        let ms = self.started.elapsed().as_millis() as u64;
        tracing::info!(first_paint_ms = ms, "first inbox painted");
        Ok(())
    }

    async fn sync_status(&self) -> Result<SyncStatus> {
        Ok(self.sync.status())
    }

    async fn list_rejections(&self) -> Result<Vec<RejectionView>> {
        Ok(self.store.rejections(200).await?.into_iter().map(RejectionView::from).collect())
    }

    async fn list_notices(&self) -> Result<NoticeList> {
        Ok(self.store.notices(100).await?)
    }

    async fn mark_notices_seen(&self) -> Result<NoticeList> {
        self.store.mark_notices_seen().await?;
        Ok(self.store.notices(100).await?)
    }

    async fn attachment_data(&self, sha256: String) -> Result<String> {
        use base64::Engine;
        blob_name(&sha256)?;
        let bytes = self.sync.download_blob(&sha256).await.map_err(|e| UiError::new(ErrorCode::Unavailable, e))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    async fn upload_attachment(&self, name: String, mime: String, data_base64: String) -> Result<AttachmentRef> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data_base64.as_bytes())
            .map_err(|e| UiError::new(ErrorCode::InvalidInput, format!("the file's bytes: {e}")))?;
        if bytes.is_empty() {
            return Err(UiError::new(ErrorCode::InvalidInput, format!("{name} is empty")));
        }
        let mime = if mime.contains('/') { mime } else { "application/octet-stream".to_owned() };
        self.sync.upload_blob(&name, &mime, bytes).await.map_err(|e| UiError::new(ErrorCode::Unavailable, e))
    }

    async fn chat_typing(&self, ticket_id: String) -> Result<()> {
        if let Err(e) = self.sync.operator_typing(&ticket_id).await {
            tracing::debug!(error = %e, "typing not passed on");
        }
        Ok(())
    }

    async fn download_attachment(&self, sha256: String, name: String) -> Result<String> {
        blob_name(&sha256)?;
        let bytes = self.sync.download_blob(&sha256).await.map_err(|e| UiError::new(ErrorCode::Unavailable, e))?;
        let path = crate::downloads::save(&self.data_dir, &name, &bytes)
            .map_err(|e| UiError::new(ErrorCode::Internal, format!("cannot save {name}: {e}")))?;
        Ok(path.display().to_string())
    }
}

// The phone's commands: each forwards to the phone service.
impl Desk {
    fn phone(&self) -> Result<&std::sync::Arc<PhoneService>> {
        self.phone.as_ref().ok_or_else(|| UiError::new(ErrorCode::Internal, "the phone service did not start"))
    }

    async fn phone_snapshot(&self) -> Result<PhoneSnapshot> {
        Ok(self.phone()?.snapshot())
    }

    async fn phone_dial(&self, number: String, account_id: Option<String>) -> Result<PhoneCall> {
        self.phone()?.dial(number, account_id).await
    }

    async fn phone_answer(&self, call_id: String) -> Result<()> {
        self.phone()?.answer(call_id)
    }

    async fn phone_reject(&self, call_id: String, to_queue: bool) -> Result<()> {
        self.phone()?.reject(call_id, to_queue)
    }

    async fn phone_hangup(&self, call_id: String) -> Result<()> {
        self.phone()?.hangup(call_id)
    }

    async fn phone_hold(&self, call_id: String, hold: bool) -> Result<()> {
        self.phone()?.hold(call_id, hold)
    }

    async fn phone_mute(&self, call_id: String, muted: bool) -> Result<()> {
        self.phone()?.mute(call_id, muted)
    }

    async fn phone_dtmf(&self, call_id: String, digits: String) -> Result<()> {
        self.phone()?.dtmf(call_id, digits)
    }

    async fn phone_transfer(
        &self,
        call_id: String,
        target: TransferTarget,
        attended: bool,
    ) -> Result<Option<PhoneCall>> {
        self.phone()?.transfer(call_id, target, attended).await
    }

    async fn phone_complete_transfer(&self, call_id: String, consult_id: String) -> Result<()> {
        self.phone()?.complete_transfer(call_id, consult_id)
    }

    async fn phone_conference(&self, call_id: String, consult_id: String) -> Result<()> {
        self.phone()?.conference(call_id, consult_id)
    }

    async fn phone_recording(&self, call_id: String, paused: bool) -> Result<()> {
        self.phone()?.recording(call_id, paused)
    }

    async fn phone_set_note(&self, call_id: String, note: String) -> Result<()> {
        self.phone()?.set_note(call_id, note)
    }

    async fn phone_wrap_up(
        &self,
        call_id: String,
        disposition_id: String,
        comment: String,
        ticket: TicketLink,
    ) -> Result<()> {
        self.phone()?.wrap_up(call_id, disposition_id, comment, ticket).await
    }

    async fn list_dispositions(&self) -> Result<Vec<DispositionNode>> {
        Ok(self.phone()?.dispositions())
    }

    async fn call_history(&self, limit: u32) -> Result<Vec<CallHistoryEntry>> {
        self.phone()?.history(limit).await
    }

    async fn mark_calls_seen(&self) -> Result<()> {
        self.phone()?.mark_seen().await
    }

    async fn list_sip_accounts(&self) -> Result<Vec<SipAccount>> {
        self.phone()?.list_accounts().await
    }

    async fn save_sip_account(&self, input: SipAccountInput) -> Result<SipAccount> {
        self.phone()?.save_account(input).await
    }

    async fn delete_sip_account(&self, id: String) -> Result<()> {
        self.phone()?.delete_account(id).await
    }

    async fn sip_codecs(&self) -> Result<Vec<String>> {
        Ok(["opus", "PCMU", "PCMA"].map(str::to_owned).to_vec())
    }

    async fn audio_devices(&self) -> Result<AudioDevices> {
        Ok(self.phone()?.audio_devices())
    }

    async fn set_audio_devices(
        &self,
        input: Option<String>,
        output: Option<String>,
        ring: Option<String>,
    ) -> Result<AudioDevices> {
        self.phone()?.set_audio_devices(input, output, ring).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_arguments_are_camel_case() {
        let mut names = COMMAND_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COMMAND_NAMES.len(), "a command is declared twice");
        assert_eq!(camel("consult_id"), "consultId");
        assert_eq!(camel("me"), "me");
    }
}
