//! Lists, the tapes reverse mode keeps for loops. A list value is two slots:
//! the handle of a buffer that only grows (owned by the entry's context) and
//! the list's length, so a list is a prefix of its buffer and pushing keeps
//! value semantics without reference counts (see
//! `list_runtime::diffl_list_push`). Elements are stored as their slots, one
//! `u64` each. Reads and pushes that fit the buffer are inline loads and
//! stores; other pushes call Rust. Lists never leave the call that makes
//! them, so a function that makes lists frees them when it returns.

use super::abi::{code, offset};
use super::layout;
use super::list_runtime::buf_offset;
use super::lower::{CVal, FnLower};
use crate::ir::types::Ty;
use crate::ir::{Block, Inst, InstKind};
use cranelift_codegen::ir::{
    InstBuilder, MemFlagsData, StackSlot, StackSlotData, StackSlotKind, condcodes::IntCC, types,
};

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

    /// The address of the buffer of list handle `h`.
    fn buf_addr(&mut self, ctx: CVal, h: CVal) -> CVal {
        let flags = MemFlagsData::trusted();
        let base = self.b.ins().load(types::I64, flags, ctx, offset::LISTS);
        let at = self.b.ins().imul_imm_s(h, buf_offset::SIZE);
        self.b.ins().iadd(base, at)
    }

    /// Pushes `slots` to the list (`h`, `n`); returns the result's handle.
    /// When the list is its whole buffer and the buffer has room, the slots
    /// are stored in place; otherwise `diffl_list_push` grows or copies.
    fn push(&mut self, ctx: CVal, h: CVal, n: CVal, slots: &[CVal], site: i64) -> Result<CVal, String> {
        let flags = MemFlagsData::trusted();
        let w = slots.len() as i64;
        let buf = self.buf_addr(ctx, h);
        let len = self.b.ins().load(types::I64, flags, buf, buf_offset::LEN);
        let cap = self.b.ins().load(types::I64, flags, buf, buf_offset::CAP);
        let whole = self.b.ins().imul_imm_s(n, w);
        let is_whole = self.b.ins().icmp(IntCC::Equal, len, whole);
        let end = self.b.ins().iadd_imm_s(len, w);
        let room = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, end, cap);
        let fits = self.b.ins().band(is_whole, room);
        let inline = self.b.create_block();
        let call = self.b.create_block();
        let join = self.b.create_block();
        let h2 = self.b.append_block_param(join, types::I64);
        self.b.set_cold_block(call);
        self.b.ins().brif(fits, inline, &[], call, &[]);

        self.b.switch_to_block(inline);
        let data = self.b.ins().load(types::I64, flags, buf, buf_offset::PTR);
        let start = self.b.ins().imul_imm_s(len, 8);
        let at = self.b.ins().iadd(data, start);
        for (k, &v) in slots.iter().enumerate() {
            self.b.ins().store(flags, v, at, 8 * k as i32);
        }
        self.b.ins().store(flags, end, buf, buf_offset::LEN);
        self.b.ins().jump(join, &[h.into()]);

        self.b.switch_to_block(call);
        let stack = self.slots_buffer(slots.len());
        for (k, &v) in slots.iter().enumerate() {
            self.b.ins().stack_store(types::I64, v, stack, 8 * k as i32);
        }
        let src = self.b.ins().stack_addr(types::I64, stack, 0);
        let width = self.b.ins().iconst(types::I64, w);
        let r = self.helper("diffl_list_push", &[ctx, h, n, width, src])?;
        let grown = *r.first().ok_or("no handle")?;
        let bad = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, grown, 0);
        self.fail_if(bad, code::LIST, site, None);
        self.b.ins().jump(join, &[grown.into()]);

        self.b.switch_to_block(join);
        Ok(h2)
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
                let site = self.site(inst.span, None);
                let h2 = self.push(ctx, h, n, &slots, site)?;
                let n2 = self.b.ins().iadd_imm_s(n, 1);
                Ok(vec![h2, n2])
            }
            InstKind::ListGet => {
                let (h, n, lty) = self.list_operand(inst, 0)?;
                let index = *inst.args.get(1).ok_or("a get without an index")?;
                let (i, _) = self.scalar(index)?;
                let ety = elem_ty(&lty)?.clone();
                let slots = layout::slots(&ety).map_err(|_| "a list of values without a layout")?;
                // Negative indices count from the end, as the interpreter's do.
                let negative = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, i, 0);
                let from_end = self.b.ins().iadd(i, n);
                let k = self.b.ins().select(negative, from_end, i);
                let outside = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, k, n);
                let site = self.site(inst.span, None);
                let flags = MemFlagsData::trusted();
                let oob = self.b.create_block();
                let ok = self.b.create_block();
                self.b.set_cold_block(oob);
                self.b.ins().brif(outside, oob, &[], ok, &[]);
                self.b.switch_to_block(oob);
                self.b.ins().store(flags, n, ctx, offset::ERR_LEN);
                self.fail_if(outside, code::LIST_INDEX, site, Some(i));
                self.b.ins().jump(ok, &[]);
                self.b.switch_to_block(ok);
                // A list is a prefix of its buffer, so element `k < n` is there.
                let buf = self.buf_addr(ctx, h);
                let data = self.b.ins().load(types::I64, flags, buf, buf_offset::PTR);
                let start = self.b.ins().imul_imm_s(k, 8 * slots.len() as i64);
                let at = self.b.ins().iadd(data, start);
                let vals: Vec<CVal> = slots
                    .iter()
                    .enumerate()
                    .map(|(j, s)| self.b.ins().load(s.clif(), flags, at, 8 * j as i32))
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
