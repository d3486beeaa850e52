//! Fuzz target: Arbitrary bytes as an HTTP/1.x message.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness_fuzz::http(data));
