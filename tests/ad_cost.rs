//! The cheap-gradient principle, measured on the course's worked examples:
//! the optimized derivative IR of `staged` and `program` (conformance c04)
//! has at most 3x the instructions of the primal IR. Prints both counts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use diffl::ir::{Block, FuncId, InstKind, Program};
use diffl::pipeline::{self, Options};
use diffl::syntax::SourceMap;
use std::path::Path;

fn count(b: &Block) -> usize {
    b.insts
        .iter()
        .map(|i| {
            1 + match &i.kind {
                InstKind::If { then, else_ } => count(then) + count(else_),
                InstKind::For { body } => count(body),
                InstKind::While { cond, body } => count(cond) + count(body),
                _ => 0,
            }
        })
        .sum()
}

fn specialized_c04() -> Program {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/c04_grad_seed.dl");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut sources = SourceMap::new();
    let main = sources.add("c04_grad_seed.dl", Some(file.clone()), text);
    let (program, diags) = pipeline::front_end(&mut sources, main);
    assert!(diags.is_empty(), "{diags:?}");
    let entries: Vec<_> = program.tests.iter().map(|t| t.func).collect();
    pipeline::specialize(&program, &entries, Options::default()).program
}

#[test]
fn gradient_costs_at_most_three_times_the_function() {
    let program = specialized_c04();
    for name in ["staged", "program"] {
        let find = |n: &str| {
            (0..program.funcs.len())
                .map(|i| FuncId(i as u32))
                .find(|&f| program.func(f).is_some_and(|x| x.name.as_str() == n))
                .unwrap_or_else(|| panic!("no specialization of {n}"))
        };
        let primal = count(&program.func(find(name)).unwrap().body);
        let vjp_name = format!("{name}'vjp");
        let derivative = count(&program.func(find(&vjp_name)).unwrap().body);
        println!("{name}: primal {primal} instructions, derivative (value and gradient) {derivative}");
        assert!(
            derivative <= 3 * primal,
            "{name}: the derivative has {derivative} instructions, more than 3x the primal's {primal}"
        );
    }
}
