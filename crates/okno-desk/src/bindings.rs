//! Generates `ui/src/lib/backend/bindings.ts`: every type the UI receives, the `Backend` and
//! `PhoneCommands` interfaces, and their `invoke` wrappers, from the Rust types and the command
//! table (`commands.rs`). A test fails when the committed file drifts; `OKNO_BLESS=1` rewrites
//! it (`cargo xtask bindings`).

#![cfg_attr(not(test), allow(dead_code))]

use ts_rs::{Config, TS};

use crate::commands::{AppInfo, CommandSignature, Group, camel, command_signatures};
use crate::error::{ErrorCode, UiError};
use crate::sync::{Connection, FirstSync, RejectionView, SyncStatus};
use okno_core::*;
use okno_softphone::*;
use okno_store::views::*;

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
        "// Generated from the Rust types by crates/okno-desk/src/bindings.rs (`cargo xtask bindings`). Do not edit.\n\n",
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
        EmailAddress,
        DeliveryState,
        EmailDelivery,
        EmailView,
        AttachmentRef,
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
        NoticeView,
        NoticeList,
        UiError,
        ErrorCode,
        // The center's work rules (okno-rules).
        okno_rules::TextTest,
        okno_rules::Condition,
        okno_rules::Action,
        okno_rules::Rule,
        okno_rules::Assignment,
        okno_rules::Fired,
        okno_rules::Outcome,
        okno_rules::DayHours,
        okno_rules::CalendarSpec,
        okno_rules::SlaTarget,
        okno_rules::SlaPolicySpec,
        okno_rules::Template,
        okno_rules::Rendered,
        okno_rules::wire::Named,
        okno_rules::wire::Person,
        okno_rules::wire::People,
        okno_rules::wire::Followers,
        okno_rules::wire::RuleSetView,
        okno_rules::wire::DryRunTicket,
        okno_rules::wire::DryRunReport,
        okno_rules::wire::TemplateVariable,
        okno_rules::wire::TemplateList,
        okno_rules::wire::RenderedTemplate,
        okno_rules::wire::QueuePolicy,
        okno_rules::wire::SlaPolicies,
        okno_rules::CsatScale,
        okno_rules::CsatSettings,
        okno_rules::wire::CsatView,
        okno_acd::QueueFigures,
        okno_acd::wire::WaitingCall,
        okno_acd::wire::QueueBoard,
        okno_acd::wire::AgentBoard,
        okno_acd::wire::WallboardView,
        // The softphone's.
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
        MonitoredBy,
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
    let commands = command_signatures(&cfg);
    let group = |g: Group| commands.iter().filter(move |c| c.group == g).collect::<Vec<_>>();
    interface(&mut out, "What the window can ask of the app.", "Backend", &group(Group::Desk));
    interface(
        &mut out,
        "The softphone's commands (the window adds the \"phone\" event).",
        "PhoneCommands",
        &group(Group::Phone),
    );
    out.push_str("export type InvokeFn = <T>(cmd: string, args?: Record<string, unknown>) => Promise<T>;\n\n");
    out.push_str("/** Every command's name, as `invoke` sends it. */\n");
    let names: Vec<String> = commands.iter().map(|c| format!("\"{}\"", c.name)).collect();
    out.push_str(&format!("export const COMMAND_NAMES = [{}] as const;\n\n", names.join(", ")));
    wrappers(&mut out, "createTauriBackend", "Backend", &group(Group::Desk));
    wrappers(&mut out, "createPhoneCommands", "PhoneCommands", &group(Group::Phone));
    out
}

fn interface(out: &mut String, doc: &str, name: &str, commands: &[&CommandSignature]) {
    out.push_str(&format!("\n/** {doc} */\nexport interface {name} {{\n"));
    for c in commands {
        if !c.doc.is_empty() {
            out.push_str(&format!("  /**{} */\n", c.doc));
        }
        let params: Vec<String> = c.params.iter().map(|(n, t)| format!("{}: {t}", camel(n))).collect();
        let ret = if c.returns == "null" { "void".to_owned() } else { c.returns.clone() };
        out.push_str(&format!("  {}({}): Promise<{ret}>;\n", camel(c.name), params.join(", ")));
    }
    out.push_str("}\n\n");
}

/// The interface over `invoke`: arguments in camelCase, as Tauri's `invoke` sends them.
fn wrappers(out: &mut String, function: &str, interface: &str, commands: &[&CommandSignature]) {
    out.push_str(&format!("/** The {interface} over `invoke` (arguments in camelCase, as Tauri sends them). */\n"));
    out.push_str(&format!("export function {function}(invoke: InvokeFn): {interface} {{\n  return {{\n"));
    for c in commands {
        let names: Vec<String> = c.params.iter().map(|(n, _)| camel(n)).collect();
        let args = if names.is_empty() { String::new() } else { format!(", {{ {} }}", names.join(", ")) };
        out.push_str(&format!("    {}: ({}) => invoke(\"{}\"{args}),\n", camel(c.name), names.join(", "), c.name));
    }
    out.push_str("  };\n}\n");
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    fn committed() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/backend/bindings.ts")
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
    fn every_command_is_in_the_interface() {
        let ts = super::typescript();
        for name in [
            "listTickets(filter: TicketFilter): Promise<TicketPage>",
            "setAgentState(agentState: AgentState)",
            "uiReady(): Promise<void>",
            "phoneTransfer(callId: string, target: TransferTarget, attended: boolean): Promise<PhoneCall | null>",
            "phoneWrapUp(callId: string, dispositionId: string, comment: string, ticket: TicketLink): Promise<void>",
        ] {
            assert!(ts.contains(name), "missing {name}");
        }
    }
}
