//! The one table of primitive operations.
//!
//! [`Prim`] is every operation the specialized IR can perform on tensors. Each
//! stage handles prims in one exhaustive `match` (no `_ =>` arm) in its own
//! module: the shape/dtype rule (`ir/shapes.rs`), the reference kernel
//! (`runtime/`, called by the interpreter), and later the AD rules and backend
//! lowerings. Adding a prim is a row here and then fixing each compile error.
//!
//! Attributes that change the result's shape (reduction axes, index patterns,
//! dtypes) are static fields of the prim, filled in by specialization from
//! constant arguments; everything else is an SSA operand.

use super::types::{DType, Ty};

/// Elementwise functions of one tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnaryOp {
    Neg,
    Not,
    Exp,
    Log,
    Sqrt,
    Sin,
    Cos,
    Tan,
    Tanh,
    Sigmoid,
    Relu,
    Abs,
    Sign,
    Floor,
    Ceil,
    Round,
}

/// Elementwise functions of two tensors, with NumPy broadcasting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
    Maximum,
    Minimum,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinaryOp {
    /// Whether the result is a bool: the comparisons, `and`, `or`.
    pub fn gives_bool(self) -> bool {
        matches!(
            self,
            BinaryOp::Lt
                | BinaryOp::Le
                | BinaryOp::Gt
                | BinaryOp::Ge
                | BinaryOp::Eq
                | BinaryOp::Ne
                | BinaryOp::And
                | BinaryOp::Or
        )
    }
}

/// Reductions over one axis or all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReduceOp {
    Sum,
    Mean,
    Prod,
    Max,
    Min,
    Argmax,
    Argmin,
    Logsumexp,
    Norm,
}

/// Random number generation (`runtime::random`). Every draw advances the
/// generator's counter, so these are effects: never merged or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RandomOp {
    /// `seed(n)`: restarts the generator from key `n`.
    Seed,
    /// `rand(shape)`: uniform in `[0, 1)`; the operand is the shape.
    Uniform(DType),
    /// `randn(shape)`: standard normal; the operand is the shape.
    Normal(DType),
    /// Standard normal noise of operand 0's shape and float dtype (the `eps`
    /// of `sample_normal`); its derivative is zero.
    NormalLike,
    /// `permutation(n)`: the ints `0..n` in random order.
    Permutation,
    /// `sample_bernoulli(p, baseline)`: ints 0 or 1 of `p`'s shape.
    Bernoulli,
    /// `sample_categorical(probs, baseline)`: int indices into the last axis.
    Categorical,
    /// The generator's state as `int[2]` (key, counter), and its restoration:
    /// reverse mode replays a region's draws when it recomputes the region.
    GetState,
    SetState,
}

/// One position of an index expression `t[…]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IndexItem {
    /// `t[i]`: removes the axis; one int operand.
    At,
    /// `t[lo:hi]`: keeps the axis; an operand for each bound that is present.
    Slice { lo: bool, hi: bool },
}

/// The class of a prim, used by tests and (later) fusion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpClass {
    Elementwise,
    Reduction,
    Contraction,
    Shape,
    Constructor,
    Effect,
}

/// Where random test inputs for an op are drawn from (gradient checks).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Domain {
    /// Any real number in `[-2, 2]`.
    Real,
    /// Strictly positive: `[0.1, 3]`.
    Positive,
    /// Not differentiable or not a float op: no gradient test.
    None,
}

/// Static facts about a prim: the row of the table.
#[derive(Clone, Copy, Debug)]
pub struct OpInfo {
    pub name: &'static str,
    /// Number of tensor operands, or `None` if variadic.
    pub arity: Option<usize>,
    pub class: OpClass,
    /// Linear in its float operands (derivative rules are transposes).
    pub linear: bool,
    pub domain: Domain,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Prim {
    Unary(UnaryOp),
    Binary(BinaryOp),
    /// `where(c, a, b)`
    Where,
    /// `clip(x, lo, hi)`
    Clip,
    /// A cast to a dtype (`f32(x)`, `int(x)`, `float(x)` resolved to the default).
    Cast(DType),
    /// `a @ b`, including vector and batched forms.
    MatMul,
    /// A reduction; `axis: None` reduces every axis. Negative axes are normalized
    /// by specialization, so `axis` is always in `0..rank`.
    Reduce {
        op: ReduceOp,
        axis: Option<usize>,
        keepdims: bool,
    },
    /// `t[…]`: operands are the tensor, then an int per `At` and per present bound.
    Index(Vec<IndexItem>),
    /// `shape(t)`: a tuple of ints.
    Shape,
    /// `len(t)`: the size of the first axis.
    Len,
    /// `full(shape, v)`, `zeros`, `ones`: operands are the shape (int tensor or
    /// tuple of ints) and the fill value.
    Full(DType),
    /// `arange(n)`
    Arange,
    /// `linspace(a, b, n)`
    Linspace(DType),
    /// `eye(n)`
    Eye(DType),
    /// `[a, b, c]` (literal = true, errors speak of rows) and `stack([a, b])`:
    /// operands of one shape become a new leading axis, converted to `dtype`.
    Stack {
        dtype: DType,
        literal: bool,
    },
    /// Broadcasts operand 0 to the shape of operand 1 (explicit broadcasting,
    /// used by derivative rules).
    BroadcastLike,
    /// Sums operand 0 down to the shape of operand 1: the transpose of
    /// broadcasting (sums leading axes and axes where operand 1 has length 1).
    SumLike,
    /// Reshapes operand 0 to the shape of operand 1 (same element count).
    ReshapeLike,
    /// Permutes the axes: result axis `i` is input axis `perm[i]`.
    Transpose(Vec<usize>),
    /// Inserts an axis of length 1 at this position.
    ExpandDims(usize),
    /// `reshape(x, [2, -1])`: the new shape, with at most one `-1` (inferred).
    Reshape(Vec<i64>),
    /// `concat([a, b], axis: k)`: operands of one rank and dtype, joined along
    /// this axis (their lengths may differ there only).
    Concat(usize),
    /// `take(x, idx, axis: k)`: operand 0 gathered along this axis at the int
    /// indices of operand 1 (any shape, which replaces the axis).
    Take(usize),
    /// The transpose of `Take(axis)`: operands are the adjoint `g`, a tensor
    /// whose shape the result takes, and the indices; zeros with each slice of
    /// `g` added at its index.
    TakeGrad(usize),
    /// `solve(a, b)`: `x` with `a @ x = b`, `a` square, `b` a vector or matrix.
    Solve,
    /// `det(a)` of a square matrix.
    Det,
    /// `cholesky(a)`: lower-triangular `l` with `l @ transpose(l) = a`.
    Cholesky,
    /// The transpose of `Index(items)`: operands are the adjoint `g`, a tensor
    /// whose shape the result takes, then the index operands; the result is
    /// zeros with `g` added at the indexed region.
    IndexGrad(Vec<IndexItem>),
    /// `acc + index_grad(g, like, operands…)` without the zeros: operands are
    /// an accumulator, then `index_grad`'s (the adjoint `g`, `like`, the index
    /// operands); the result is the accumulator with `g` added at the indexed
    /// region (the sum as written when `acc` and `like` differ in shape). The
    /// optimizer makes it (`opt::index_adds`) from an `index_grad` whose one
    /// reader is such an `add`: reverse mode's accumulation of a loop's
    /// reads `x[i]`.
    IndexAdd(Vec<IndexItem>),
    /// A bool mask of operand 0's shape, true at the first maximum (`min`:
    /// minimum) along `axis`, or of all elements when `axis` is `None`.
    ExtremeMask {
        min: bool,
        axis: Option<usize>,
    },
    /// `conv2d(x, w, stride, padding)`: cross-correlation of `x [batch, c_in,
    /// h, w]` with `w [c_out, c_in, kh, kw]`, zero padding on all four sides.
    Conv2d {
        stride: usize,
        padding: usize,
    },
    /// The transpose of `Conv2d` in `x`: operands are the adjoint `g` of a
    /// result, the kernel `w`, and a tensor whose shape (that of `x`) the
    /// result takes.
    Conv2dGradInput {
        stride: usize,
        padding: usize,
    },
    /// The transpose of `Conv2d` in `w`: operands are the adjoint `g` of a
    /// result, the input `x`, and a tensor whose shape (that of `w`) the
    /// result takes.
    Conv2dGradWeight {
        stride: usize,
        padding: usize,
    },
    /// `max_pool2d(x, k)`: the maximum of each `k x k` window (stride `k`) of
    /// the last two axes; a remainder that does not fill a window is dropped.
    MaxPool2d(usize),
    /// `avg_pool2d(x, k)`: the mean of each `k x k` window, as `MaxPool2d`.
    AvgPool2d(usize),
    /// A bool mask of operand 0's shape, true at the first maximum of each
    /// `k x k` window of `MaxPool2d(k)` (false in the remainder).
    MaxPool2dMask(usize),
    /// The transpose of summing `k x k` windows: operands are `g` (one value
    /// per window) and a tensor whose shape the result takes; each value of
    /// `g` is copied to its window, the remainder is zero.
    Pool2dSpread(usize),
    /// `stop_gradient(x)`: `x`, with a zero derivative.
    StopGradient,
    /// A random draw or a change of the generator's state.
    Random(RandomOp),
    /// `d log p(z) / d p` for a sample `z` (operand 1) drawn from the
    /// distribution with parameter `p` (operand 0): Bernoulli, or categorical
    /// over the last axis. The score-function estimator's building block.
    ScoreGrad {
        categorical: bool,
    },
    /// `print(a, b, …)`: any values.
    Print,
    /// `assert(c, "message")`
    Assert,
    /// `assert_close(a, b, tol)`: any values made of tensors, tuples, records.
    AssertClose,
    /// `load_csv(path, header)`: a rank-2 tensor of this float dtype.
    LoadCsv(DType),
    /// `save_csv(path, t)` of a tensor of rank 0, 1 or 2.
    SaveCsv,
    /// `load_npy(path)`: a tensor of this type (from the file's header, or
    /// from a `like:` template), checked against the file when it runs.
    LoadNpy(Ty),
    /// `save_npy(path, t)`
    SaveNpy,
    /// `load(path)`: a checkpoint holding a value of this type.
    Load(Ty),
    /// `save(path, v)`: a checkpoint of tensors, records and tuples.
    Save,
    /// `temp_path(name)`: the name joined to the system's temporary folder.
    TempPath,
    /// `batches(x, y, size, shuffle)`: a list of `(xb, yb)` tuples, slices
    /// of `x` and `y` along their first axis (the rows permuted first when
    /// `shuffle` is true).
    Batches,
    /// The progress bar of `for i in progress(lo..hi)`: operands `i`, `lo`,
    /// `hi` (ints); iteration `i` starts, or the loop has ended when `i == hi`.
    Progress,
    /// `plot(…)`: operands `path`, `title` (strings), `log` (bool), then `ys`
    /// or `xs, ys` (see the runtime's plot).
    Plot,
}

impl Prim {
    /// Has an effect on the outside world (output, files, checks) or reads
    /// it: never removed as dead code, merged with a twin, or reordered.
    pub fn has_effect(&self) -> bool {
        self.info().class == OpClass::Effect
    }

    /// An effect whose only product is the effect itself (its result is
    /// `()`): printing, saving, checks. Derivative code that recomputes a
    /// forward sweep skips these, so they happen once per call.
    pub fn is_output_effect(&self) -> bool {
        matches!(
            self,
            Prim::Print
                | Prim::Assert
                | Prim::AssertClose
                | Prim::SaveCsv
                | Prim::SaveNpy
                | Prim::Save
                | Prim::Progress
                | Prim::Plot
        )
    }

    pub fn info(&self) -> OpInfo {
        use Domain as D;
        use OpClass as C;
        let row = |name, arity, class, linear, domain| OpInfo {
            name,
            arity,
            class,
            linear,
            domain,
        };
        match self {
            Prim::Unary(u) => {
                let (name, linear, domain) = match u {
                    UnaryOp::Neg => ("neg", true, D::Real),
                    UnaryOp::Not => ("not", false, D::None),
                    UnaryOp::Exp => ("exp", false, D::Real),
                    UnaryOp::Log => ("log", false, D::Positive),
                    UnaryOp::Sqrt => ("sqrt", false, D::Positive),
                    UnaryOp::Sin => ("sin", false, D::Real),
                    UnaryOp::Cos => ("cos", false, D::Real),
                    UnaryOp::Tan => ("tan", false, D::Real),
                    UnaryOp::Tanh => ("tanh", false, D::Real),
                    UnaryOp::Sigmoid => ("sigmoid", false, D::Real),
                    UnaryOp::Relu => ("relu", false, D::Real),
                    UnaryOp::Abs => ("abs", false, D::Real),
                    UnaryOp::Sign => ("sign", false, D::None),
                    UnaryOp::Floor => ("floor", false, D::None),
                    UnaryOp::Ceil => ("ceil", false, D::None),
                    UnaryOp::Round => ("round", false, D::None),
                };
                row(name, Some(1), C::Elementwise, linear, domain)
            }
            Prim::Binary(b) => {
                let (name, linear, domain) = match b {
                    BinaryOp::Add => ("add", true, D::Real),
                    BinaryOp::Sub => ("sub", true, D::Real),
                    BinaryOp::Mul => ("mul", false, D::Real),
                    BinaryOp::Div => ("div", false, D::Positive),
                    BinaryOp::Rem => ("rem", false, D::None),
                    BinaryOp::Pow => ("pow", false, D::Positive),
                    BinaryOp::Maximum => ("maximum", false, D::Real),
                    BinaryOp::Minimum => ("minimum", false, D::Real),
                    BinaryOp::Lt => ("lt", false, D::None),
                    BinaryOp::Le => ("le", false, D::None),
                    BinaryOp::Gt => ("gt", false, D::None),
                    BinaryOp::Ge => ("ge", false, D::None),
                    BinaryOp::Eq => ("eq", false, D::None),
                    BinaryOp::Ne => ("ne", false, D::None),
                    BinaryOp::And => ("and", false, D::None),
                    BinaryOp::Or => ("or", false, D::None),
                };
                row(name, Some(2), C::Elementwise, linear, domain)
            }
            Prim::Where => row("where", Some(3), C::Elementwise, false, D::Real),
            Prim::Clip => row("clip", Some(3), C::Elementwise, false, D::Real),
            Prim::Cast(_) => row("cast", Some(1), C::Elementwise, true, D::None),
            Prim::MatMul => row("matmul", Some(2), C::Contraction, false, D::Real),
            Prim::Reduce { op, .. } => {
                let (name, linear, domain) = match op {
                    ReduceOp::Sum => ("sum", true, D::Real),
                    ReduceOp::Mean => ("mean", true, D::Real),
                    ReduceOp::Prod => ("prod", false, D::Real),
                    ReduceOp::Max => ("max", false, D::Real),
                    ReduceOp::Min => ("min", false, D::Real),
                    ReduceOp::Argmax => ("argmax", false, D::None),
                    ReduceOp::Argmin => ("argmin", false, D::None),
                    ReduceOp::Logsumexp => ("logsumexp", false, D::Real),
                    ReduceOp::Norm => ("norm", false, D::Positive),
                };
                row(name, Some(1), C::Reduction, linear, domain)
            }
            Prim::Index(_) => row("index", None, C::Shape, true, D::Real),
            Prim::Shape => row("shape", Some(1), C::Shape, false, D::None),
            Prim::Len => row("len", Some(1), C::Shape, false, D::None),
            Prim::Full(_) => row("full", Some(2), C::Constructor, true, D::None),
            Prim::Arange => row("arange", Some(1), C::Constructor, false, D::None),
            Prim::Linspace(_) => row("linspace", Some(3), C::Constructor, false, D::None),
            Prim::Eye(_) => row("eye", Some(1), C::Constructor, false, D::None),
            Prim::Stack { .. } => row("stack", None, C::Shape, true, D::Real),
            Prim::BroadcastLike => row("broadcast_like", Some(2), C::Shape, true, D::Real),
            Prim::SumLike => row("sum_like", Some(2), C::Reduction, true, D::Real),
            Prim::ReshapeLike => row("reshape_like", Some(2), C::Shape, true, D::Real),
            Prim::Transpose(_) => row("transpose", Some(1), C::Shape, true, D::Real),
            Prim::ExpandDims(_) => row("expand_dims", Some(1), C::Shape, true, D::Real),
            Prim::IndexGrad(_) => row("index_grad", None, C::Shape, true, D::Real),
            Prim::IndexAdd(_) => row("index_add", None, C::Shape, true, D::Real),
            Prim::Reshape(_) => row("reshape", Some(1), C::Shape, true, D::Real),
            Prim::Concat(_) => row("concat", None, C::Shape, true, D::Real),
            Prim::Take(_) => row("take", Some(2), C::Shape, true, D::Real),
            Prim::TakeGrad(_) => row("take_grad", Some(3), C::Shape, true, D::Real),
            Prim::Solve => row("solve", Some(2), C::Contraction, false, D::Real),
            Prim::Det => row("det", Some(1), C::Contraction, false, D::Real),
            Prim::Cholesky => row("cholesky", Some(1), C::Contraction, false, D::Real),
            Prim::ExtremeMask { .. } => row("extreme_mask", Some(1), C::Reduction, false, D::None),
            Prim::Conv2d { .. } => row("conv2d", Some(2), C::Contraction, false, D::Real),
            Prim::Conv2dGradInput { .. } => row("conv2d_grad_input", Some(3), C::Contraction, false, D::Real),
            Prim::Conv2dGradWeight { .. } => {
                row("conv2d_grad_weight", Some(3), C::Contraction, false, D::Real)
            }
            Prim::MaxPool2d(_) => row("max_pool2d", Some(1), C::Reduction, false, D::Real),
            Prim::AvgPool2d(_) => row("avg_pool2d", Some(1), C::Reduction, true, D::Real),
            Prim::MaxPool2dMask(_) => row("max_pool2d_mask", Some(1), C::Reduction, false, D::None),
            Prim::Pool2dSpread(_) => row("pool2d_spread", Some(2), C::Shape, true, D::Real),
            Prim::StopGradient => row("stop_gradient", Some(1), C::Elementwise, false, D::None),
            Prim::Random(op) => {
                let (name, arity) = match op {
                    RandomOp::Seed => ("seed", 1),
                    RandomOp::Uniform(_) => ("rand", 1),
                    RandomOp::Normal(_) => ("randn", 1),
                    RandomOp::NormalLike => ("randn_like", 1),
                    RandomOp::Permutation => ("permutation", 1),
                    RandomOp::Bernoulli => ("sample_bernoulli", 2),
                    RandomOp::Categorical => ("sample_categorical", 2),
                    RandomOp::GetState => ("rng_state", 0),
                    RandomOp::SetState => ("rng_restore", 1),
                };
                row(name, Some(arity), C::Effect, false, D::None)
            }
            Prim::ScoreGrad { categorical } => {
                let name = if *categorical {
                    "score_categorical"
                } else {
                    "score_bernoulli"
                };
                row(name, Some(2), C::Elementwise, false, D::None)
            }
            Prim::Print => row("print", None, C::Effect, false, D::None),
            Prim::Assert => row("assert", Some(2), C::Effect, false, D::None),
            Prim::AssertClose => row("assert_close", Some(3), C::Effect, false, D::None),
            Prim::LoadCsv(_) => row("load_csv", Some(2), C::Effect, false, D::None),
            Prim::SaveCsv => row("save_csv", Some(2), C::Effect, false, D::None),
            Prim::LoadNpy(_) => row("load_npy", Some(1), C::Effect, false, D::None),
            Prim::SaveNpy => row("save_npy", Some(2), C::Effect, false, D::None),
            Prim::Load(_) => row("load", Some(1), C::Effect, false, D::None),
            Prim::Save => row("save", Some(2), C::Effect, false, D::None),
            Prim::TempPath => row("temp_path", Some(1), C::Constructor, false, D::None),
            Prim::Batches => row("batches", Some(4), C::Effect, false, D::None),
            Prim::Progress => row("progress", Some(3), C::Effect, false, D::None),
            Prim::Plot => row("plot", None, C::Effect, false, D::None),
        }
    }
}
