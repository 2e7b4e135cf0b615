//! Transposes: a transpose of a transpose is one transpose of the original
//! (none when the two cancel), and the last-two-axes transpose of a matrix
//! product that nothing else reads is the product of the operands'
//! transposes the other way round, `(a @ b)ᵀ = bᵀ @ aᵀ`, whose transposes
//! may then cancel in turn.
//!
//! Reverse mode makes both: the adjoint of a transpose is the inverse
//! transpose, and those of `a @ b` are `dy @ bᵀ` and `aᵀ @ dy`. In GMM's
//! gradient they took two of three transposes of the largest tensor away.
//! A transpose only moves elements, and each element of `bᵀ @ aᵀ` is the
//! same sum of the same products as in `(a @ b)ᵀ`, added in the order the
//! matrix kernel adds them.

use crate::ir::types::{Shape, Ty};
use crate::ir::{Block, Func, Inst, InstKind, Prim, Value};
use std::collections::HashMap;

pub fn run(f: &mut Func) {
    let reads = f.body.read_counts();
    let mut body = std::mem::take(&mut f.body);
    let mut walk = Walk {
        f,
        reads,
        defs: HashMap::new(),
        rename: HashMap::new(),
    };
    walk.block(&mut body);
    f.body = body;
}

/// How a value was made, for the values this pass looks through.
#[derive(Clone)]
enum Def {
    Transpose { perm: Vec<usize>, src: Value },
    MatMul { a: Value, b: Value },
}

struct Walk<'f> {
    f: &'f mut Func,
    reads: HashMap<Value, usize>,
    defs: HashMap<Value, Def>,
    rename: HashMap<Value, Value>,
}

/// `transpose(transpose(x, p), q)` is `transpose(x, c)` with `c[i] = p[q[i]]`.
fn compose(p: &[usize], q: &[usize]) -> Option<Vec<usize>> {
    q.iter().map(|&i| p.get(i).copied()).collect()
}

fn is_identity(perm: &[usize]) -> bool {
    perm.iter().enumerate().all(|(i, &p)| i == p)
}

/// The permutation of `rank` axes that swaps the last two.
fn swap_last_two(rank: usize) -> Option<Vec<usize>> {
    let mut perm: Vec<usize> = (0..rank).collect();
    if rank < 2 {
        return None;
    }
    perm.swap(rank - 2, rank - 1);
    Some(perm)
}

impl Walk<'_> {
    fn rank(&self, v: Value) -> Option<usize> {
        self.f.ty(v).and_then(Ty::as_tensor).map(|t| t.shape.rank())
    }

    fn block(&mut self, b: &mut Block) {
        let mut kept = Vec::with_capacity(b.insts.len());
        for mut inst in std::mem::take(&mut b.insts) {
            for a in &mut inst.args {
                if let Some(&n) = self.rename.get(a) {
                    *a = n;
                }
            }
            for inner in inst.blocks_mut() {
                self.block(inner);
            }
            if self.inst(&mut inst, &mut kept) {
                kept.push(inst);
            }
        }
        b.insts = kept;
        for y in &mut b.yields {
            if let Some(&n) = self.rename.get(y) {
                *y = n;
            }
        }
    }

    /// Rewrites `inst`, pushing any instructions it needs first onto `out`;
    /// false when it is gone (its result renamed).
    fn inst(&mut self, inst: &mut Inst, out: &mut Vec<Inst>) -> bool {
        let (Some(&r), Some(&src)) = (inst.results.first(), inst.args.first()) else {
            return true;
        };
        match &inst.kind {
            InstKind::Prim(Prim::Transpose(q)) => {
                let q = q.clone();
                if let Some(Def::Transpose { perm, src: x }) = self.defs.get(&src).cloned()
                    && let Some(c) = compose(&perm, &q)
                {
                    if is_identity(&c) {
                        self.rename.insert(r, x);
                        return false;
                    }
                    inst.kind = InstKind::Prim(Prim::Transpose(c.clone()));
                    inst.args = vec![x];
                    self.defs.insert(r, Def::Transpose { perm: c, src: x });
                    return true;
                }
                if let Some(Def::MatMul { a, b }) = self.defs.get(&src).cloned()
                    && self.reads.get(&src) == Some(&1)
                    && self.rank(src).and_then(swap_last_two).as_ref() == Some(&q)
                    && self.rank(a).is_some_and(|r| r >= 2)
                    && self.rank(b).is_some_and(|r| r >= 2)
                    && let (Some(bt), Some(at)) =
                        (self.transposed(b, inst, out), self.transposed(a, inst, out))
                {
                    inst.kind = InstKind::Prim(Prim::MatMul);
                    inst.args = vec![bt, at];
                    self.defs.insert(r, Def::MatMul { a: bt, b: at });
                    return true;
                }
                self.defs.insert(r, Def::Transpose { perm: q, src });
            }
            InstKind::Prim(Prim::MatMul) => {
                if let Some(&b) = inst.args.get(1) {
                    self.defs.insert(r, Def::MatMul { a: src, b });
                }
            }
            _ => {}
        }
        true
    }

    /// `v` with its last two axes swapped: the value it was transposed from
    /// when that cancels, or a new transpose pushed onto `out`. `None` for a
    /// value of rank below 2.
    fn transposed(&mut self, v: Value, at: &Inst, out: &mut Vec<Inst>) -> Option<Value> {
        let q = swap_last_two(self.rank(v)?)?;
        if let Some(Def::Transpose { perm, src }) = self.defs.get(&v)
            && compose(perm, &q).is_some_and(|c| is_identity(&c))
        {
            return Some(*src);
        }
        let mut ty = self.f.ty(v)?.clone();
        if let Ty::Tensor(t) = &mut ty {
            let dims = q.iter().filter_map(|&i| t.shape.0.get(i).cloned()).collect();
            t.shape = Shape(dims);
        }
        let r = self.f.new_value(Some(ty), None);
        out.push(Inst {
            kind: InstKind::Prim(Prim::Transpose(q.clone())),
            args: vec![v],
            results: vec![r],
            span: at.span,
        });
        self.defs.insert(r, Def::Transpose { perm: q, src: v });
        Some(r)
    }
}
