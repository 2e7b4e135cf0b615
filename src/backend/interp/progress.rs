//! Progress bars of `for i in progress(a..b)` loops, drawn on standard error
//! when it is an interactive terminal and not at all otherwise (so piped or
//! redirected runs print exactly what the program prints).
//!
//! Each loop is known by the span of its `progress(…)` call. Its first
//! iteration (`i == a`) starts a bar of `b - a` steps, each iteration moves
//! it to `i - a`, and the end of the loop (`i == b`) completes it: the
//! outermost bar stays on screen, nested ones are cleared.

use crate::syntax::Span;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;

pub struct Bars {
    /// `None` when standard error is not a terminal: nothing is drawn.
    multi: Option<MultiProgress>,
    live: HashMap<Span, ProgressBar>,
}

impl Default for Bars {
    fn default() -> Bars {
        let multi = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Bars {
            multi,
            live: HashMap::new(),
        }
    }
}

impl Bars {
    /// Bars that are never drawn.
    pub fn hidden() -> Bars {
        Bars {
            multi: None,
            live: HashMap::new(),
        }
    }

    /// Iteration `i` of the loop `lo..hi` at `key` starts; `i == hi`: it ended.
    pub fn update(&mut self, key: Span, i: i64, lo: i64, hi: i64) {
        let Some(multi) = &self.multi else { return };
        if i >= hi {
            if let Some(bar) = self.live.remove(&key) {
                if self.live.is_empty() {
                    bar.finish();
                } else {
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
            }
            return;
        }
        let steps = u64::try_from(hi.saturating_sub(lo)).unwrap_or(0);
        let done = u64::try_from(i.saturating_sub(lo)).unwrap_or(0);
        if i == lo || !self.live.contains_key(&key) {
            let bar = multi.add(ProgressBar::new(steps));
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} [{elapsed_precise} < {eta_precise}]")
            {
                bar.set_style(style);
            }
            if let Some(old) = self.live.insert(key, bar) {
                old.finish_and_clear();
                multi.remove(&old);
            }
        }
        if let Some(bar) = self.live.get(&key) {
            bar.set_position(done);
        }
    }

    /// Whether a bar is on screen.
    pub fn active(&self) -> bool {
        self.multi.is_some() && !self.live.is_empty()
    }

    /// Runs `f` (which writes program output) with the bars hidden, so the
    /// output does not tear them.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.multi {
            Some(m) if !self.live.is_empty() => m.suspend(f),
            _ => f(),
        }
    }
}
