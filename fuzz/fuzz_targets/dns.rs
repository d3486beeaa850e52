//! Fuzz target: Arbitrary bytes as a DNS message: lenient walk, strict `Repr::parse`, re-emit.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness_fuzz::dns(data));
