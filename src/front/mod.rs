//! The front end: loading files and modules, global name resolution, and
//! lowering the AST to the untyped SSA IR (with local checks).

pub mod load;
pub mod lower;
pub mod resolve;
