//! Backends that execute specialized IR.
pub mod interp;
