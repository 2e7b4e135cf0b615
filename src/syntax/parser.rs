//! Parser driver. Placeholder until the parser lands.
