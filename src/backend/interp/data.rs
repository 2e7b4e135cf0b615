//! The data prims: files, `temp_path` and `batches`. Paths are resolved
//! against the running file's folder; values move between interpreter
//! values and the runtime's file formats here, where both the program
//! (struct names and fields) and the files are known.

use super::value::Val;
use crate::diag::Diagnostic;
use crate::ir::Program;
use crate::ir::types::{DType, Ty};
use crate::runtime::files::schema::Schema;
use crate::runtime::files::{self, FileError, checkpoint, csv, npy};
use crate::runtime::{self, Tensor};
use crate::syntax::Span;
use std::path::Path;
use std::rc::Rc;

/// A file error as a diagnostic at `span`; a relative path that was not
/// found gets a note with the folder it was looked for in.
pub fn file_diagnostic(e: &FileError, span: Span, base: Option<&Path>) -> Diagnostic {
    let mut d = Diagnostic::error(span, e.message());
    if let Some(h) = e.help() {
        d = d.with_help(h);
    }
    if let (FileError::Read { path, .. }, Some(_)) = (e, base)
        && Path::new(path).is_relative()
    {
        d = d.with_note("a relative path starts from the folder of the file being run");
    }
    d
}

fn path_of(args: &[Val], span: Span) -> Result<&str, Diagnostic> {
    match args.first() {
        Some(Val::Str(s)) => Ok(s),
        _ => Err(Diagnostic::internal(span, "a path that is not a string")),
    }
}

fn tensor_of(args: &[Val], i: usize, span: Span) -> Result<&Tensor, Diagnostic> {
    args.get(i)
        .and_then(Val::as_tensor)
        .ok_or_else(|| Diagnostic::internal(span, format!("operand {i} is not a tensor")))
}

/// Where a file prim runs: the program (for struct names), the folder
/// relative paths start from, and the span of the call.
pub struct Ctx<'a> {
    pub program: &'a Program,
    pub base: Option<&'a Path>,
    pub span: Span,
}

impl Ctx<'_> {
    fn fail(&self, e: FileError) -> Diagnostic {
        file_diagnostic(&e, self.span, self.base)
    }

    fn file(&self, shown: &str) -> std::path::PathBuf {
        files::resolve(self.base, shown)
    }

    /// `temp_path(name)`
    pub fn temp_path(&self, args: &[Val]) -> Result<Val, Diagnostic> {
        Ok(Val::Str(Rc::from(files::temp_path(path_of(args, self.span)?))))
    }

    /// `load_csv(path, header)` as a `dtype` table.
    pub fn load_csv(&self, dtype: DType, args: &[Val]) -> Result<Val, Diagnostic> {
        let shown = path_of(args, self.span)?;
        let header = tensor_of(args, 1, self.span)?.as_scalar_bool().unwrap_or(false);
        let t = csv::load(&self.file(shown), shown, header, dtype).map_err(|e| self.fail(e))?;
        Ok(Val::Tensor(t))
    }

    /// `save_csv(path, t)`
    pub fn save_csv(&self, args: &[Val]) -> Result<Val, Diagnostic> {
        let shown = path_of(args, self.span)?;
        let t = tensor_of(args, 1, self.span)?;
        csv::save(&self.file(shown), shown, t).map_err(|e| self.fail(e))?;
        Ok(Val::unit())
    }

    /// `save_npy(path, t)`
    pub fn save_npy(&self, args: &[Val]) -> Result<Val, Diagnostic> {
        let shown = path_of(args, self.span)?;
        let t = tensor_of(args, 1, self.span)?;
        npy::save(&self.file(shown), shown, t).map_err(|e| self.fail(e))?;
        Ok(Val::unit())
    }

    /// `load_npy(path)`, checked against the type the program was compiled for.
    pub fn load_npy(&self, ty: &Ty, args: &[Val]) -> Result<Val, Diagnostic> {
        let shown = path_of(args, self.span)?;
        let t = npy::load(&self.file(shown), shown).map_err(|e| self.fail(e))?;
        let found = Schema::tensor(t.dtype(), t.shape());
        let expected = schema_of_ty(ty, self.program);
        if !expected.accepts(&found) {
            return Err(self.fail(mismatch(shown, &found, &expected)));
        }
        Ok(Val::Tensor(t))
    }

    /// `save(path, v)`: a checkpoint.
    pub fn save(&self, args: &[Val]) -> Result<Val, Diagnostic> {
        let shown = path_of(args, self.span)?;
        let v = args.get(1).unwrap_or(&Val::Undef);
        let mut leaves = Vec::new();
        let schema = stored(v, self.program, &mut leaves).map_err(|m| Diagnostic::internal(self.span, m))?;
        checkpoint::save(&self.file(shown), shown, &schema, &leaves).map_err(|e| self.fail(e))?;
        Ok(Val::unit())
    }

    /// `load(path)`: a checkpoint, checked against the type the program was
    /// compiled for.
    pub fn load(&self, ty: &Ty, args: &[Val]) -> Result<Val, Diagnostic> {
        let shown = path_of(args, self.span)?;
        let (found, leaves) = checkpoint::load(&self.file(shown), shown).map_err(|e| self.fail(e))?;
        let expected = schema_of_ty(ty, self.program);
        if !expected.accepts(&found) {
            return Err(self.fail(mismatch(shown, &found, &expected)));
        }
        value_of(ty, &mut leaves.into_iter())
            .ok_or_else(|| Diagnostic::internal(self.span, "a checkpoint without its data"))
    }
}

/// `batches(x, y, size, shuffle)` with the rows taken in `order` (a
/// permutation drawn by the interpreter's generator when shuffling).
pub fn batches(args: &[Val], order: Option<&[usize]>, span: Span) -> Result<Val, Diagnostic> {
    let size = tensor_of(args, 2, span)?
        .as_scalar_i64()
        .ok_or_else(|| Diagnostic::internal(span, "a batch size that is not an int"))?;
    let pairs =
        runtime::batches(tensor_of(args, 0, span)?, tensor_of(args, 1, span)?, size, order).map_err(|e| {
            let mut d = Diagnostic::error(span, e.message());
            if let Some(h) = e.help() {
                d = d.with_help(h);
            }
            d
        })?;
    let items = pairs
        .into_iter()
        .map(|(x, y)| Val::Tuple(Rc::from(vec![Val::Tensor(x), Val::Tensor(y)])))
        .collect();
    Ok(Val::List(Rc::new(items)))
}

fn mismatch(shown: &str, found: &Schema, expected: &Schema) -> FileError {
    FileError::Mismatch {
        path: shown.to_string(),
        found: found.to_string(),
        expected: expected.to_string(),
    }
}

/// The type of a stored value of type `ty`, in the files' notation; sizes
/// unknown at compile time are `?`.
pub fn schema_of_ty(ty: &Ty, program: &Program) -> Schema {
    match ty {
        Ty::Tensor(t) => Schema::Tensor(t.dtype, t.shape.0.clone()),
        Ty::Tuple(parts) => Schema::Tuple(parts.iter().map(|p| schema_of_ty(p, program)).collect()),
        Ty::Record(s, parts) => {
            let def = program.struct_def(*s);
            let name = def.map(|d| d.name.to_string()).unwrap_or_default();
            let fields = parts
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let f = def
                        .and_then(|d| d.fields.get(i))
                        .map(|f| f.to_string())
                        .unwrap_or_default();
                    (f, schema_of_ty(p, program))
                })
                .collect();
            Schema::Record(name, fields)
        }
        // Not storable: the shape rules reject these before anything runs.
        Ty::Str | Ty::Fn(_) | Ty::List(_) | Ty::Never => Schema::Tuple(Vec::new()),
    }
}

/// The type a program gives a stored value: records are found by name
/// among the program's structs and must have the same fields, in order.
pub fn ty_of_schema(s: &Schema, program: &Program) -> Result<Ty, String> {
    match s {
        Schema::Tensor(d, dims) => Ok(Ty::Tensor(crate::ir::TensorTy::new(
            *d,
            crate::ir::Shape(dims.clone()),
        ))),
        Schema::Tuple(parts) => Ok(Ty::Tuple(
            parts
                .iter()
                .map(|p| ty_of_schema(p, program))
                .collect::<Result<_, _>>()?,
        )),
        Schema::Record(name, fields) => {
            let Some((i, def)) = program
                .structs
                .iter()
                .enumerate()
                .find(|(_, d)| d.name.as_str() == name)
            else {
                return Err(format!(
                    "it holds a record `{name}`, but this program declares no struct `{name}`"
                ));
            };
            let theirs: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
            let ours: Vec<&str> = def.fields.iter().map(|f| f.as_str()).collect();
            if theirs != ours {
                return Err(format!(
                    "its `{name}` has the fields {{ {} }}, but this program's `{name}` has {{ {} }}",
                    theirs.join(", "),
                    ours.join(", ")
                ));
            }
            let parts = fields
                .iter()
                .map(|(_, p)| ty_of_schema(p, program))
                .collect::<Result<_, _>>()?;
            Ok(Ty::Record(crate::ir::StructId(i as u32), parts))
        }
    }
}

/// The type of a value to store, and its tensors in type order.
fn stored<'v>(v: &'v Val, program: &Program, leaves: &mut Vec<&'v Tensor>) -> Result<Schema, String> {
    match v {
        Val::Tensor(t) => {
            leaves.push(t);
            Ok(Schema::tensor(t.dtype(), t.shape()))
        }
        Val::Tuple(xs) => Ok(Schema::Tuple(
            xs.iter()
                .map(|x| stored(x, program, leaves))
                .collect::<Result<_, _>>()?,
        )),
        Val::Record(s, xs) => {
            let def = program.struct_def(*s).ok_or("a record of an unknown struct")?;
            let mut fields = Vec::new();
            for (i, x) in xs.iter().enumerate() {
                let f = def.fields.get(i).ok_or("a record with too many fields")?;
                fields.push((f.to_string(), stored(x, program, leaves)?));
            }
            Ok(Schema::Record(def.name.to_string(), fields))
        }
        Val::Str(_) | Val::Closure(_) | Val::Builtin | Val::List(_) | Val::Undef => {
            Err("a checkpoint of a value that is not tensors, records and tuples".into())
        }
    }
}

/// A value of type `ty` built from tensors in type order.
fn value_of(ty: &Ty, leaves: &mut impl Iterator<Item = Tensor>) -> Option<Val> {
    match ty {
        Ty::Tensor(_) => leaves.next().map(Val::Tensor),
        Ty::Tuple(parts) => {
            let xs: Option<Vec<Val>> = parts.iter().map(|p| value_of(p, leaves)).collect();
            Some(Val::Tuple(Rc::from(xs?)))
        }
        Ty::Record(s, parts) => {
            let xs: Option<Vec<Val>> = parts.iter().map(|p| value_of(p, leaves)).collect();
            Some(Val::Record(*s, Rc::from(xs?)))
        }
        Ty::Str | Ty::Fn(_) | Ty::List(_) | Ty::Never => None,
    }
}

/// The type of the data a file holds, for `load(path)` and `load_npy(path)`
/// whose type comes from the file (read before the rest of the program is
/// compiled).
pub fn file_type(npy: bool, shown: &str, program: &Program, base: Option<&Path>) -> Result<Ty, FileError> {
    let file = files::resolve(base, shown);
    let schema = if npy {
        let h = npy::read_header(&file, shown)?;
        Schema::tensor(h.dtype, &h.shape)
    } else {
        checkpoint::read_schema(&file, shown)?
    };
    ty_of_schema(&schema, program).map_err(|problem| FileError::Format {
        path: shown.to_string(),
        what: "a checkpoint this program can load",
        problem,
    })
}
