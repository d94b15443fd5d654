//! nftables facts (placeholder until the parser lands).
use crate::system::SystemView;
use serde::Serialize;
#[derive(Debug, Clone, Serialize)]
pub struct FirewallFacts {}
impl FirewallFacts {
    pub fn load(_view: &dyn SystemView) -> Result<Self, String> {
        Err("nftables parser not wired yet".into())
    }
}
