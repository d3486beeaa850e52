//! Models: where answers come from.
//!
//! Built in: [`reference`] writes the correct answer to any summary, and
//! [`mutant`] the reference answer with one realistic fault. Both build a
//! packet list ([`answer::Pkt`]) rendered in either dialect.

pub mod answer;
pub mod reference;
pub mod mutant;
