//! hardenctl: a security-hardening auditor and agent for Linux.
//!
//! The library holds everything; `main.rs` only parses the command line and calls [`cli::run`].
//! Data flows one way: a [`system::SystemView`] is read into typed facts ([`facts`]), checks from the
//! one registry ([`checks`]) compare the facts with a resolved [`policy`], the [`engine`] collects
//! the outcomes into a [`report::Report`], and one writer per format renders it.
//! See ARCHITECTURE.md for the layers and the invariants.

pub mod apply;
pub mod checks;
pub mod cli;
pub mod daemon;
pub mod engine;
pub mod facts;
pub mod integrity;
pub mod logins;
pub mod net;
pub mod policy;
pub mod report;
pub mod system;
