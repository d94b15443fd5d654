//! nftables ruleset text (`nft list ruleset`, /etc/nftables.conf) from the audited system.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = hardenctl::facts::firewall::parse_ruleset_text(&text, "/fuzz");
});
