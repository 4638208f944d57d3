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

    pub(crate) async fn set_operator_state(&self, operator_id: String, agent_state: AgentState) -> Result<()> {
        self.store.apply(Mutation::SetAgentState { operator_id, state: agent_state, at: crate::now_ms() }).await?;
        Ok(())
    }
}
