//! Interned names. A [`Symbol`] is a `u32` that compares and hashes in O(1);
//! the text lives in a process-wide table (names are few and live as long as
//! the compiler, so interned strings are leaked on purpose).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(u32);

#[derive(Default)]
struct Interner {
    map: HashMap<&'static str, u32>,
    names: Vec<&'static str>,
}

fn interner() -> &'static Mutex<Interner> {
    static TABLE: OnceLock<Mutex<Interner>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(Interner::default()))
}

impl Symbol {
    pub fn intern(s: &str) -> Symbol {
        let mut t = match interner().lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(&i) = t.map.get(s) {
            return Symbol(i);
        }
        let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
        let i = t.names.len() as u32;
        t.names.push(leaked);
        t.map.insert(leaked, i);
        Symbol(i)
    }

    pub fn as_str(self) -> &'static str {
        let t = match interner().lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        t.names.get(self.0 as usize).copied().unwrap_or("<?>")
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
