//! Elementwise fusion: the groups of elementwise instructions (unary and
//! binary ops, comparisons, `where`) over tensors of one shape that the
//! interpreter runs as one fused kernel ([`FusedKernel`]), block by block,
//! writing only the values read outside the group.
//!
//! A group collects instructions of one block in order; instructions that
//! are not members may sit between them. The group runs at the position of
//! its last member, so a group is closed as soon as any other instruction
//! (or a member of another group) reads one of its values: those readers
//! then run after it. Everything else between the members is independent of
//! them, and elementwise ops have no effects, so moving them later changes
//! nothing observable. Members' operands must have the result's shape, rank
//! 0, or the trailing axes of the result's shape (a bias row); the kernel
//! re-checks the run-time shapes and, when they differ (dimensions unknown
//! when the program was specialized), the members run one by one.

use crate::backend::Native;
use crate::ir::op::{BinaryOp, UnaryOp};
use crate::ir::types::{DType, Shape, Ty};
use crate::ir::{Block, Func, Inst, InstKind, Prim, Value};
use crate::runtime::fused::{FusedKernel, FusedOp, FusedStep};
use std::collections::{HashMap, HashSet};

/// One fused group.
pub struct Group {
    pub kernel: FusedKernel,
    /// The values the group reads from outside itself, in the kernel's input
    /// order, each with whether the group's read is its last use (set by the
    /// plan once last uses are known).
    pub inputs: Vec<(Value, bool)>,
    /// The member results read outside the group, in the kernel's output order.
    pub outputs: Vec<Value>,
    /// The members' positions in their block, in order.
    pub members: Vec<usize>,
}

/// A group and the block its members are in.
pub struct Found<'a> {
    pub block: &'a Block,
    pub group: Group,
}

/// The groups of `f` with at least two members, skipping the instructions
/// at the addresses in `taken` (fused otherwise already).
pub fn find_groups<'a>(f: &'a Func, taken: &HashSet<usize>, native: Option<&dyn Native>) -> Vec<Found<'a>> {
    let reads = f.body.read_counts();
    let mut finder = Finder {
        f,
        taken,
        reads: &reads,
        native,
        found: Vec::new(),
    };
    finder.block(&f.body);
    finder.found
}

/// Every value `inst` reads, its nested blocks' reads and yields included.
fn reads_of(inst: &Inst, out: &mut Vec<Value>) {
    out.extend(inst.args.iter().copied());
    for b in inst.blocks() {
        for i in &b.insts {
            reads_of(i, out);
        }
        out.extend(b.yields.iter().copied());
    }
}

/// An instruction that may join a group: its op, the float type it needs
/// (`None` for bool-only ops), and its result's shape.
struct Candidate {
    op: FusedOp,
    dtype: Option<DType>,
    shape: Shape,
}

fn tensor_ty(f: &Func, v: Value) -> Option<(DType, &Shape)> {
    match f.ty(v)? {
        Ty::Tensor(t) => Some((t.dtype, &t.shape)),
        _ => None,
    }
}

fn is_float(d: DType) -> bool {
    matches!(d, DType::F32 | DType::F64)
}

fn candidate(f: &Func, inst: &Inst) -> Option<Candidate> {
    let InstKind::Prim(p) = &inst.kind else {
        return None;
    };
    let op = match p {
        Prim::Unary(op) => FusedOp::Unary(*op),
        Prim::Binary(op) => FusedOp::Binary(*op),
        Prim::Where => FusedOp::Where,
        _ => return None,
    };
    let [r] = inst.results.as_slice() else { return None };
    let (rd, shape) = tensor_ty(f, *r)?;
    if shape.rank() == 0 {
        return None;
    }
    // The dtype each operand must have, and the group's float type.
    let (wanted, dtype): (Vec<DType>, Option<DType>) = match op {
        FusedOp::Unary(UnaryOp::Not) => (vec![DType::Bool], None),
        FusedOp::Unary(_) => (vec![rd], Some(rd)),
        FusedOp::Binary(BinaryOp::And | BinaryOp::Or) => (vec![DType::Bool; 2], None),
        FusedOp::Binary(_) if op.gives_bool() => {
            let (d, _) = tensor_ty(f, *inst.args.first()?)?;
            (vec![d; 2], Some(d))
        }
        FusedOp::Binary(_) => (vec![rd; 2], Some(rd)),
        FusedOp::Where => (vec![DType::Bool, rd, rd], Some(rd)),
    };
    if dtype.is_some_and(|d| !is_float(d)) || wanted.len() != inst.args.len() {
        return None;
    }
    for (a, want) in inst.args.iter().zip(&wanted) {
        let (d, s) = tensor_ty(f, *a)?;
        let suffix = s.rank() <= shape.rank() && s.0.iter().all(Option::is_some) && shape.0.ends_with(&s.0);
        if d != *want || !(s == shape || s.rank() == 0 || suffix) {
            return None;
        }
    }
    Some(Candidate {
        op,
        dtype,
        shape: shape.clone(),
    })
}

/// A group still taking members.
struct Open {
    /// The position of its first member.
    id: usize,
    dtype: Option<DType>,
    shape: Shape,
    members: Vec<usize>,
    steps: Vec<(FusedOp, Vec<Value>, Value)>,
    defined: HashSet<Value>,
}

struct Finder<'f, 't> {
    f: &'f Func,
    taken: &'t HashSet<usize>,
    reads: &'t HashMap<Value, usize>,
    /// Compiles groups to native loops (the JIT), when the run has it.
    native: Option<&'t dyn Native>,
    found: Vec<Found<'f>>,
}

impl<'f> Finder<'f, '_> {
    fn block(&mut self, b: &'f Block) {
        let mut open: Vec<Open> = Vec::new();
        let mut inst_reads = Vec::new();
        for (pos, inst) in b.insts.iter().enumerate() {
            inst_reads.clear();
            reads_of(inst, &mut inst_reads);
            let cand = if self.taken.contains(&(inst as *const Inst as usize)) {
                None
            } else {
                candidate(self.f, inst)
            };
            let joins = cand.as_ref().and_then(|c| {
                open.iter()
                    .find(|g| {
                        g.shape == c.shape && (g.dtype.is_none() || c.dtype.is_none() || g.dtype == c.dtype)
                    })
                    .map(|g| g.id)
            });
            // Every other group this instruction reads from closes first.
            let (closing, staying): (Vec<Open>, Vec<Open>) = open
                .into_iter()
                .partition(|g| Some(g.id) != joins && inst_reads.iter().any(|v| g.defined.contains(v)));
            open = staying;
            for g in closing {
                self.close(b, g);
            }
            self.place(b, pos, &mut open, cand, joins);
        }
        for g in open {
            self.close(b, g);
        }
    }

    /// Adds the instruction at `pos` to group `joins`, starts a group with
    /// it, or (not a candidate) descends into its blocks.
    fn place(
        &mut self,
        b: &'f Block,
        pos: usize,
        open: &mut Vec<Open>,
        cand: Option<Candidate>,
        joins: Option<usize>,
    ) {
        let Some(inst) = b.insts.get(pos) else { return };
        let Some(c) = cand else {
            for nb in inst.blocks() {
                self.block(nb);
            }
            return;
        };
        let (Some(&r), args) = (inst.results.first(), inst.args.clone()) else {
            return;
        };
        let mut joins = joins;
        if !open.iter().any(|g| Some(g.id) == joins) {
            open.push(Open {
                id: pos,
                dtype: None,
                shape: c.shape.clone(),
                members: Vec::new(),
                steps: Vec::new(),
                defined: HashSet::new(),
            });
            joins = Some(pos);
        }
        let Some(g) = open.iter_mut().find(|g| Some(g.id) == joins) else {
            return;
        };
        g.dtype = g.dtype.or(c.dtype);
        g.members.push(pos);
        g.steps.push((c.op, args, r));
        g.defined.insert(r);
    }

    fn close(&mut self, b: &'f Block, g: Open) {
        let Some(dtype) = g.dtype else { return };
        if g.members.len() < 2 {
            return;
        }
        let mut ssa: HashMap<Value, usize> = HashMap::new();
        let mut inputs: Vec<(Value, bool)> = Vec::new();
        let mut input_bools = Vec::new();
        let mut in_group_reads: HashMap<Value, usize> = HashMap::new();
        for (_, args, _) in &g.steps {
            for a in args {
                *in_group_reads.entry(*a).or_default() += 1;
                if !g.defined.contains(a) && !inputs.iter().any(|(v, _)| v == a) {
                    inputs.push((*a, false));
                    input_bools.push(tensor_ty(self.f, *a).is_some_and(|(d, _)| d == DType::Bool));
                }
            }
        }
        for (i, (v, _)) in inputs.iter().enumerate() {
            ssa.insert(*v, i);
        }
        let mut steps = Vec::with_capacity(g.steps.len());
        for (k, (op, args, r)) in g.steps.iter().enumerate() {
            let args = args.iter().map(|a| ssa.get(a).copied().unwrap_or(0)).collect();
            steps.push(FusedStep { op: *op, args });
            ssa.insert(*r, inputs.len() + k);
        }
        let outputs: Vec<Value> = g
            .steps
            .iter()
            .map(|(_, _, r)| *r)
            .filter(|r| self.reads.get(r).copied().unwrap_or(0) > in_group_reads.get(r).copied().unwrap_or(0))
            .collect();
        let out_ssa: Vec<usize> = outputs.iter().map(|o| ssa.get(o).copied().unwrap_or(0)).collect();
        // Every group the JIT takes gets a native loop; the kernel decides
        // per run whether it pays (`NATIVE_MAX`).
        let input_scalars: Vec<bool> = inputs
            .iter()
            .map(|(v, _)| tensor_ty(self.f, *v).is_some_and(|(_, s)| s.rank() == 0))
            .collect();
        let native = self
            .native
            .and_then(|n| n.compile_fused(dtype, &input_bools, &input_scalars, &steps, &out_ssa));
        let kernel = FusedKernel::new(dtype, input_bools, &steps, &out_ssa).with_native(native);
        self.found.push(Found {
            block: b,
            group: Group {
                kernel,
                inputs,
                outputs,
                members: g.members,
            },
        });
    }
}

#[cfg(test)]
#[path = "fusion_tests.rs"]
mod tests;
