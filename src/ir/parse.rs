//! Parser for the textual IR. Placeholder.
