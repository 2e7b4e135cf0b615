//! Entry points in stages: an entry (the main body, a test) is cut before
//! each top-level `load(path)` or `load_npy(path)` that has no `like:`
//! template, because the type of what such a call returns is in the file,
//! which the code before the call may write (`save(p, m); let m2 = load(p);`).
//!
//! Each stage is a function of the untyped IR. The first takes the entry's
//! parameters; every later one takes the values that the code from its cut
//! onwards uses and that earlier code defined, and begins with the load. A
//! stage other than the last returns them as one tuple, for the next stage:
//!
//! ```text
//! let p = temp_path("m.ckpt");        stage 0: () -> (p, m)
//! let m = [1.0, 2.0];
//! save(p, m);
//! ---------------------------------- cut: the load's type is read from p
//! let m2 = load(p);                   stage 1: (p, m) -> the entry's result
//! print(m2 - m);
//! ```
//!
//! The driver (`backend::staged`) specializes and runs the stages
//! in order; a stage is specialized only after the previous one ran. A
//! constant (`3`, `0.5`, `true`, `()`) used after a cut is repeated in the
//! later stage rather than passed, so it stays a compile-time constant
//! there (an axis, a shape) exactly as it would have without the cut.

use super::Builtin;
use super::func::{Block, Const, Func, FuncId, Inst, InstKind, Param, Program, Value};
use crate::syntax::{Span, Symbol};
use std::collections::HashSet;

/// One stage of an entry point.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub func: FuncId,
    /// The load this stage starts with (every stage but the first).
    pub load: Option<LoadSite>,
}

/// A top-level load whose type comes from its file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadSite {
    pub span: Span,
    /// `load_npy` (else a checkpoint `load`).
    pub npy: bool,
    /// The stage parameter that holds the path, when it is one.
    pub path_param: Option<usize>,
}

/// The stages of `entry`, added to `p` as new functions when there is more
/// than one; a single stage is `entry` itself.
pub fn split_entry(p: &mut Program, entry: FuncId) -> Vec<Stage> {
    let Some(f) = p.func(entry).cloned() else {
        return vec![Stage {
            func: entry,
            load: None,
        }];
    };
    let cuts = cut_points(&f);
    if cuts.is_empty() {
        return vec![Stage {
            func: entry,
            load: None,
        }];
    }
    let insts = &f.body.insts;
    let mut bounds = vec![0];
    bounds.extend(&cuts);
    bounds.push(insts.len());
    let mut stages = Vec::new();
    let mut params: Vec<Value> = f.param_values.clone();
    for (i, w) in bounds.windows(2).enumerate() {
        let (lo, hi) = match w {
            [lo, hi] => (*lo, *hi),
            _ => continue,
        };
        let last = hi == insts.len();
        let seg = insts.get(lo..hi).unwrap_or_default();
        let before = insts.get(..lo).unwrap_or_default();
        // Constants defined earlier and used here are repeated here.
        let used_here = uses(seg, if last { &f.body.yields } else { &[] });
        let mut body: Vec<Inst> = before
            .iter()
            .filter(|inst| repeatable(inst) && inst.results.iter().any(|r| used_here.contains(r)))
            .cloned()
            .collect();
        body.extend(seg.iter().cloned());
        let mut func = Func {
            params: params.iter().map(|&v| param(&f, v)).collect(),
            param_values: params.clone(),
            n_captures: 0,
            ret_ann: None,
            body: Block::default(),
            ..f.clone()
        };
        if i == 0 {
            func.params = f.params.clone();
            func.n_captures = f.n_captures;
        }
        if last {
            func.ret_ann = f.ret_ann.clone();
            func.body = Block {
                params: Vec::new(),
                insts: body,
                yields: f.body.yields.clone(),
            };
        } else {
            // What the code after the next cut needs from here and before.
            let later = insts.get(hi..).unwrap_or_default();
            let needed = uses(later, &f.body.yields);
            let defined: Vec<Value> = f
                .param_values
                .iter()
                .copied()
                .chain(insts.get(..hi).unwrap_or_default().iter().flat_map(|inst| {
                    if repeatable(inst) {
                        Vec::new()
                    } else {
                        inst.results.clone()
                    }
                }))
                .collect();
            let next: Vec<Value> = defined.into_iter().filter(|v| needed.contains(v)).collect();
            let tuple = func.new_value(None, None);
            body.push(Inst {
                kind: InstKind::Tuple,
                args: next.clone(),
                results: vec![tuple],
                span: f.span,
            });
            func.body = Block {
                params: Vec::new(),
                insts: body,
                yields: vec![tuple],
            };
            params = next;
        }
        let load = if i == 0 {
            None
        } else {
            seg.first().map(|inst| LoadSite {
                span: inst.span,
                npy: matches!(inst.kind, InstKind::Builtin(Builtin::LoadNpy)),
                path_param: inst
                    .args
                    .first()
                    .and_then(|path| func.param_values.iter().position(|v| v == path)),
            })
        };
        let id = if i == 0 && last {
            entry
        } else {
            p.funcs.push(func);
            FuncId((p.funcs.len() - 1) as u32)
        };
        stages.push(Stage { func: id, load });
    }
    stages
}

/// Indices of the top-level loads without a `like:` template.
fn cut_points(f: &Func) -> Vec<usize> {
    let units: HashSet<Value> = f
        .body
        .insts
        .iter()
        .filter(|inst| matches!(inst.kind, InstKind::Const(Const::Unit)))
        .flat_map(|inst| inst.results.iter().copied())
        .collect();
    f.body
        .insts
        .iter()
        .enumerate()
        .filter(|(_, inst)| {
            matches!(inst.kind, InstKind::Builtin(Builtin::Load | Builtin::LoadNpy))
                && inst.args.get(1).is_some_and(|like| units.contains(like))
        })
        .map(|(k, _)| k)
        .collect()
}

/// A constant that a later stage repeats instead of receiving.
fn repeatable(inst: &Inst) -> bool {
    matches!(
        inst.kind,
        InstKind::Const(Const::Int(_) | Const::Float(_) | Const::Bool(_) | Const::Unit)
    )
}

/// Every value the instructions (with their nested blocks) and `extra` read.
fn uses(insts: &[Inst], extra: &[Value]) -> HashSet<Value> {
    fn block(b: &Block, out: &mut HashSet<Value>) {
        walk(&b.insts, out);
        out.extend(b.yields.iter().copied());
    }
    fn walk(insts: &[Inst], out: &mut HashSet<Value>) {
        for inst in insts {
            out.extend(inst.args.iter().copied());
            for b in inst.blocks() {
                block(b, out);
            }
        }
    }
    let mut out: HashSet<Value> = extra.iter().copied().collect();
    walk(insts, &mut out);
    out
}

/// A stage parameter for a value passed from the stage before.
fn param(f: &Func, v: Value) -> Param {
    Param {
        name: f
            .name_of(v)
            .unwrap_or_else(|| Symbol::intern(&format!("$v{}", v.0))),
        span: f.span,
        ann: None,
        default: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::SourceMap;

    fn lowered(src: &str) -> Program {
        let mut sources = SourceMap::new();
        let main = sources.add("t.dl", None, src);
        let (p, diags) = crate::pipeline::front_end(&mut sources, main);
        assert!(diags.is_empty(), "{diags:?}");
        p
    }

    #[test]
    fn cuts_before_each_top_level_load_and_passes_what_is_used() {
        let mut p = lowered(
            "let path = temp_path(\"a\");\nlet k = 3;\nlet m = [1.0];\nsave(path, m);\n\
             let m2 = load(path);\nprint(m2, k);\nlet m3 = load_npy(path);\nprint(m3, m);\n",
        );
        let main = p.main.unwrap();
        let n = p.funcs.len();
        let stages = split_entry(&mut p, main);
        assert_eq!(stages.len(), 3);
        assert_eq!(p.funcs.len(), n + 3);
        assert!(stages[0].load.is_none());
        let (s1, s2) = (stages[1].load.unwrap(), stages[2].load.unwrap());
        assert!(!s1.npy && s2.npy);
        // Stage 1 receives `path` and `m` (for stage 2); `k` is a constant, repeated.
        let f1 = p.func(stages[1].func).unwrap();
        let names: Vec<&str> = f1.params.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["path", "m"]);
        assert_eq!(s1.path_param, Some(0));
        let f2 = p.func(stages[2].func).unwrap();
        let names: Vec<&str> = f2.params.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["path", "m"]);
    }

    #[test]
    fn loads_with_like_or_inside_blocks_are_not_cut() {
        let mut p = lowered(
            "let p = temp_path(\"a\");\nlet a = load(p, like: [1.0]);\n\
             fn f(q) = load(q, like: 0.0);\nif true { print(f(p)); }\n",
        );
        let main = p.main.unwrap();
        let stages = split_entry(&mut p, main);
        assert_eq!(
            stages,
            vec![Stage {
                func: main,
                load: None
            }]
        );
    }
}
