//! How values of IR types live in compiled code: each value is flattened to a
//! sequence of machine scalars ("slots"). A scalar tensor is one slot; a tuple,
//! a record and a closure (its captured values) are the concatenation of their
//! parts; the unit value, a builtin used as a value and `never` have no slots.
//! A list (the tape of a loop in a derivative) is two slots, a handle and a
//! length (see `list`). Tensors of rank above 0 and strings are not compiled
//! yet.
//!
//! The host side of the same layout is here too: an interpreter value becomes
//! one `u64` per slot (floats by their bits) and back.

use crate::backend::interp::Val;
use crate::ir::types::{DType, FnTy, Ty};
use crate::runtime::Tensor;
use cranelift_codegen::ir::types;
use std::ops::Range;
use std::rc::Rc;

/// The machine type of one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// A bool, held as an `i8` that is 0 or 1.
    Bool,
    I64,
    F32,
    F64,
}

impl Slot {
    pub fn of(dtype: DType) -> Slot {
        match dtype {
            DType::Bool => Slot::Bool,
            DType::I64 => Slot::I64,
            DType::F32 => Slot::F32,
            DType::F64 => Slot::F64,
        }
    }

    pub fn clif(self) -> types::Type {
        match self {
            Slot::Bool => types::I8,
            Slot::I64 => types::I64,
            Slot::F32 => types::F32,
            Slot::F64 => types::F64,
        }
    }
}

/// The parts of an aggregate type, in layout order; `None` for a leaf or a
/// type the JIT cannot hold.
fn parts(ty: &Ty) -> Option<Vec<&Ty>> {
    match ty {
        Ty::Tuple(xs) | Ty::Record(_, xs) => Some(xs.iter().collect()),
        Ty::Fn(f) => match f.base() {
            FnTy::User { captures, .. } => Some(captures.iter().collect()),
            FnTy::Builtin(_) | FnTy::Derivative { .. } => Some(Vec::new()),
        },
        Ty::Never => Some(Vec::new()),
        Ty::Tensor(_) | Ty::Str | Ty::List(_) => None,
    }
}

/// The slots of a value of type `ty`, or the type that cannot be compiled.
pub fn slots(ty: &Ty) -> Result<Vec<Slot>, &Ty> {
    let mut out = Vec::new();
    push_slots(ty, &mut out)?;
    Ok(out)
}

fn push_slots<'t>(ty: &'t Ty, out: &mut Vec<Slot>) -> Result<(), &'t Ty> {
    match ty {
        Ty::Tensor(t) if t.shape.is_scalar() => {
            out.push(Slot::of(t.dtype));
            Ok(())
        }
        Ty::List(elem) => {
            push_slots(elem, &mut Vec::new())?;
            out.extend([Slot::I64, Slot::I64]);
            Ok(())
        }
        _ => {
            for p in parts(ty).ok_or(ty)? {
                push_slots(p, out)?;
            }
            Ok(())
        }
    }
}

/// Whether a value of type `ty` is or holds a list.
pub fn contains_list(ty: &Ty) -> bool {
    matches!(ty, Ty::List(_)) || parts(ty).is_some_and(|ps| ps.into_iter().any(contains_list))
}

/// Whether `ty` is one leaf of the layout (a scalar or a list), not an aggregate.
pub fn is_leaf(ty: &Ty) -> bool {
    matches!(ty, Ty::Tensor(_) | Ty::List(_))
}

/// The number of slots of `ty` (0 for a type that cannot be compiled).
pub fn width(ty: &Ty) -> usize {
    slots(ty).map(|s| s.len()).unwrap_or(0)
}

/// The slots of part `i` of an aggregate of type `ty` (tuple element, record
/// field, captured value).
pub fn part_range(ty: &Ty, i: usize) -> Option<Range<usize>> {
    let ps = parts(ty)?;
    let start: usize = ps.iter().take(i).map(|p| width(p)).sum();
    let part = ps.get(i)?;
    Some(start..start + width(part))
}

/// The types of the parts of an aggregate (empty for a leaf).
pub fn part_types(ty: &Ty) -> Vec<&Ty> {
    parts(ty).unwrap_or_default()
}

/// Appends the slots of `v` (of type `ty`) as raw `u64`s: floats by their
/// bits, bools as 0 or 1. An undefined value gives zeros. Lists never cross
/// between the interpreter and compiled code (`select` sees to it).
pub fn write_val(v: &Val, ty: &Ty, out: &mut Vec<u64>) -> Result<(), String> {
    if let Val::Undef = v {
        out.extend(std::iter::repeat_n(0, width(ty)));
        return Ok(());
    }
    match (v, ty) {
        (Val::Tensor(t), Ty::Tensor(tt)) if tt.shape.is_scalar() && t.rank() == 0 => {
            let bits = match t.data() {
                crate::runtime::Data::Bool(x) => x.first().map(|&b| u64::from(b)),
                crate::runtime::Data::I64(x) => x.first().map(|&i| i as u64),
                crate::runtime::Data::F32(x) => x.first().map(|&f| u64::from(f.to_bits())),
                crate::runtime::Data::F64(x) => x.first().map(|&f| f.to_bits()),
            };
            if t.dtype() != tt.dtype {
                return Err(format!(
                    "a {} value where {} was expected",
                    t.dtype().name(),
                    tt.dtype.name()
                ));
            }
            out.push(bits.ok_or("an empty scalar")?);
            Ok(())
        }
        (Val::Tuple(xs) | Val::Record(_, xs) | Val::Closure(xs), _) => {
            let ps = parts(ty).ok_or("an aggregate of a leaf type")?;
            if ps.len() != xs.len() {
                return Err("an aggregate of the wrong size".into());
            }
            for (x, p) in xs.iter().zip(ps) {
                write_val(x, p, out)?;
            }
            Ok(())
        }
        (Val::Builtin, Ty::Fn(_)) => Ok(()),
        _ => Err("a value that does not match its type".into()),
    }
}

/// The value of type `ty` whose slots come next from `slots` (the inverse of
/// [`write_val`]).
pub fn read_val(ty: &Ty, slots: &mut impl Iterator<Item = u64>) -> Val {
    let mut next = || slots.next().unwrap_or(0);
    match ty {
        Ty::Tensor(t) if t.shape.is_scalar() => Val::Tensor(match t.dtype {
            DType::Bool => Tensor::scalar_bool(next() & 1 != 0),
            DType::I64 => Tensor::scalar_i64(next() as i64),
            DType::F32 => Tensor::scalar_float(f64::from(f32::from_bits(next() as u32)), DType::F32),
            DType::F64 => Tensor::scalar_float(f64::from_bits(next()), DType::F64),
        }),
        Ty::Tuple(xs) => Val::Tuple(xs.iter().map(|x| read_val(x, slots)).collect::<Rc<[Val]>>()),
        Ty::Record(id, xs) => Val::Record(*id, xs.iter().map(|x| read_val(x, slots)).collect()),
        Ty::Fn(f) => match f.base() {
            FnTy::User { captures, .. } => {
                Val::Closure(captures.iter().map(|x| read_val(x, slots)).collect())
            }
            FnTy::Builtin(_) | FnTy::Derivative { .. } => Val::Builtin,
        },
        Ty::Tensor(_) | Ty::Str | Ty::List(_) | Ty::Never => Val::Undef,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::StructId;

    #[test]
    fn aggregates_flatten_in_order() {
        let f = Ty::scalar(DType::F32);
        let rec = Ty::Record(StructId(0), vec![Ty::int(), f.clone()]);
        let ty = Ty::Tuple(vec![Ty::bool(), rec.clone(), Ty::unit(), Ty::scalar(DType::F64)]);
        assert_eq!(
            slots(&ty).ok(),
            Some(vec![Slot::Bool, Slot::I64, Slot::F32, Slot::F64])
        );
        assert_eq!(part_range(&ty, 1), Some(1..3));
        assert_eq!(part_range(&ty, 2), Some(3..3));
        assert_eq!(part_range(&ty, 3), Some(3..4));
        assert_eq!(part_range(&rec, 1), Some(1..2));
        let vec3 = Ty::Tensor(crate::ir::types::TensorTy::new(
            DType::F32,
            crate::ir::types::Shape::known(&[3]),
        ));
        assert!(slots(&Ty::Tuple(vec![f, vec3])).is_err());
        assert!(slots(&Ty::Str).is_err());
    }

    #[test]
    fn values_round_trip_bit_for_bit() {
        let ty = Ty::Tuple(vec![
            Ty::scalar(DType::F32),
            Ty::scalar(DType::F64),
            Ty::int(),
            Ty::bool(),
        ]);
        let third = 1.0f32 / 3.0;
        let v = Val::Tuple(Rc::from(vec![
            Val::Tensor(Tensor::scalar_float(f64::from(third), DType::F32)),
            Val::Tensor(Tensor::scalar_float(-0.0, DType::F64)),
            Val::Tensor(Tensor::scalar_i64(i64::MIN)),
            Val::Tensor(Tensor::scalar_bool(true)),
        ]));
        let mut raw = Vec::new();
        assert!(write_val(&v, &ty, &mut raw).is_ok());
        assert_eq!(
            raw,
            vec![
                u64::from(third.to_bits()),
                (-0.0f64).to_bits(),
                i64::MIN as u64,
                1
            ]
        );
        let back = read_val(&ty, &mut raw.into_iter());
        let p = crate::ir::Program::default();
        assert_eq!(back.display(&p), v.display(&p));
        let wrong = Val::Tensor(Tensor::scalar_i64(1));
        assert!(write_val(&wrong, &Ty::scalar(DType::F32), &mut Vec::new()).is_err());
    }
}
