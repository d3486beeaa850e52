//! JSON dialect (under construction)
