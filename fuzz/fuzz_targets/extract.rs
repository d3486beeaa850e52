//! Fuzz target: Arbitrary text as a model answer: extraction in both dialects.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness_fuzz::extract_answer(data));
