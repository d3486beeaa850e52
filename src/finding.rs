//! Findings (under construction)
