//! audit rules (/etc/audit/rules.d, `auditctl -l`) come from the audited system.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = hardenctl::facts::audit::canonical(&text);
});
