use super::*;
use crate::ir::func::{DefaultValue, InstKind, Value};
use crate::ir::print::samples;
use crate::ir::types::{DType, Ty};

fn messages(p: &Program, stage: Stage) -> Vec<String> {
    match verify_program(p, stage) {
        Ok(()) => Vec::new(),
        Err(es) => es.into_iter().map(|e| e.message).collect(),
    }
}

#[test]
fn accepts_the_samples() {
    for typed in [false, true] {
        let stage = if typed { Stage::Specialized } else { Stage::Untyped };
        for p in [
            samples::fact(typed),
            samples::loops(typed),
            samples::closure(typed),
        ] {
            assert_eq!(messages(&p, stage), Vec::<String>::new());
        }
    }
    assert_eq!(
        messages(&samples::all_prims(), Stage::Specialized),
        Vec::<String>::new()
    );
}

#[test]
fn untyped_kinds_are_rejected_when_specialized() {
    let m = messages(&samples::closure(false), Stage::Specialized);
    assert!(m.iter().any(|m| m.contains("untyped-only")), "{m:?}");
    assert!(m.iter().any(|m| m.contains("has no type")), "{m:?}");
}

#[test]
fn use_before_definition() {
    let mut p = samples::fact(false);
    // `%2 = prim le %0, %1` now uses %3, defined later inside the else branch.
    p.funcs[0].body.insts[1].args[1] = Value(3);
    let m = messages(&p, Stage::Untyped);
    assert!(
        m.iter().any(|m| m == "%3 is used where it is not defined"),
        "{m:?}"
    );
}

#[test]
fn values_do_not_escape_their_block() {
    let mut p = samples::fact(false);
    p.funcs[0].body.yields[0] = Value(5);
    let m = messages(&p, Stage::Untyped);
    assert_eq!(m, vec!["%5 is used where it is not defined"]);
}

#[test]
fn double_definition() {
    let mut p = samples::fact(false);
    p.funcs[0].body.insts[1].results[0] = Value(1);
    let m = messages(&p, Stage::Untyped);
    assert!(m.iter().any(|m| m == "%1 is defined more than once"), "{m:?}");
}

#[test]
fn wrong_yield_count() {
    let mut p = samples::fact(false);
    if let InstKind::If { then, .. } = &mut p.funcs[0].body.insts[2].kind {
        then.yields.push(Value(1));
    }
    let m = messages(&p, Stage::Untyped);
    assert_eq!(m, vec!["values yielded by an `if` branch: expected 1, found 2"]);

    let mut p = samples::loops(false);
    if let InstKind::For { body } = &mut p.funcs[0].body.insts[3].kind {
        body.yields.pop();
    }
    let m = messages(&p, Stage::Untyped);
    assert_eq!(m, vec!["values yielded by the `for` body: expected 2, found 1"]);
}

#[test]
fn structural_counts() {
    let mut p = samples::fact(false);
    p.funcs[1].body.insts[1].args.push(Value(0));
    p.funcs[0].n_captures = 3;
    p.funcs[0].params[0].default = Some(DefaultValue::Thunk(crate::ir::FuncId(9)));
    let m = messages(&p, Stage::Untyped);
    assert!(
        m.iter()
            .any(|m| m == "arguments of the call to fact: expected 1, found 2"),
        "{m:?}"
    );
    assert!(m.iter().any(|m| m == "3 captures but 1 parameters"), "{m:?}");
    assert!(m.iter().any(|m| m.contains("missing function @9")), "{m:?}");
}

#[test]
fn type_mismatches() {
    // The `if` yields an int but its result is declared f32.
    let mut p = samples::fact(true);
    p.funcs[0].values[6].ty = Some(Ty::scalar(DType::F32));
    let m = messages(&p, Stage::Specialized);
    assert!(
        m.iter()
            .any(|m| m.starts_with("`if` branch result: expected f32 scalar, found int")),
        "{m:?}"
    );

    // A prim whose recorded type disagrees with the shape rule.
    let mut p = samples::fact(true);
    p.funcs[0].values[2].ty = Some(Ty::int());
    let m = messages(&p, Stage::Specialized);
    assert!(
        m.iter().any(|m| m.contains("prim le: result type is int")),
        "{m:?}"
    );

    // A loop-carried value whose type changes.
    let mut p = samples::loops(true);
    p.funcs[0].values[16].ty = Some(Ty::scalar(DType::F64));
    let m = messages(&p, Stage::Specialized);
    assert!(m.iter().any(|m| m.starts_with("carried value 1")), "{m:?}");

    // An index known to be out of range.
    let mut p = samples::all_prims();
    p.funcs[0].body.insts[0].kind = InstKind::Const(crate::ir::Const::Int(7));
    let m = messages(&p, Stage::Specialized);
    assert!(
        m.iter()
            .any(|m| m.contains("index 7 is out of range for axis 0 of length 2")),
        "{m:?}"
    );
}
