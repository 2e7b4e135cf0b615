//! Inlining of direct calls into a function about to be differentiated.
//!
//! Reverse mode reads a straight-line value in the reverse sweep, but the
//! reverse of a call `y = g(a…)` calls `g'(a…, dy)`, which runs `g`'s forward
//! sweep again (`ad::reverse`). Inlining `g` first makes its forward values
//! ordinary values of the caller: the reverse sweep reads them (or, in a
//! loop, the tape keeps them), nothing is computed twice, and what `g'`
//! would have computed for arguments the caller does not differentiate
//! (an MLP's gradient with respect to its input batch) is dead code that
//! DCE removes. This is what tracing gives JAX for free.
//!
//! Calls stay calls when inlining cannot pay or is not allowed: recursive
//! calls (a function already being inlined), functions with a custom
//! `adjoint`, and callees that would grow the function past [`MAX_SIZE`]
//! instructions.

use crate::ir::{Block, Func, FuncId, Inst, InstKind, Program, Value};
use std::collections::HashMap;

/// The most instructions (nested ones included) an inlined function may
/// reach; callees that would take it further stay calls.
pub const MAX_SIZE: usize = 4000;

/// `f`'s body with its direct calls inlined, transitively; `None` when it
/// makes no call that can be inlined.
pub fn inline_calls(program: &Program, f: FuncId) -> Option<Func> {
    let src = program.func(f)?;
    let mut inliner = Inliner {
        program,
        values: src.values.clone(),
        stack: vec![f],
        size: count(&src.body),
        inlined: false,
    };
    let mut map = HashMap::new();
    for &p in &src.param_values {
        map.insert(p, p);
    }
    let body = inliner.block(src, &src.body, &mut map, false);
    if !inliner.inlined {
        return None;
    }
    let mut out = src.clone();
    out.body = body;
    out.values = inliner.values;
    Some(out)
}

/// Instructions in `b`, nested ones included.
pub fn count(b: &Block) -> usize {
    b.insts
        .iter()
        .map(|i| 1 + i.blocks().into_iter().map(count).sum::<usize>())
        .sum()
}

struct Inliner<'p> {
    program: &'p Program,
    /// The value table of the function being built: the caller's values,
    /// then fresh ones for each inlined copy.
    values: Vec<crate::ir::ValueInfo>,
    /// The functions whose bodies are being copied, outermost first.
    stack: Vec<FuncId>,
    /// Instructions in the function so far.
    size: usize,
    inlined: bool,
}

impl<'p> Inliner<'p> {
    /// Copies `b` of `from`, renaming through `map`; `fresh` gives every value
    /// the block defines a new number (a callee's copy), otherwise values
    /// keep theirs (the caller's own body).
    fn block(&mut self, from: &Func, b: &Block, map: &mut HashMap<Value, Value>, fresh: bool) -> Block {
        let params = b
            .params
            .iter()
            .map(|&p| self.define(from, p, map, fresh))
            .collect();
        let mut insts = Vec::with_capacity(b.insts.len());
        for inst in &b.insts {
            self.inst(from, inst, map, fresh, &mut insts);
        }
        let yields = b.yields.iter().map(|&y| lookup(map, y)).collect();
        Block {
            params,
            insts,
            yields,
        }
    }

    fn define(&mut self, from: &Func, v: Value, map: &mut HashMap<Value, Value>, fresh: bool) -> Value {
        let new = if fresh {
            self.values
                .push(from.values.get(v.0 as usize).cloned().unwrap_or_default());
            Value((self.values.len() - 1) as u32)
        } else {
            v
        };
        map.insert(v, new);
        new
    }

    fn inst(
        &mut self,
        from: &Func,
        inst: &Inst,
        map: &mut HashMap<Value, Value>,
        fresh: bool,
        out: &mut Vec<Inst>,
    ) {
        let args: Vec<Value> = inst.args.iter().map(|&a| lookup(map, a)).collect();
        if let InstKind::Call(h) = inst.kind
            && let Some(callee) = self.inlinable(h)
            && let [result] = inst.results.as_slice()
            && let [y] = callee.body.yields.as_slice()
            && callee.param_values.len() == args.len()
        {
            self.inlined = true;
            self.size += count(&callee.body);
            self.stack.push(h);
            let mut inner: HashMap<Value, Value> = callee.param_values.iter().copied().zip(args).collect();
            let body = self.block(callee, &callee.body, &mut inner, true);
            self.stack.pop();
            out.extend(body.insts);
            map.insert(*result, lookup(&inner, *y));
            return;
        }
        let mut kind = inst.kind.clone();
        match &mut kind {
            InstKind::If { then, else_ } => {
                *then = self.block(from, then, map, fresh);
                *else_ = self.block(from, else_, map, fresh);
            }
            InstKind::For { body } => *body = self.block(from, body, map, fresh),
            InstKind::While { cond, body } => {
                *cond = self.block(from, cond, map, fresh);
                *body = self.block(from, body, map, fresh);
            }
            _ => {}
        }
        let results = inst
            .results
            .iter()
            .map(|&r| self.define(from, r, map, fresh))
            .collect();
        out.push(Inst {
            kind,
            args,
            results,
            span: inst.span,
        });
    }

    /// The callee's body when a call of `h` may be inlined here.
    fn inlinable(&self, h: FuncId) -> Option<&'p Func> {
        let callee = self.program.func(h)?;
        let ok = !self.stack.contains(&h)
            && self.program.adjoint_of(h).is_none()
            && self.size + count(&callee.body) <= MAX_SIZE;
        ok.then_some(callee)
    }
}

fn lookup(map: &HashMap<Value, Value>, v: Value) -> Value {
    map.get(&v).copied().unwrap_or(v)
}
