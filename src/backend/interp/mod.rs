//! The reference interpreter. Placeholder.
