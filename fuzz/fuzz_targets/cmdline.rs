//! Kernel command lines (/proc/cmdline, grub config, BLS entries) come from the audited system.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = hardenctl::facts::cmdline::split(&text);
});
