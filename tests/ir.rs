//! The textual IR: snapshots of `diffl ir` for a few programs, and the round
//! trip print → parse → same IR, untyped and specialized, on every golden
//! program and on the conformance suite's `c01_basics.dl`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use diffl::ir::parse::{clear_spans, parse_program};
use diffl::ir::print::print_program;
use diffl::pipeline::{self, Options};
use diffl::syntax::SourceMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn ir_of(file: &Path, func: &str, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_diffl"))
        .arg("ir")
        .arg(file)
        .args(["--fn", func])
        .args(extra)
        .output()
        .expect("diffl runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn fact_is_readable_ssa_with_a_structured_branch() {
    let text = ir_of(&root().join("../shared/conformance/c01_basics.dl"), "fact", &[]);
    assert!(text.contains("if "), "{text}");
    assert!(text.contains("call @"), "{text}");
    insta::assert_snapshot!("ir_fact_untyped", text);
    let typed = ir_of(
        &root().join("../shared/conformance/c01_basics.dl"),
        "fact",
        &["--specialized"],
    );
    insta::assert_snapshot!("ir_fact_specialized", typed);
}

#[test]
fn loops_and_closures_snapshots() {
    let control = root().join("tests/programs/control.dl");
    insta::assert_snapshot!("ir_sum_until", ir_of(&control, "sum_until", &[]));
    insta::assert_snapshot!("ir_first_negative", ir_of(&control, "first_negative", &[]));
    let closures = root().join("tests/programs/closures.dl");
    insta::assert_snapshot!("ir_compose", ir_of(&closures, "compose", &["--specialized"]));
}

fn round_trip(file: &Path) {
    let text = std::fs::read_to_string(file).expect("readable");
    let mut sources = SourceMap::new();
    let main = sources.add(file.display().to_string(), Some(file.to_path_buf()), text);
    let (program, diags) = pipeline::front_end(&mut sources, main);
    assert!(diags.is_empty(), "{}: {:?}", file.display(), diags);
    let check = |p: &diffl::ir::Program, what: &str| {
        let printed = print_program(p);
        let mut parsed = parse_program(&printed)
            .unwrap_or_else(|e| panic!("{what} of {}: {e:?}\n{printed}", file.display()));
        let mut expected = p.clone();
        clear_spans(&mut parsed);
        clear_spans(&mut expected);
        assert_eq!(
            parsed,
            expected,
            "{what} of {} does not round-trip",
            file.display()
        );
    };
    check(&program, "untyped IR");
    let entries: Vec<_> = program
        .main
        .into_iter()
        .chain(program.tests.iter().map(|t| t.func))
        .collect();
    let spec = pipeline::specialize(&program, &entries, Options::default());
    check(&spec.program, "specialized IR");
}

#[test]
fn printed_ir_parses_back_to_the_same_ir() {
    let mut files: Vec<PathBuf> = vec![root().join("../shared/conformance/c01_basics.dl")];
    for e in std::fs::read_dir(root().join("tests/programs"))
        .expect("programs")
        .flatten()
    {
        if e.path().extension().is_some_and(|x| x == "dl") {
            files.push(e.path());
        }
    }
    for f in files {
        round_trip(&f);
    }
}
