//! The builtin functions of the surface language, with their parameters.
//!
//! A [`Builtin`] is what a name like `sum` or `zeros` refers to before
//! specialization; its signature (parameter names and defaults) is used to bind
//! named arguments, and specialization turns each call into [`super::op::Prim`]s.
//! Builtins that later issues implement are listed here already, so that a call
//! is reported as "not supported yet" with its span rather than as an unknown name.

/// The default of a builtin parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DefaultArg {
    Required,
    /// Absent: the unit value `()`, e.g. `axis` of `sum` (all axes).
    Absent,
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(&'static str),
}

#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    pub name: &'static str,
    pub default: DefaultArg,
}

macro_rules! builtins {
    ($( $variant:ident $name:literal [$($p:literal = $d:expr),*] $variadic:literal $supported:literal ;)*) => {
        /// Every builtin function name of the language.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Builtin { $($variant),* }

        impl Builtin {
            pub const ALL: &'static [Builtin] = &[$(Builtin::$variant),*];

            pub fn name(self) -> &'static str {
                match self { $(Builtin::$variant => $name),* }
            }

            /// Parameter names and defaults, in positional order.
            pub fn params(self) -> &'static [ParamSpec] {
                match self {
                    $(Builtin::$variant => &[$(ParamSpec { name: $p, default: $d }),*]),*
                }
            }

            /// Takes any number of positional arguments (`print`).
            pub fn variadic(self) -> bool {
                match self { $(Builtin::$variant => $variadic),* }
            }

            /// Implemented in this version; others report "not supported yet".
            pub fn supported(self) -> bool {
                match self { $(Builtin::$variant => $supported),* }
            }
        }
    };
}

use DefaultArg::{Absent, Bool, Float, Int, Required as R, Str};

builtins! {
    Exp "exp" ["x" = R] false true;
    Log "log" ["x" = R] false true;
    Sqrt "sqrt" ["x" = R] false true;
    Sin "sin" ["x" = R] false true;
    Cos "cos" ["x" = R] false true;
    Tan "tan" ["x" = R] false true;
    Tanh "tanh" ["x" = R] false true;
    Sigmoid "sigmoid" ["x" = R] false true;
    Relu "relu" ["x" = R] false true;
    Abs "abs" ["x" = R] false true;
    Sign "sign" ["x" = R] false true;
    Floor "floor" ["x" = R] false true;
    Ceil "ceil" ["x" = R] false true;
    Round "round" ["x" = R] false true;
    Pow "pow" ["x" = R, "y" = R] false true;
    Maximum "maximum" ["a" = R, "b" = R] false true;
    Minimum "minimum" ["a" = R, "b" = R] false true;
    Clip "clip" ["x" = R, "lo" = R, "hi" = R] false true;
    Where "where" ["cond" = R, "a" = R, "b" = R] false true;
    Sum "sum" ["x" = R, "axis" = Absent, "keepdims" = Bool(false)] false true;
    Mean "mean" ["x" = R, "axis" = Absent, "keepdims" = Bool(false)] false true;
    Prod "prod" ["x" = R, "axis" = Absent, "keepdims" = Bool(false)] false true;
    Max "max" ["x" = R, "axis" = Absent, "keepdims" = Bool(false)] false true;
    Min "min" ["x" = R, "axis" = Absent, "keepdims" = Bool(false)] false true;
    Argmax "argmax" ["x" = R, "axis" = Absent, "keepdims" = Bool(false)] false true;
    Argmin "argmin" ["x" = R, "axis" = Absent, "keepdims" = Bool(false)] false true;
    Logsumexp "logsumexp" ["x" = R, "axis" = Absent, "keepdims" = Bool(false)] false true;
    Norm "norm" ["x" = R, "axis" = Absent, "keepdims" = Bool(false)] false true;
    Shape "shape" ["x" = R] false true;
    Len "len" ["x" = R] false true;
    Reshape "reshape" ["x" = R, "shape" = R] false true;
    Transpose "transpose" ["x" = R, "perm" = Absent] false true;
    Concat "concat" ["xs" = R, "axis" = Int(0)] false true;
    Stack "stack" ["xs" = R] false true;
    Flatten "flatten" ["x" = R] false true;
    ExpandDims "expand_dims" ["x" = R, "axis" = R] false true;
    Squeeze "squeeze" ["x" = R, "axis" = Absent] false true;
    OneHot "one_hot" ["labels" = R, "n" = R] false true;
    Take "take" ["x" = R, "idx" = R, "axis" = Int(0)] false true;
    Zeros "zeros" ["shape" = R] false true;
    Ones "ones" ["shape" = R] false true;
    Full "full" ["shape" = R, "value" = R] false true;
    ZerosLike "zeros_like" ["v" = R] false true;
    OnesLike "ones_like" ["v" = R] false true;
    Arange "arange" ["n" = R] false true;
    Linspace "linspace" ["a" = R, "b" = R, "n" = R] false true;
    Eye "eye" ["n" = R] false true;
    F32 "f32" ["x" = R] false true;
    F64 "f64" ["x" = R] false true;
    Int "int" ["x" = R] false true;
    Float "float" ["x" = R] false true;
    Conv2d "conv2d" ["x" = R, "w" = R, "stride" = Int(1), "padding" = Int(0)] false true;
    MaxPool2d "max_pool2d" ["x" = R, "k" = R] false true;
    AvgPool2d "avg_pool2d" ["x" = R, "k" = R] false true;
    Seed "seed" ["n" = R] false true;
    Rand "rand" ["shape" = R] false true;
    Randn "randn" ["shape" = R] false true;
    Permutation "permutation" ["n" = R] false true;
    SampleNormal "sample_normal" ["mu" = R, "sigma" = R] false true;
    SampleBernoulli "sample_bernoulli" ["p" = R, "baseline" = Absent] false true;
    SampleCategorical "sample_categorical" ["probs" = R, "baseline" = Absent] false true;
    LoadCsv "load_csv" ["path" = R, "header" = Bool(false)] false true;
    SaveCsv "save_csv" ["path" = R, "t" = R] false true;
    LoadNpy "load_npy" ["path" = R, "like" = Absent] false true;
    SaveNpy "save_npy" ["path" = R, "t" = R] false true;
    Save "save" ["path" = R, "v" = R] false true;
    Load "load" ["path" = R, "like" = Absent] false true;
    Batches "batches" ["x" = R, "y" = R, "size" = R, "shuffle" = Bool(false)] false true;
    TempPath "temp_path" ["name" = R] false true;
    Print "print" [] true true;
    Progress "progress" ["range" = R] false true;
    Plot "plot" ["path" = Str("plot.svg"), "title" = Str(""), "log" = Bool(false), "style" = Str("lines")] true true;
    Solve "solve" ["a" = R, "b" = R] false true;
    Inv "inv" ["a" = R] false true;
    Det "det" ["a" = R] false true;
    Cholesky "cholesky" ["a" = R] false true;
    Outer "outer" ["u" = R, "v" = R] false true;
    Diag "diag" ["v" = R] false true;
    Trace "trace" ["a" = R] false true;
    Assert "assert" ["cond" = R, "message" = Str("assertion failed")] false true;
    AssertClose "assert_close" ["a" = R, "b" = R, "tol" = Float(1e-5)] false true;
    Grad "grad" ["f" = R, "wrt" = Int(0)] false true;
    ValueAndGrad "value_and_grad" ["f" = R, "wrt" = Int(0)] false true;
    Vjp "vjp" ["f" = R] false true;
    Jvp "jvp" ["f" = R] false true;
    Hessian "hessian" ["f" = R] false true;
    StopGradient "stop_gradient" ["x" = R] false true;
    Gradcheck "gradcheck" [] true true;
    MapFloats "map_floats" ["f" = R, "v" = R] false true;
    SumFloats "sum_floats" ["v" = R] false true;
}

impl Builtin {
    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.iter().copied().find(|b| b.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for b in Builtin::ALL {
            assert_eq!(Builtin::from_name(b.name()), Some(*b));
        }
    }
}
