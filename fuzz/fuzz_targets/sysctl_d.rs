//! sysctl.d files come from the audited system (possibly an offline image): parsing never fails.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = hardenctl::facts::sysctl::parse(&text, "/fuzz.conf");
});
