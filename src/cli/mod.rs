//! The command line. Placeholder.
