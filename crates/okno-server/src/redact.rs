//! What a restricted role (an outsourced contractor) may receive of a changelog row.
//!
//! An allow-list, not a deny-list: for each entity the fields a contractor's desk needs and how
//! each is treated. A field the list does not name (a column added later, a row's `source`, a
//! hash) never leaves the server for them. Free text (subjects, previews, bodies, notes, email
//! headers, file names) goes through [`okno_core::pii::mask_text`], contact fields through the
//! field maskers; nothing a contractor pulls holds a phone, card or account number beyond its
//! last two digits, an email address beyond its first letter, or a messenger handle.
//!
//! Invariant: every entity the server writes to the changelog has a list here (a test holds the
//! server to it); an entity without one goes out as its id alone.

use okno_core::Role;
use okno_core::pii::{mask_email, mask_phone, mask_text};
use serde_json::{Map, Value};

/// How one allowed field is passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Treat {
    /// Ids, enums, times, counts: no personal data.
    Keep,
    /// Free text, or JSON holding text: every string in it masked.
    Text,
    Phone,
    /// A customer's identities: each by its kind.
    Identities,
    /// Attachment lists: the file names masked, hashes and sizes kept.
    Files,
}

use Treat::{Files, Identities, Keep, Phone, Text};

/// The entities of the changelog and their contractor allow-lists.
pub const ENTITIES: [&str; 7] =
    ["ticket", "message", "customer", "call", "operator", okno_sync::TICKET_DUE, crate::work::mentions::NOTICE];

fn allowed(entity: &str) -> &'static [(&'static str, Treat)] {
    match entity {
        "ticket" => &[
            ("id", Keep),
            ("number", Keep),
            ("subject", Text),
            ("customer_id", Keep),
            ("channel", Keep),
            ("status", Keep),
            ("priority", Keep),
            ("queue_id", Keep),
            ("assignee_id", Keep),
            ("tags", Text),
            ("created_at", Keep),
            ("updated_at", Keep),
            ("sla_due_at", Keep),
            ("first_response_due_at", Keep),
            ("first_response_at", Keep),
            ("resolution_due_at", Keep),
            ("resolved_at", Keep),
            ("merged_into", Keep),
            ("preview", Text),
            ("message_count", Keep),
            ("visitor_read_at", Keep),
        ],
        okno_sync::TICKET_DUE => {
            &[("id", Keep), ("first_response_due_at", Keep), ("resolution_due_at", Keep), ("sla_due_at", Keep)]
        }
        crate::work::mentions::NOTICE => &[
            ("id", Keep),
            ("for", Keep),
            ("kind", Keep),
            ("ticket_id", Keep),
            ("number", Keep),
            ("message_id", Keep),
            ("by", Text),
            ("excerpt", Text),
            ("at", Keep),
        ],
        "message" => &[
            ("id", Keep),
            ("ticket_id", Keep),
            ("channel", Keep),
            ("direction", Keep),
            ("author_name", Text),
            ("operator_id", Keep),
            ("subject", Text),
            ("body", Text),
            ("attachments", Files),
            ("created_at", Keep),
            ("email", Text),
        ],
        "customer" => &[
            ("id", Keep),
            ("name", Text),
            ("company", Text),
            ("tier", Keep),
            ("tags", Text),
            ("created_at", Keep),
            ("identities", Identities),
        ],
        "call" => &[
            ("id", Keep),
            ("customer_id", Keep),
            ("ticket_id", Keep),
            ("queue_id", Keep),
            ("operator_id", Keep),
            ("direction", Keep),
            ("from_number", Phone),
            ("to_number", Phone),
            ("started_at", Keep),
            ("answered_at", Keep),
            ("ended_at", Keep),
            ("outcome", Keep),
            ("disposition", Text),
            ("notes", Text),
            ("recording_ref", Keep),
        ],
        "operator" => &[("id", Keep), ("name", Keep), ("role", Keep), ("state", Keep), ("state_since", Keep)],
        _ => &[("id", Keep)],
    }
}

/// The row as an account with `role` may see it: the clear row for staff, the allow-listed and
/// masked one for contractors.
pub fn project(role: Role, entity: &str, data: Value) -> Value {
    if role != Role::Contractor {
        return data;
    }
    let Value::Object(mut row) = data else { return Value::Null };
    let mut out = Map::new();
    for (field, treat) in allowed(entity) {
        // Moved, not copied: the rest of the row is dropped unread.
        if let Some(value) = row.remove(*field) {
            out.insert((*field).to_owned(), treated(*treat, value));
        }
    }
    Value::Object(out)
}

fn treated(treat: Treat, value: Value) -> Value {
    match treat {
        Keep => value,
        Text => text_masked(&value),
        Phone => value.as_str().map_or_else(|| text_masked(&value), |s| Value::String(mask_phone(s))),
        Identities => match value {
            Value::Array(list) => Value::Array(list.iter().map(identity_masked).collect()),
            other => text_masked(&other),
        },
        Files => match value {
            Value::Array(list) => Value::Array(
                list.into_iter()
                    .map(|file| match file {
                        Value::Object(f) => Value::Object(
                            f.into_iter()
                                .map(|(k, v)| {
                                    let v = if k == "name" { text_masked(&v) } else { v };
                                    (k, v)
                                })
                                .collect(),
                        ),
                        other => text_masked(&other),
                    })
                    .collect(),
            ),
            other => text_masked(&other),
        },
    }
}

fn identity_masked(identity: &Value) -> Value {
    let Value::Object(fields) = identity else { return text_masked(identity) };
    let kind = fields.get("kind").and_then(Value::as_str).unwrap_or_default();
    let mut out = Map::new();
    out.insert("kind".into(), Value::String(kind.to_owned()));
    if let Some(value) = fields.get("value").and_then(Value::as_str) {
        let masked = match kind {
            "phone" => mask_phone(value),
            "email" => mask_email(value),
            // A web-chat visitor id is the server's own, not a contact.
            "chat" => mask_text(value),
            // Messenger ids (a Telegram handle or number, a WhatsApp phone) are contacts.
            _ => "***".to_owned(),
        };
        out.insert("value".into(), Value::String(masked));
    }
    Value::Object(out)
}

/// Every string in `value` (keys kept) masked as free text.
fn text_masked(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(mask_text(s)),
        Value::Array(list) => Value::Array(list.iter().map(text_masked).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), text_masked(v))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use okno_core::pii::clear_digits_exposed;
    use serde_json::json;

    use super::*;

    #[test]
    fn staff_get_the_clear_row_contractors_the_allowed_and_masked_fields() {
        let customer = json!({
            "id": "c1",
            "name": "Ivan",
            "contacts_text": "+7 915 123-45-67 ivan@mail.ru",
            "identities": [
                { "kind": "phone", "value": "+79151234567" },
                { "kind": "email", "value": "ivan@mail.ru" },
                { "kind": "chat", "value": "visitor-9" },
                { "kind": "messenger", "value": "@ivan_petrov" },
            ],
        });
        assert_eq!(project(Role::Operator, "customer", customer.clone()), customer);
        let masked = project(Role::Contractor, "customer", customer);
        assert_eq!(masked["identities"][0]["value"], "+*********67");
        assert_eq!(masked["identities"][1]["value"], "i***@mail.ru");
        assert_eq!(masked["identities"][2]["value"], "visitor-9");
        assert_eq!(masked["identities"][3]["value"], "***");
        assert_eq!(masked["name"], "Ivan");
        assert!(masked.get("contacts_text").is_none(), "not on the allow-list: {masked}");

        let call = json!({ "from_number": "+7 915 123-45-67", "to_number": "+7 495 000-00-01", "secret": 1 });
        let masked = project(Role::Contractor, "call", call);
        assert_eq!(masked, json!({ "from_number": "+* *** ***-**-67", "to_number": "+* *** ***-**-01" }));
    }

    #[test]
    fn message_text_and_email_headers_are_masked_file_hashes_kept() {
        let sha = "0123456789012345678901234567890123456789012345678901234567890123";
        let message = json!({
            "id": "m1", "ticket_id": "t1", "channel": "email", "direction": "inbound",
            "author_name": "ivan.petrov@mail.ru", "subject": "Re: card 4276 1234 5678 9012",
            "body": "Call me: 8 915 123 45 67, or @ivan_petrov", "created_at": 5,
            "attachments": [{ "sha256": sha, "name": "passport 4510 123456.pdf", "size": 100 }],
            "email": { "from": "ivan.petrov@mail.ru", "to": ["support@shop.ru"], "message_id": "<a@b.ru>" },
            "raw_headers": "Received: from 10.1.2.3",
        });
        let masked = project(Role::Contractor, "message", message);
        assert_eq!(masked["body"], "Call me: * *** *** ** 67, or @***");
        assert_eq!(masked["subject"], "Re: card **** **** **** **12");
        assert_eq!(masked["author_name"], "i***@mail.ru");
        assert_eq!(masked["email"]["from"], "i***@mail.ru");
        assert_eq!(masked["attachments"][0]["sha256"], sha, "the file can still be fetched");
        assert_eq!(masked["attachments"][0]["name"], "passport **** ****56.pdf");
        assert!(masked.get("raw_headers").is_none());
        let mut text = masked.clone();
        text["attachments"][0]["sha256"] = Value::Null;
        assert_eq!(clear_digits_exposed(&text.to_string()), 0, "{text}");
    }

    /// Every `entity: "..."` the server's sources write to the changelog has its list.
    #[test]
    fn every_entity_the_server_writes_has_an_allow_list() {
        fn sources(dir: &std::path::Path, into: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    sources(&path, into);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    into.push(std::fs::read_to_string(path).unwrap());
                }
            }
        }
        let mut texts = Vec::new();
        sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut texts);
        let mut written: Vec<String> = texts
            .iter()
            .flat_map(|t| {
                t.split("entity: \"").skip(1).map(|rest| rest.split('"').next().unwrap_or_default().to_owned())
            })
            .filter(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .collect();
        written.sort();
        written.dedup();
        assert!(written.len() >= 4, "found the writers: {written:?}");
        for entity in written {
            assert!(ENTITIES.contains(&entity.as_str()), "{entity} has no contractor allow-list");
        }
    }

    #[test]
    fn an_unknown_entity_goes_out_as_its_id() {
        let row = json!({ "id": "x1", "phone": "+79151234567" });
        assert_eq!(project(Role::Contractor, "invoice", row), json!({ "id": "x1" }));
    }
}
