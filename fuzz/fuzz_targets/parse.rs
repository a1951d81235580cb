//! Any bytes through the message parser: it returns an envelope or an
//! error, never panics or hangs (a message that cannot be placed is kept
//! and flagged, never a crash).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = reportd::mail::parse::parse(data);
});
