//! The front end: resolution of names and imports, lowering to IR.
