//! Lists, the tapes reverse mode keeps for loops. A list value is two slots:
//! the handle of a buffer that only grows (owned by the entry's context) and
//! the list's length, so a list is a prefix of its buffer and pushing keeps
//! value semantics without reference counts (see `abi::diffl_list_push`).
//! Elements are stored as their slots, one `u64` each, and move through a
//! stack slot. Lists never leave the call that makes them, so a function
//! that makes lists frees them when it returns.

use super::abi::code;
use super::layout;
use super::lower::{CVal, FnLower};
use crate::ir::types::Ty;
use crate::ir::{Block, Inst, InstKind};
use cranelift_codegen::ir::{InstBuilder, StackSlot, StackSlotData, StackSlotKind, condcodes::IntCC, types};

/// Whether `b` (or a block nested in it) makes a list.
pub fn makes_lists(b: &Block) -> bool {
    b.insts
        .iter()
        .any(|i| matches!(i.kind, InstKind::ListNew) || i.blocks().into_iter().any(makes_lists))
}

fn elem_ty(list: &Ty) -> Result<&Ty, String> {
    match list {
        Ty::List(e) => Ok(e),
        _ => Err("a list operation on a value that is not a list".into()),
    }
}

impl FnLower<'_, '_> {
    /// A stack slot of `width` `u64`s.
    fn slots_buffer(&mut self, width: usize) -> StackSlot {
        let size = (8 * width.max(1)) as u32;
        self.b
            .create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 3))
    }

    /// The two slots of list value operand `i`.
    fn list_operand(&self, inst: &Inst, i: usize) -> Result<(CVal, CVal, Ty), String> {
        let v = *inst.args.get(i).ok_or("a missing list operand")?;
        let ty = self.ty(v)?.clone();
        match self.slots_of_value(v)? {
            [h, n] => Ok((*h, *n, ty)),
            _ => Err("a list that is not two slots".into()),
        }
    }

    pub fn list_inst(&mut self, inst: &Inst, result_ty: &Ty) -> Result<Vec<CVal>, String> {
        let ctx = self.ctx_value();
        match &inst.kind {
            InstKind::ListNew => {
                let h = self.helper("diffl_list_new", &[ctx])?;
                let h = *h.first().ok_or("no handle")?;
                let zero = self.b.ins().iconst(types::I64, 0);
                Ok(vec![h, zero])
            }
            InstKind::ListPush => {
                let (h, n, lty) = self.list_operand(inst, 0)?;
                let item = *inst.args.get(1).ok_or("a push without an item")?;
                let ety = elem_ty(&lty)?.clone();
                let slots = self.get_as(item, &ety)?;
                let buf = self.slots_buffer(slots.len());
                for (k, &v) in slots.iter().enumerate() {
                    self.b.ins().stack_store(types::I64, v, buf, 8 * k as i32);
                }
                let src = self.b.ins().stack_addr(types::I64, buf, 0);
                let w = self.b.ins().iconst(types::I64, slots.len() as i64);
                let r = self.helper("diffl_list_push", &[ctx, h, n, w, src])?;
                let h2 = *r.first().ok_or("no handle")?;
                let bad = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, h2, 0);
                let site = self.site(inst.span, None);
                self.fail_if(bad, code::LIST, site, None);
                let n2 = self.b.ins().iadd_imm_s(n, 1);
                Ok(vec![h2, n2])
            }
            InstKind::ListGet => {
                let (h, n, lty) = self.list_operand(inst, 0)?;
                let index = *inst.args.get(1).ok_or("a get without an index")?;
                let (i, _) = self.scalar(index)?;
                let ety = elem_ty(&lty)?.clone();
                let slots = layout::slots(&ety).map_err(|_| "a list of values without a layout")?;
                let buf = self.slots_buffer(slots.len());
                let dst = self.b.ins().stack_addr(types::I64, buf, 0);
                let w = self.b.ins().iconst(types::I64, slots.len() as i64);
                let r = self.helper("diffl_list_get", &[ctx, h, n, i, w, dst])?;
                let bad = *r.first().ok_or("no status")?;
                let site = self.site(inst.span, None);
                self.fail_if(bad, code::LIST_INDEX, site, None);
                let vals: Vec<CVal> = slots
                    .iter()
                    .enumerate()
                    .map(|(k, s)| self.b.ins().stack_load(types::I64, s.clif(), buf, 8 * k as i32))
                    .collect();
                self.convert(&vals, &ety, result_ty)
            }
            InstKind::ListLen => {
                let (_, n, _) = self.list_operand(inst, 0)?;
                Ok(vec![n])
            }
            _ => Err("not a list instruction".into()),
        }
    }
}
