//! diffl: a differentiable-programming language.
//!
//! The pipeline, stage by stage (each a folder; `pipeline.rs` lists the passes):
//! `syntax` (lexer, parser) → `front` (resolution, lowering to IR) → `ir`
//! (specialization, verification) → `backend` (the interpreter) over `runtime`
//! (tensors and kernels). `diag` renders errors; `cli` is the command line.
// Errors are diagnostics returned on cold paths; their size never matters.
#![allow(clippy::result_large_err)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod ad;
pub mod backend;
pub mod cli;
pub mod diag;
pub mod front;
pub mod ir;
pub mod opt;
pub mod pipeline;
pub mod repl;
pub mod runtime;
pub mod syntax;
