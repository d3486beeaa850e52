//! Fuzz target: A capture file (PCAP or pcapng) of arbitrary bytes, through the reader and every own check.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness_fuzz::pcap_reader(data));
