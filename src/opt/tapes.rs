//! Tape pruning: drops the parts of a list's entries that no one reads.
//!
//! Reverse mode keeps, per loop iteration, an entry of the values its
//! reverse sweep may need (`ad::reverse::loops`); after optimization the
//! reverse sweep often reads only some of them (the rest were recomputed,
//! folded or found dead). A list whose entries are tuples built for it
//! (`list_push l, (tuple …)`) and read only through projections of
//! `list_get` gets entries of the read parts alone, which saves the memory
//! and the copies of the others.
//!
//! A list is followed through everything that carries it (loop parameters,
//! yields and results, `if` results, pushes); a list used any other way
//! (passed to a call, put in a tuple, returned) is left alone.

use crate::ir::types::Ty;
use crate::ir::{Block, Func, Inst, InstKind, Value};
use std::collections::{HashMap, HashSet};

pub fn run(f: &mut Func) {
    let mut facts = Facts::of(f);
    let plans = facts.plans(f);
    if plans.is_empty() {
        return;
    }
    let mut rewrite = Rewrite {
        items: HashMap::new(),
        gets: HashMap::new(),
    };
    for (family, keep) in &plans {
        for (item, list) in facts.pushes.clone() {
            if facts.find(list.0 as usize) == *family {
                rewrite.items.insert(item, keep.clone());
            }
        }
        for (list, got) in facts.gets.clone() {
            if facts.find(list.0 as usize) == *family {
                rewrite.gets.insert(got, keep.clone());
            }
        }
    }
    // Types: every list of a pruned family, its entries and their tuples.
    for v in 0..f.values.len() {
        let root = facts.find(v);
        let Some(keep) = plans.get(&root) else {
            continue;
        };
        if let Some(info) = f.values.get_mut(v)
            && let Some(Ty::List(elem)) = &mut info.ty
        {
            **elem = pruned(elem, keep);
        }
    }
    for (&v, keep) in rewrite.items.iter().chain(rewrite.gets.iter()) {
        if let Some(info) = f.values.get_mut(v.0 as usize)
            && let Some(ty) = &mut info.ty
        {
            *ty = pruned(ty, keep);
        }
    }
    rewrite.block(&mut f.body);
}

/// `Tuple(parts)` keeping the parts at the indices in `keep`.
fn pruned(ty: &Ty, keep: &[usize]) -> Ty {
    match ty {
        Ty::Tuple(parts) => Ty::Tuple(keep.iter().filter_map(|&i| parts.get(i).cloned()).collect()),
        t => t.clone(),
    }
}

/// How a function's lists are built and read.
#[derive(Default)]
pub(super) struct Facts {
    /// Union-find over values: lists that are the same tape.
    parent: Vec<usize>,
    /// Lists used in a way this pass does not follow.
    escaped: Vec<Value>,
    /// `(item, list)` of each push.
    pub(super) pushes: Vec<(Value, Value)>,
    /// `(list, entry)` of each get.
    pub(super) gets: Vec<(Value, Value)>,
    /// Results of `tuple` instructions.
    tuples: HashSet<Value>,
    /// Values read other than as the operand of a projection.
    read_whole: HashSet<Value>,
    /// The parts read of each value by projections.
    projected: HashMap<Value, HashSet<usize>>,
    /// How many instructions and yields read each value.
    reads: HashMap<Value, usize>,
}

fn is_list(f: &Func, v: Value) -> bool {
    matches!(f.ty(v), Some(Ty::List(_)))
}

impl Facts {
    pub(super) fn of(f: &Func) -> Facts {
        let mut facts = Facts {
            parent: (0..f.values.len()).collect(),
            ..Facts::default()
        };
        facts.block(&f.body, f, true);
        facts
    }

    pub(super) fn find(&mut self, v: usize) -> usize {
        let mut r = v;
        while let Some(&p) = self.parent.get(r) {
            if p == r {
                break;
            }
            r = p;
        }
        // Path compression.
        let mut x = v;
        while let Some(&p) = self.parent.get(x) {
            if p == r {
                break;
            }
            if let Some(slot) = self.parent.get_mut(x) {
                *slot = r;
            }
            x = p;
        }
        r
    }

    fn link(&mut self, f: &Func, a: Value, b: Value) {
        if !is_list(f, a) || !is_list(f, b) {
            return;
        }
        let (ra, rb) = (self.find(a.0 as usize), self.find(b.0 as usize));
        if let Some(slot) = self.parent.get_mut(ra) {
            *slot = rb;
        }
    }

    fn read(&mut self, v: Value) {
        *self.reads.entry(v).or_default() += 1;
    }

    /// Records `b`; `top` is the function's body (its yields leave it).
    fn block(&mut self, b: &Block, f: &Func, top: bool) {
        for inst in &b.insts {
            self.inst(inst, f);
        }
        for &y in &b.yields {
            self.read(y);
            self.read_whole.insert(y);
            if top && is_list(f, y) {
                self.escaped.push(y);
            }
        }
    }

    fn inst(&mut self, inst: &Inst, f: &Func) {
        for &a in &inst.args {
            self.read(a);
        }
        let arg = |i: usize| inst.args.get(i).copied();
        let res = |i: usize| inst.results.get(i).copied();
        match &inst.kind {
            InstKind::ListPush => {
                if let (Some(l), Some(item), Some(r)) = (arg(0), arg(1), res(0)) {
                    self.link(f, l, r);
                    self.pushes.push((item, r));
                }
            }
            InstKind::ListGet => {
                if let (Some(l), Some(r)) = (arg(0), res(0)) {
                    self.gets.push((l, r));
                }
            }
            InstKind::ListLen | InstKind::ListNew => {}
            InstKind::TupleGet(i) => {
                if let Some(t) = arg(0) {
                    self.projected.entry(t).or_default().insert(*i as usize);
                }
            }
            InstKind::Tuple => {
                if let Some(r) = res(0) {
                    self.tuples.insert(r);
                }
                self.whole(inst, f);
            }
            InstKind::For { body } => {
                for (k, &p) in body.params.iter().enumerate().skip(1) {
                    self.carry(f, arg(k + 1), p, body.yields.get(k - 1).copied(), res(k - 1));
                }
                self.block(body, f, false);
            }
            InstKind::While { cond, body } => {
                for (k, &p) in body.params.iter().enumerate() {
                    self.carry(f, arg(k), p, body.yields.get(k).copied(), res(k));
                    if let Some(&c) = cond.params.get(k) {
                        self.link(f, p, c);
                    }
                }
                self.block(cond, f, false);
                self.block(body, f, false);
            }
            InstKind::If { then, else_ } => {
                for (k, &r) in inst.results.iter().enumerate() {
                    for b in [then, else_] {
                        if let Some(&y) = b.yields.get(k) {
                            self.link(f, y, r);
                        }
                    }
                }
                self.whole(inst, f);
                self.block(then, f, false);
                self.block(else_, f, false);
            }
            _ => self.whole(inst, f),
        }
    }

    /// A loop's carried value: initial value, parameter, yield and result.
    fn carry(&mut self, f: &Func, init: Option<Value>, param: Value, y: Option<Value>, r: Option<Value>) {
        for other in [init, y, r].into_iter().flatten() {
            self.link(f, param, other);
        }
    }

    /// `inst` reads its operands whole: lists among them escape.
    fn whole(&mut self, inst: &Inst, f: &Func) {
        for &a in &inst.args {
            self.read_whole.insert(a);
            if is_list(f, a) {
                self.escaped.push(a);
            }
        }
    }

    /// The tapes a pass may reshape, each with its entries' part count: lists
    /// that do not escape, whose every pushed entry is a tuple built only for
    /// the push, and whose every entry read is only projected.
    pub(super) fn families(&mut self, f: &Func) -> HashMap<usize, usize> {
        let escaped: HashSet<usize> = self
            .escaped
            .clone()
            .into_iter()
            .map(|v| self.find(v.0 as usize))
            .collect();
        let mut parts: HashMap<usize, usize> = HashMap::new();
        let mut bad: HashSet<usize> = escaped;
        for (item, list) in self.pushes.clone() {
            let fam = self.find(list.0 as usize);
            let n = match f.ty(list) {
                Some(Ty::List(e)) => match &**e {
                    Ty::Tuple(p) => Some(p.len()),
                    _ => None,
                },
                _ => None,
            };
            let only_pushed = self.reads.get(&item) == Some(&1);
            match n {
                Some(n) if self.tuples.contains(&item) && only_pushed => {
                    parts.insert(fam, n);
                }
                _ => {
                    bad.insert(fam);
                }
            }
        }
        for (list, got) in self.gets.clone() {
            if self.read_whole.contains(&got) {
                bad.insert(self.find(list.0 as usize));
            }
        }
        parts.retain(|fam, _| !bad.contains(fam));
        parts
    }

    /// The families to prune, each with the entry parts it keeps.
    fn plans(&mut self, f: &Func) -> HashMap<usize, Vec<usize>> {
        let families = self.families(f);
        let mut used: HashMap<usize, HashSet<usize>> = HashMap::new();
        for (list, got) in self.gets.clone() {
            let fam = self.find(list.0 as usize);
            let entry = used.entry(fam).or_default();
            if let Some(ix) = self.projected.get(&got) {
                entry.extend(ix.iter().copied());
            }
        }
        families
            .into_iter()
            .filter_map(|(fam, n)| {
                let used = used.get(&fam).cloned().unwrap_or_default();
                let mut keep: Vec<usize> = used.into_iter().filter(|&i| i < n).collect();
                keep.sort_unstable();
                (keep.len() < n).then_some((fam, keep))
            })
            .collect()
    }
}

/// The instructions to change: the tuples pushed onto pruned lists and the
/// entries read from them, each with the parts kept.
struct Rewrite {
    items: HashMap<Value, Vec<usize>>,
    gets: HashMap<Value, Vec<usize>>,
}

impl Rewrite {
    fn block(&self, b: &mut Block) {
        for inst in &mut b.insts {
            match (&mut inst.kind, inst.results.first()) {
                (InstKind::Tuple, Some(r)) => {
                    if let Some(keep) = self.items.get(r) {
                        inst.args = keep.iter().filter_map(|&i| inst.args.get(i).copied()).collect();
                    }
                }
                (InstKind::TupleGet(i), _) => {
                    let keep = inst.args.first().and_then(|t| self.gets.get(t));
                    if let Some(new) = keep.and_then(|k| k.iter().position(|&j| j == *i as usize)) {
                        *i = new as u32;
                    }
                }
                _ => {}
            }
            for inner in inst.blocks_mut() {
                self.block(inner);
            }
        }
    }
}
