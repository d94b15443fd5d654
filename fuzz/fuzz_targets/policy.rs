//! Site policy files are operator input: `hardenctl::policy::load` must report errors, never panic.
#![no_main]

use hardenctl::policy::{Source, load};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Valid UTF-8 passes through unchanged; other bytes are replaced, as a lossy reader would.
    let text = String::from_utf8_lossy(data).into_owned();
    let site = Source {
        name: "/fuzz/site.toml".to_owned(),
        text,
    };
    match load(None, Some(&site)) {
        // Rendering the errors walks the spans (line and column) that the loader computed.
        Err(errors) => {
            let _ = errors.to_string();
        }
        Ok(policy) => {
            let _ = policy.digest.len();
        }
    }
});
