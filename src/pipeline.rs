//! The compiler pipeline in one place. Placeholder.
