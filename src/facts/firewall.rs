//! nftables ruleset facts (being written).
