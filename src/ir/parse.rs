//! Reads the textual IR written by [`super::print`] back into a [`Program`]:
//! a hand-written lexer and a recursive-descent parser over the grammar the
//! printer's header describes. `parse_program(&print_program(p))` equals `p`
//! with every span set to the default ([`clear_spans`]), which the tests check.
//!
//! Function and struct names are collected in a first pass, so a call may name
//! a function defined further down; `@3` and `$0` refer by index.

mod lexer;
mod terms;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use super::builtin::Builtin;
use super::func::{
    Block, DefaultValue, Func, FuncId, Inst, InstKind, Param, Program, StructDef, StructId, TestDef, Value,
    ValueInfo,
};
use super::types::Ty;
use crate::syntax::{Span, Symbol};
use lexer::{Tok, Token};

#[derive(Clone, Debug, PartialEq)]
pub struct IrParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for IrParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for IrParseError {}

pub fn parse_program(text: &str) -> Result<Program, IrParseError> {
    let toks = lexer::lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        funcs: HashMap::new(),
        structs: HashMap::new(),
        values: Vec::new(),
    };
    p.collect_names();
    p.program()
}

/// Sets every span in the program to `Span::default()`, as the parser leaves them.
pub fn clear_spans(p: &mut Program) {
    fn block(b: &mut Block) {
        for inst in &mut b.insts {
            inst.span = Span::default();
            for inner in inst.blocks_mut() {
                block(inner);
            }
        }
    }
    for s in &mut p.structs {
        s.span = Span::default();
    }
    for t in &mut p.tests {
        t.span = Span::default();
    }
    for f in &mut p.funcs {
        f.span = Span::default();
        for param in &mut f.params {
            param.span = Span::default();
        }
        block(&mut f.body);
    }
}

type PResult<T> = Result<T, IrParseError>;

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    funcs: HashMap<String, u32>,
    structs: HashMap<String, u32>,
    /// The value table of the function being parsed.
    values: Vec<ValueInfo>,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map(|t| &t.tok).unwrap_or(&Tok::Eof)
    }

    fn peek_at(&self, k: usize) -> &Tok {
        self.toks.get(self.pos + k).map(|t| &t.tok).unwrap_or(&Tok::Eof)
    }

    fn line(&self, pos: usize) -> usize {
        self.toks.get(pos).map(|t| t.line).unwrap_or(0)
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn error<T>(&self, message: impl Into<String>) -> PResult<T> {
        let (line, column) = self
            .toks
            .get(self.pos)
            .map(|t| (t.line, t.column))
            .unwrap_or((0, 0));
        Err(IrParseError {
            line,
            column,
            message: message.into(),
        })
    }

    fn is_punct(&self, c: char) -> bool {
        *self.peek() == Tok::Punct(c)
    }

    fn eat_punct(&mut self, c: char) -> bool {
        let yes = self.is_punct(c);
        if yes {
            self.next();
        }
        yes
    }

    fn expect_punct(&mut self, c: char) -> PResult<()> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            self.error(format!("expected `{c}`, found {}", self.found()))
        }
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == w)
    }

    fn eat_word(&mut self, w: &str) -> bool {
        let yes = self.is_word(w);
        if yes {
            self.next();
        }
        yes
    }

    fn expect_word(&mut self, w: &str) -> PResult<()> {
        if self.eat_word(w) {
            Ok(())
        } else {
            self.error(format!("expected `{w}`, found {}", self.found()))
        }
    }

    fn found(&self) -> String {
        match self.peek() {
            Tok::Value(v) => format!("`%{v}`"),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Str(s) => format!("{s:?}"),
            Tok::Int(i) => format!("`{i}`"),
            Tok::Float(x) => format!("`{x:?}`"),
            Tok::Arrow => "`->`".into(),
            Tok::Punct(c) => format!("`{c}`"),
            Tok::Eof => "the end of the text".into(),
        }
    }

    fn word(&mut self) -> PResult<String> {
        match self.next() {
            Tok::Ident(s) => Ok(s),
            _ => {
                self.pos -= 1;
                self.error(format!("expected a word, found {}", self.found()))
            }
        }
    }

    /// A name: an identifier or a quoted string.
    fn name(&mut self) -> PResult<Symbol> {
        match self.next() {
            Tok::Ident(s) | Tok::Str(s) => Ok(Symbol::intern(&s)),
            _ => {
                self.pos -= 1;
                self.error(format!("expected a name, found {}", self.found()))
            }
        }
    }

    /// A name unless the next word is one of the words that may follow it.
    fn opt_name(&mut self) -> PResult<Option<Symbol>> {
        match self.peek() {
            Tok::Str(_) => self.name().map(Some),
            Tok::Ident(s) if s != "as" && s != "is" => self.name().map(Some),
            _ => Ok(None),
        }
    }

    fn uint(&mut self) -> PResult<u64> {
        match self.next() {
            Tok::Int(i) if i >= 0 => Ok(i as u64),
            _ => {
                self.pos -= 1;
                self.error(format!("expected a number, found {}", self.found()))
            }
        }
    }

    /// Function and struct names in order of definition, so references can
    /// point forward.
    fn collect_names(&mut self) {
        let (mut depth, mut nfuncs, mut nstructs) = (0usize, 0u32, 0u32);
        let mut i = 0;
        while let Some(t) = self.toks.get(i) {
            match &t.tok {
                Tok::Punct('{') => depth += 1,
                Tok::Punct('}') => depth = depth.saturating_sub(1),
                Tok::Ident(kw) if depth == 0 && (kw == "fn" || kw == "struct") => {
                    if let Some(Tok::Ident(n) | Tok::Str(n)) = self.toks.get(i + 1).map(|t| &t.tok) {
                        if kw == "fn" {
                            self.funcs.entry(n.clone()).or_insert(nfuncs);
                            nfuncs += 1;
                        } else {
                            self.structs.entry(n.clone()).or_insert(nstructs);
                            nstructs += 1;
                        }
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }

    fn program(&mut self) -> PResult<Program> {
        let mut p = Program::default();
        loop {
            if *self.peek() == Tok::Eof {
                return Ok(p);
            }
            let kw = self.word()?;
            match kw.as_str() {
                "struct" => {
                    let name = self.name()?;
                    self.expect_punct('{')?;
                    let mut fields = Vec::new();
                    while !self.eat_punct('}') {
                        fields.push(self.name()?);
                        if !self.eat_punct(',') {
                            self.expect_punct('}')?;
                            break;
                        }
                    }
                    p.structs.push(StructDef {
                        name,
                        fields,
                        span: Span::default(),
                    });
                }
                "fn" => {
                    let f = self.func()?;
                    p.funcs.push(f);
                }
                "main" => {
                    self.expect_punct('=')?;
                    p.main = Some(self.func_ref()?);
                }
                "adjoint" => {
                    let f = self.func_ref()?;
                    self.expect_punct('=')?;
                    let a = self.func_ref()?;
                    p.adjoints.push((f, a));
                }
                "test" => {
                    let name = match self.next() {
                        Tok::Str(s) => s,
                        _ => return self.error("expected the test's name as a string"),
                    };
                    self.expect_punct('=')?;
                    let func = self.func_ref()?;
                    p.tests.push(TestDef {
                        name,
                        func,
                        span: Span::default(),
                    });
                }
                _ => {
                    self.pos -= 1;
                    return self.error(format!("expected `fn`, `struct`, `main` or `test`, found `{kw}`"));
                }
            }
        }
    }

    fn func_ref(&mut self) -> PResult<FuncId> {
        self.expect_punct('@')?;
        match self.next() {
            Tok::Int(i) if i >= 0 => Ok(FuncId(i as u32)),
            Tok::Ident(s) | Tok::Str(s) => match self.funcs.get(&s) {
                Some(&i) => Ok(FuncId(i)),
                None => {
                    self.pos -= 1;
                    self.error(format!("unknown function @{s}"))
                }
            },
            _ => {
                self.pos -= 1;
                self.error("expected a function name after `@`")
            }
        }
    }

    fn struct_ref(&mut self) -> PResult<StructId> {
        self.expect_punct('$')?;
        match self.next() {
            Tok::Int(i) if i >= 0 => Ok(StructId(i as u32)),
            Tok::Ident(s) | Tok::Str(s) => match self.structs.get(&s) {
                Some(&i) => Ok(StructId(i)),
                None => {
                    self.pos -= 1;
                    self.error(format!("unknown struct ${s}"))
                }
            },
            _ => {
                self.pos -= 1;
                self.error("expected a struct name after `$`")
            }
        }
    }

    fn func(&mut self) -> PResult<Func> {
        self.values.clear();
        let name = self.name()?;
        self.expect_punct('(')?;
        let (mut params, mut param_values) = (Vec::new(), Vec::new());
        while !self.eat_punct(')') {
            let (v, vname) = self.value_def()?;
            let pname = if self.eat_word("as") {
                Some(self.name()?)
            } else {
                vname
            };
            let ann = if self.eat_word("is") {
                Some(self.ann()?)
            } else {
                None
            };
            let default = if self.eat_punct('=') {
                if self.is_punct('@') {
                    Some(DefaultValue::Thunk(self.func_ref()?))
                } else {
                    Some(DefaultValue::Const(self.constant()?))
                }
            } else {
                None
            };
            let Some(pname) = pname else {
                return self.error("a parameter needs a name");
            };
            params.push(Param {
                name: pname,
                span: Span::default(),
                ann,
                default,
            });
            param_values.push(v);
            if !self.eat_punct(',') {
                self.expect_punct(')')?;
                break;
            }
        }
        let ret_ann = if *self.peek() == Tok::Arrow {
            self.next();
            Some(self.ann()?)
        } else {
            None
        };
        let n_captures = if self.eat_word("captures") {
            self.uint()? as usize
        } else {
            0
        };
        let n_values = if self.eat_word("values") {
            Some(self.uint()? as usize)
        } else {
            None
        };
        let body = self.block("return")?;
        let mut values = std::mem::take(&mut self.values);
        if let Some(n) = n_values {
            values.resize(n, ValueInfo::default());
        }
        Ok(Func {
            name,
            params,
            n_captures,
            param_values,
            ret_ann,
            body,
            span: Span::default(),
            values,
        })
    }

    fn value(&mut self) -> PResult<Value> {
        match self.next() {
            Tok::Value(v) => Ok(Value(v)),
            _ => {
                self.pos -= 1;
                self.error(format!("expected a value, found {}", self.found()))
            }
        }
    }

    /// Records a defined value's name and type, growing the table as needed.
    fn set_info(&mut self, v: Value, name: Option<Symbol>, ty: Option<Ty>) {
        let i = v.0 as usize;
        if self.values.len() <= i {
            self.values.resize(i + 1, ValueInfo::default());
        }
        if let Some(slot) = self.values.get_mut(i) {
            *slot = ValueInfo { ty, name };
        }
    }

    fn set_ty(&mut self, v: Value, ty: Option<Ty>) {
        if let Some(slot) = self.values.get_mut(v.0 as usize) {
            slot.ty = ty;
        }
    }

    /// `%N [name][: type]`; returns the value and its name.
    fn value_def(&mut self) -> PResult<(Value, Option<Symbol>)> {
        let v = self.value()?;
        let name = self.opt_name()?;
        let ty = if self.eat_punct(':') {
            Some(self.ty()?)
        } else {
            None
        };
        self.set_info(v, name, ty);
        Ok((v, name))
    }

    /// Comma-separated values starting on the line of the previous token.
    fn bare_values(&mut self) -> PResult<Vec<Value>> {
        let mut vs = Vec::new();
        let same_line = self.line(self.pos) == self.line(self.pos.saturating_sub(1));
        if !(matches!(self.peek(), Tok::Value(_)) && same_line) {
            return Ok(vs);
        }
        vs.push(self.value()?);
        while self.eat_punct(',') {
            vs.push(self.value()?);
        }
        Ok(vs)
    }

    fn paren_values(&mut self) -> PResult<Vec<Value>> {
        self.expect_punct('(')?;
        let mut vs = Vec::new();
        while !self.eat_punct(')') {
            vs.push(self.value()?);
            if !self.eat_punct(',') {
                self.expect_punct(')')?;
                break;
            }
        }
        Ok(vs)
    }

    fn block(&mut self, terminator: &str) -> PResult<Block> {
        let mut params = Vec::new();
        if self.eat_punct('|') {
            while !self.eat_punct('|') {
                params.push(self.value_def()?.0);
                if !self.eat_punct(',') {
                    self.expect_punct('|')?;
                    break;
                }
            }
        }
        self.expect_punct('{')?;
        let mut insts = Vec::new();
        while !self.is_word(terminator) {
            insts.push(self.inst()?);
        }
        self.next();
        let yields = self.bare_values()?;
        self.expect_punct('}')?;
        Ok(Block {
            params,
            insts,
            yields,
        })
    }

    fn inst(&mut self) -> PResult<Inst> {
        let mut results = Vec::new();
        if matches!(self.peek(), Tok::Value(_)) {
            loop {
                let v = self.value()?;
                let name = self.opt_name()?;
                self.set_info(v, name, None);
                results.push(v);
                if !self.eat_punct(',') {
                    break;
                }
            }
            self.expect_punct('=')?;
        }
        let op = self.word()?;
        let mut args = Vec::new();
        let kind = match op.as_str() {
            "const" => {
                let c = self.constant()?;
                args = self.bare_values()?;
                InstKind::Const(c)
            }
            "prim" => {
                let prim = self.prim()?;
                args = self.bare_values()?;
                InstKind::Prim(prim)
            }
            "builtin" | "builtin_ref" => {
                let name = self.word()?;
                let Some(b) = Builtin::from_name(&name) else {
                    return self.error(format!("unknown builtin `{name}`"));
                };
                if op == "builtin" {
                    args = self.paren_values()?;
                    InstKind::Builtin(b)
                } else {
                    args = self.bare_values()?;
                    InstKind::BuiltinRef(b)
                }
            }
            "call" | "closure" => {
                let f = self.func_ref()?;
                args = self.paren_values()?;
                if op == "call" {
                    InstKind::Call(f)
                } else {
                    InstKind::Closure(f)
                }
            }
            "callv" => {
                args.push(self.value()?);
                self.expect_punct('(')?;
                let mut names = Vec::new();
                while !self.eat_punct(')') {
                    let named = matches!(self.peek(), Tok::Ident(_) | Tok::Str(_))
                        && *self.peek_at(1) == Tok::Punct('=');
                    if named {
                        names.push(Some(self.name()?));
                        self.next();
                    } else {
                        names.push(None);
                    }
                    args.push(self.value()?);
                    if !self.eat_punct(',') {
                        self.expect_punct(')')?;
                        break;
                    }
                }
                InstKind::CallValue { names }
            }
            "capture" | "tget" | "rget" => {
                let i = self.uint()? as u32;
                args = self.bare_values()?;
                match op.as_str() {
                    "capture" => InstKind::CaptureGet(i),
                    "tget" => InstKind::TupleGet(i),
                    _ => InstKind::RecordGet(i),
                }
            }
            "tuple" => {
                args = self.bare_values()?;
                InstKind::Tuple
            }
            "list_new" => InstKind::ListNew,
            "derive" => {
                let kind = self.deriv_kind()?;
                args = self.bare_values()?;
                InstKind::Derive(kind)
            }
            "list_push" | "list_get" | "list_len" => {
                args = self.bare_values()?;
                match op.as_str() {
                    "list_push" => InstKind::ListPush,
                    "list_get" => InstKind::ListGet,
                    _ => InstKind::ListLen,
                }
            }
            "record" => {
                let s = self.struct_ref()?;
                args = self.bare_values()?;
                InstKind::Record(s)
            }
            "field" => {
                self.expect_punct('.')?;
                let name = self.name()?;
                args = self.bare_values()?;
                InstKind::Field(name)
            }
            "if" => {
                args = self.bare_values()?;
                let then = self.block("yield")?;
                self.expect_word("else")?;
                let else_ = self.block("yield")?;
                InstKind::If { then, else_ }
            }
            "for" => {
                args = self.bare_values()?;
                if self.eat_word("carry") {
                    args.extend(self.paren_values()?);
                }
                InstKind::For {
                    body: self.block("yield")?,
                }
            }
            "while" => {
                self.expect_word("carry")?;
                args = self.paren_values()?;
                let cond = self.block("yield")?;
                self.expect_word("do")?;
                let body = self.block("yield")?;
                InstKind::While { cond, body }
            }
            _ => {
                self.pos -= 1;
                return self.error(format!("unknown instruction `{op}`"));
            }
        };
        if self.eat_punct(':') {
            for (i, r) in results.clone().into_iter().enumerate() {
                if i > 0 {
                    self.expect_punct(',')?;
                }
                let ty = if self.eat_word("_") {
                    None
                } else {
                    Some(self.ty()?)
                };
                self.set_ty(r, ty);
            }
        }
        Ok(Inst {
            kind,
            args,
            results,
            span: Span::default(),
        })
    }
}
