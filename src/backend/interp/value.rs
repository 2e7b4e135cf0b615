//! Run-time values of the interpreter and how `print` shows them.

use crate::ir::{Program, StructId};
use crate::runtime::Tensor;
use std::fmt::Write as _;
use std::rc::Rc;

#[derive(Clone, Debug, Default)]
pub enum Val {
    /// Every number, bool and tensor (scalars are rank-0 tensors).
    Tensor(Tensor),
    Tuple(Rc<[Val]>),
    Record(StructId, Rc<[Val]>),
    Str(Rc<str>),
    /// A closure's captured values; which function it is lives in its type.
    Closure(Rc<[Val]>),
    /// A builtin used as a value; calls to it were resolved statically.
    Builtin,
    /// A list (the tape of a loop in a derivative); pushed in place when unshared.
    List(Rc<Vec<Val>>),
    /// A placeholder that is never read.
    #[default]
    Undef,
}

impl Val {
    pub fn unit() -> Val {
        Val::Tuple(Rc::from(Vec::new()))
    }

    pub fn as_tensor(&self) -> Option<&Tensor> {
        match self {
            Val::Tensor(t) => Some(t),
            _ => None,
        }
    }

    /// Text for `print`: strings bare at the top level, quoted inside aggregates.
    pub fn display(&self, p: &Program) -> String {
        let mut s = String::new();
        self.write(p, &mut s, true);
        s
    }

    fn write(&self, p: &Program, out: &mut String, top: bool) {
        match self {
            Val::Tensor(t) => {
                let _ = write!(out, "{t}");
            }
            Val::Tuple(xs) => {
                out.push('(');
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    x.write(p, out, false);
                }
                if xs.len() == 1 {
                    out.push(',');
                }
                out.push(')');
            }
            Val::Record(s, xs) => {
                let def = p.struct_def(*s);
                let name = def.map(|d| d.name.to_string()).unwrap_or_default();
                let _ = write!(out, "{name} {{ ");
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let field = def
                        .and_then(|d| d.fields.get(i))
                        .map(|f| f.to_string())
                        .unwrap_or_default();
                    let _ = write!(out, "{field}: ");
                    x.write(p, out, false);
                }
                out.push_str(" }");
            }
            Val::Str(s) if top => out.push_str(s),
            Val::Str(s) => {
                let _ = write!(out, "{:?}", &**s);
            }
            Val::Closure(_) | Val::Builtin => out.push_str("<function>"),
            Val::List(xs) => {
                let _ = write!(out, "<list of {}>", xs.len());
            }
            Val::Undef => out.push_str("<undefined>"),
        }
    }
}
