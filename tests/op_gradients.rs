//! Table-driven gradient checks: every differentiable prim of the op table,
//! in reverse mode against f64 central differences (`gradcheck`) and in
//! forward mode against reverse mode, on pseudo-random inputs drawn from the
//! op's test domain (`OpInfo::domain`).
//!
//! The match in `surface` is exhaustive over `Prim`: a new prim must say here
//! how it is reached from the surface language, or why it is not.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use diffl::ir::op::Domain;
use diffl::ir::{BinaryOp, DType, IndexItem, Prim, RandomOp, ReduceOp, Ty, UnaryOp};
use std::fmt::Write as _;
use std::process::Command;

/// A diffl expression in the variables `a` and `b` (vectors of length 4)
/// that applies the prim, or `None` when the prim has no derivative or is
/// only produced inside derivative code (where the other tests reach it).
fn surface(p: &Prim) -> Option<&'static str> {
    Some(match p {
        Prim::Unary(u) => match u {
            UnaryOp::Neg => "-a",
            UnaryOp::Exp => "exp(a)",
            UnaryOp::Log => "log(a)",
            UnaryOp::Sqrt => "sqrt(a)",
            UnaryOp::Sin => "sin(a)",
            UnaryOp::Cos => "cos(a)",
            UnaryOp::Tan => "tan(a)",
            UnaryOp::Tanh => "tanh(a)",
            UnaryOp::Sigmoid => "sigmoid(a)",
            UnaryOp::Relu => "relu(a)",
            UnaryOp::Abs => "abs(a)",
            UnaryOp::Not | UnaryOp::Sign | UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round => return None,
        },
        Prim::Binary(op) => match op {
            BinaryOp::Add => "a + b",
            BinaryOp::Sub => "a - b",
            BinaryOp::Mul => "a * b",
            BinaryOp::Div => "a / b",
            BinaryOp::Pow => "a ** b",
            BinaryOp::Maximum => "maximum(a, b)",
            BinaryOp::Minimum => "minimum(a, b)",
            BinaryOp::Rem
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::And
            | BinaryOp::Or => return None,
        },
        Prim::Where => "where(a > b, a * b, a + b)",
        Prim::Clip => "clip(a, -0.5, 0.5)",
        Prim::MatMul => "[a, b] @ a",
        Prim::Reduce { op, .. } => match op {
            ReduceOp::Sum => "sum([a, b], axis: 0) * a",
            ReduceOp::Mean => "mean([a, b], axis: 1, keepdims: true) * a",
            ReduceOp::Prod => "prod(a) * b",
            ReduceOp::Max => "max([a, b], axis: 0)",
            ReduceOp::Min => "min(a) * b",
            ReduceOp::Logsumexp => "logsumexp([a, b], axis: 0)",
            ReduceOp::Norm => "norm(a) * b",
            ReduceOp::Argmax | ReduceOp::Argmin => return None,
        },
        Prim::Index(_) => "a[1:3] * b[0] + a[-1]",
        Prim::Stack { .. } => "[a[0], b[1], a[2] * b[3]]",
        Prim::Cast(_) => "f64(a) * b",
        Prim::Reshape(_) => "reshape([a, b], [4, -1]) @ [1.0, -0.5]",
        Prim::Concat(_) => "concat([a[0:1], b, a * b], axis: 0)",
        Prim::Take(_) => "take(a, [2, 0, 2, 3]) * b",
        Prim::Solve => "solve([a, b, a * b, a - b] * 0.3 + eye(4) * 4.0, b)",
        Prim::Det => "det([a, b, a * b, a - b] * 0.3 + eye(4) * 4.0) * b",
        Prim::Cholesky => {
            "cholesky([a, b, a * b, a - b] * 0.3 @ transpose([a, b, a * b, a - b]) + eye(4))[:, 1]"
        }
        // A batch of 2 with 2 channels, stride 2 and padding 1 (through tanh, so
        // the adjoint is not uniform), and one channel with defaults.
        Prim::Conv2d { .. } => {
            "sum(tanh(conv2d(reshape(concat([a, b, a * b, a - b]), [2, 2, 2, 2]), \
             reshape(concat([b, a * 0.5]), [2, 2, 1, 2]), stride: 2, padding: 1))) \
             + conv2d(reshape(concat([a, b, a * b, a - b]), [1, 1, 4, 4]), reshape(b, [1, 1, 2, 2]))[0, 0] * a[0:3]"
        }
        // A 3x5 image with a remainder row and column, and two channels of a batch of 2.
        Prim::MaxPool2d(_) => {
            "max_pool2d(reshape(concat([a, b, a * b, a - b])[0:15], [1, 1, 3, 5]), 2) * a[1:3] \
             + sum(max_pool2d(reshape(concat([a, b, a * b, a - b]), [2, 2, 2, 2]), 2) ** 2)"
        }
        Prim::AvgPool2d(_) => {
            "avg_pool2d(reshape(concat([a, b, a * b, a - b])[0:15], [1, 1, 3, 5]), 2) * a[1:3] \
             + sum(avg_pool2d(reshape(concat([a, b, a * b, a - b]), [1, 1, 4, 4]), 3) ** 2)"
        }
        // Zero by definition, which finite differences do not see: checked by the
        // conformance suite (c06) instead.
        Prim::StopGradient => return None,
        // Random: draws have no derivative of their own; `sample_normal`'s
        // pathwise derivative and the score-function terms are checked
        // against hand-derived expectations in tests/stochastic.rs and c08.
        Prim::Random(_) | Prim::ScoreGrad { .. } => return None,
        Prim::Shape
        | Prim::Len
        | Prim::Full(_)
        | Prim::Arange
        | Prim::Linspace(_)
        | Prim::Eye(_)
        | Prim::Print
        | Prim::Assert
        | Prim::AssertClose
        | Prim::Progress
        | Prim::Plot
        | Prim::BroadcastLike
        | Prim::SumLike
        | Prim::ReshapeLike
        | Prim::Transpose(_)
        | Prim::ExpandDims(_)
        | Prim::IndexGrad(_)
        | Prim::IndexAdd(_)
        | Prim::TakeGrad(_)
        | Prim::ExtremeMask { .. }
        | Prim::LoadCsv(_)
        | Prim::SaveCsv
        | Prim::LoadNpy(_)
        | Prim::SaveNpy
        | Prim::Load(_)
        | Prim::Save
        | Prim::TempPath
        | Prim::Batches => return None,
        // Only in derivative code: second derivatives in tests/programs/conv.dl reach them.
        Prim::Conv2dGradInput { .. }
        | Prim::Conv2dGradWeight { .. }
        | Prim::MaxPool2dMask(_)
        | Prim::Pool2dSpread(_) => return None,
    })
}

/// One instance of every prim (attributes chosen arbitrarily).
fn every_prim() -> Vec<Prim> {
    use BinaryOp as B;
    use ReduceOp as R;
    use UnaryOp as U;
    let mut v: Vec<Prim> = [
        U::Neg,
        U::Not,
        U::Exp,
        U::Log,
        U::Sqrt,
        U::Sin,
        U::Cos,
        U::Tan,
        U::Tanh,
        U::Sigmoid,
        U::Relu,
        U::Abs,
        U::Sign,
        U::Floor,
        U::Ceil,
        U::Round,
    ]
    .into_iter()
    .map(Prim::Unary)
    .collect();
    v.extend(
        [
            B::Add,
            B::Sub,
            B::Mul,
            B::Div,
            B::Rem,
            B::Pow,
            B::Maximum,
            B::Minimum,
            B::Lt,
            B::Le,
            B::Gt,
            B::Ge,
            B::Eq,
            B::Ne,
            B::And,
            B::Or,
        ]
        .into_iter()
        .map(Prim::Binary),
    );
    v.extend(
        [
            R::Sum,
            R::Mean,
            R::Prod,
            R::Max,
            R::Min,
            R::Argmax,
            R::Argmin,
            R::Logsumexp,
            R::Norm,
        ]
        .into_iter()
        .map(|op| Prim::Reduce {
            op,
            axis: None,
            keepdims: false,
        }),
    );
    v.extend([
        Prim::Where,
        Prim::Clip,
        Prim::Cast(DType::F64),
        Prim::MatMul,
        Prim::Index(vec![IndexItem::At]),
        Prim::Shape,
        Prim::Len,
        Prim::Full(DType::F64),
        Prim::Arange,
        Prim::Linspace(DType::F64),
        Prim::Eye(DType::F64),
        Prim::Stack {
            dtype: DType::F64,
            literal: true,
        },
        Prim::StopGradient,
        Prim::BroadcastLike,
        Prim::SumLike,
        Prim::ReshapeLike,
        Prim::Transpose(vec![1, 0]),
        Prim::ExpandDims(0),
        Prim::Reshape(vec![2, -1]),
        Prim::Concat(0),
        Prim::Take(0),
        Prim::TakeGrad(0),
        Prim::Solve,
        Prim::Det,
        Prim::Cholesky,
        Prim::IndexGrad(vec![IndexItem::At]),
        Prim::ExtremeMask {
            min: false,
            axis: None,
        },
        Prim::Conv2d {
            stride: 1,
            padding: 0,
        },
        Prim::Conv2dGradInput {
            stride: 1,
            padding: 0,
        },
        Prim::Conv2dGradWeight {
            stride: 1,
            padding: 0,
        },
        Prim::MaxPool2d(2),
        Prim::AvgPool2d(2),
        Prim::MaxPool2dMask(2),
        Prim::Pool2dSpread(2),
        Prim::Print,
        Prim::Assert,
        Prim::AssertClose,
        Prim::LoadCsv(DType::F32),
        Prim::SaveCsv,
        Prim::LoadNpy(Ty::scalar(DType::F32)),
        Prim::SaveNpy,
        Prim::Load(Ty::scalar(DType::F32)),
        Prim::Save,
        Prim::TempPath,
        Prim::Batches,
        Prim::Random(RandomOp::Normal(DType::F64)),
        Prim::ScoreGrad { categorical: true },
    ]);
    v
}

/// Deterministic values in an op's domain.
fn sample(domain: Domain, seed: &mut u64) -> String {
    let mut xs = Vec::new();
    for _ in 0..4 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = ((*seed >> 11) as f64) / ((1u64 << 53) as f64);
        let x = match domain {
            Domain::Positive => 0.1 + 2.9 * u,
            Domain::Real | Domain::None => -2.0 + 4.0 * u,
        };
        xs.push(format!("{x:.6}"));
    }
    format!("[{}]", xs.join(", "))
}

#[test]
fn every_differentiable_prim_matches_finite_differences_in_both_modes() {
    let mut program = String::new();
    let mut seed = 42u64;
    let mut checked = 0;
    for (k, p) in every_prim().iter().enumerate() {
        let Some(expr) = surface(p) else { continue };
        let domain = p.info().domain;
        let (a, b) = (sample(domain, &mut seed), sample(domain, &mut seed));
        // A scalar function of (a, b): the prim's output summed with weights.
        let _ = writeln!(
            program,
            "fn op{k}(a, b) = sum(({expr}) * [1.0, 0.7, -0.4, 0.3][0:1]) + sum({expr}) * 0.5;"
        );
        let _ = writeln!(
            program,
            "test \"{name} #{k}\" {{\n    let a = {a};\n    let b = {b};\n    \
             assert(gradcheck(op{k}, a, b) < 1e-6, \"reverse mode wrt a\");\n    \
             assert(gradcheck(|y, x| op{k}(x, y), b, a) < 1e-6, \"reverse mode wrt b\");\n    \
             let d = [0.3, -0.2, 0.5, 0.1];\n    \
             let (y, t) = jvp(op{k})(a, b, d, d * 2.0);\n    \
             let (ga, gb) = grad(op{k}, wrt: (0, 1))(a, b);\n    \
             assert_close(y, op{k}(a, b), tol: 1e-12);\n    \
             assert_close(t, sum(ga * d) + sum(gb * d * 2.0), tol: 1e-9);\n}}\n",
            name = p.info().name
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} prims checked");
    let dir = std::env::temp_dir().join(format!("diffl-op-gradients-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ops.dl");
    std::fs::write(&file, &program).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_diffl"))
        .args(["test", "--f64"])
        .arg(&file)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}\n--- program\n{program}");
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l == format!("{checked} passed, 0 failed")),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
