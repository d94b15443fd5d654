//! Authentication log lines (syslog and journal JSON) from the audited system: attacker-controlled
//! user names and client banners end up in them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        let _ = hardenctl::logins::parse_syslog_line(line);
        let _ = hardenctl::logins::parse_journal_json(line);
    }
});
