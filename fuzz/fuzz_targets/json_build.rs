//! Fuzz target: Arbitrary text as a JSON-dialect answer: build, write, check.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness_fuzz::json_build(data));
