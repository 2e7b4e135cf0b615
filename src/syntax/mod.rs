//! The surface syntax: spans, interned names, tokens (logos), the AST and the
//! parser (lalrpop, grammar in `grammar/diffl.lalrpop`).

pub mod ast;
pub mod lexer;
pub mod parser;
pub mod span;
pub mod symbol;

pub use span::{FileId, SourceFile, SourceMap, Span};
pub use symbol::Symbol;
