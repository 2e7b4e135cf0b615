//! The IR verifier. Placeholder.
