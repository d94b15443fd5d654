//! sshd_config text from the audited system, through the effective-configuration engine.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = hardenctl::facts::sshd::parse_config_text(&text, "/fuzz");
});
