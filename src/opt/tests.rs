//! The optimization passes on small programs: what they remove and move.
//! (That they change no result is checked by running every golden program,
//! conformance file and derivative test through them.)

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use crate::ir::types::Ty;
use crate::ir::{Block, Func, InstKind, Prim, Program, Value};
use std::collections::{HashMap, HashSet};

/// The specialized, optimized program of `src`.
fn compile(src: &str) -> Program {
    crate::pipeline::specialize_source(src).0
}

fn func<'p>(p: &'p Program, name: &str) -> &'p Func {
    p.funcs.iter().find(|f| f.name.as_str() == name).unwrap()
}

fn walk<'b>(b: &'b Block, out: &mut Vec<&'b Block>) {
    out.push(b);
    for i in &b.insts {
        for inner in i.blocks() {
            walk(inner, out);
        }
    }
}

fn blocks(f: &Func) -> Vec<&Block> {
    let mut out = Vec::new();
    walk(&f.body, &mut out);
    out
}

#[test]
fn projections_of_tuples_built_in_view_are_their_parts() {
    let p = compile(
        "fn f(x) { let t = (x * 2.0, sin(x)); let (a, b) = t; a * b }\n\
         print(grad(f)(0.5));",
    );
    for name in ["f", "f'vjp"] {
        let f = func(&p, name);
        let tuples: HashSet<Value> = blocks(f)
            .iter()
            .flat_map(|b| &b.insts)
            .filter(|i| matches!(i.kind, InstKind::Tuple))
            .flat_map(|i| i.results.iter().copied())
            .collect();
        for b in blocks(f) {
            for i in &b.insts {
                if let InstKind::TupleGet(_) = i.kind {
                    assert!(
                        !tuples.contains(&i.args[0]),
                        "{name}: a projection of a built tuple is left"
                    );
                }
            }
        }
    }
}

#[test]
fn a_dead_for_loop_is_removed() {
    let p = compile("fn f(x) { let mut s = 0.0; for i in 0..3 { s = s + x; } x * 2.0 }\nprint(f(1.0));");
    let f = func(&p, "f");
    assert!(
        !f.body
            .insts
            .iter()
            .any(|i| matches!(i.kind, InstKind::For { .. }))
    );
}

/// A loop whose reverse sweep needs only some of the values kept per step.
const LOOP: &str = "fn f(w, x) {\n\
    let mut h = x;\n\
    for i in 0..3 { h = tanh(h * w[i]) * w[i + 1] + sin(h); }\n\
    sum(h)\n\
}\n\
print(grad(f)([0.5, 0.7, -0.3, 0.2], [1.0, 2.0]));";

#[test]
fn tapes_keep_only_the_parts_the_reverse_sweep_reads() {
    let p = compile(LOOP);
    let f = func(&p, "f'vjp");
    let mut read: HashMap<Value, HashSet<u32>> = HashMap::new();
    let mut entries = Vec::new();
    for b in blocks(f) {
        for i in &b.insts {
            match i.kind {
                InstKind::ListGet => entries.push(i.results[0]),
                InstKind::TupleGet(k) => {
                    read.entry(i.args[0]).or_default().insert(k);
                }
                _ => {}
            }
        }
    }
    assert!(!entries.is_empty());
    for e in entries {
        let Some(Ty::Tuple(parts)) = f.ty(e) else {
            panic!("an entry that is not a tuple")
        };
        let n = read.get(&e).map_or(0, HashSet::len);
        assert_eq!(n, parts.len(), "every part kept is read");
    }
}

#[test]
fn scatters_sink_below_the_elementwise_chain() {
    let p = compile(LOOP);
    let f = func(&p, "f'vjp");
    let mut scatters = 0;
    // After a scatter, every elementwise instruction reads (through others)
    // a scatter's result: none was left below it that could run before it.
    for b in blocks(f) {
        let mut after: HashSet<Value> = HashSet::new();
        let mut seen = false;
        for i in &b.insts {
            if matches!(i.kind, InstKind::Prim(Prim::IndexGrad(_) | Prim::IndexAdd(_))) {
                seen = true;
                scatters += 1;
                after.extend(i.results.iter().copied());
            } else if seen {
                let reads = i.args.iter().any(|a| after.contains(a));
                if matches!(
                    i.kind,
                    InstKind::Prim(Prim::Unary(_) | Prim::Binary(_) | Prim::Where)
                ) {
                    assert!(
                        reads,
                        "an elementwise instruction independent of a scatter sits below it"
                    );
                }
                if reads {
                    after.extend(i.results.iter().copied());
                }
            }
        }
    }
    assert!(scatters > 0);
}

#[test]
fn the_reverse_sweep_reads_cos_from_the_tape() {
    // W2's recurrence: the derivative of `sin x` is `cos x`, which the
    // forward sweep computes and keeps; the reverse sweep calls no
    // transcendental function. Tensor steps keep theirs in the reverse sweep.
    let p = compile(
        "fn f(a, x0) {\n\
         let mut x = x0;\n\
         for t in 0..5 { x = x + 0.01 * a * sin(x); }\n\
         x * x\n\
         }\n\
         fn g(a, x0) {\n\
         let mut x = x0;\n\
         for t in 0..5 { x = x + 0.01 * a * sin(x); }\n\
         sum(x)\n\
         }\n\
         print(grad(f)(1.0, 0.5));\n\
         print(grad(g)(1.0, [0.5, 0.25]));",
    );
    // The top-level loops (0: forward sweep, 1: reverse) that apply `op`.
    let trig = |f: &Func, op: crate::ir::UnaryOp| -> Vec<usize> {
        let mut at = Vec::new();
        let loops: Vec<&crate::ir::Inst> = f
            .body
            .insts
            .iter()
            .filter(|i| matches!(i.kind, InstKind::For { .. }))
            .collect();
        for (k, l) in loops.iter().enumerate() {
            let mut inner = Vec::new();
            for b in l.blocks() {
                walk(b, &mut inner);
            }
            if inner
                .iter()
                .flat_map(|b| &b.insts)
                .any(|i| i.kind == InstKind::Prim(Prim::Unary(op)))
            {
                at.push(k);
            }
        }
        at
    };
    use crate::ir::UnaryOp::{Cos, Sin};
    let f = func(&p, "f'vjp");
    assert_eq!(trig(f, Sin), vec![0]);
    assert_eq!(trig(f, Cos), vec![0], "cos runs in the forward sweep only");
    // The residual runs after the step's own `sin`, just before the push.
    let forward = f
        .body
        .insts
        .iter()
        .find(|i| matches!(i.kind, InstKind::For { .. }))
        .and_then(|l| l.blocks().first().copied())
        .unwrap();
    let at = |op: crate::ir::UnaryOp| {
        forward
            .insts
            .iter()
            .position(|i| i.kind == InstKind::Prim(Prim::Unary(op)))
            .unwrap()
    };
    let push = forward
        .insts
        .iter()
        .position(|i| i.kind == InstKind::ListPush)
        .unwrap();
    assert!(
        at(Sin) < at(Cos) && at(Cos) < push,
        "cos after sin, before the push"
    );
    let g = func(&p, "g'vjp");
    assert_eq!(trig(g, Cos), vec![1], "a tensor's cos stays in the reverse sweep");
}

#[test]
fn transposes_of_transposes_and_of_products_are_folded() {
    // GMM's pattern: `q @ transpose(x)`. Its adjoints transpose the
    // transpose back and transpose the product `transpose(q) @ dz`.
    let p = compile(
        "fn f(q, x) { let z = q @ transpose(x, [0, 2, 1]); sum(z * z) }\n\
         print(grad(f, wrt: (0, 1))(ones([2, 3, 3]), ones([2, 5, 3])));",
    );
    let f = func(&p, "f'vjp");
    let mut made: HashMap<Value, &'static str> = HashMap::new();
    let mut transposes = 0;
    for b in blocks(f) {
        for i in &b.insts {
            match &i.kind {
                InstKind::Prim(Prim::Transpose(_)) => {
                    transposes += 1;
                    let from = made.get(&i.args[0]).copied();
                    assert!(from.is_none(), "a transpose of a {from:?} is left");
                    made.insert(i.results[0], "transpose");
                }
                InstKind::Prim(Prim::MatMul) => {
                    made.insert(i.results[0], "product");
                }
                _ => {}
            }
        }
    }
    // The forward transpose, and the adjoint's `transpose(dz)`.
    assert_eq!(transposes, 2);
}

#[test]
fn accumulated_index_adjoints_become_index_adds() {
    // The adjoint of `w[i]` read in a loop is accumulated into `w`'s: each
    // step adds `g` into row `i` rather than a zero matrix with `g` in it.
    let p = compile(
        "fn f(w, x) {\n\
         let mut h = x;\n\
         for i in 0..3 { h = tanh(h * w[i]); }\n\
         sum(h)\n\
         }\n\
         print(grad(f)(ones([3, 4]) * 0.5, ones([4])));",
    );
    let f = func(&p, "f'vjp");
    let count = |want: fn(&Prim) -> bool| {
        blocks(f)
            .iter()
            .flat_map(|b| &b.insts)
            .filter(|i| matches!(&i.kind, InstKind::Prim(p) if want(p)))
            .count()
    };
    assert!(count(|p| matches!(p, Prim::IndexAdd(_))) > 0);
    assert_eq!(count(|p| matches!(p, Prim::IndexGrad(_))), 0);
}

#[test]
fn derivatives_inline_their_callees_once() {
    // A two-layer model whose layer is a function, differentiated with
    // respect to the weights only: the forward products run once, and the
    // input's gradient (an `@` nobody reads) is never computed.
    let p = compile(
        "fn layer(w, x) = relu(x @ w);\n\
         fn model(w1, w2, x) = layer(w2, layer(w1, x));\n\
         fn loss(w1, w2, x) = sum(model(w1, w2, x));\n\
         print(grad(loss, wrt: (0, 1))(ones([3, 4]), ones([4, 2]), ones([5, 3])));",
    );
    let f = func(&p, "loss'vjp");
    let insts: Vec<&crate::ir::Inst> = blocks(f).into_iter().flat_map(|b| &b.insts).collect();
    assert!(
        !insts.iter().any(|i| matches!(i.kind, InstKind::Call(_))),
        "every callee is inlined"
    );
    let products = insts
        .iter()
        .filter(|i| i.kind == InstKind::Prim(Prim::MatMul))
        .count();
    // Two forward products; w2's and w1's adjoints, and the adjoint of the
    // hidden layer between them.
    assert_eq!(products, 5);
    // A recursive function stays a call (its derivative recomputes), and
    // still differentiates.
    let p = compile(
        "fn pw(x, n) = if n == 0 { 1.0 } else { x * pw(x, n - 1) };\n\
         print(grad(pw)(1.5, 3));",
    );
    let f = func(&p, "pw'vjp");
    assert!(
        blocks(f)
            .iter()
            .flat_map(|b| &b.insts)
            .any(|i| matches!(i.kind, InstKind::Call(_))),
        "the recursive call stays"
    );
}

/// A loop that grows a tensor by a row per step, and its gradient.
const GROWN: &str = "fn f(x) { let mut acc = zeros([0, 2]); for l in 0..3 { acc = concat([acc, reshape(x * float(l), [1, 2])], axis: 0); } sum(acc * acc) }\n\
                     print(grad(f)([1.0, 2.0]));";

#[test]
fn rows_taken_back_from_a_concat_are_indexed() {
    // The adjoint of appending a row takes the row back as a one-row slice
    // reshaped to the row: `simplify` makes it `a[i]`, and `0 + i` is `i`.
    let src = GROWN;
    let p = compile(src);
    let f = func(&p, "f'vjp");
    let insts: Vec<&crate::ir::Inst> = blocks(f).into_iter().flat_map(|b| &b.insts).collect();
    assert!(
        !insts.iter().any(|i| i.kind == InstKind::Prim(Prim::ReshapeLike)),
        "the slice and reshape became one index"
    );
    assert!(
        insts
            .iter()
            .any(|i| i.kind == InstKind::Prim(Prim::Index(vec![crate::ir::IndexItem::At]))),
        "a row is indexed"
    );
    let zero_adds = insts.iter().filter(|i| {
        i.kind == InstKind::Prim(Prim::Binary(crate::ir::BinaryOp::Add))
            && i.args.iter().any(|a| {
                insts
                    .iter()
                    .any(|d| d.results.contains(a) && d.kind == InstKind::Const(crate::ir::Const::Int(0)))
            })
    });
    assert_eq!(zero_adds.count(), 0, "no int is offset by 0");
}

#[test]
fn a_row_at_an_index_that_may_be_negative_keeps_its_slice() {
    // `a[i:i + 1]` and `a[i]` differ for a negative `i` (an empty slice; the
    // row counted from the end), so only a known non-negative `i` becomes
    // `a[i]`: here a dimension of a shape, not a parameter.
    let text = "fn f(%0 a: f64[3, 2], %1 i: int, %2 like: f64[2]) {
  %3 = const 1 : int
  %4 = prim add %1, %3 : int
  %5 = prim index[lo:hi] %0, %1, %4 : f64[?, 2]
  %6 = prim reshape_like %5, %2 : f64[2]
  %7 = prim shape %0 : (int, int)
  %8 = tget 1 %7 : int
  %9 = prim add %8, %3 : int
  %10 = prim index[lo:hi] %0, %8, %9 : f64[?, 2]
  %11 = prim reshape_like %10, %2 : f64[2]
  %12 = tuple %6, %11 : (f64[2], f64[2])
  return %12
}
";
    let mut p = crate::ir::parse::parse_program(text).unwrap();
    let f = &mut p.funcs[0];
    super::simplify::run(f);
    let kinds: Vec<&InstKind> = f.body.insts.iter().map(|i| &i.kind).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| ***k == InstKind::Prim(Prim::ReshapeLike))
            .count(),
        1,
        "{kinds:?}"
    );
    assert!(kinds.contains(&&InstKind::Prim(Prim::Index(vec![crate::ir::IndexItem::At]))));
}

#[test]
fn a_nested_loop_accumulates_into_the_outer_loops_adjoint() {
    // w's adjoint: one zeros before the reverse sweep, carried by the outer
    // reverse loop into the inner one and back (no zeros and no sum per
    // outer iteration).
    let p = compile(
        "fn f(w) { let mut s = 0.0; for t in 0..3 { for l in 0..2 { s = s + w[l] * float(t + 1); } } s }\n\
         print(grad(f)([0.5, -1.0]));",
    );
    let f = func(&p, "f'vjp");
    let fulls = blocks(f)
        .iter()
        .flat_map(|b| &b.insts)
        .filter(|i| matches!(i.kind, InstKind::Prim(Prim::Full(_))))
        .count();
    assert_eq!(fulls, 1);
    let body = f
        .body
        .insts
        .iter()
        .rev()
        .find_map(|i| match &i.kind {
            InstKind::For { body } => Some(body),
            _ => None,
        })
        .unwrap();
    let acc = *body.params.last().unwrap();
    let inner = body
        .insts
        .iter()
        .find(|i| matches!(i.kind, InstKind::For { .. }))
        .unwrap();
    assert_eq!(
        inner.args.last(),
        Some(&acc),
        "the inner loop starts from the outer accumulator"
    );
    assert_eq!(body.yields.last(), inner.results.last(), "and its total goes on");
}

/// Whether an instruction of `f` at the top level of a loop body matches.
fn in_loop_body(f: &Func, matches: impl Fn(&crate::ir::Inst) -> bool) -> bool {
    blocks(f)
        .iter()
        .flat_map(|b| &b.insts)
        .filter(|i| matches!(i.kind, InstKind::For { .. } | InstKind::While { .. }))
        .flat_map(|i| i.blocks())
        .flat_map(|b| &b.insts)
        .any(matches)
}

#[test]
fn constants_and_scalar_arithmetic_of_outer_values_leave_loops() {
    let src = "fn f(x, n) {\n\
               let mut s = x;\n\
               for i in 0..n { s = s * 0.5 + float(n - 1) + float(i); }\n\
               s\n\
               }\n\
               for k in 0..1 { print(f(3.0, k + 4)); }";
    let p = compile(src);
    let f = func(&p, "f");
    assert!(!in_loop_body(f, |i| matches!(i.kind, InstKind::Const(_))));
    assert!(!in_loop_body(f, |i| matches!(
        i.kind,
        InstKind::Prim(Prim::Binary(crate::ir::BinaryOp::Sub))
    )));
    // The loop's own values stay in it: `s * 0.5` and the cast of `i`.
    assert!(in_loop_body(f, |i| matches!(
        i.kind,
        InstKind::Prim(Prim::Binary(crate::ir::BinaryOp::Mul))
    )));
    // By hand: s = 3, then s * 0.5 + 3 + i for i = 0 … 3.
    let mut s = 3.0f32;
    for i in 0..4u8 {
        s = s * 0.5 + 3.0 + f32::from(i);
    }
    assert_eq!(printed(src), format!("{s}\n"));
}

#[test]
fn the_first_axis_of_a_shape_is_a_length() {
    // `a[0:k]` has a first axis known only at run time.
    let src = "fn f(a, k) { let b = a[0:k]; let (n, m) = shape(b); float(n) * b[0, 0] }\n\
               for k in 0..1 { print(f(reshape(linspace(1.0, 6.0, 6), [3, 2]), k + 2)); }";
    let p = compile(src);
    let f = func(&p, "f");
    let insts: Vec<&crate::ir::Inst> = blocks(f).iter().flat_map(|b| &b.insts).collect();
    assert!(insts.iter().any(|i| matches!(i.kind, InstKind::Prim(Prim::Len))));
    // The shape tuple is dead once its projection is a length, and goes.
    assert!(
        !insts
            .iter()
            .any(|i| matches!(i.kind, InstKind::Prim(Prim::Shape)))
    );
    assert_eq!(printed(src), "2.0\n");
}

/// What the main body of `src` prints, run on the interpreter.
fn printed(src: &str) -> String {
    let (program, f) = crate::pipeline::specialize_source(src);
    let mut out = Vec::new();
    let mut interp = crate::backend::interp::Interp::new(&program, &mut out);
    interp
        .call(f, Vec::new(), crate::syntax::Span::default())
        .unwrap();
    drop(interp);
    String::from_utf8(out).unwrap()
}

#[test]
fn a_grown_tensor_is_kept_on_the_tape_as_its_length() {
    // The adjoint of `concat([acc, row])` splits at `len(acc)`: the tape
    // keeps that int, computed before the concat takes `acc`, not `acc`.
    let src = GROWN;
    let p = compile(src);
    let f = func(&p, "f'vjp");
    let lists: Vec<&Ty> = f
        .values
        .iter()
        .filter_map(|v| match &v.ty {
            Some(Ty::List(elem)) => Some(&**elem),
            _ => None,
        })
        .collect();
    assert!(!lists.is_empty());
    for elem in lists {
        let Ty::Tuple(parts) = elem else {
            panic!("{elem:?}")
        };
        assert!(
            parts
                .iter()
                .all(|t| t.as_tensor().is_some_and(|t| t.shape.rank() == 0)),
            "only scalars are kept: {parts:?}"
        );
    }
    let body = blocks(f)
        .into_iter()
        .find(|b| {
            b.insts
                .iter()
                .any(|i| matches!(i.kind, InstKind::Prim(Prim::Concat(_))))
        })
        .unwrap();
    let at = |k: fn(&InstKind) -> bool| body.insts.iter().position(|i| k(&i.kind)).unwrap();
    assert!(
        at(|k| matches!(k, InstKind::Prim(Prim::Len))) < at(|k| matches!(k, InstKind::Prim(Prim::Concat(_))))
    );
    // d/dx sum over l of (x l)^2 = 2 x (0 + 1 + 4).
    assert_eq!(printed(src), "[10.0, 20.0]\n");
}

#[test]
fn a_reader_takes_along_only_what_it_reads() {
    // In the reverse body of a grown tensor's loop, the slice that drops
    // the last row of the accumulated adjoint is read only by the next
    // iteration: it sinks below the elementwise code that reads that row,
    // to the end of the body.
    let src = GROWN;
    let p = compile(src);
    let f = func(&p, "f'vjp");
    let slice = |i: &crate::ir::Inst| {
        matches!(&i.kind, InstKind::Prim(Prim::Index(items))
            if items.iter().all(|it| matches!(it, crate::ir::IndexItem::Slice { .. })))
    };
    let body = blocks(f)
        .into_iter()
        .find(|b| {
            b.insts.iter().any(slice)
                && b.insts
                    .iter()
                    .any(|i| matches!(i.kind, InstKind::Prim(Prim::Binary(_))))
        })
        .unwrap();
    let last_slice = body.insts.iter().rposition(slice).unwrap();
    let last_elementwise = body
        .insts
        .iter()
        .rposition(|i| matches!(i.kind, InstKind::Prim(Prim::Binary(_))))
        .unwrap();
    assert!(
        last_slice > last_elementwise,
        "{:?}",
        body.insts.iter().map(|i| &i.kind).collect::<Vec<_>>()
    );
    assert_eq!(printed(src), "[10.0, 20.0]\n");
}

#[test]
fn a_new_lists_length_is_zero() {
    // The reverse sweep subtracts its tape's start, the length of the list
    // before the loop pushed to it: 0 when the list was just made.
    let p = compile(LOOP);
    let f = func(&p, "f'vjp");
    let insts: Vec<&crate::ir::Inst> = blocks(f).into_iter().flat_map(|b| &b.insts).collect();
    let new_lists: HashSet<Value> = insts
        .iter()
        .filter(|i| matches!(i.kind, InstKind::ListNew))
        .flat_map(|i| i.results.iter().copied())
        .collect();
    assert!(!new_lists.is_empty());
    assert!(
        !insts
            .iter()
            .any(|i| matches!(i.kind, InstKind::ListLen) && i.args.iter().any(|a| new_lists.contains(a))),
        "a length of a new list is left"
    );
}

#[test]
fn adjoints_of_rows_concatenated_onto_an_empty_start_skip_the_empty_region() {
    // The LSTM's shape: each step starts `nh` from `h[0:0]` and concatenates
    // rows onto it. The adjoint of `h[0:0]` adds into an empty region (gone),
    // and the zeros of the `[?, 3]` adjoints are `broadcast_like`s, not a
    // `shape` and a `full`.
    let p = compile(
        "fn f(w, h0) { let mut h = h0; let mut s = 0.0; for t in 0..2 { let mut nh = h[0:0]; \
         for l in 0..2 { nh = concat([nh, reshape(tanh(h[l] * w), [1, 3])], axis: 0); } \
         h = nh; s = s + sum(h); } s }\n\
         print(grad(f)(0.5, ones([2, 3])));",
    );
    let f = func(&p, "f'grad");
    let insts: Vec<_> = blocks(f).into_iter().flat_map(|b| &b.insts).collect();
    let empty_adds = insts
        .iter()
        .filter(|i| matches!(&i.kind, InstKind::Prim(Prim::IndexAdd(items)) if items.len() == 1 && !matches!(items[0], crate::ir::IndexItem::At)))
        .count();
    assert_eq!(empty_adds, 0);
    assert!(
        !insts
            .iter()
            .any(|i| matches!(i.kind, InstKind::Prim(Prim::Full(_) | Prim::Shape)))
    );
    let spreads = insts
        .iter()
        .filter(|i| matches!(i.kind, InstKind::Prim(Prim::BroadcastLike)))
        .count();
    assert!(spreads >= 2, "{spreads}");
}
