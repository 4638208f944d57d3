//! Reply templates: canned answers per queue or per operator, in Russian or English, with
//! `{{variable}}` placeholders filled from the ticket, its customer, the operator and the
//! customer's latest order.
//!
//! A template is checked when it is saved (unknown variables and unclosed braces are refused),
//! so rendering never fails; a variable without a value (a customer without orders) renders
//! empty and is reported, so the reply box can warn before anything is sent.
//! Written here rather than with a template engine: six variables and no logic do not need
//! one, and a template engine's loops and filters would be one more language for admins.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use okno_core::AttachmentRef;

/// Every variable a template may use, with what it stands for (shown in the editor).
pub const VARIABLES: &[(&str, &str)] = &[
    ("customer.name", "the customer's name"),
    ("ticket.number", "the ticket's number"),
    ("ticket.subject", "the ticket's subject"),
    ("operator.name", "the name of the operator who sends the reply"),
    ("order.number", "the number of the customer's latest order"),
    ("order.status", "the status of the customer's latest order"),
    ("order.total", "the total of the customer's latest order"),
];

const MAX_TEMPLATE_CHARS: usize = 20_000;

/// A template as it is stored and synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Template {
    pub id: String,
    pub name: String,
    /// `ru` or `en`.
    pub language: String,
    /// A queue's template (every operator of the queue sees it), or everyone's when `None`.
    pub queue_id: Option<String>,
    /// A personal template: only its owner sees it.
    pub owner_id: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    /// Files sent with every use (blobs by SHA-256, as message attachments are).
    #[serde(default)]
    pub attachments: Vec<AttachmentRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("a template needs a name")]
    NoName,
    #[error("a template needs a text")]
    NoBody,
    #[error("the language must be ru or en, not {0:?}")]
    BadLanguage(String),
    #[error("the text is longer than {MAX_TEMPLATE_CHARS} characters")]
    TooLong,
    #[error(
        "unknown variable {{{{{0}}}}}; known: customer.name, ticket.number, ticket.subject, operator.name, order.number, order.status, order.total"
    )]
    UnknownVariable(String),
    #[error("a {{{{ at character {0} is never closed")]
    Unclosed(usize),
}

/// The values to fill in; `None` where there is nothing to say (no order yet).
#[derive(Debug, Clone, Default)]
pub struct TemplateVars {
    pub customer_name: Option<String>,
    pub ticket_number: Option<i64>,
    pub ticket_subject: Option<String>,
    pub operator_name: Option<String>,
    pub order_number: Option<String>,
    pub order_status: Option<String>,
    pub order_total: Option<String>,
}

/// A rendered text and the variables that had no value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Rendered {
    pub text: String,
    pub missing: Vec<String>,
}

impl Template {
    /// Refuse what could not render: called before a template is saved.
    pub fn check(&self) -> Result<(), TemplateError> {
        if self.name.trim().is_empty() {
            return Err(TemplateError::NoName);
        }
        if self.body.trim().is_empty() {
            return Err(TemplateError::NoBody);
        }
        if !matches!(self.language.as_str(), "ru" | "en") {
            return Err(TemplateError::BadLanguage(self.language.clone()));
        }
        for text in [Some(&self.body), self.subject.as_ref()].into_iter().flatten() {
            if text.chars().count() > MAX_TEMPLATE_CHARS {
                return Err(TemplateError::TooLong);
            }
            placeholders(text)?;
        }
        Ok(())
    }

    /// The body with its variables filled in.
    pub fn render_body(&self, vars: &TemplateVars) -> Rendered {
        render(&self.body, vars)
    }

    /// The subject with its variables filled in, when the template has one.
    pub fn render_subject(&self, vars: &TemplateVars) -> Option<Rendered> {
        self.subject.as_deref().map(|s| render(s, vars))
    }
}

/// Fill `text`'s placeholders; an unknown or unclosed one is left as written (check refuses it
/// before save, so only a template saved by an older version can have one).
pub(crate) fn render(text: &str, vars: &TemplateVars) -> Rendered {
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = after[..end].trim();
        match value(name, vars) {
            Some(Some(v)) => out.push_str(&v),
            Some(None) => {
                if !missing.iter().any(|m| m == name) {
                    missing.push(name.to_owned());
                }
            }
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Rendered { text: out, missing }
}

/// `None`: not a variable; `Some(None)`: a variable without a value.
fn value(name: &str, vars: &TemplateVars) -> Option<Option<String>> {
    Some(match name {
        "customer.name" => vars.customer_name.clone(),
        "ticket.number" => vars.ticket_number.map(|n| n.to_string()),
        "ticket.subject" => vars.ticket_subject.clone(),
        "operator.name" => vars.operator_name.clone(),
        "order.number" => vars.order_number.clone(),
        "order.status" => vars.order_status.clone(),
        "order.total" => vars.order_total.clone(),
        _ => return None,
    })
}

/// The variable names used in `text`, refusing unknown and unclosed ones.
fn placeholders(text: &str) -> Result<Vec<&str>, TemplateError> {
    let mut names = Vec::new();
    let mut offset = 0;
    while let Some(start) = text[offset..].find("{{") {
        let open = offset + start;
        let Some(end) = text[open + 2..].find("}}") else {
            return Err(TemplateError::Unclosed(text[..open].chars().count() + 1));
        };
        let name = text[open + 2..open + 2 + end].trim();
        if !VARIABLES.iter().any(|(known, _)| *known == name) {
            return Err(TemplateError::UnknownVariable(name.to_owned()));
        }
        names.push(name);
        offset = open + 2 + end + 2;
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(body: &str) -> Template {
        Template {
            id: "t".into(),
            name: "Delivery".into(),
            language: "ru".into(),
            queue_id: None,
            owner_id: None,
            subject: Some("Заказ {{order.number}} / [#{{ticket.number}}]".into()),
            body: body.into(),
            attachments: Vec::new(),
        }
    }

    #[test]
    fn variables_are_filled_and_missing_ones_reported() {
        let t =
            template("Здравствуйте, {{ customer.name }}! Заказ {{order.number}}: {{order.status}}. {{operator.name}}");
        t.check().unwrap();
        let vars = TemplateVars {
            customer_name: Some("Иван".into()),
            ticket_number: Some(1024),
            operator_name: Some("Анна".into()),
            ..TemplateVars::default()
        };
        let body = t.render_body(&vars);
        assert_eq!(body.text, "Здравствуйте, Иван! Заказ : . Анна");
        assert_eq!(body.missing, ["order.number", "order.status"]);
        assert_eq!(t.render_subject(&vars).unwrap().text, "Заказ  / [#1024]");
    }

    #[test]
    fn a_template_that_cannot_render_is_refused_before_save() {
        assert_eq!(
            template("Hi {{customer.phone}}").check(),
            Err(TemplateError::UnknownVariable("customer.phone".into()))
        );
        assert_eq!(template("Hi {{customer.name").check(), Err(TemplateError::Unclosed(4)));
        assert_eq!(template("  ").check(), Err(TemplateError::NoBody));
        assert_eq!(
            Template { language: "de".into(), ..template("x") }.check(),
            Err(TemplateError::BadLanguage("de".into()))
        );
        // Text that only looks like braces is kept as written.
        assert_eq!(render("a } b {", &TemplateVars::default()).text, "a } b {");
    }
}
