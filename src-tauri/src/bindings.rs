//! Generates `ui/src/lib/backend/bindings.ts`: every type the UI receives, the `Backend`
//! interface, and its Tauri implementation, from the Rust types and one table of command
//! signatures. A test fails when the committed file drifts; `OKNO_BLESS=1` rewrites it
//! (`cargo xtask bindings`).

#![cfg_attr(not(test), allow(dead_code))]

use ts_rs::{Config, TS};

use crate::commands::AppInfo;
use crate::error::{ErrorCode, UiError};
use crate::sync::{Connection, FirstSync, RejectionView, SyncStatus};
use okno_core::*;
use okno_store::views::*;

/// A command as the UI sees it.
struct Command {
    /// The Rust function name, which is also the name passed to `invoke`.
    name: &'static str,
    doc: &'static str,
    /// (name in the Rust signature, TypeScript type)
    params: Vec<(&'static str, String)>,
    returns: String,
}

macro_rules! commands {
    ($cfg:ident; $($(#[doc = $doc:literal])? $name:ident($($param:ident: $ty:ty),*) -> $ret:ty;)*) => {
        vec![$(Command {
            name: stringify!($name),
            doc: concat!($($doc)?),
            params: vec![$((stringify!($param), <$ty as TS>::name(&$cfg))),*],
            returns: <$ret as TS>::name(&$cfg),
        }),*]
    };
}

fn command_table(cfg: &Config) -> Vec<Command> {
    commands! { cfg;
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
        reply_ticket(ticket_id: String, body: String, internal: bool) -> TicketDetail;
        set_ticket_status(ticket_id: String, status: TicketStatus) -> TicketRow;
        assign_ticket(ticket_id: String, assignee_id: Option<String>) -> TicketRow;
        set_ticket_tags(ticket_id: String, tags: Vec<String>) -> TicketRow;
        get_customer(customer_id: String) -> CustomerCard;
        search(query: String, limit: u32) -> SearchResults;
        /// Tells the app the first inbox page is on screen (the cold-start measurement).
        ui_ready() -> ();
        /// Where sync with the server stands (also sent as the "sync" event).
        sync_status() -> SyncStatus;
    }
}

fn camel(snake: &str) -> String {
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

fn decl<T: TS>(cfg: &Config, out: &mut String) {
    if let Some(docs) = T::docs() {
        out.push_str(&docs);
    }
    out.push_str("export ");
    out.push_str(&T::decl(cfg));
    out.push('\n');
}

/// The whole generated TypeScript file.
pub(crate) fn typescript() -> String {
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from the Rust types by src-tauri/src/bindings.rs (`cargo xtask bindings`). Do not edit.\n\n",
    );
    macro_rules! decls { ($($t:ty),* $(,)?) => { $(decl::<$t>(&cfg, &mut out);)* }; }
    decls!(
        Channel,
        TicketStatus,
        Priority,
        AgentState,
        Role,
        MessageDirection,
        CallDirection,
        CallOutcome,
        IdentityKind,
        CustomerTier,
        OrderStatus,
        Identity,
        QueueSummary,
        OperatorView,
        AssigneeFilter,
        TicketSort,
        TicketFilter,
        TicketPage,
        TicketRow,
        TicketDetail,
        TimelineItem,
        Attachment,
        MessageView,
        CallView,
        CustomerCard,
        CustomerStats,
        ContactKind,
        ContactItem,
        OrderView,
        SearchKind,
        SearchHit,
        SearchResults,
        StoreStats,
        AppInfo,
        Connection,
        FirstSync,
        RejectionView,
        SyncStatus,
        UiError,
        ErrorCode,
    );
    let commands = command_table(&cfg);
    out.push_str("\n/** What the window can ask of the app. */\nexport interface Backend {\n");
    for c in &commands {
        if !c.doc.is_empty() {
            out.push_str(&format!("  /**{} */\n", c.doc));
        }
        let params: Vec<String> = c.params.iter().map(|(n, t)| format!("{}: {t}", camel(n))).collect();
        let ret = if c.returns == "null" { "void".to_owned() } else { c.returns.clone() };
        out.push_str(&format!("  {}({}): Promise<{ret}>;\n", camel(c.name), params.join(", ")));
    }
    out.push_str("}\n\nexport type InvokeFn = <T>(cmd: string, args?: Record<string, unknown>) => Promise<T>;\n\n");
    out.push_str("/** The Backend over Tauri's `invoke` (arguments are passed in camelCase, as Tauri expects). */\n");
    out.push_str("export function createTauriBackend(invoke: InvokeFn): Backend {\n  return {\n");
    for c in &commands {
        let names: Vec<String> = c.params.iter().map(|(n, _)| camel(n)).collect();
        let args = if names.is_empty() { String::new() } else { format!(", {{ {} }}", names.join(", ")) };
        out.push_str(&format!("    {}: ({}) => invoke(\"{}\"{args}),\n", camel(c.name), names.join(", "), c.name));
    }
    out.push_str("  };\n}\n");
    out
}

/// The softphone's types, generated into `ui/src/lib/softphone/bindings.ts`; the window's
/// `PhoneBackend` interface (`contract.ts`) is written against them.
pub(crate) fn typescript_phone() -> String {
    use okno_softphone::*;
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from okno-softphone's types by src-tauri/src/bindings.rs (`cargo xtask bindings`). Do not edit.\n\n\
         import type { CallDirection, CallOutcome } from \"../backend/bindings\";\n\n",
    );
    macro_rules! decls { ($($t:ty),* $(,)?) => { $(decl::<$t>(&cfg, &mut out);)* }; }
    decls!(
        RegistrationState,
        SipTransport,
        SipAccount,
        SipAccountInput,
        AccountStatus,
        CallPhase,
        RecordingState,
        LiveQuality,
        TicketRef,
        TransferPhase,
        TransferView,
        PhoneCall,
        WrapUpView,
        PhoneSnapshot,
        DispositionNode,
        TicketLink,
        CallHistoryEntry,
        AudioDevice,
        AudioDevices,
        TransferTarget,
    );
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    fn committed() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/backend/bindings.ts")
    }

    #[test]
    fn committed_bindings_match_the_rust_types() {
        let generated = super::typescript();
        let path = committed();
        if std::env::var_os("OKNO_BLESS").is_some() {
            std::fs::write(&path, &generated).expect("write bindings.ts");
            return;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "ui/src/lib/backend/bindings.ts is out of date with the Rust types: run `cargo xtask bindings`"
        );
    }

    #[test]
    fn committed_phone_bindings_match_the_rust_types() {
        let generated = super::typescript_phone();
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/softphone/bindings.ts");
        if std::env::var_os("OKNO_BLESS").is_some() {
            std::fs::write(&path, &generated).expect("write softphone/bindings.ts");
            return;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "ui/src/lib/softphone/bindings.ts is out of date with okno-softphone's types: run `cargo xtask bindings`"
        );
    }

    #[test]
    fn every_command_is_in_the_interface() {
        let ts = super::typescript();
        for name in [
            "listTickets(filter: TicketFilter): Promise<TicketPage>",
            "setAgentState(agentState: AgentState)",
            "uiReady(): Promise<void>",
        ] {
            assert!(ts.contains(name), "missing {name}");
        }
    }
}
