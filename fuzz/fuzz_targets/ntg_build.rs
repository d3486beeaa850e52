//! Fuzz target: Arbitrary text as an LLM-NTG ZigBee summary: parse, build, check.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness_fuzz::ntg_build(data));
