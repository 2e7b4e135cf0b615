use super::samples;
use super::*;

#[test]
fn snapshot_fact_untyped() {
    insta::assert_snapshot!(print_program(&samples::fact(false)));
}

#[test]
fn snapshot_fact_typed() {
    insta::assert_snapshot!(print_program(&samples::fact(true)));
}

#[test]
fn snapshot_loops_typed() {
    insta::assert_snapshot!(print_program(&samples::loops(true)));
}

#[test]
fn snapshot_closure_untyped() {
    insta::assert_snapshot!(print_program(&samples::closure(false)));
}

#[test]
fn snapshot_closure_typed() {
    insta::assert_snapshot!(print_program(&samples::closure(true)));
}

#[test]
fn snapshot_all_prims() {
    insta::assert_snapshot!(print_program(&samples::all_prims()));
}

#[test]
fn print_func_matches_program_listing() {
    let p = samples::fact(true);
    assert!(print_program(&p).starts_with(&print_func(&p, FuncId(0))));
}
