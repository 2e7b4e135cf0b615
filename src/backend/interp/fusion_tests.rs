//! Fused groups: which instructions they take, and that programs print
//! exactly the same with and without them (the unfused interpreter runs each
//! op through its whole-tensor kernel, tested against hand-derived values).

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use super::super::Interp;
use super::super::plan::tests::compile;
use super::super::plan::{Fused, Plan};
use super::Group;
use crate::ir::Program;
use crate::ir::op::BinaryOp;
use crate::ir::{InstKind, Prim};
use crate::syntax::Span;
use std::rc::Rc;

/// The output, or the error's message, of running `src` with or without fusion.
fn run(src: &str, fuse: bool) -> String {
    let (program, f) = compile(src);
    let mut out = Vec::new();
    let interp = Interp::new(&program, &mut out);
    let interp = if fuse { interp } else { interp.without_fusion() };
    let mut interp = interp;
    let r = interp.call(f, Vec::new(), Span::default()).map(|_| ());
    drop(interp);
    outcome(out, r)
}

/// The printed text, then the error's span and message if the run failed.
fn outcome(out: Vec<u8>, r: Result<(), crate::diag::Diagnostic>) -> String {
    let text = String::from_utf8(out).unwrap();
    match r {
        Ok(()) => text,
        Err(d) => format!("{text}error at {:?}: {}", d.span, d.message),
    }
}

const SEED: &str = "fn f(x) { let s = exp(x) + exp(x * x); exp(s) + sin(s) }\n\
                    fn g(t, x) { sum(f(t * x)) }\n";

/// The compiled program of `src`, and the fused groups of the top-level
/// block of its function `name`, in order.
fn groups_of(src: &str, name: &str) -> (Program, Vec<Rc<Group>>) {
    let (program, _) = compile(src);
    let f = program.funcs.iter().find(|f| f.name.as_str() == name).unwrap();
    let plan = Plan::new(f, true, None);
    let groups = f
        .body
        .insts
        .iter()
        .filter(|i| plan.inst(i).fused == Fused::GroupEnd)
        .map(|i| plan.group(i).unwrap().clone())
        .collect();
    (program, groups)
}

#[test]
fn the_seed_functions_forward_and_adjoint_are_one_group_each() {
    let src = format!("{SEED}let x = linspace(-1.0, 1.0, 9); print(value_and_grad(g)(0.5, x));");
    // `f` is inlined into g's derivative (`opt::inline`).
    let (_, groups) = groups_of(&src, "g'vjp");
    let [forward, adjoint] = groups.as_slice() else {
        panic!("{} groups", groups.len());
    };
    // `t * x`, f's seven elementwise ops and the `cos` its adjoint needs
    // (the sum reads f's value, so the group closes there).
    assert_eq!(forward.members.len(), 9);
    assert_eq!(forward.inputs.len(), 2);
    // The adjoint, from the broadcast of dy: the product and chain rules,
    // with the comparisons and `where`s of the products' adjoints, 13 ops;
    // one output, the terms of t's adjoint, which a sum then adds up.
    assert_eq!(adjoint.members.len(), 13);
    assert_eq!(adjoint.outputs.len(), 1);
}

#[test]
fn programs_print_the_same_with_and_without_fusion() {
    let programs = [
        // The seed function's value and gradient, in both float types, and
        // at a size that splits over the cores.
        format!("{SEED}let x = linspace(-1.0, 1.0, 1001); print(value_and_grad(g)(0.5, x));"),
        format!("{SEED}let x = f64(linspace(-1.0, 1.0, 77)); print(grad(g)(f64(0.3), x), f(x));"),
        format!("{SEED}let x = linspace(-1.0, 1.0, 200003); let (v, d) = value_and_grad(g)(0.5, x); print(v, d);"),
        // A dense layer: a bias row and ReLU, and their adjoints.
        "fn loss(w, b, x) { sum(relu(x @ w + b) * 2.0 - 0.5) }\n\
         let x = reshape(linspace(-2.0, 2.0, 24), [4, 6]); let w = reshape(linspace(-1.0, 1.0, 18), [6, 3]);\n\
         print(grad(loss)(w, [0.1, -0.2, 0.3], x));"
            .to_string(),
        // Values used in a branch and a loop between the members.
        "let x = linspace(-1.0, 2.0, 50); let a = exp(x); let s = sum(a);\n\
         let c = if s > 0.0 { a * 2.0 } else { x };\n\
         let mut y = x; for i in 0..3 { y = tanh(y * 0.9 + 0.1) * 2.0 - a; }\n\
         print(c + y, a);"
            .to_string(),
        // Masks out, `where`, `not`, and the `and` of clip's adjoint.
        "fn c(x) { sum(clip(x * 2.0, -0.5, 0.5) * x) }\n\
         let x = linspace(-1.0, 1.0, 11); let m = x > 0.25; let k = !m;\n\
         print(m, k, where(k, x, -x) * 2.0, where(m, 1.0, x), grad(c)(x));"
            .to_string(),
        // Forward mode interleaves groups of two shapes, one member of each
        // inside the other's span: neither may take the other's inputs.
        "fn op(a, b) = sum((max_pool2d(reshape(concat([a, b, a * b, a - b])[0:15], [1, 1, 3, 5]), 2) * a[1:3]\n\
             + sum(max_pool2d(reshape(concat([a, b, a * b, a - b]), [2, 2, 2, 2]), 2) ** 2)) * [1.0, 0.7][0:1]);\n\
         let a = [0.2, -0.6, -1.3, -1.0]; let b = [-0.1, -1.7, -1.9, 0.1]; let d = [0.3, -0.2, 0.5, 0.1];\n\
         print(jvp(op)(a, b, d, d * 2.0), grad(op, wrt: (0, 1))(a, b));"
            .to_string(),
        // Lengths known only at run time: the kernel checks them.
        "fn h(x, k) { let a = x[0:k]; let b = x[1:k + 1]; sum(exp(a) * b + a) }\n\
         let x = linspace(0.0, 1.0, 20); let k = int(sum(ones([7])));\n\
         print(h(x, k), grad(h)(x, k));"
            .to_string(),
        // ... and when they differ, the ops run one by one: a length-1 slice
        // broadcasts, and a mismatch is the unfused op's error.
        "fn h(x, k, j) { let a = x[0:k]; let b = x[2:j]; sin(a) + cos(b) * a }\n\
         fn n(k) { int(sum(ones([k]))) }\n\
         let x = linspace(0.0, 1.0, 20);\n\
         print(h(x, n(5), n(3)));\n\
         print(h(x, n(4), n(5)));"
            .to_string(),
    ];
    for src in &programs {
        let fused = run(src, true);
        let unfused = run(src, false);
        assert_eq!(fused, unfused, "{src}");
        assert!(!fused.is_empty());
    }
    // The last program's second print is an error, in both modes.
    assert!(run(&programs[programs.len() - 1], true).contains("error at"));
}

/// Adam's update of a record of parameters builds the moments' records
/// before the step that reads them: the records wait (`opt::sink`), so
/// each parameter's moments and step are one group.
#[test]
fn an_optimizer_step_is_one_group_per_parameter() {
    let src = "import optim;\n\
               struct P { w, b }\n\
               let p = P { w: reshape(linspace(-1.0, 1.0, 6), [2, 3]), b: [0.1, 0.2, 0.3] };\n\
               let g = P { w: reshape(linspace(0.5, -0.5, 6), [2, 3]), b: [0.3, -0.1, 0.2] };\n\
               print(optim.adam(p, g, optim.adam_init(p)));";
    let (_, groups) = groups_of(src, "optim.adam");
    assert_eq!(groups.len(), 2);
    for group in groups {
        // m: 3 ops, v: 4, the step: 7; out go the new parameter, m and v.
        assert_eq!(group.members.len(), 14);
        assert_eq!(group.outputs.len(), 3);
    }
    assert_eq!(run(src, true), run(src, false));
}

/// ReLU's adjoint reads the activations, not the pre-activations: a layer's
/// bias and ReLU write only the activations.
#[test]
fn a_dense_layers_forward_group_writes_only_its_activations() {
    let src = "fn loss(w, b, x) { sum(relu(x @ w + b) * 2.0) }\n\
               let x = reshape(linspace(-2.0, 2.0, 24), [4, 6]); let w = reshape(linspace(-1.0, 1.0, 18), [6, 3]);\n\
               print(grad(loss)(w, [0.1, -0.2, 0.3], x));";
    let (program, groups) = groups_of(src, "loss'vjp");
    let vjp = program
        .funcs
        .iter()
        .find(|f| f.name.as_str() == "loss'vjp")
        .unwrap();
    let first = groups.first().unwrap();
    // `+ b`, `relu` and `* 2.0`; out go relu's result (for the adjoint) and
    // the product (for the sum), not the sum `+ b`.
    let op = |p: usize| &vjp.body.insts[p].kind;
    assert_eq!(first.members.len(), 3);
    let pre = first
        .members
        .iter()
        .find(|&&p| *op(p) == InstKind::Prim(Prim::Binary(BinaryOp::Add)))
        .map(|&p| vjp.body.insts[p].results[0])
        .unwrap();
    assert_eq!(first.outputs.len(), 2);
    assert!(!first.outputs.contains(&pre));
    assert_eq!(run(src, true), run(src, false));
    // x = 0 and x < 0 get no gradient, x > 0 all of it.
    let at = "fn r(x) { sum(relu(x)) }\nprint(grad(r)([-1.0, 0.0, -0.0, 2.0]));";
    assert_eq!(run(at, true), "[0.0, 0.0, 0.0, 1.0]\n");
}

/// A recurrent loop over rows of weights, whose gradient adds into rows of
/// the weights' adjoints.
const RNN: &str = "fn rnn(w, b, h0, xs) {
    let mut h = h0;
    let mut total = 0.0 * h0[0];
    for t in 0..len(xs) {
        for l in 0..len(w) {
            h = tanh(h * w[l] + b[l] + xs[t]);
        }
        total += sum(h * h);
    }
    total
}
let w = reshape(linspace(-0.9, 0.8, 12), [3, 4]);
let b = reshape(linspace(0.3, -0.2, 12), [3, 4]);
let h0 = linspace(-0.5, 0.5, 4);
let xs = reshape(linspace(-1.0, 1.0, 20), [5, 4]);
";

/// Calls `visit` on every instruction of `b` and the blocks nested in it.
fn all_insts(b: &crate::ir::Block, visit: &mut dyn FnMut(&crate::ir::Inst)) {
    for inst in &b.insts {
        visit(inst);
        for nb in inst.blocks() {
            all_insts(nb, visit);
        }
    }
}

/// Every fused group in `f`'s body and the blocks nested in it.
fn all_groups(plan: &Plan, b: &crate::ir::Block, out: &mut Vec<Rc<Group>>) {
    for inst in &b.insts {
        if plan.inst(inst).fused == Fused::GroupEnd {
            out.push(plan.group(inst).unwrap().clone());
        }
        for nb in inst.blocks() {
            all_groups(plan, nb, out);
        }
    }
}

#[test]
fn rows_and_accumulators_join_groups_only_under_the_jit() {
    use crate::runtime::fused::Source;
    let src = format!("{RNN}print(value_and_grad(rnn, wrt: (0, 1))(w, b, h0, xs));");
    let (program, _) = compile(&src);
    let jit = crate::backend::jit::Jit::compile(&program).unwrap();
    let f = program
        .funcs
        .iter()
        .find(|f| f.name.as_str() == "rnn'vjp")
        .unwrap();
    let mut groups = Vec::new();
    all_groups(&Plan::new(f, true, Some(&jit)), &f.body, &mut groups);
    let sources: Vec<&Source> = groups
        .iter()
        .filter_map(|g| g.indexed.as_ref())
        .flat_map(|ix| &ix.sources)
        .collect();
    // The forward body reads `w[l]` and `b[l]` in place; the reverse body
    // reads them again (recomputed rather than taped) and adds into rows of
    // their adjoints.
    assert!(
        sources.iter().filter(|s| matches!(s, Source::Row { .. })).count() >= 4,
        "{sources:?}"
    );
    assert!(
        sources.iter().filter(|s| matches!(s, Source::Acc(_))).count() >= 2,
        "{sources:?}"
    );
    // The adjoint of `sum(h * h)` broadcasts a scalar: a splat inside a group.
    let jit_plan = Plan::new(f, true, Some(&jit));
    let mut broadcasts = Vec::new();
    all_insts(&f.body, &mut |i| {
        if matches!(i.kind, InstKind::Prim(Prim::BroadcastLike)) {
            broadcasts.push(jit_plan.inst(i).fused);
        }
    });
    assert!(!broadcasts.is_empty());
    assert!(
        broadcasts
            .iter()
            .all(|&k| matches!(k, Fused::Grouped | Fused::GroupEnd)),
        "{broadcasts:?}"
    );
    // Without native loops, rows and accumulators run as instructions.
    let mut plain = Vec::new();
    all_groups(&Plan::new(f, true, None), &f.body, &mut plain);
    assert!(!plain.is_empty() && plain.iter().all(|g| g.indexed.is_none()));
}

/// The output, or the error's message, of running `src` with the JIT's
/// native loops.
fn run_native(src: &str) -> String {
    let (program, f) = compile(src);
    let jit = crate::backend::jit::Jit::compile(&program).unwrap();
    let mut out = Vec::new();
    let mut interp = Interp::new(&program, &mut out).with_native(&jit);
    let r = interp.call(f, Vec::new(), Span::default()).map(|_| ());
    drop(interp);
    outcome(out, r)
}

#[test]
fn rows_and_accumulators_give_the_interpreted_bits() {
    // Printed floats round-trip, so equal text is equal bits.
    for dtype in ["f32", "f64"] {
        let src = format!(
            "{RNN}let (w, b, h0, xs) = ({dtype}(w), {dtype}(b), {dtype}(h0), {dtype}(xs));
print(value_and_grad(rnn, wrt: (0, 1, 2))(w, b, h0, xs));
print(rnn(w, b, h0, xs));"
        );
        let want = run(&src, false);
        assert!(!want.contains("error"), "{want}");
        assert_eq!(run_native(&src), want, "{dtype}");
        assert_eq!(run(&src, true), want, "{dtype}");
    }
}

#[test]
fn an_index_out_of_range_in_a_fused_row_is_the_interpreters_error() {
    // The last layer reads past the end of `w` (negative positions count
    // from the end, and work).
    let src = "fn step(w, h, n) {
    let mut h = h;
    for l in -1..n { h = tanh(h * w[l] + 1.0) * 0.5; }
    h
}
let w = reshape(linspace(-0.9, 0.8, 12), [3, 4]);
print(step(w, linspace(-0.5, 0.5, 4), 2));
print(step(w, linspace(-0.5, 0.5, 4), 4));
";
    let want = run(src, false);
    assert!(want.contains("error") && want.contains("out of range"), "{want}");
    assert_eq!(run_native(src), want);
}
