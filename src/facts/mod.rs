//! Typed facts about the audited system, one module per domain, with the parsers that produce them.

pub mod firewall;
pub mod sshd;
