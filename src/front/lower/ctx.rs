//! The state of one function being lowered: its value arena, the stack of open
//! blocks, lexical scopes of variables (each bound to its current SSA value),
//! captured variables of a lambda, and the hidden flags of early exits.

use super::super::load::ModuleId;
use crate::ir::{self, Value};
use crate::syntax::{Span, Symbol};

pub type VarId = usize;

#[derive(Clone, Debug)]
pub struct Var {
    pub name: Symbol,
    /// The variable's current SSA value.
    pub value: Value,
    pub mutable: bool,
    pub span: Span,
    /// A lambda's copy of a variable of an enclosing function.
    pub captured: bool,
}

/// The exit flags of the loop being lowered.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoopFlags {
    pub brk: Option<VarId>,
    pub cont: Option<VarId>,
}

pub struct FnCtx {
    pub module: ModuleId,
    pub func: ir::Func,
    pub param_values: Vec<Value>,
    /// Open blocks; the first is the function body.
    blocks: Vec<ir::Block>,
    pub vars: Vec<Var>,
    scopes: Vec<Vec<VarId>>,
    pub is_lambda: bool,
    /// For a lambda: (the variable in the enclosing function, the capture
    /// parameter here, its name).
    pub captures: Vec<(VarId, Value, Symbol)>,
    /// `(returned flag, result slot)` when the function contains `return`.
    pub ret: Option<(VarId, VarId)>,
    pub loops: Vec<LoopFlags>,
}

impl FnCtx {
    pub fn new(module: ModuleId, name: Symbol, span: Span, is_lambda: bool) -> FnCtx {
        FnCtx {
            module,
            func: ir::Func {
                name,
                params: Vec::new(),
                n_captures: 0,
                param_values: Vec::new(),
                ret_ann: None,
                body: ir::Block::default(),
                span,
                values: Vec::new(),
            },
            param_values: Vec::new(),
            blocks: vec![ir::Block::default()],
            vars: Vec::new(),
            scopes: vec![Vec::new()],
            is_lambda,
            captures: Vec::new(),
            ret: None,
            loops: Vec::new(),
        }
    }

    pub fn push_inst(&mut self, inst: ir::Inst) {
        if let Some(b) = self.blocks.last_mut() {
            b.insts.push(inst);
        }
    }

    pub fn push_block(&mut self, params: Vec<Value>) {
        self.blocks.push(ir::Block {
            params,
            insts: Vec::new(),
            yields: Vec::new(),
        });
    }

    pub fn pop_block(&mut self, yields: Vec<Value>) -> ir::Block {
        let mut b = if self.blocks.len() > 1 {
            self.blocks.pop().unwrap_or_default()
        } else {
            ir::Block::default()
        };
        b.yields = yields;
        b
    }

    pub fn push_scope(&mut self) {
        self.scopes.push(Vec::new());
    }

    pub fn pop_scope(&mut self) {
        if self.scopes.len() > 1 {
            self.scopes.pop();
        }
    }

    pub fn declare(&mut self, name: Symbol, value: Value, mutable: bool, span: Span) -> VarId {
        self.vars.push(Var {
            name,
            value,
            mutable,
            span,
            captured: false,
        });
        let id = self.vars.len() - 1;
        if let Some(s) = self.scopes.last_mut() {
            s.push(id);
        }
        if let Some(info) = self.func.values.get_mut(value.0 as usize)
            && info.name.is_none()
        {
            info.name = Some(name);
        }
        id
    }

    /// A compiler-made mutable variable that user code cannot name.
    pub fn declare_hidden(&mut self, name: &str, value: Value) -> VarId {
        self.vars.push(Var {
            name: Symbol::intern(name),
            value,
            mutable: true,
            span: Span::default(),
            captured: false,
        });
        self.vars.len() - 1
    }

    /// A capture parameter bound in the function's outermost scope.
    pub fn add_capture(&mut self, name: Symbol, outer: VarId, span: Span) -> VarId {
        let v = self.func.new_value(None, Some(name));
        self.captures.push((outer, v, name));
        self.vars.push(Var {
            name,
            value: v,
            mutable: false,
            span,
            captured: true,
        });
        let id = self.vars.len() - 1;
        if let Some(s) = self.scopes.first_mut() {
            s.push(id);
        }
        id
    }

    pub fn lookup(&self, name: Symbol) -> Option<VarId> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .copied()
            .find(|&id| self.vars.get(id).is_some_and(|v| v.name == name))
    }

    pub fn var(&self, id: VarId) -> Option<&Var> {
        self.vars.get(id)
    }

    pub fn var_value(&self, id: VarId) -> Value {
        self.vars.get(id).map(|v| v.value).unwrap_or(Value(0))
    }

    pub fn set_var(&mut self, id: VarId, value: Value) {
        if let Some(v) = self.vars.get_mut(id) {
            v.value = value;
        }
    }

    /// The current values of all variables declared so far.
    pub fn snapshot(&self) -> Vec<Value> {
        self.vars.iter().map(|v| v.value).collect()
    }

    pub fn restore(&mut self, snap: &[Value]) {
        for (v, &val) in self.vars.iter_mut().zip(snap) {
            v.value = val;
        }
    }

    /// Mutable variables visible now whose names are in `names`, plus hidden flags.
    pub fn visible_mutables(&self, names: &std::collections::HashSet<Symbol>) -> Vec<VarId> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for id in self.scopes.iter().rev().flat_map(|s| s.iter().rev()).copied() {
            if let Some(v) = self.vars.get(id)
                && v.mutable
                && names.contains(&v.name)
                && seen.insert(v.name)
            {
                out.push(id);
            }
        }
        out.sort_unstable();
        out
    }

    /// Builds the IR function; captures become the leading parameters.
    pub fn finish(mut self, params: Vec<ir::Param>, ret_ann: Option<ir::TypeAnn>, result: Value) -> ir::Func {
        let mut body = if self.blocks.is_empty() {
            ir::Block::default()
        } else {
            self.blocks.swap_remove(0)
        };
        body.yields = vec![result];
        let mut all_params: Vec<ir::Param> = self
            .captures
            .iter()
            .map(|(_, _, name)| ir::Param {
                name: *name,
                span: self.func.span,
                ann: None,
                default: None,
            })
            .collect();
        let mut values: Vec<Value> = self.captures.iter().map(|(_, v, _)| *v).collect();
        self.func.n_captures = all_params.len();
        all_params.extend(params);
        values.extend(self.param_values);
        self.func.params = all_params;
        self.func.param_values = values;
        self.func.ret_ann = ret_ann;
        self.func.body = body;
        self.func
    }
}
