//! Wire views (under construction)
