//! How the interpreter runs one function, worked out once before its first
//! call:
//! - which operand reads are last uses: the interpreter moves those values
//!   out of the frame instead of copying them, so a tensor's buffer is held
//!   only once when its last reader runs, and kernels reuse it in place
//!   (`x = x + 1.0` in a loop allocates nothing);
//! - which transposes of a matrix feed only matrix products: the transpose
//!   instruction is skipped (its result slot holds the untransposed matrix)
//!   and each product is told which operand to read transposed;
//! - which `index_grad`s feed only an `add` of their own type (an adjoint
//!   accumulated across a loop): the `index_grad` is deferred (its slot
//!   holds its operands) and the `add` adds the gradient into the region of
//!   the other operand, in place when no one else holds it;
//! - which elementwise instructions run as fused groups (`fusion`): the
//!   members are skipped and the last one runs the whole group;
//! - which runs of projections of one aggregate (a loop's tape entry read
//!   back in the adjoint: `list_get` and then a `tget` of every field) are
//!   one unpacking: the first projection binds every field of the run, the
//!   others are skipped.
//!
//! Last uses follow the structured control flow: a value used inside a loop
//! but defined outside it is live for the whole loop; one used in a branch of
//! an `if` is dead after the branch unless used after the `if`. Only the last
//! of several reads in one instruction moves. Projections are tracked per
//! field, so `P { w: p.w * 0.5, b: p.b }` takes `w` out of `p` (when nothing
//! else holds `p`) and updates it in place. Everything here is an
//! optimization: a program's results do not depend on it (one exception: an
//! accumulator element of -0.0 outside an index's region stays -0.0 where
//! adding the zero of `index_grad` would give +0.0).

use super::fusion::{Found, Group, find_groups};
use crate::ir::op::{BinaryOp, IndexItem};
use crate::ir::types::Ty;
use crate::ir::{Block, Func, Inst, InstKind, Prim, Value};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

/// What the interpreter does specially for one instruction.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct InstPlan {
    /// Bit `i` set: operand `i` is read for the last time here (operands past
    /// the 64th are always copied).
    pub moves: u64,
    /// A projection of a field that nothing reads again, from an aggregate
    /// whose other fields are still to be read: the field is taken out of the
    /// aggregate (when no one else holds it) rather than copied.
    pub take_field: bool,
    pub fused: Fused,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Fused {
    #[default]
    None,
    /// A transpose of the last two axes whose result only feeds matrix
    /// products: its result is the operand itself, read transposed by those
    /// products.
    TransposeAlias,
    /// A matrix product whose left (`ta`) or right (`tb`) operand is a
    /// skipped transpose.
    MatMul { ta: bool, tb: bool },
    /// An `index_grad` whose only reader is an [`Fused::IndexGradAdd`]: its
    /// slot holds its operands as a tuple.
    IndexGradDeferred,
    /// The sum of two deferred `index_grad`s of the same index at the same
    /// operands: deferred too, with the sum of their gradients.
    IndexGradSum,
    /// An `add` of a deferred `index_grad` (operand `deferred`, 0 or 1) and
    /// an accumulator of the same type: the gradient is added into the
    /// accumulator's region ([`Plan::index_items`] gives the index).
    IndexGradAdd { deferred: u8 },
    /// A member of a fused elementwise group other than its last: skipped,
    /// the group computes it.
    Grouped,
    /// The last member of a fused elementwise group: runs the whole group
    /// ([`Plan::group`]).
    GroupEnd,
    /// The first of a run of projections of one aggregate: binds the
    /// results of the whole run ([`Plan::unpack`]).
    Unpack,
    /// A projection that an [`Fused::Unpack`] or [`Fused::ListUnpack`]
    /// before it binds: skipped.
    Unpacked,
    /// A `list_get` whose entry nothing reads but a run of projections
    /// after it (a tape entry read back): binds the run's fields from the
    /// entry where it lies ([`Plan::unpack`]); the entry itself is never
    /// bound.
    ListUnpack,
    /// A tuple whose one reader is the `list_push` right after it: skipped,
    /// the push builds it ([`Fused::PushTuple`]).
    PushedTuple,
    /// A `list_push` of the tuple made just before it: builds the tuple from
    /// that instruction's operands and pushes it, one step for two.
    PushTuple,
}

/// A run of projections of one aggregate, bound at once.
#[derive(Debug)]
pub struct Unpack {
    pub aggregate: Value,
    /// Whether the run reads the aggregate for the last time: it is taken
    /// out of the frame, and its fields are moved out of it when no one
    /// else holds it.
    pub last: bool,
    /// Each projection's field and result.
    pub fields: Vec<(usize, Value)>,
}

/// Hashes instruction and block addresses (stable while the program is
/// borrowed) with one multiply.
#[derive(Default)]
pub struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_right(17);
    }
}

type AddrMap<V> = HashMap<usize, V, BuildHasherDefault<AddrHasher>>;

/// The plan of one block: the instructions that run, each with its plan, in
/// order (read once per run of the block rather than looked up per
/// instruction; members of fused groups and unpackings that another
/// instruction runs are left out), and which yields are their values' last
/// use.
#[derive(Default)]
pub struct BlockPlan {
    pub steps: Vec<(u32, InstPlan)>,
    pub yields: u64,
}

/// The plan of one function.
#[derive(Default)]
pub struct Plan {
    insts: AddrMap<InstPlan>,
    blocks: AddrMap<BlockPlan>,
    yields: AddrMap<u64>,
    /// The index of each [`Fused::IndexGradAdd`], by the add's address.
    index_items: AddrMap<Vec<IndexItem>>,
    /// Each fused elementwise group, by its last member's address.
    groups: AddrMap<Rc<Group>>,
    /// Each run of projections, by its first one's address.
    unpacks: AddrMap<Rc<Unpack>>,
}

impl Plan {
    /// The plan of `f`, with fused elementwise groups when `fuse` is set.
    /// `native` compiles fused groups where it can (the JIT's).
    pub fn new(f: &Func, fuse: bool, native: Option<&dyn crate::backend::Native>) -> Plan {
        let mut plan = Plan::default();
        let mut fused = fuse_transposes(f);
        let (index_adds, items) = fuse_index_grads(f);
        fused.extend(index_adds);
        plan.index_items = items;
        let taken: HashSet<usize> = fused.iter().map(|(addr, _)| *addr).collect();
        let groups = if fuse {
            find_groups(f, &taken, native)
        } else {
            Vec::new()
        };
        let mut lv = Liveness { plan: &mut plan };
        lv.block(&f.body, &Live::new());
        for (addr, kind) in fused {
            plan.insts.entry(addr).or_default().fused = kind;
        }
        // Every group's span keeps its inputs first: a member of one group
        // may sit in another's span, and must then not take their inputs.
        for found in &groups {
            plan.keep_group_inputs(found);
        }
        for found in groups {
            plan.add_group(found);
        }
        let reads = f.body.read_counts();
        plan.find_unpacks(&f.body, &reads);
        plan.find_pushed_tuples(&f.body, &reads);
        plan.tabulate(&f.body);
        plan
    }

    /// Gathers the plans of `b`'s instructions (and of the blocks in it)
    /// into its [`BlockPlan`].
    fn tabulate(&mut self, b: &Block) {
        let steps = (0u32..)
            .zip(&b.insts)
            .map(|(k, i)| (k, self.inst(i)))
            .filter(|(_, ip)| !matches!(ip.fused, Fused::Grouped | Fused::Unpacked | Fused::PushedTuple))
            .collect();
        let yields = self.yields(b);
        self.blocks
            .insert(b as *const Block as usize, BlockPlan { steps, yields });
        for i in &b.insts {
            for nb in i.blocks() {
                self.tabulate(nb);
            }
        }
    }

    /// The plan of block `b`.
    pub fn block(&self, b: &Block) -> Option<&BlockPlan> {
        self.blocks.get(&(b as *const Block as usize))
    }

    /// Marks each run of two or more consecutive projections of one
    /// aggregate, each of a different field, in `b` and the blocks in it.
    /// When the aggregate is a `list_get` of the same block that nothing
    /// else reads, the `list_get` binds the run.
    fn find_unpacks(&mut self, b: &Block, reads: &HashMap<Value, usize>) {
        let projection = |inst: &Inst| match (&inst.kind, inst.args.as_slice(), inst.results.as_slice()) {
            (InstKind::TupleGet(i) | InstKind::RecordGet(i), [a], [r]) => Some((*a, *i as usize, *r)),
            _ => None,
        };
        let mut at = 0;
        while let Some(first) = b.insts.get(at) {
            for nb in first.blocks() {
                self.find_unpacks(nb, reads);
            }
            let Some((aggregate, field, result)) = projection(first) else {
                at += 1;
                continue;
            };
            let mut fields = vec![(field, result)];
            let mut end = at + 1;
            while let Some((a, i, r)) = b.insts.get(end).and_then(projection) {
                if a != aggregate || fields.iter().any(|&(j, _)| j == i) {
                    break;
                }
                fields.push((i, r));
                end += 1;
            }
            if fields.len() >= 2 {
                let run = b.insts.get(at..end).unwrap_or_default();
                let last = run.iter().any(|inst| self.inst(inst).moves & 1 != 0);
                for inst in run {
                    let ip = self.insts.entry(addr(inst)).or_default();
                    ip.fused = Fused::Unpacked;
                }
                let list_get = b.insts.get(..at).unwrap_or_default().iter().find(|i| {
                    matches!(i.kind, InstKind::ListGet)
                        && i.results.as_slice() == [aggregate]
                        && reads.get(&aggregate) == Some(&fields.len())
                });
                let binder = match list_get {
                    Some(get) if self.inst(get).fused == Fused::None => {
                        self.insts.entry(addr(get)).or_default().fused = Fused::ListUnpack;
                        get
                    }
                    _ => {
                        self.insts.entry(addr(first)).or_default().fused = Fused::Unpack;
                        first
                    }
                };
                self.unpacks.insert(
                    addr(binder),
                    Rc::new(Unpack {
                        aggregate,
                        last,
                        fields,
                    }),
                );
            }
            at = end;
        }
    }

    /// Marks each tuple whose one reader is the `list_push` right after it
    /// (a loop's tape entry), in `b` and the blocks in it.
    fn find_pushed_tuples(&mut self, b: &Block, reads: &HashMap<Value, usize>) {
        for (inst, next) in b.insts.iter().zip(b.insts.iter().skip(1)) {
            if let (InstKind::Tuple, [t], InstKind::ListPush, [_, item]) = (
                &inst.kind,
                inst.results.as_slice(),
                &next.kind,
                next.args.as_slice(),
            ) && item == t
                && reads.get(t) == Some(&1)
                && self.inst(inst).fused == Fused::None
                && self.inst(next).fused == Fused::None
            {
                self.insts.entry(addr(inst)).or_default().fused = Fused::PushedTuple;
                self.insts.entry(addr(next)).or_default().fused = Fused::PushTuple;
            }
        }
        for inst in &b.insts {
            for nb in inst.blocks() {
                self.find_pushed_tuples(nb, reads);
            }
        }
    }

    /// No instruction between a group's members (which run before the
    /// group) may take the group's inputs.
    fn keep_group_inputs(&mut self, found: &Found<'_>) {
        let Found { block, group } = found;
        let (Some(&first), Some(&last)) = (group.members.first(), group.members.last()) else {
            return;
        };
        let inputs: HashSet<Value> = group.inputs.iter().map(|(v, _)| *v).collect();
        for (p, inst) in block.insts.iter().enumerate().take(last + 1).skip(first) {
            if !group.members.contains(&p) {
                self.keep_inputs(inst, &inputs);
            }
        }
    }

    /// Marks a group's members, and settles which inputs it takes: the
    /// group reads them when its last member runs, so an input is taken if
    /// a member read it last.
    fn add_group(&mut self, found: Found<'_>) {
        let Found { block, mut group } = found;
        let member_insts: Vec<&Inst> = group.members.iter().filter_map(|&p| block.insts.get(p)).collect();
        for (v, taken) in group.inputs.iter_mut() {
            *taken = member_insts.iter().any(|inst| {
                let moves = self.inst(inst).moves;
                inst.args
                    .iter()
                    .enumerate()
                    .any(|(i, a)| a == v && moves & bit(i) != 0)
            });
        }
        for inst in &member_insts {
            self.insts.entry(addr(inst)).or_default().fused = Fused::Grouped;
        }
        if let Some(end) = member_insts.last() {
            self.insts.entry(addr(end)).or_default().fused = Fused::GroupEnd;
            self.groups.insert(addr(end), Rc::new(group));
        }
    }

    /// Clears the last-use marks of `values` in `inst` and its blocks.
    fn keep_inputs(&mut self, inst: &Inst, values: &HashSet<Value>) {
        if let Some(ip) = self.insts.get_mut(&addr(inst)) {
            for (i, a) in inst.args.iter().enumerate() {
                if values.contains(a) {
                    ip.moves &= !bit(i);
                }
            }
        }
        for b in inst.blocks() {
            if let Some(y) = self.yields.get_mut(&(b as *const Block as usize)) {
                for (i, v) in b.yields.iter().enumerate() {
                    if values.contains(v) {
                        *y &= !bit(i);
                    }
                }
            }
            for i in &b.insts {
                self.keep_inputs(i, values);
            }
        }
    }

    /// The fused group a [`Fused::GroupEnd`] instruction runs.
    pub fn group(&self, inst: &Inst) -> Option<&Rc<Group>> {
        self.groups.get(&addr(inst))
    }

    /// The run of projections a [`Fused::Unpack`] instruction binds.
    pub fn unpack(&self, inst: &Inst) -> Option<&Rc<Unpack>> {
        self.unpacks.get(&addr(inst))
    }

    /// The index items of a [`Fused::IndexGradAdd`] instruction.
    pub fn index_items(&self, inst: &Inst) -> &[IndexItem] {
        self.index_items
            .get(&(inst as *const Inst as usize))
            .map_or(&[], |v| v.as_slice())
    }

    pub fn inst(&self, inst: &Inst) -> InstPlan {
        self.insts
            .get(&(inst as *const Inst as usize))
            .copied()
            .unwrap_or_default()
    }

    /// Bit `i` set: the block's `i`-th yield is its value's last use.
    pub fn yields(&self, block: &Block) -> u64 {
        self.yields
            .get(&(block as *const Block as usize))
            .copied()
            .unwrap_or(0)
    }
}

fn addr(inst: &Inst) -> usize {
    inst as *const Inst as usize
}

fn bit(i: usize) -> u64 {
    if i < 64 { 1 << i } else { 0 }
}

/// The values live at a point: for each, the fields of it (as an aggregate)
/// that later projections read, or [`WHOLE`] when a later use reads it whole.
type Live = HashMap<Value, u64>;

const WHOLE: u64 = u64::MAX;

fn join(into: &mut Live, from: &Live) {
    for (&v, &f) in from {
        *into.entry(v).or_default() |= f;
    }
}

struct Liveness<'a> {
    plan: &'a mut Plan,
}

impl Liveness<'_> {
    /// Records the last uses in `b`, given the values live after it; returns
    /// the values live at its start that it does not define.
    fn block(&mut self, b: &Block, live_after: &Live) -> Live {
        let mut live = live_after.clone();
        let mut ymoves = 0u64;
        for (i, y) in b.yields.iter().enumerate().rev() {
            if live.insert(*y, WHOLE).is_none() {
                ymoves |= bit(i);
            }
        }
        if ymoves != 0 {
            self.plan.yields.insert(b as *const Block as usize, ymoves);
        }
        for inst in b.insts.iter().rev() {
            for r in &inst.results {
                live.remove(r);
            }
            let blocks = inst.blocks();
            let mut inner = Live::new();
            if !blocks.is_empty() {
                let mut after = live.clone();
                if matches!(inst.kind, InstKind::For { .. } | InstKind::While { .. }) {
                    // Whatever the loop reads from outside is live for all of it.
                    after.extend(free_uses(&blocks).into_iter().map(|v| (v, WHOLE)));
                }
                for nb in blocks {
                    let entry = self.block(nb, &after);
                    join(&mut inner, &entry);
                }
            }
            let mut ip = InstPlan::default();
            if let (InstKind::TupleGet(i) | InstKind::RecordGet(i), [a]) = (&inst.kind, inst.args.as_slice())
            {
                // A projection reads one field: the aggregate stays live for
                // the other fields only.
                let field = bit(*i as usize);
                match live.get(a).copied() {
                    None => ip.moves = 1,
                    Some(later) if field != 0 && later & field == 0 => ip.take_field = true,
                    Some(_) => {}
                }
                *live.entry(*a).or_default() |= if field == 0 { WHOLE } else { field };
            } else {
                for (i, a) in inst.args.iter().enumerate().rev() {
                    let fresh = !inner.contains_key(a) && !live.contains_key(a);
                    if fresh {
                        ip.moves |= bit(i);
                    }
                    live.insert(*a, WHOLE);
                }
            }
            if ip != InstPlan::default() {
                self.plan.insts.insert(inst as *const Inst as usize, ip);
            }
            join(&mut live, &inner);
        }
        for p in &b.params {
            live.remove(p);
        }
        live
    }
}

/// The values read in `blocks` (and blocks nested in them) that are defined
/// outside them.
fn free_uses(blocks: &[&Block]) -> HashSet<Value> {
    fn walk(b: &Block, uses: &mut HashSet<Value>, defs: &mut HashSet<Value>) {
        defs.extend(b.params.iter().copied());
        for inst in &b.insts {
            uses.extend(inst.args.iter().copied());
            defs.extend(inst.results.iter().copied());
            for nb in inst.blocks() {
                walk(nb, uses, defs);
            }
        }
        uses.extend(b.yields.iter().copied());
    }
    let (mut uses, mut defs) = (HashSet::new(), HashSet::new());
    for b in blocks {
        walk(b, &mut uses, &mut defs);
    }
    uses.retain(|v| !defs.contains(v));
    uses
}

/// A matrix or a batch of them: a tensor of rank 2 or more.
fn is_matrix(f: &Func, v: Value) -> bool {
    matches!(f.ty(v), Some(Ty::Tensor(t)) if t.shape.rank() >= 2)
}

/// Whether `perm` swaps the last two axes and keeps the others.
fn swaps_last_two(perm: &[usize]) -> bool {
    let r = perm.len();
    r >= 2
        && perm.iter().enumerate().all(|(i, &p)| match i {
            _ if i + 2 == r => p == r - 1,
            _ if i + 1 == r => p == r - 2,
            _ => p == i,
        })
}

/// Every instruction of `b` and of the blocks nested in it.
fn all_insts<'a>(b: &'a Block, out: &mut Vec<&'a Inst>) {
    for inst in &b.insts {
        out.push(inst);
        for nb in inst.blocks() {
            all_insts(nb, out);
        }
    }
}

/// How many times each value is read: as an operand or a yield.
fn use_counts(insts: &[&Inst], body: &Block) -> HashMap<Value, usize> {
    fn yields(b: &Block, out: &mut HashMap<Value, usize>) {
        for y in &b.yields {
            *out.entry(*y).or_default() += 1;
        }
        for inst in &b.insts {
            for nb in inst.blocks() {
                yields(nb, out);
            }
        }
    }
    let mut uses = HashMap::new();
    yields(body, &mut uses);
    for inst in insts {
        for a in &inst.args {
            *uses.entry(*a).or_default() += 1;
        }
    }
    uses
}

/// The `index_grad`s to defer and the `add`s that take them, by address,
/// with each such add's index items. A deferred value is an `index_grad`,
/// or the sum of two deferred values with the same index at the same
/// operands (the adjoints of `x[i] * x[i] + sin(x[i])`). It is kept as its
/// operands, so every reader of it must be another such sum or an `add` to
/// an accumulator of its type, which adds the gradient into the index's
/// region of the accumulator.
fn fuse_index_grads(f: &Func) -> (Vec<(usize, Fused)>, AddrMap<Vec<IndexItem>>) {
    let mut insts = Vec::new();
    all_insts(&f.body, &mut insts);
    let mut yielded: HashMap<Value, usize> = HashMap::new();
    for inst in &insts {
        for b in inst.blocks() {
            for y in &b.yields {
                *yielded.entry(*y).or_default() += 1;
            }
        }
    }
    for y in &f.body.yields {
        *yielded.entry(*y).or_default() += 1;
    }
    let mut excluded: HashSet<Value> = yielded.keys().copied().collect();
    loop {
        let marks = mark_index_grads(f, &insts, &excluded);
        // Values whose readers are not all fused: not deferred after all.
        let mut bad = Vec::new();
        for inst in &insts {
            let fused = marks.fused.get(&(*inst as *const Inst as usize));
            for (k, a) in inst.args.iter().enumerate() {
                let ok = match fused {
                    Some(Fused::IndexGradSum) => true,
                    Some(Fused::IndexGradAdd { deferred }) => usize::from(*deferred) == k,
                    _ => false,
                };
                if marks.deferred.contains_key(a) && !ok {
                    bad.push(*a);
                }
            }
        }
        if bad.is_empty() {
            return (marks.fused.into_iter().collect(), marks.items);
        }
        excluded.extend(bad);
    }
}

/// One round of [`fuse_index_grads`]: the fusions, assuming every value not
/// `excluded` may be deferred.
struct IndexMarks<'a> {
    /// Each deferred value's index items and operands after the gradient.
    deferred: HashMap<Value, (&'a [IndexItem], &'a [Value])>,
    fused: AddrMap<Fused>,
    items: AddrMap<Vec<IndexItem>>,
}

fn mark_index_grads<'a>(f: &Func, insts: &[&'a Inst], excluded: &HashSet<Value>) -> IndexMarks<'a> {
    let mut m = IndexMarks {
        deferred: HashMap::new(),
        fused: AddrMap::default(),
        items: AddrMap::default(),
    };
    for inst in insts {
        let at = *inst as *const Inst as usize;
        match (&inst.kind, inst.args.as_slice(), inst.results.as_slice()) {
            (InstKind::Prim(Prim::IndexGrad(its)), [_, operands @ ..], [r]) if !excluded.contains(r) => {
                m.deferred.insert(*r, (its.as_slice(), operands));
                m.fused.insert(at, Fused::IndexGradDeferred);
            }
            (InstKind::Prim(Prim::Binary(BinaryOp::Add)), [a, b], [r]) => {
                match (m.deferred.get(a).copied(), m.deferred.get(b).copied()) {
                    (Some(x), Some(y)) if x == y && !excluded.contains(r) => {
                        m.deferred.insert(*r, x);
                        m.fused.insert(at, Fused::IndexGradSum);
                    }
                    (Some((its, _)), None) | (None, Some((its, _))) => {
                        let which = u8::from(m.deferred.contains_key(b));
                        let (d, acc) = if which == 0 { (a, b) } else { (b, a) };
                        if f.ty(*d).is_some() && f.ty(*d) == f.ty(*acc) {
                            m.fused.insert(at, Fused::IndexGradAdd { deferred: which });
                            m.items.insert(at, its.to_vec());
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    m
}

/// The transposes to skip and the products that read them, by address.
fn fuse_transposes(f: &Func) -> Vec<(usize, Fused)> {
    let mut insts = Vec::new();
    all_insts(&f.body, &mut insts);
    // Uses of each value, and how many of them are operands of matrix products.
    let uses = use_counts(&insts, &f.body);
    let mut product_uses: HashMap<Value, usize> = HashMap::new();
    for inst in &insts {
        if matches!(inst.kind, InstKind::Prim(Prim::MatMul))
            && let [a, b] = inst.args.as_slice()
            && a != b
            && is_matrix(f, *a)
            && is_matrix(f, *b)
        {
            *product_uses.entry(*a).or_default() += 1;
            *product_uses.entry(*b).or_default() += 1;
        }
    }
    let mut skipped: HashSet<Value> = HashSet::new();
    let mut out = Vec::new();
    for inst in &insts {
        if let InstKind::Prim(Prim::Transpose(perm)) = &inst.kind
            && swaps_last_two(perm)
            && let ([src], [r]) = (inst.args.as_slice(), inst.results.as_slice())
            && is_matrix(f, *src)
            && let Some(&n) = product_uses.get(r)
            && uses.get(r) == Some(&n)
        {
            skipped.insert(*r);
            out.push((*inst as *const Inst as usize, Fused::TransposeAlias));
        }
    }
    for inst in &insts {
        if matches!(inst.kind, InstKind::Prim(Prim::MatMul))
            && let [a, b] = inst.args.as_slice()
            && (skipped.contains(a) || skipped.contains(b))
        {
            let fused = Fused::MatMul {
                ta: skipped.contains(a),
                tb: skipped.contains(b),
            };
            out.push((*inst as *const Inst as usize, fused));
        }
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::ir::Func;

    /// A program's specialized IR and its main body's function.
    pub(in crate::backend::interp) fn compile(src: &str) -> (crate::ir::Program, crate::ir::FuncId) {
        crate::pipeline::specialize_source(src)
    }

    fn main_func(p: &(crate::ir::Program, crate::ir::FuncId)) -> &Func {
        p.0.func(p.1).unwrap()
    }

    #[test]
    fn loop_reads_of_outer_values_are_not_last_uses() {
        // `y` is read in every iteration: never moved inside the loop; `x`'s
        // carried value is read once per iteration: moved.
        let p = compile("let y = ones([3]); let mut x = zeros([3]); for i in 0..4 { x = x + y; } print(x);");
        let f = main_func(&p);
        let plan = Plan::new(f, true, None);
        let mut found = false;
        for inst in &f.body.insts {
            if let InstKind::For { body } = &inst.kind {
                let add = body
                    .insts
                    .iter()
                    .find(|i| matches!(i.kind, InstKind::Prim(Prim::Binary(_))))
                    .unwrap();
                let carried = body.params.get(1).unwrap();
                let pos_x = add.args.iter().position(|a| a == carried).unwrap();
                let pos_y = 1 - pos_x;
                let m = plan.inst(add).moves;
                assert_ne!(m & (1 << pos_x), 0, "the carried value is moved");
                assert_eq!(m & (1 << pos_y), 0, "the loop-invariant value is copied");
                found = true;
            }
        }
        assert!(found);
    }

    #[test]
    fn repeated_operand_moves_only_at_its_last_read() {
        let p = compile("let x = ones([3]); print(x * x);");
        let f = main_func(&p);
        let plan = Plan::new(f, true, None);
        let mul = f
            .body
            .insts
            .iter()
            .find(|i| matches!(i.kind, InstKind::Prim(Prim::Binary(_))))
            .unwrap();
        assert_eq!(plan.inst(mul).moves, 0b10);
    }

    /// The fused kinds of the main body's instructions, in order.
    fn fused_kinds(src: &str) -> Vec<Fused> {
        let p = compile(src);
        let f = main_func(&p);
        let plan = Plan::new(f, true, None);
        f.body
            .insts
            .iter()
            .map(|i| plan.inst(i).fused)
            .filter(|k| *k != Fused::None)
            .collect()
    }

    #[test]
    fn runs_of_projections_of_one_tuple_are_unpacked_at_once() {
        // `t` is read whole after the run, so the run copies its fields;
        // `u`'s run is its last use, so it is taken. `(a, a)` of `v`
        // repeats a field and stays two projections.
        let src = "fn g(t, u, v) { let (a, b, c) = t; let (d, e) = u; print(a, b, c, d, e, t); \
                   print(v[0], v[0]); } \
                   g((ones([2]), 2.0, 3), (zeros([2]), 1.0), (4.0, 5.0));";
        let p = compile(src);
        let f = p.0.funcs.iter().find(|f| f.name.as_str() == "g").unwrap();
        let plan = Plan::new(f, true, None);
        let runs: Vec<(usize, bool)> = f
            .body
            .insts
            .iter()
            .filter_map(|i| plan.unpack(i).map(|u| (u.fields.len(), u.last)))
            .collect();
        assert_eq!(runs, vec![(3, false), (2, true)]);
        let unpacked = f
            .body
            .insts
            .iter()
            .filter(|i| plan.inst(i).fused == Fused::Unpacked)
            .count();
        assert_eq!(unpacked, 3);
    }

    #[test]
    fn tape_entries_are_pushed_and_read_back_in_one_step_each() {
        // The forward sweep pushes a tuple of three residuals; the reverse
        // sweep reads the entry back and projects all three fields.
        let p = compile(
            "fn f(w) { let mut s = 0.5; for t in 0..3 { s = sin(s * w) * exp(s); } s } print(grad(f)(0.5));",
        );
        let f = p.0.funcs.iter().find(|f| f.name.as_str() == "f'grad").unwrap();
        let plan = Plan::new(f, true, None);
        fn kinds(b: &Block, plan: &Plan, out: &mut Vec<(Fused, InstKind)>) {
            for i in &b.insts {
                out.push((plan.inst(i).fused, i.kind.clone()));
                for nb in i.blocks() {
                    kinds(nb, plan, out);
                }
            }
        }
        let mut all = Vec::new();
        kinds(&f.body, &plan, &mut all);
        let count = |k: Fused| all.iter().filter(|(f, _)| *f == k).count();
        assert!(all.contains(&(Fused::PushedTuple, InstKind::Tuple)));
        assert!(all.contains(&(Fused::PushTuple, InstKind::ListPush)));
        assert!(all.contains(&(Fused::ListUnpack, InstKind::ListGet)));
        // Every projection of the entry is bound by its `list_get`.
        assert_eq!(count(Fused::Unpacked), 3);
        assert_eq!(count(Fused::Unpack), 0);
    }

    #[test]
    fn transposes_feeding_only_products_are_skipped() {
        let fused = fused_kinds(
            "let a = ones([2, 3]); let b = ones([2, 4]); let t = transpose(a); print(t @ b); \
             let u = transpose(b); print(u @ ones([2, 2]), u);",
        );
        // `t` only feeds a product; `u` is also printed, so it is computed.
        assert_eq!(
            fused,
            vec![Fused::TransposeAlias, Fused::MatMul { ta: true, tb: false }]
        );
    }

    #[test]
    fn batched_transposes_of_the_last_two_axes_are_skipped() {
        let fused = fused_kinds(
            "let a = ones([2, 3, 4]); let t = transpose(a, [0, 2, 1]); print(t @ ones([2, 3, 5])); \
             let u = transpose(a, [1, 0, 2]); print(u @ ones([3, 4, 2]));",
        );
        // `u` moves a batch axis: a product cannot read it in place.
        assert_eq!(
            fused,
            vec![Fused::TransposeAlias, Fused::MatMul { ta: true, tb: false }]
        );
    }

    #[test]
    fn an_index_adjoint_accumulated_in_a_loop_is_added_in_place() {
        // The two adjoints of `x[i] * x[i]` (one `index_grad`, read twice)
        // stay deferred and are each added into the accumulator, which is
        // x's adjoint from the start of the reverse body (`ad::reverse::loops`).
        let p = compile(
            "fn f(x) { let mut s = 0.0; for i in 0..len(x) { s = s + x[i] * x[i]; } s }\n\
             print(grad(f)(ones([4])));",
        );
        // In the vjp (`f'grad` holds an inlined copy).
        let mut kinds: Vec<Fused> =
            p.0.funcs
                .iter()
                .filter(|f| f.name.as_str() == "f'vjp")
                .flat_map(|f| fuse_index_grads(f).0)
                .map(|x| x.1)
                .collect();
        kinds.sort_by_key(|k| format!("{k:?}"));
        assert_eq!(
            kinds,
            vec![
                Fused::IndexGradAdd { deferred: 1 },
                Fused::IndexGradAdd { deferred: 1 },
                Fused::IndexGradDeferred
            ]
        );
    }
}
