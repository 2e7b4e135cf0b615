//! Structured control flow as Cranelift blocks. Values that an `if` yields
//! and that a loop carries become block parameters (flattened to slots), so
//! the IR's SSA form carries over without variables:
//!
//! ```text
//! if:     brif c → then | else;  both jump merge(yields…);  results = merge params
//! for:    jump head(lo, init…);  head(i, carried…): brif i < hi → body | exit(carried…)
//!         body: tick; …; jump head(i + 1, yields…)
//! while:  jump head(init…);  head(carried…): tick; cond…; brif c → body | exit(carried…)
//!         body: …; jump head(yields…)
//! ```
//!
//! Each loop iteration counts a tick at the loop's span, as in the interpreter.

use super::lower::{CVal, FnLower};
use crate::ir::types::Ty;
use crate::ir::{Block, Inst};
use cranelift_codegen::ir::{BlockArg, InstBuilder, condcodes::IntCC};

fn block_args(vals: &[CVal]) -> Vec<BlockArg> {
    vals.iter().map(|&v| BlockArg::Value(v)).collect()
}

impl FnLower<'_, '_> {
    pub fn lower_if(&mut self, inst: &Inst, then: &Block, else_: &Block) -> Result<(), String> {
        let c = *inst.args.first().ok_or("an `if` without a condition")?;
        let (c, _) = self.scalar(c)?;
        let tys = self.tys(&inst.results)?;
        let then_b = self.b.create_block();
        let else_b = self.b.create_block();
        let merge = self.block_with_params(&tys)?;
        self.b.ins().brif(c, then_b, &[], else_b, &[]);
        for (blk, body) in [(then_b, then), (else_b, else_)] {
            self.b.switch_to_block(blk);
            let ys = self.block(body, &tys)?;
            self.jump(merge, &ys);
        }
        self.b.switch_to_block(merge);
        let params = self.b.block_params(merge).to_vec();
        self.bind_all(&inst.results, &tys, &params)
    }

    pub fn lower_for(&mut self, inst: &Inst, body: &Block) -> Result<(), String> {
        let (lo, hi) = match inst.args.as_slice() {
            [lo, hi, ..] => (self.scalar(*lo)?.0, self.scalar(*hi)?.0),
            _ => return Err("a `for` without bounds".into()),
        };
        let (index, carried_params) = body.params.split_first().ok_or("a `for` body without an index")?;
        let carried_tys = self.tys(carried_params)?;
        let mut init = Vec::new();
        for (&a, ty) in inst.args.iter().skip(2).zip(&carried_tys) {
            init.extend(self.get_as(a, ty)?);
        }
        let head_tys: Vec<Ty> = std::iter::once(Ty::int())
            .chain(carried_tys.iter().cloned())
            .collect();
        let head = self.block_with_params(&head_tys)?;
        let body_b = self.b.create_block();
        let exit = self.block_with_params(&carried_tys)?;
        let mut first = vec![lo];
        first.extend(init);
        self.jump(head, &first);

        self.b.switch_to_block(head);
        let params = self.b.block_params(head).to_vec();
        let (&i, carried) = params.split_first().ok_or("a loop head without an index")?;
        let more = self.b.ins().icmp(IntCC::SignedLessThan, i, hi);
        self.b.ins().brif(more, body_b, &[], exit, &block_args(carried));

        self.b.switch_to_block(body_b);
        let site = self.site(inst.span, None);
        self.tick(site)?;
        self.bind(*index, vec![i]);
        self.bind_all(carried_params, &carried_tys, carried)?;
        let mut next = vec![self.b.ins().iadd_imm_s(i, 1)];
        next.extend(self.block(body, &carried_tys)?);
        self.jump(head, &next);

        self.b.switch_to_block(exit);
        let out = self.b.block_params(exit).to_vec();
        self.bind_all(&inst.results, &carried_tys, &out)
    }

    pub fn lower_while(&mut self, inst: &Inst, cond: &Block, body: &Block) -> Result<(), String> {
        let tys = self.tys(&cond.params)?;
        let mut init = Vec::new();
        for (&a, ty) in inst.args.iter().zip(&tys) {
            init.extend(self.get_as(a, ty)?);
        }
        let head = self.block_with_params(&tys)?;
        let body_b = self.b.create_block();
        let exit = self.block_with_params(&tys)?;
        self.jump(head, &init);

        self.b.switch_to_block(head);
        let carried = self.b.block_params(head).to_vec();
        let site = self.site(inst.span, None);
        self.tick(site)?;
        self.bind_all(&cond.params, &tys, &carried)?;
        let c = self.block(cond, &[Ty::bool()])?;
        let &[c] = c.as_slice() else {
            return Err("a `while` condition that is not one bool".into());
        };
        self.b.ins().brif(c, body_b, &[], exit, &block_args(&carried));

        self.b.switch_to_block(body_b);
        self.bind_all(&body.params, &tys, &carried)?;
        let next = self.block(body, &tys)?;
        self.jump(head, &next);

        self.b.switch_to_block(exit);
        let out = self.b.block_params(exit).to_vec();
        self.bind_all(&inst.results, &tys, &out)
    }
}
