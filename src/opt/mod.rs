//! Optimizations of specialized IR. Each pass is a module named after it;
//! `pipeline.rs` runs them in order. They keep behaviour exactly (no
//! floating-point reassociation), and never remove effects (`print`,
//! `assert`) or calls of functions that may have them.

pub mod cse;
pub mod dce;
pub mod hoist;
pub mod index_adds;
pub mod inline;
pub mod purity;
pub mod residuals;
pub mod simplify;
pub mod sink;
pub mod tapes;
pub mod transposes;

#[cfg(test)]
mod tests;

use crate::ir::Program;

/// The optimization passes, in order.
pub fn optimize(p: &mut Program) {
    let pure = purity::pure_functions(p);
    let removable = purity::removable_functions(p, &pure);
    for f in &mut p.funcs {
        simplify::run(f);
        hoist::run(f);
        cse::run(f, &pure);
        transposes::run(f);
        dce::run(f, &removable);
        residuals::run(f);
        dce::run(f, &removable);
        tapes::run(f);
        index_adds::run(f);
        // Again: `index_adds` makes accumulations that may fold away.
        simplify::run(f);
        dce::run(f, &removable);
        sink::run(f);
        f.compact();
    }
}
