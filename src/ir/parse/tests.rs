use super::*;
use crate::ir::func::Const;
use crate::ir::print::{print_program, samples};

fn round_trip(mut p: Program) {
    let text = print_program(&p);
    let back = match parse_program(&text) {
        Ok(b) => b,
        Err(e) => panic!("{e}\n{text}"),
    };
    clear_spans(&mut p);
    assert_eq!(back, p, "{text}");
    assert_eq!(print_program(&back), text);
}

#[test]
fn round_trips() {
    for typed in [false, true] {
        round_trip(samples::fact(typed));
        round_trip(samples::loops(typed));
        round_trip(samples::closure(typed));
    }
    round_trip(samples::all_prims());
}

#[test]
fn floats_come_back_bit_for_bit() {
    let p = samples::all_prims();
    let back = parse_program(&print_program(&p)).unwrap();
    let bits = |p: &Program| -> Vec<u64> {
        p.funcs[0]
            .body
            .insts
            .iter()
            .filter_map(|i| match &i.kind {
                InstKind::Const(Const::Float(x)) => Some(x.to_bits()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(bits(&back), bits(&p));
}

#[test]
fn duplicate_names_refer_by_index() {
    let mut p = samples::fact(false);
    p.funcs[1].name = p.funcs[0].name;
    let text = print_program(&p);
    assert!(text.contains("call @0("), "{text}");
    round_trip(p);
}

#[test]
fn errors_have_positions() {
    let e = parse_program("fn f() {\n  %1 = bogus 3\n  return\n}").unwrap_err();
    assert_eq!((e.line, e.column), (2, 8));
    assert!(e.message.contains("bogus"));
    let e = parse_program("fn f() {\n  %1 = call @g()\n  return\n}").unwrap_err();
    assert!(e.message.contains("unknown function"), "{}", e.message);
}
