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
use crate::ir::op::IndexItem;
use crate::ir::op::{BinaryOp, UnaryOp};
use crate::ir::types::{DType, Shape, Ty};
use crate::ir::{Block, Func, Inst, InstKind, Prim, Value};
use crate::runtime::fused::{FusedKernel, FusedOp, FusedStep, Indexed, NATIVE_MAX, RowInto, Source};
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
    /// For a group with rows and accumulators among its members, where
    /// its kernel's operands and outputs are; `None` when every operand is
    /// an input and every output fresh.
    pub indexed: Option<Indexed>,
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

/// What a member computes.
#[derive(Clone)]
enum Member {
    Step(FusedOp),
    /// `tensor[at…]`: a row of the group's shape, read where it lies.
    Row {
        tensor: Value,
        at: Vec<Value>,
    },
    /// `broadcast_like(scalar, like)` to the group's shape: the scalar,
    /// read once.
    Splat {
        scalar: Value,
        like: Value,
    },
    /// `index_add acc, addend, like, at…`: the addend added into a row of
    /// the accumulator, in place.
    AddInto {
        acc: Value,
        addend: Value,
        like: Value,
        at: Vec<Value>,
    },
}

impl Member {
    /// Whether running it can fail (an index out of range), so that it must
    /// not move past an effect.
    fn fallible(&self) -> bool {
        matches!(self, Member::Row { .. } | Member::AddInto { .. })
    }
}

/// An instruction that may join a group: what it computes, the float type
/// it needs (`None` for bool-only ops), and its result's shape.
struct Candidate {
    member: Member,
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

/// A float type and known shape of at most [`NATIVE_MAX`] elements, rank 1
/// or more: the rows an indexed group takes.
fn small_rows(f: &Func, v: Value) -> Option<(DType, Shape)> {
    let (d, shape) = tensor_ty(f, v)?;
    let dims = shape.concrete()?;
    let n: usize = dims.iter().product();
    (is_float(d) && !dims.is_empty() && n > 0 && n <= NATIVE_MAX).then(|| (d, shape.clone()))
}

fn int_scalars(f: &Func, vs: &[Value]) -> bool {
    vs.iter()
        .all(|&v| tensor_ty(f, v).is_some_and(|(d, s)| d == DType::I64 && s.rank() == 0))
}

fn all_at(items: &[IndexItem], operands: &[Value]) -> bool {
    !items.is_empty() && items.len() == operands.len() && items.iter().all(|&i| i == IndexItem::At)
}

/// `tensor[i, …]` of a small row, as a member of an indexed group.
fn row_candidate(f: &Func, inst: &Inst, items: &[IndexItem]) -> Option<Candidate> {
    let ([tensor, at @ ..], [r]) = (inst.args.as_slice(), inst.results.as_slice()) else {
        return None;
    };
    let (d, shape) = small_rows(f, *r)?;
    let (td, _) = tensor_ty(f, *tensor)?;
    (td == d && all_at(items, at) && int_scalars(f, at)).then(|| Candidate {
        member: Member::Row {
            tensor: *tensor,
            at: at.to_vec(),
        },
        dtype: Some(d),
        shape,
    })
}

/// `index_add acc, g, like, i, …` of a small row into an accumulator of
/// `like`'s type, as a member of an indexed group.
fn add_candidate(f: &Func, inst: &Inst, items: &[IndexItem]) -> Option<Candidate> {
    let ([acc, addend, like, at @ ..], [r]) = (inst.args.as_slice(), inst.results.as_slice()) else {
        return None;
    };
    let (d, shape) = small_rows(f, *addend)?;
    let acc_ty = tensor_ty(f, *acc)?;
    let row_axes = acc_ty.1.0.get(items.len()..)?;
    let fits = acc_ty.0 == d
        && row_axes == shape.0.as_slice()
        && tensor_ty(f, *like) == Some(acc_ty)
        && tensor_ty(f, *r) == Some(acc_ty)
        && acc != like
        && !at.contains(acc);
    (fits && all_at(items, at) && int_scalars(f, at)).then(|| Candidate {
        member: Member::AddInto {
            acc: *acc,
            addend: *addend,
            like: *like,
            at: at.to_vec(),
        },
        dtype: Some(d),
        shape,
    })
}

/// `broadcast_like(s, like)` of a rank-0 `s` to `like`'s small static
/// shape, as a member of an indexed group.
fn splat_candidate(f: &Func, inst: &Inst) -> Option<Candidate> {
    let ([scalar, like], [r]) = (inst.args.as_slice(), inst.results.as_slice()) else {
        return None;
    };
    let (d, shape) = small_rows(f, *r)?;
    let fits = tensor_ty(f, *scalar).is_some_and(|(sd, s)| sd == d && s.rank() == 0)
        && tensor_ty(f, *like).is_some_and(|(_, s)| *s == shape);
    fits.then_some(Candidate {
        member: Member::Splat {
            scalar: *scalar,
            like: *like,
        },
        dtype: Some(d),
        shape,
    })
}

/// `indexed`: rows, accumulators and splats may join (the group will have a native
/// loop).
fn candidate(f: &Func, inst: &Inst, indexed: bool) -> Option<Candidate> {
    let InstKind::Prim(p) = &inst.kind else {
        return None;
    };
    let op = match p {
        Prim::Unary(op) => FusedOp::Unary(*op),
        Prim::Binary(op) => FusedOp::Binary(*op),
        Prim::Where => FusedOp::Where,
        Prim::Index(items) if indexed => return row_candidate(f, inst, items),
        Prim::IndexAdd(items) if indexed => return add_candidate(f, inst, items),
        Prim::BroadcastLike if indexed => return splat_candidate(f, inst),
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
        member: Member::Step(op),
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
    /// Each member's computation, operands and result.
    steps: Vec<(Member, Vec<Value>, Value)>,
    defined: HashSet<Value>,
    /// Every value a member reads.
    read: HashSet<Value>,
    /// The accumulators that members add into.
    accs: HashSet<Value>,
    /// Whether a member can fail.
    fallible: bool,
}

impl Open {
    /// Whether `c`, reading `args`, may join: no member reads an
    /// accumulator that another adds into, and none reads a row of a value
    /// the group computes.
    fn admits(&self, c: &Candidate, args: &[Value]) -> bool {
        if args.iter().any(|a| self.accs.contains(a)) {
            return false;
        }
        match &c.member {
            Member::Step(_) => true,
            Member::Row { tensor, .. } => !self.defined.contains(tensor),
            Member::Splat { .. } => true,
            Member::AddInto { acc, .. } => !self.defined.contains(acc) && !self.read.contains(acc),
        }
    }
}

/// Whether a fallible member may not move past `inst`: an effect, a call,
/// or control flow.
fn is_barrier(inst: &Inst) -> bool {
    match &inst.kind {
        InstKind::Prim(p) => crate::opt::purity::is_effect(p),
        InstKind::Const(_)
        | InstKind::Tuple
        | InstKind::TupleGet(_)
        | InstKind::Record(_)
        | InstKind::RecordGet(_)
        | InstKind::ListNew
        | InstKind::ListPush
        | InstKind::ListLen => false,
        _ => true,
    }
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
                candidate(self.f, inst, self.native.is_some())
            };
            let joins = cand.as_ref().and_then(|c| {
                open.iter()
                    .find(|g| {
                        g.shape == c.shape
                            && (g.dtype.is_none() || c.dtype.is_none() || g.dtype == c.dtype)
                            && g.admits(c, &inst.args)
                    })
                    .map(|g| g.id)
            });
            let barrier = cand.is_none() && is_barrier(inst);
            // Every other group this instruction reads from closes first, and
            // every group that may fail closes before an effect.
            let (closing, staying): (Vec<Open>, Vec<Open>) = open.into_iter().partition(|g| {
                Some(g.id) != joins
                    && (inst_reads.iter().any(|v| g.defined.contains(v)) || (barrier && g.fallible))
            });
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
                read: HashSet::new(),
                accs: HashSet::new(),
                fallible: false,
            });
            joins = Some(pos);
        }
        let Some(g) = open.iter_mut().find(|g| Some(g.id) == joins) else {
            return;
        };
        g.dtype = g.dtype.or(c.dtype);
        g.members.push(pos);
        g.read.extend(args.iter().copied());
        if let Member::AddInto { acc, .. } = &c.member {
            g.accs.insert(*acc);
        }
        g.fallible |= c.member.fallible();
        g.steps.push((c.member, args, r));
        g.defined.insert(r);
    }

    fn close(&mut self, b: &'f Block, g: Open) {
        let Some(dtype) = g.dtype else { return };
        let computes = g
            .steps
            .iter()
            .any(|(m, _, _)| matches!(m, Member::Step(_) | Member::AddInto { .. }));
        if g.members.len() < 2 || !computes {
            return;
        }
        // Rows, accumulators and splats need the group's static shape.
        let is_indexed = g.steps.iter().any(|(m, _, _)| !matches!(m, Member::Step(_)));
        let mut inputs: Vec<(Value, bool)> = Vec::new();
        let mut input_of = |v: Value| match inputs.iter().position(|(w, _)| *w == v) {
            Some(k) => k,
            None => {
                inputs.push((v, false));
                inputs.len() - 1
            }
        };
        // The kernel's operands: inputs of the group's shape or rank 0, and
        // rows (a row of an accumulator for each `index_add`).
        let mut sources: Vec<Source> = Vec::new();
        let mut ssa: HashMap<Value, usize> = HashMap::new();
        let mut in_group_reads: HashMap<Value, usize> = HashMap::new();
        let mut acc_rows: Vec<usize> = Vec::new();
        let mut accs: Vec<RowInto> = Vec::new();
        let mut acc_of: HashMap<Value, usize> = HashMap::new();
        let mut positions: Vec<usize> = Vec::new();
        let mut slot = |k: usize| match positions.iter().position(|&p| p == k) {
            Some(s) => s,
            None => {
                positions.push(k);
                positions.len() - 1
            }
        };
        for (m, args, r) in &g.steps {
            for a in args {
                *in_group_reads.entry(*a).or_default() += 1;
            }
            let mut operand =
                |a: Value, sources: &mut Vec<Source>, input_of: &mut dyn FnMut(Value) -> usize| {
                    if !g.defined.contains(&a) && !ssa.contains_key(&a) {
                        ssa.insert(a, sources.len());
                        sources.push(Source::Input(input_of(a)));
                    }
                };
            match m {
                Member::Step(_) => {
                    for &a in args {
                        operand(a, &mut sources, &mut input_of);
                    }
                }
                Member::Row { tensor, at } => {
                    let row = Source::Row {
                        tensor: input_of(*tensor),
                        at: at.iter().map(|&v| slot(input_of(v))).collect(),
                    };
                    ssa.insert(*r, sources.len());
                    sources.push(row);
                }
                Member::Splat { scalar, like } => {
                    input_of(*like);
                    operand(*scalar, &mut sources, &mut input_of);
                    if let Some(&k) = ssa.get(scalar) {
                        ssa.insert(*r, k);
                    }
                }
                Member::AddInto {
                    acc,
                    addend,
                    like,
                    at,
                } => {
                    let into = RowInto {
                        acc: input_of(*acc),
                        like: input_of(*like),
                        at: at.iter().map(|&v| slot(input_of(v))).collect(),
                    };
                    acc_rows.push(sources.len());
                    acc_of.insert(*r, accs.len());
                    sources.push(Source::Acc(accs.len()));
                    accs.push(into);
                    operand(*addend, &mut sources, &mut input_of);
                }
            }
        }
        let operands = sources.len();
        let mut steps = Vec::with_capacity(g.steps.len());
        let mut acc_row = acc_rows.into_iter();
        for (m, args, r) in &g.steps {
            let step = match m {
                Member::Row { .. } | Member::Splat { .. } => continue,
                Member::Step(op) => FusedStep {
                    op: *op,
                    args: args.iter().map(|a| ssa.get(a).copied().unwrap_or(0)).collect(),
                },
                Member::AddInto { addend, .. } => FusedStep {
                    op: FusedOp::Binary(BinaryOp::Add),
                    args: vec![acc_row.next().unwrap_or(0), ssa.get(addend).copied().unwrap_or(0)],
                },
            };
            steps.push(step);
            ssa.insert(*r, operands + steps.len() - 1);
        }
        let outputs: Vec<Value> = g
            .steps
            .iter()
            .map(|(_, _, r)| *r)
            .filter(|r| self.reads.get(r).copied().unwrap_or(0) > in_group_reads.get(r).copied().unwrap_or(0))
            .collect();
        let out_ssa: Vec<usize> = outputs.iter().map(|o| ssa.get(o).copied().unwrap_or(0)).collect();
        let operand_ty = |s: &Source| match s {
            Source::Input(k) => inputs.get(*k).and_then(|(v, _)| tensor_ty(self.f, *v)),
            Source::Row { .. } | Source::Acc(_) => None,
        };
        let input_bools: Vec<bool> = sources
            .iter()
            .map(|s| operand_ty(s).is_some_and(|(d, _)| d == DType::Bool))
            .collect();
        let input_scalars: Vec<bool> = sources
            .iter()
            .map(|s| operand_ty(s).is_some_and(|(_, sh)| sh.rank() == 0))
            .collect();
        // Every group the JIT takes gets a native loop; the kernel decides
        // per run whether it pays (`NATIVE_MAX`). An indexed group runs only
        // through its native loop.
        let native = self
            .native
            .and_then(|n| n.compile_fused(dtype, &input_bools, &input_scalars, &steps, &out_ssa));
        if is_indexed && native.is_none() {
            return;
        }
        let indexed = is_indexed.then(|| Indexed {
            shape: g.shape.concrete().unwrap_or_default().into(),
            positions,
            sources,
            accs,
            sinks: outputs.iter().map(|o| acc_of.get(o).copied()).collect(),
        });
        let kernel = FusedKernel::new(dtype, input_bools, &steps, &out_ssa).with_native(native);
        self.found.push(Found {
            block: b,
            group: Group {
                kernel,
                inputs,
                outputs,
                members: g.members,
                indexed,
            },
        });
    }
}

#[cfg(test)]
#[path = "fusion_tests.rs"]
mod tests;
