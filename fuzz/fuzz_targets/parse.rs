//! Any bytes through the Dockerfile parser and, when it accepts them, through BuildKit's
//! dump format: neither may panic, loop forever or run out of memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(dockerfile) = skiff_frontend::parse(&text) {
        let _ = skiff_frontend::dump::dump(&dockerfile);
    }
});
