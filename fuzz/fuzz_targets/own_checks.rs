//! Fuzz target: Arbitrary frames under each link type, through dissection, every own check and the verdicts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness_fuzz::own_checks(data));
