//! `/nix/store` and the Nix database's NAR hashes.
//!
//! Placeholder: filled in with the measurement.
