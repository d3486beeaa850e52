//! Dissection (under construction)
