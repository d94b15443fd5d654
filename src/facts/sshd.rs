//! sshd effective configuration (placeholder until the parser lands).
use crate::system::SystemView;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub file: String,
    pub line: usize,
}
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    pub values: Vec<String>,
    pub source: Option<Source>,
}
#[derive(Debug, Clone, Serialize)]
pub struct Effective {
    pub settings: BTreeMap<String, Setting>,
}
impl Effective {
    pub fn get(&self, k: &str) -> Option<&Setting> {
        self.settings.get(k)
    }
}
#[derive(Debug, Clone, Serialize)]
pub struct SshdFacts {
    pub config_path: String,
}
impl SshdFacts {
    pub fn load(_view: &dyn SystemView) -> Result<Self, String> {
        Err("sshd parser not wired yet".into())
    }
    pub fn effective(&self) -> Option<&Effective> {
        None
    }
    pub fn disagreement(&self, _k: &str) -> Option<(String, String)> {
        None
    }
}
