//! The textual form of the IR (printer). Placeholder.
