//! NumPy interoperability: NumPy reads the `.npy` (and CSV) files diffl
//! writes, and diffl reads the `.npy` files NumPy writes, in the layouts
//! NumPy produces (C and Fortran order, both byte orders, narrow ints, the
//! version 2.0 header). Needs `python3` with `numpy` (`pip install numpy`);
//! without them these tests fail rather than skip.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh folder for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("diffl_numpy_io_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a Python script with `dir` as its argument; fails the test with a
/// clear message when python3 or numpy is missing.
fn python(script: &str, dir: &Path) {
    let probe = Command::new("python3").args(["-c", "import numpy"]).output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "these tests need numpy: `pip install numpy` (python3 said: {})",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("these tests need python3 with numpy on the PATH: {e}"),
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `diffl test` on a program written to `dir` (from another working
/// folder, so its relative paths must resolve against its own folder).
fn diffl_test(dir: &Path, program: &str) {
    let file = dir.join("prog.dl");
    std::fs::write(&file, program).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_diffl"))
        .arg("test")
        .arg(&file)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && text.contains(" 0 failed"), "{text}");
}

#[test]
fn numpy_reads_what_diffl_writes() {
    let dir = scratch("write");
    diffl_test(
        &dir,
        r#"
test "write" {
    save_npy("f32.npy", [[1.5, -2.0, 0.1], [4.0, 5.0, 6.0]]);
    save_npy("f64.npy", f64([1.0, 2.0, -7.0]) / 3.0);
    save_npy("int.npy", [[1, -2], [3, 9223372036854775807]]);
    save_npy("bool.npy", [true, false, true]);
    save_npy("scalar.npy", 2.5);
    save_npy("empty.npy", zeros([0, 3]));
    save_csv("table.csv", [[1.5, -2.0, 0.1], [1e-7, 3e30, 6.0]]);
}
"#,
    );
    // Each file is compared exactly with the value NumPy computes itself.
    python(
        r#"
import sys, os, numpy as np
d = sys.argv[1]
def check(name, want):
    got = np.load(os.path.join(d, name))
    assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    assert np.array_equal(got, want), (name, got, want)
    with open(os.path.join(d, name), 'rb') as f:
        head = f.read(10)
    assert head[:8] == b'\x93NUMPY\x01\x00', (name, head)
    assert (10 + int.from_bytes(head[8:10], 'little')) % 64 == 0, name
check('f32.npy', np.array([[1.5, -2.0, 0.1], [4.0, 5.0, 6.0]], dtype=np.float32))
check('f64.npy', np.array([1.0, 2.0, -7.0]) / 3.0)
check('int.npy', np.array([[1, -2], [3, 9223372036854775807]], dtype=np.int64))
check('bool.npy', np.array([True, False, True]))
check('scalar.npy', np.array(2.5, dtype=np.float32))
check('empty.npy', np.zeros((0, 3), dtype=np.float32))
t = np.loadtxt(os.path.join(d, 'table.csv'), delimiter=',', dtype=np.float32)
assert np.array_equal(t, np.array([[1.5, -2.0, 0.1], [1e-7, 3e30, 6.0]], dtype=np.float32)), t
"#,
        &dir,
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn diffl_reads_what_numpy_writes() {
    let dir = scratch("read");
    python(
        r#"
import sys, os, numpy as np
d = sys.argv[1]
p = lambda n: os.path.join(d, n)
np.save(p('f32.npy'), np.array([[1.5, -2.0, 0.1], [4.0, 5.0, 6.0]], dtype=np.float32))
np.save(p('f64_fortran.npy'), np.asfortranarray(np.arange(6.0).reshape(2, 3) / 3.0))
np.save(p('i32.npy'), np.array([-1, 2, -3], dtype=np.int32))
np.save(p('u8.npy'), np.array([0, 255], dtype=np.uint8))
np.save(p('i64.npy'), np.arange(4).reshape(2, 2))
np.save(p('bool.npy'), np.array([True, False]))
np.save(p('big.npy'), np.array([0.5, -0.25, 1.0 / 3.0], dtype='>f8'))
np.save(p('scalar.npy'), np.float32(2.5))
with open(p('v2.npy'), 'wb') as f:
    np.lib.format.write_array(f, np.array([[7, 8, 9]], dtype=np.int64), version=(2, 0))
assert np.load(p('f64_fortran.npy')).flags['F_CONTIGUOUS']
"#,
        &dir,
    );
    diffl_test(
        &dir,
        r#"
fn is_int(x: int) = true;
fn is_f64(x: f64) = true;
test "read" {
    let a = load_npy("f32.npy");
    assert(shape(a) == (2, 3), "f32 shape");
    assert_close(a, [[1.5, -2.0, 0.1], [4.0, 5.0, 6.0]], tol: 0.0);
    let b = load_npy("f64_fortran.npy");
    assert(is_f64(b[0, 0]) && shape(b) == (2, 3), "f64 in C order");
    assert_close(b, reshape(f64(arange(6)), [2, 3]) / 3.0, tol: 0.0);
    let c = load_npy("i32.npy");
    assert(is_int(sum(c)) && sum(c) == -2 && c[2] == -3, "narrow ints are ints");
    let u = load_npy("u8.npy");
    assert(u[1] == 255, "unsigned bytes");
    let i = load_npy("i64.npy");
    assert(i[1, 0] == 2 && shape(i) == (2, 2), "int64");
    let t = load_npy("bool.npy");
    assert(t[0] && !t[1], "bools");
    let g = load_npy("big.npy");
    assert_close(g, f64([0.5, -0.25, 1.0]) / f64([1.0, 1.0, 3.0]), tol: 0.0);
    let s = load_npy("scalar.npy");
    assert(s == 2.5 && shape(s) == (), "a rank-0 array");
    let v = load_npy("v2.npy");
    assert(v[0, 2] == 9 && shape(v) == (1, 3), "version 2.0 header");
}
"#,
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
