//! LLM-NTG's statistics of a generated trace against the real input.
