//! The center's work rules as the window edits and uses them: the routing rules, reply
//! templates, SLA policies, and merging and splitting tickets live on the server (every desk and channel sees one result), so
//! these commands call its `/v1/work/...` API with the operator's session; the server decides
//! who may change what.

use okno_rules::wire::{
    CsatView, DryRunReport, Followers, OrderVars, People, RenderedTemplate, RuleSetView, SlaPolicies, TemplateList,
};
use okno_rules::{CsatSettings, Rule, SlaPolicySpec, Template};
use reqwest::Method;
use serde_json::json;

use crate::Desk;
use crate::error::{ErrorCode, UiError};

type Result<T> = std::result::Result<T, UiError>;

/// Path segments from the window are ids: nothing that could leave the `/v1/work/` tree.
fn segment(id: &str) -> Result<&str> {
    let plain = !id.is_empty() && id.len() <= 100 && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if plain && id != "." && id != ".." {
        Ok(id)
    } else {
        Err(UiError::new(ErrorCode::InvalidInput, format!("{id:?} is not an id (letters, digits, - _ .)")))
    }
}

impl Desk {
    pub(crate) async fn work_rules(&self) -> Result<RuleSetView> {
        Ok(self.sync.server_call(Method::GET, "/v1/work/rules", None).await?)
    }

    pub(crate) async fn save_work_rules(&self, version: i64, rules: Vec<Rule>) -> Result<RuleSetView> {
        let _: serde_json::Value = self
            .sync
            .server_call(Method::PUT, "/v1/work/rules", Some(json!({ "version": version, "rules": rules })))
            .await?;
        self.work_rules().await
    }

    pub(crate) async fn dry_run_rules(&self, rules: Vec<Rule>, last: u32) -> Result<DryRunReport> {
        let body = json!({ "rules": rules, "last": last });
        Ok(self.sync.server_call(Method::POST, "/v1/work/rules/dry-run", Some(body)).await?)
    }

    pub(crate) async fn mention_people(&self) -> Result<People> {
        Ok(self.sync.server_call(Method::GET, "/v1/work/people", None).await?)
    }

    pub(crate) async fn ticket_followers(&self, ticket_id: String) -> Result<Followers> {
        let path = format!("/v1/tickets/{}/followers", segment(&ticket_id)?);
        Ok(self.sync.server_call(Method::GET, &path, None).await?)
    }

    pub(crate) async fn follow_ticket(&self, ticket_id: String, follow: bool) -> Result<Followers> {
        let path = format!("/v1/tickets/{}/follow", segment(&ticket_id)?);
        Ok(self.sync.server_call(Method::PUT, &path, Some(json!({ "follow": follow }))).await?)
    }

    pub(crate) async fn list_templates(&self) -> Result<TemplateList> {
        Ok(self.sync.server_call(Method::GET, "/v1/work/templates", None).await?)
    }

    pub(crate) async fn save_template(&self, template: Template) -> Result<TemplateList> {
        let path = format!("/v1/work/templates/{}", segment(&template.id)?);
        let body = serde_json::to_value(&template).map_err(|e| UiError::new(ErrorCode::Internal, e.to_string()))?;
        let _: serde_json::Value = self.sync.server_call(Method::PUT, &path, Some(body)).await?;
        self.list_templates().await
    }

    pub(crate) async fn delete_template(&self, template_id: String) -> Result<TemplateList> {
        let path = format!("/v1/work/templates/{}", segment(&template_id)?);
        let _: serde_json::Value = self.sync.server_call(Method::DELETE, &path, None).await?;
        self.list_templates().await
    }

    pub(crate) async fn render_template(&self, template_id: String, ticket_id: String) -> Result<RenderedTemplate> {
        let path = format!("/v1/work/templates/{}/render", segment(&template_id)?);
        let order = self.latest_order(&ticket_id).await;
        let body = json!({ "ticket_id": ticket_id, "order": order });
        Ok(self.sync.server_call(Method::POST, &path, Some(body)).await?)
    }

    /// The ticket's customer's latest order on this desk's card, for a template's `{{order.*}}`;
    /// `None` when the card has none (or the ticket is not here).
    async fn latest_order(&self, ticket_id: &str) -> Option<OrderVars> {
        let detail = self.store.ticket_detail(ticket_id).await.ok()?;
        let card = self.store.customer_card(&detail.ticket.customer_id).await.ok()?;
        let order = card.orders.into_iter().next()?;
        Some(OrderVars {
            number: order.number,
            status: order.status.as_str().to_owned(),
            total: format!("{}.{:02} {}", order.total_cents / 100, (order.total_cents % 100).abs(), order.currency),
        })
    }

    pub(crate) async fn merge_tickets(&self, source_id: String, target_id: String) -> Result<String> {
        let body = json!({ "source_id": source_id, "target_id": target_id });
        let merged: serde_json::Value = self.sync.server_call(Method::POST, "/v1/tickets/merge", Some(body)).await?;
        let survivor = merged["survivor_id"].as_str().unwrap_or(&target_id).to_owned();
        Ok(survivor)
    }

    pub(crate) async fn split_message(&self, message_id: String) -> Result<String> {
        let split: serde_json::Value =
            self.sync.server_call(Method::POST, "/v1/tickets/split", Some(json!({ "message_id": message_id }))).await?;
        Ok(split["ticket_id"].as_str().unwrap_or_default().to_owned())
    }

    pub(crate) async fn sla_policies(&self) -> Result<SlaPolicies> {
        Ok(self.sync.server_call(Method::GET, "/v1/work/sla-policies", None).await?)
    }

    pub(crate) async fn save_sla_policy(&self, policy: SlaPolicySpec) -> Result<SlaPolicies> {
        let path = format!("/v1/work/sla-policies/{}", segment(&policy.id)?);
        let body = serde_json::to_value(&policy).map_err(|e| UiError::new(ErrorCode::Internal, e.to_string()))?;
        let _: serde_json::Value = self.sync.server_call(Method::PUT, &path, Some(body)).await?;
        self.sla_policies().await
    }

    pub(crate) async fn set_queue_policy(&self, queue_id: String, policy_id: Option<String>) -> Result<SlaPolicies> {
        let path = format!("/v1/work/queues/{}/sla-policy", segment(&queue_id)?);
        let _: serde_json::Value =
            self.sync.server_call(Method::PUT, &path, Some(json!({ "sla_policy_id": policy_id }))).await?;
        self.sla_policies().await
    }

    pub(crate) async fn csat_settings(&self) -> Result<CsatView> {
        Ok(self.sync.server_call(Method::GET, "/v1/work/csat", None).await?)
    }

    pub(crate) async fn save_csat_settings(&self, settings: CsatSettings) -> Result<CsatView> {
        let body = serde_json::to_value(&settings).map_err(|e| UiError::new(ErrorCode::Internal, e.to_string()))?;
        Ok(self.sync.server_call(Method::PUT, "/v1/work/csat", Some(body)).await?)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_plain_ids_reach_a_server_path() {
        assert_eq!(super::segment("tpl-hello_2.ru").unwrap(), "tpl-hello_2.ru");
        for bad in ["", "..", "a/b", "a?x=1", "a b", "%2e%2e", "x#y"] {
            assert!(super::segment(bad).is_err(), "{bad:?}");
        }
    }
}
