//! sshd effective configuration (being written).
