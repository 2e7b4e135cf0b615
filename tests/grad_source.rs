//! `diffl grad FILE --fn NAME`: the printed derivative is diffl source that
//! `diffl check` accepts and that computes what `grad(NAME, wrt: …)` computes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn diffl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_diffl"))
}

fn c04() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/c04_grad_seed.dl")
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `diffl grad c04 --fn name --f64`, which must succeed.
fn grad_source(name: &str) -> String {
    let out = diffl()
        .args(["grad"])
        .arg(c04())
        .args(["--fn", name, "--f64"])
        .output()
        .expect("diffl runs");
    assert!(
        out.status.success(),
        "diffl grad --fn {name} failed\n{}",
        text(&out)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The c04 file without its `test` blocks: the functions only.
fn c04_functions() -> String {
    let src = std::fs::read_to_string(c04()).expect("c04 exists");
    let mut out = String::new();
    let mut in_test = false;
    for line in src.lines() {
        if line.starts_with("test ") {
            in_test = true;
        }
        if !in_test {
            out.push_str(line);
            out.push('\n');
        }
        if in_test && line == "}" {
            in_test = false;
        }
    }
    out
}

/// A fresh folder for one test's files.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("diffl-grad-source-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Checks the printed gradient of `name` against `grad` at `points`.
fn agrees(name: &str, arity: usize, points: &[&[f64]]) {
    let derivative = grad_source(name);
    let wrt = if arity == 1 {
        "0".to_string()
    } else {
        let idx: Vec<String> = (0..arity).map(|i| i.to_string()).collect();
        format!("({})", idx.join(", "))
    };
    let mut program = c04_functions();
    program.push('\n');
    program.push_str(&derivative);
    program.push_str(&format!("\ntest \"printed gradient of {name}\" {{\n"));
    for p in points {
        assert_eq!(p.len(), arity);
        let args: Vec<String> = p.iter().map(|x| format!("{x:?}")).collect();
        let args = args.join(", ");
        program.push_str(&format!(
            "    assert_close({name}_grad({args}), grad({name}, wrt: {wrt})({args}), tol: 1e-9);\n"
        ));
    }
    program.push_str("}\n");
    let dir = temp_dir(name);
    let file = dir.join(format!("{name}_grad.dl"));
    std::fs::write(&file, &program).expect("write program");

    let check = diffl()
        .arg("check")
        .arg(&file)
        .arg("--f64")
        .output()
        .expect("diffl runs");
    assert!(
        check.status.success(),
        "diffl check rejected the printed gradient of {name}:\n{program}\n{}",
        text(&check)
    );
    let test = diffl()
        .arg("test")
        .arg(&file)
        .arg("--f64")
        .output()
        .expect("diffl runs");
    let stdout = String::from_utf8_lossy(&test.stdout);
    assert!(
        test.status.success() && stdout.contains("1 passed, 0 failed"),
        "the printed gradient of {name} disagrees with grad:\n{program}\n{}",
        text(&test)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn circuit() {
    agrees(
        "circuit",
        3,
        &[&[-2.0, 5.0, -4.0], &[1.5, 0.25, 2.0], &[0.3, -0.7, 1.1]],
    );
}

#[test]
fn circuit_sq() {
    agrees(
        "circuit_sq",
        3,
        &[&[-2.0, 5.0, -4.0], &[1.5, 0.25, 2.0], &[0.3, -0.7, 1.1]],
    );
}

#[test]
fn staged() {
    agrees("staged", 2, &[&[3.0, -4.0], &[0.5, 1.5], &[-1.2, 0.4]]);
}

#[test]
fn program() {
    agrees("program", 1, &[&[0.5], &[-1.0], &[0.3]]);
}

#[test]
fn formula() {
    agrees("formula", 1, &[&[0.5], &[-1.0], &[0.3]]);
}

#[test]
fn staged_source_snapshot() {
    insta::assert_snapshot!(grad_source("staged"));
}

#[test]
fn vector_arguments_are_reported() {
    let out = diffl()
        .args(["grad"])
        .arg(c04())
        .args(["--fn", "neuron"])
        .output()
        .expect("diffl runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("float scalars"), "{err}");
}

#[test]
fn unknown_function_is_an_error() {
    let out = diffl()
        .args(["grad"])
        .arg(c04())
        .args(["--fn", "stagd"])
        .output()
        .expect("diffl runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no function named `stagd`"));
}

/// Loops and branches print as `for`, `while` and `if` over `let mut`
/// variables, and compute what the original computes.
#[test]
fn control_flow_prints_as_source() {
    let original = "fn loopy(x, y) {
    let mut acc = if x > y { sin(x) * y } else { y * y + 1.0 };
    for i in 0..3 {
        acc = acc * x + float(i);
    }
    let mut k = 0;
    let mut s = 0.0;
    while k * k < 10 {
        s = s + acc / (float(k) + 1.0);
        k += 1;
    }
    let (a, b) = if s > 0.0 { (s, x) } else { (x, s) };
    a * b
}
";
    let caller = "let r = loopy(f64(0.5), f64(1.5));\n";
    let mut sources = diffl::syntax::SourceMap::new();
    let main = sources.add("loopy.dl", None, format!("{original}{caller}"));
    let (untyped, diags) = diffl::pipeline::front_end(&mut sources, main);
    assert!(diags.is_empty(), "{diags:?}");
    let entry = untyped.main.unwrap();
    let spec = diffl::pipeline::specialize(&untyped, &[entry], diffl::pipeline::Options::default());
    assert!(spec.entries.iter().all(|e| e.is_ok()));
    let f = spec.program.find_func("loopy").unwrap();
    let printed = diffl::ad::source::function_to_source(&spec.program, f).unwrap();
    assert!(
        printed.contains("for ") && printed.contains("while ") && printed.contains("let mut"),
        "{printed}"
    );
    let reference = original.replace("fn loopy(", "fn loopy_ref(");
    let mut program = format!("{reference}\n{printed}\ntest \"loops agree\" {{\n");
    for (x, y) in [(0.5, 1.5), (2.5, 1.5), (-0.7, -0.2)] {
        program.push_str(&format!(
            "    assert_close(loopy({x:?}, {y:?}), loopy_ref({x:?}, {y:?}), tol: 1e-12);\n"
        ));
    }
    program.push_str("}\n");
    let dir = temp_dir("loopy");
    let file = dir.join("loopy.dl");
    std::fs::write(&file, &program).unwrap();
    let test = diffl().arg("test").arg(&file).arg("--f64").output().unwrap();
    assert!(
        test.status.success() && String::from_utf8_lossy(&test.stdout).contains("1 passed, 0 failed"),
        "{program}\n{}",
        text(&test)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
