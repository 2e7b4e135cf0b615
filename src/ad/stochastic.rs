//! Which code draws random numbers, for reverse mode.
//!
//! Reverse mode recomputes calls, branches and loop iterations; code that
//! draws must see the same numbers again, so the derivative saves the
//! generator's state before such a region and restores it to recompute
//! ([`draws`]). Code that samples discrete values (`sample_bernoulli`,
//! `sample_categorical`) contributes score-function terms, which need the
//! differentiated function's result ([`samples`]).

use crate::ir::{Block, FuncId, Inst, InstKind, Prim, Program, RandomOp};
use std::collections::HashSet;

/// Whether a random prim matters for the question asked.
type Wanted = fn(RandomOp) -> bool;

fn any_draw(op: RandomOp) -> bool {
    !matches!(op, RandomOp::GetState | RandomOp::SetState)
}

fn discrete_sample(op: RandomOp) -> bool {
    matches!(op, RandomOp::Bernoulli | RandomOp::Categorical)
}

/// Whether running `inst` may draw random numbers (or reseed).
pub fn draws(program: &Program, inst: &Inst) -> bool {
    inst_has(program, inst, any_draw, &mut HashSet::new())
}

/// Whether running `inst` may take a discrete sample.
pub fn samples(program: &Program, inst: &Inst) -> bool {
    inst_has(program, inst, discrete_sample, &mut HashSet::new())
}

/// Whether calling `f` may take a discrete sample.
pub fn func_samples(program: &Program, f: FuncId) -> bool {
    func_has(program, f, discrete_sample, &mut HashSet::new())
}

/// Whether any instruction of `b` may draw random numbers.
pub fn block_draws(program: &Program, b: &Block) -> bool {
    let mut seen = HashSet::new();
    b.insts.iter().any(|i| inst_has(program, i, any_draw, &mut seen))
}

fn func_has(program: &Program, f: FuncId, wanted: Wanted, seen: &mut HashSet<FuncId>) -> bool {
    if !seen.insert(f) {
        return false;
    }
    program
        .func(f)
        .is_some_and(|func| func.body.insts.iter().any(|i| inst_has(program, i, wanted, seen)))
}

fn inst_has(program: &Program, inst: &Inst, wanted: Wanted, seen: &mut HashSet<FuncId>) -> bool {
    match &inst.kind {
        InstKind::Prim(Prim::Random(op)) => wanted(*op),
        InstKind::Call(f) => func_has(program, *f, wanted, seen),
        _ => inst
            .blocks()
            .into_iter()
            .any(|b| b.insts.iter().any(|i| inst_has(program, i, wanted, seen))),
    }
}
