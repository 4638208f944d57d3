//! The team lead's wallboard: the live figures come from the server (`/v1/wallboard`, refused
//! to anyone but team leads and admins), and a lead's change of an agent's state is the same
//! synced mutation an agent's own desk pushes (the server checks who may).

use okno_acd::wire::WallboardView;
use okno_core::{AgentState, Millis, Mutation};
use reqwest::Method;

use crate::Desk;
use crate::error::UiError;

type Result<T> = std::result::Result<T, UiError>;

impl Desk {
    pub(crate) async fn wallboard(&self, since: Millis) -> Result<WallboardView> {
        Ok(self.sync.server_call(Method::GET, &format!("/v1/wallboard?since={since}"), None).await?)
    }

    /// Moves a call waiting in the hotline's queue to another of its queues; the wallboard after.
    pub(crate) async fn wallboard_move(
        &self,
        call_id: String,
        queue_id: String,
        since: Millis,
    ) -> Result<WallboardView> {
        let body = serde_json::json!({ "call_id": call_id, "queue_id": queue_id });
        let _: serde_json::Value = self.sync.server_call(Method::POST, "/v1/wallboard/move", Some(body)).await?;
        self.wallboard(since).await
    }

    /// A team lead joins an operator's hotline call (`listen`, `whisper` or `barge`): the hotline
    /// rings the lead's own desk.
    pub(crate) async fn wallboard_monitor(&self, call_id: String, mode: String) -> Result<()> {
        let body = serde_json::json!({ "call_id": call_id, "mode": mode });
        let _: serde_json::Value = self.sync.server_call(Method::POST, "/v1/wallboard/monitor", Some(body)).await?;
        Ok(())
    }

    pub(crate) async fn set_operator_state(&self, operator_id: String, agent_state: AgentState) -> Result<()> {
        self.store.apply(Mutation::SetAgentState { operator_id, state: agent_state, at: crate::now_ms() }).await?;
        Ok(())
    }
}
