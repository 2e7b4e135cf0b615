//! Differential test of the backends: every golden program, every example,
//! every conformance file and every error program runs with `--backend
//! interp` and with `--backend jit`; exit code, standard output and standard
//! error must be identical. A last check makes sure the JIT really compiled
//! code on these programs (the comparison would be empty otherwise).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dl_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dl"))
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    files.sort();
    files
}

/// One run of the binary: `diffl SUBCOMMAND FILE ARGS --backend B`, from the file's folder.
#[derive(Clone)]
struct Case {
    sub: &'static str,
    file: PathBuf,
    args: Vec<&'static str>,
}

type Outcome = (Option<i32>, String, String);

fn run(case: &Case, backend: &str) -> Outcome {
    let dir = case.file.parent().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_diffl"))
        .current_dir(dir)
        .arg(case.sub)
        .arg(case.file.file_name().unwrap())
        .args(&case.args)
        .args(["--backend", backend])
        .env("NO_COLOR", "1")
        .output()
        .expect("diffl runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cases() -> Vec<Case> {
    let conformance = root().join("../shared/conformance");
    let mut cases = Vec::new();
    for file in dl_files(&root().join("tests/programs"), "") {
        let sub = if file.with_extension("out").exists() {
            "run"
        } else {
            "test"
        };
        cases.push(Case {
            sub,
            file,
            args: vec![],
        });
    }
    for file in dl_files(&root().join("examples"), "") {
        cases.push(Case {
            sub: "run",
            file: file.clone(),
            args: vec![],
        });
        cases.push(Case {
            sub: "run",
            file,
            args: vec!["--f64"],
        });
    }
    for file in dl_files(&conformance, "c") {
        cases.push(Case {
            sub: "test",
            file: file.clone(),
            args: vec![],
        });
        cases.push(Case {
            sub: "test",
            file,
            args: vec!["--f64"],
        });
    }
    for dir in [conformance.join("errors"), root().join("tests/errors")] {
        for file in dl_files(&dir, "") {
            cases.push(Case {
                sub: "run",
                file,
                args: vec![],
            });
        }
    }
    cases
}

#[test]
fn interp_and_jit_agree_on_every_program() {
    let cases = cases();
    assert!(cases.len() > 60, "programs are missing: {}", cases.len());
    // Two threads: the cases are independent processes.
    let (left, right) = cases.split_at(cases.len() / 2);
    let compare = |part: &[Case]| {
        let mut failures = Vec::new();
        for case in part {
            let a = run(case, "interp");
            let b = run(case, "jit");
            if a != b {
                failures.push(format!(
                    "{} {} {:?}:\n--- interp (exit {:?})\n{}{}--- jit (exit {:?})\n{}{}",
                    case.sub,
                    case.file.display(),
                    case.args,
                    a.0,
                    a.1,
                    a.2,
                    b.0,
                    b.1,
                    b.2
                ));
            }
        }
        failures
    };
    let failures: Vec<String> = std::thread::scope(|s| {
        let h = s.spawn(|| compare(left));
        let mut f = compare(right);
        f.extend(h.join().unwrap());
        f
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The number of specializations `--timings` says the JIT compiled.
fn compiled_count(case: &Case) -> usize {
    let mut c = case.clone();
    c.args.push("--timings");
    let (_, _, stderr) = run(&c, "jit");
    let line = stderr
        .lines()
        .filter(|l| l.starts_with("timings: jit compiled ") && l.contains(" specializations in "))
        .collect::<Vec<_>>();
    assert!(!line.is_empty(), "no summary line in:\n{stderr}");
    line.iter()
        .map(|l| {
            l.trim_start_matches("timings: jit compiled ")
                .split(' ')
                .next()
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .sum()
}

#[test]
fn the_jit_compiles_code_in_these_programs() {
    let conformance = root().join("../shared/conformance");
    for (file, at_least) in [
        (conformance.join("c01_basics.dl"), 10),
        (conformance.join("c06_grad_control.dl"), 40),
        (root().join("tests/programs/closures.dl"), 10),
        (root().join("tests/errors/recursion_depth.dl"), 1),
    ] {
        let sub = if file.to_string_lossy().contains("errors") {
            "run"
        } else {
            "test"
        };
        let n = compiled_count(&Case {
            sub,
            file: file.clone(),
            args: vec![],
        });
        assert!(n >= at_least, "{}: {n} compiled", file.display());
    }
}

#[test]
fn timings_go_to_stderr_only() {
    let case = Case {
        sub: "run",
        file: root().join("tests/errors/recursion_depth.dl"),
        args: vec!["--timings"],
    };
    let (code, stdout, stderr) = run(&case, "jit");
    assert_eq!(code, Some(1));
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("timings: jit compiled down(int) -> int in "),
        "{stderr}"
    );
    assert!(stderr.contains("timings: jit left main() -> () to the interpreter: it uses `print`"));
    assert!(stderr.contains("timings: ran main in "));
    let plain = run(&Case { args: vec![], ..case }, "jit");
    assert!(!plain.2.contains("timings:"));
}

#[test]
fn timings_report_the_fused_groups_compiled_while_running() {
    let case = Case {
        sub: "run",
        file: root().join("examples/power_iteration.dl"),
        args: vec!["--timings"],
    };
    let (code, _, stderr) = run(&case, "jit");
    assert_eq!(code, Some(0), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains(" fused elementwise groups to native loops in "))
        .unwrap_or_else(|| panic!("no fused-group line in:\n{stderr}"));
    // `timings: jit compiled N of M fused …`: at least one group compiled.
    let words: Vec<&str> = line.split(' ').collect();
    let compiled: usize = words[3].parse().unwrap();
    let tried: usize = words[5].parse().unwrap();
    assert!(compiled >= 1 && compiled <= tried, "{line}");
    // The interpreter alone compiles nothing, so it reports no such line.
    let (_, _, interp) = run(&case, "interp");
    assert!(!interp.contains("fused elementwise groups"), "{interp}");
}

#[test]
fn the_timeout_error_names_the_timeout_given() {
    let dir = std::env::temp_dir().join(format!("diffl-timeout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("endless.dl");
    std::fs::write(
        &file,
        "fn spin(x) {\n    let mut y = x;\n    while y > -1.0 { y = y * 0.5 + sin(y); }\n    y\n}\nprint(spin(1.0));\n",
    )
    .unwrap();
    for backend in ["interp", "jit"] {
        let case = Case {
            sub: "run",
            file: file.clone(),
            args: vec!["--timeout", "0.3"],
        };
        let (code, _, stderr) = run(&case, backend);
        assert_eq!(code, Some(1), "{backend}: {stderr}");
        assert!(
            stderr.contains("the run took longer than the timeout of 0.3 s"),
            "{backend}: {stderr}"
        );
        assert!(
            stderr.contains("running here when time ran out"),
            "{backend}: {stderr}"
        );
    }
    // A timeout too long for the clock is none; one that is not a number of
    // seconds is refused.
    let quick = dir.join("quick.dl");
    std::fs::write(&quick, "print(1 + 1);\n").unwrap();
    for (timeout, code, out) in [
        ("inf", Some(0), "2\n"),
        ("1e30", Some(0), "2\n"),
        ("nan", Some(2), ""),
    ] {
        let case = Case {
            sub: "run",
            file: quick.clone(),
            args: vec!["--timeout", timeout],
        };
        let (got, stdout, stderr) = run(&case, "jit");
        assert_eq!(
            (got, stdout.as_str()),
            (code, out),
            "--timeout {timeout}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
