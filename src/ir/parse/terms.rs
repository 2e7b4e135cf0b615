//! The leaves of the IR grammar: constants, types, annotations and prims
//! with their attributes.

use super::lexer::Tok;
use super::{PResult, Parser};
use crate::ir::builtin::Builtin;
use crate::ir::func::{Const, TypeAnn};
use crate::ir::op::{BinaryOp, IndexItem, Prim, RandomOp, ReduceOp, UnaryOp};
use crate::ir::types::{DType, DerivKind, FnTy, Shape, TensorTy, Ty};

impl Parser {
    pub(super) fn constant(&mut self) -> PResult<Const> {
        match self.next() {
            Tok::Int(i) => Ok(Const::Int(i)),
            Tok::Float(x) => Ok(Const::Float(x)),
            Tok::Str(s) => Ok(Const::Str(s)),
            Tok::Ident(s) if s == "true" || s == "false" => Ok(Const::Bool(s == "true")),
            Tok::Ident(s) if s == "inf" => Ok(Const::Float(f64::INFINITY)),
            Tok::Ident(s) if s == "NaN" => Ok(Const::Float(f64::NAN)),
            Tok::Ident(s) if s == "undef" => Ok(Const::Undef),
            Tok::Punct('(') => {
                self.expect_punct(')')?;
                Ok(Const::Unit)
            }
            _ => {
                self.pos -= 1;
                self.error(format!("expected a constant, found {}", self.found()))
            }
        }
    }

    fn dtype(&mut self) -> PResult<DType> {
        let w = self.word()?;
        match DType::from_name(&w) {
            Some(d) => Ok(d),
            None => {
                self.pos -= 1;
                self.error(format!("expected a dtype, found `{w}`"))
            }
        }
    }

    pub(super) fn ty(&mut self) -> PResult<Ty> {
        if self.eat_punct('(') {
            let mut items = Vec::new();
            while !self.eat_punct(')') {
                items.push(self.ty()?);
                if !self.eat_punct(',') {
                    self.expect_punct(')')?;
                    break;
                }
            }
            return Ok(Ty::Tuple(items));
        }
        if self.is_punct('$') {
            let s = self.struct_ref()?;
            self.expect_punct('{')?;
            let mut fields = Vec::new();
            while !self.eat_punct('}') {
                fields.push(self.ty()?);
                if !self.eat_punct(',') {
                    self.expect_punct('}')?;
                    break;
                }
            }
            return Ok(Ty::Record(s, fields));
        }
        let w = self.word()?;
        match w.as_str() {
            "str" => Ok(Ty::Str),
            "never" => Ok(Ty::Never),
            "list" => {
                self.expect_punct('(')?;
                let e = self.ty()?;
                self.expect_punct(')')?;
                Ok(Ty::List(Box::new(e)))
            }
            "fn" | "builtin" | "deriv" => {
                self.pos -= 1;
                Ok(Ty::Fn(Box::new(self.fn_ty()?)))
            }
            _ => {
                let Some(dtype) = DType::from_name(&w) else {
                    self.pos -= 1;
                    return self.error(format!("expected a type, found `{w}`"));
                };
                let mut dims = Vec::new();
                if self.eat_punct('[') {
                    while !self.eat_punct(']') {
                        if self.eat_punct('?') {
                            dims.push(None);
                        } else {
                            dims.push(Some(self.uint()? as usize));
                        }
                        if !self.eat_punct(',') {
                            self.expect_punct(']')?;
                            break;
                        }
                    }
                }
                let weak = self.eat_punct('~');
                Ok(Ty::Tensor(TensorTy {
                    dtype,
                    shape: Shape(dims),
                    weak,
                }))
            }
        }
    }

    pub(super) fn ann(&mut self) -> PResult<TypeAnn> {
        if self.eat_punct('(') {
            let mut items = Vec::new();
            while !self.eat_punct(')') {
                items.push(self.ann()?);
                if !self.eat_punct(',') {
                    self.expect_punct(')')?;
                    break;
                }
            }
            return Ok(TypeAnn::Tuple(items));
        }
        if self.is_punct('$') {
            return Ok(TypeAnn::Struct(self.struct_ref()?));
        }
        let w = self.word()?;
        Ok(match w.as_str() {
            "int" => TypeAnn::Int,
            "bool" => TypeAnn::Bool,
            "float" => TypeAnn::Float,
            "f32" => TypeAnn::F32,
            "f64" => TypeAnn::F64,
            "Tensor" => TypeAnn::Tensor,
            "str" => TypeAnn::Str,
            _ => {
                self.pos -= 1;
                return self.error(format!("expected a type annotation, found `{w}`"));
            }
        })
    }

    /// `fn @f(captures)`, `builtin sqrt`, `deriv grad[0, 1] tuple value of …`.
    fn fn_ty(&mut self) -> PResult<FnTy> {
        let w = self.word()?;
        match w.as_str() {
            "fn" => {
                let func = self.func_ref()?;
                self.expect_punct('(')?;
                let mut captures = Vec::new();
                while !self.eat_punct(')') {
                    captures.push(self.ty()?);
                    if !self.eat_punct(',') {
                        self.expect_punct(')')?;
                        break;
                    }
                }
                Ok(FnTy::User { func, captures })
            }
            "builtin" => {
                let name = self.word()?;
                match Builtin::from_name(&name) {
                    Some(b) => Ok(FnTy::Builtin(b)),
                    None => self.error(format!("unknown builtin `{name}`")),
                }
            }
            "deriv" => {
                let kind = self.deriv_kind()?;
                self.expect_word("of")?;
                let of = self.fn_ty()?;
                Ok(FnTy::Derivative {
                    kind,
                    of: Box::new(of),
                })
            }
            _ => {
                self.pos -= 1;
                self.error(format!("expected a function type, found `{w}`"))
            }
        }
    }

    /// `grad[0, 1] tuple value`, `vjp`, `jvp`, `hessian`.
    pub(super) fn deriv_kind(&mut self) -> PResult<DerivKind> {
        let k = self.word()?;
        match k.as_str() {
            "grad" => {
                self.expect_punct('[')?;
                let mut wrt = Vec::new();
                while !self.eat_punct(']') {
                    wrt.push(self.uint()? as usize);
                    if !self.eat_punct(',') {
                        self.expect_punct(']')?;
                        break;
                    }
                }
                let tuple = self.eat_word("tuple");
                let with_value = self.eat_word("value");
                Ok(DerivKind::Grad {
                    wrt,
                    tuple,
                    with_value,
                })
            }
            "vjp" => Ok(DerivKind::Vjp),
            "jvp" => Ok(DerivKind::Jvp),
            "hessian" => Ok(DerivKind::Hessian),
            _ => self.error(format!("unknown derivative `{k}`")),
        }
    }

    pub(super) fn prim(&mut self) -> PResult<Prim> {
        let name = self.word()?;
        if let Some(p) = SIMPLE_PRIMS.iter().find(|p| p.info().name == name) {
            return Ok(p.clone());
        }
        if let Some(&op) = REDUCE_OPS.iter().find(|op| {
            Prim::Reduce {
                op: **op,
                axis: None,
                keepdims: false,
            }
            .info()
            .name
                == name
        }) {
            let (mut axis, mut keepdims) = (None, false);
            if self.eat_punct('{') {
                while !self.eat_punct('}') {
                    if self.eat_word("keepdims") {
                        keepdims = true;
                    } else {
                        self.expect_word("axis")?;
                        self.expect_punct('=')?;
                        axis = Some(self.uint()? as usize);
                    }
                    if !self.eat_punct(',') {
                        self.expect_punct('}')?;
                        break;
                    }
                }
            }
            return Ok(Prim::Reduce { op, axis, keepdims });
        }
        match name.as_str() {
            "cast" | "full" | "linspace" | "eye" | "rand" | "randn" | "load_csv" => {
                self.expect_punct('{')?;
                let d = self.dtype()?;
                self.expect_punct('}')?;
                Ok(match name.as_str() {
                    "cast" => Prim::Cast(d),
                    "full" => Prim::Full(d),
                    "linspace" => Prim::Linspace(d),
                    "rand" => Prim::Random(RandomOp::Uniform(d)),
                    "randn" => Prim::Random(RandomOp::Normal(d)),
                    "load_csv" => Prim::LoadCsv(d),
                    _ => Prim::Eye(d),
                })
            }
            "load" | "load_npy" => {
                self.expect_punct('{')?;
                let t = self.ty()?;
                self.expect_punct('}')?;
                Ok(if name == "load" {
                    Prim::Load(t)
                } else {
                    Prim::LoadNpy(t)
                })
            }
            "stack" => {
                self.expect_punct('{')?;
                let dtype = self.dtype()?;
                let literal = self.eat_punct(',') && {
                    self.expect_word("literal")?;
                    true
                };
                self.expect_punct('}')?;
                Ok(Prim::Stack { dtype, literal })
            }
            "transpose" => {
                self.expect_punct('{')?;
                let mut perm = Vec::new();
                while !self.eat_punct('}') {
                    perm.push(self.uint()? as usize);
                    if !self.eat_punct(',') {
                        self.expect_punct('}')?;
                        break;
                    }
                }
                Ok(Prim::Transpose(perm))
            }
            "expand_dims" | "concat" | "take" | "take_grad" => {
                self.expect_punct('{')?;
                let axis = self.uint()? as usize;
                self.expect_punct('}')?;
                Ok(match name.as_str() {
                    "expand_dims" => Prim::ExpandDims(axis),
                    "concat" => Prim::Concat(axis),
                    "take" => Prim::Take(axis),
                    _ => Prim::TakeGrad(axis),
                })
            }
            "reshape" => {
                self.expect_punct('{')?;
                let mut to = Vec::new();
                while !self.eat_punct('}') {
                    match self.next() {
                        Tok::Int(d) => to.push(d),
                        _ => {
                            self.pos -= 1;
                            return self.error(format!("expected a dimension, found {}", self.found()));
                        }
                    }
                    if !self.eat_punct(',') {
                        self.expect_punct('}')?;
                        break;
                    }
                }
                Ok(Prim::Reshape(to))
            }
            "conv2d" | "conv2d_grad_input" | "conv2d_grad_weight" => {
                self.expect_punct('{')?;
                self.expect_word("stride")?;
                self.expect_punct('=')?;
                let stride = self.uint()? as usize;
                self.expect_punct(',')?;
                self.expect_word("padding")?;
                self.expect_punct('=')?;
                let padding = self.uint()? as usize;
                self.expect_punct('}')?;
                Ok(match name.as_str() {
                    "conv2d" => Prim::Conv2d { stride, padding },
                    "conv2d_grad_input" => Prim::Conv2dGradInput { stride, padding },
                    _ => Prim::Conv2dGradWeight { stride, padding },
                })
            }
            "max_pool2d" | "avg_pool2d" | "max_pool2d_mask" | "pool2d_spread" => {
                self.expect_punct('{')?;
                let k = self.uint()? as usize;
                self.expect_punct('}')?;
                Ok(match name.as_str() {
                    "max_pool2d" => Prim::MaxPool2d(k),
                    "avg_pool2d" => Prim::AvgPool2d(k),
                    "max_pool2d_mask" => Prim::MaxPool2dMask(k),
                    _ => Prim::Pool2dSpread(k),
                })
            }
            "extreme_mask" => {
                self.expect_punct('{')?;
                let (mut min, mut axis) = (false, None);
                while !self.eat_punct('}') {
                    if self.eat_word("min") {
                        min = true;
                    } else {
                        self.expect_word("axis")?;
                        self.expect_punct('=')?;
                        axis = Some(self.uint()? as usize);
                    }
                    if !self.eat_punct(',') {
                        self.expect_punct('}')?;
                        break;
                    }
                }
                Ok(Prim::ExtremeMask { min, axis })
            }
            "index" | "index_grad" | "index_add" => {
                self.expect_punct('[')?;
                let mut items = Vec::new();
                while !self.eat_punct(']') {
                    if self.eat_word("at") {
                        items.push(IndexItem::At);
                    } else {
                        let lo = self.eat_word("lo");
                        self.expect_punct(':')?;
                        let hi = self.eat_word("hi");
                        items.push(IndexItem::Slice { lo, hi });
                    }
                    if !self.eat_punct(',') {
                        self.expect_punct(']')?;
                        break;
                    }
                }
                Ok(match name.as_str() {
                    "index_grad" => Prim::IndexGrad(items),
                    "index_add" => Prim::IndexAdd(items),
                    _ => Prim::Index(items),
                })
            }
            _ => {
                self.pos -= 1;
                self.error(format!("unknown prim `{name}`"))
            }
        }
    }
}

/// Prims without attributes, found by name.
const SIMPLE_PRIMS: &[Prim] = &[
    Prim::Unary(UnaryOp::Neg),
    Prim::Unary(UnaryOp::Not),
    Prim::Unary(UnaryOp::Exp),
    Prim::Unary(UnaryOp::Log),
    Prim::Unary(UnaryOp::Sqrt),
    Prim::Unary(UnaryOp::Sin),
    Prim::Unary(UnaryOp::Cos),
    Prim::Unary(UnaryOp::Tan),
    Prim::Unary(UnaryOp::Tanh),
    Prim::Unary(UnaryOp::Sigmoid),
    Prim::Unary(UnaryOp::Relu),
    Prim::Unary(UnaryOp::Abs),
    Prim::Unary(UnaryOp::Sign),
    Prim::Unary(UnaryOp::Floor),
    Prim::Unary(UnaryOp::Ceil),
    Prim::Unary(UnaryOp::Round),
    Prim::Binary(BinaryOp::Add),
    Prim::Binary(BinaryOp::Sub),
    Prim::Binary(BinaryOp::Mul),
    Prim::Binary(BinaryOp::Div),
    Prim::Binary(BinaryOp::Rem),
    Prim::Binary(BinaryOp::Pow),
    Prim::Binary(BinaryOp::Maximum),
    Prim::Binary(BinaryOp::Minimum),
    Prim::Binary(BinaryOp::Lt),
    Prim::Binary(BinaryOp::Le),
    Prim::Binary(BinaryOp::Gt),
    Prim::Binary(BinaryOp::Ge),
    Prim::Binary(BinaryOp::Eq),
    Prim::Binary(BinaryOp::Ne),
    Prim::Binary(BinaryOp::And),
    Prim::Binary(BinaryOp::Or),
    Prim::Where,
    Prim::Clip,
    Prim::MatMul,
    Prim::Shape,
    Prim::Len,
    Prim::Arange,
    Prim::Print,
    Prim::Assert,
    Prim::AssertClose,
    Prim::SaveCsv,
    Prim::SaveNpy,
    Prim::Save,
    Prim::TempPath,
    Prim::Batches,
    Prim::Progress,
    Prim::Plot,
    Prim::StopGradient,
    Prim::Random(RandomOp::Seed),
    Prim::Random(RandomOp::NormalLike),
    Prim::Random(RandomOp::Permutation),
    Prim::Random(RandomOp::Bernoulli),
    Prim::Random(RandomOp::Categorical),
    Prim::Random(RandomOp::GetState),
    Prim::Random(RandomOp::SetState),
    Prim::ScoreGrad { categorical: false },
    Prim::ScoreGrad { categorical: true },
    Prim::BroadcastLike,
    Prim::SumLike,
    Prim::ReshapeLike,
    Prim::Solve,
    Prim::Det,
    Prim::Cholesky,
];

const REDUCE_OPS: &[ReduceOp] = &[
    ReduceOp::Sum,
    ReduceOp::Mean,
    ReduceOp::Prod,
    ReduceOp::Max,
    ReduceOp::Min,
    ReduceOp::Argmax,
    ReduceOp::Argmin,
    ReduceOp::Logsumexp,
    ReduceOp::Norm,
];
