//! The Rust side of compiled lists (see `list`): each entry's table of
//! buffers, the helpers compiled code calls when its inline paths do not
//! apply, and the spare buffers kept from one entry to the next.
//!
//! Compiled code reads the table directly: [`Lists`] starts with a pointer
//! to its [`Buf`]s, and a `Buf` is a `Vec<u64>`'s parts at fixed offsets.
//! A read and a push that fits the buffer's capacity run inline; the
//! helpers here make lists, grow buffers and copy shared prefixes.

use super::abi::Ctx;
use std::mem::ManuallyDrop;

/// A list buffer: a `Vec<u64>` taken apart, so compiled code knows where
/// its fields are. `len` and `cap` count slots.
#[repr(C)]
pub struct Buf {
    ptr: *mut u64,
    len: usize,
    cap: usize,
}

/// Byte offsets of a [`Buf`]'s fields, and its size.
pub mod buf_offset {
    use super::Buf;
    pub const PTR: i32 = std::mem::offset_of!(Buf, ptr) as i32;
    pub const LEN: i32 = std::mem::offset_of!(Buf, len) as i32;
    pub const CAP: i32 = std::mem::offset_of!(Buf, cap) as i32;
    pub const SIZE: i64 = std::mem::size_of::<Buf>() as i64;
}

impl Buf {
    fn from_vec(v: Vec<u64>) -> Buf {
        let mut v = ManuallyDrop::new(v);
        Buf {
            ptr: v.as_mut_ptr(),
            len: v.len(),
            cap: v.capacity(),
        }
    }

    fn into_vec(self) -> Vec<u64> {
        let me = ManuallyDrop::new(self);
        // SAFETY: the parts come from a `Vec<u64>` (`from_vec`), and compiled
        // code only raises `len` after writing slots below `cap`.
        unsafe { Vec::from_raw_parts(me.ptr, me.len, me.cap) }
    }

    /// Runs `f` on the buffer as a `Vec`.
    fn edit<R>(&mut self, f: impl FnOnce(&mut Vec<u64>) -> R) -> R {
        let mut v = std::mem::replace(self, Buf::from_vec(Vec::new())).into_vec();
        let r = f(&mut v);
        *self = Buf::from_vec(v);
        r
    }

    fn as_slice(&self) -> &[u64] {
        // SAFETY: as in `into_vec`: the first `len` slots are initialized.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        drop(std::mem::replace(self, Buf::from_vec(Vec::new())).into_vec());
    }
}

/// The buffers of the lists alive in one entry, by handle.
#[repr(C)]
pub struct Lists {
    /// `bufs`' data, which compiled code indexes by handle; updated whenever
    /// `bufs` may have moved.
    base: *mut Buf,
    bufs: Vec<Buf>,
}

impl Default for Lists {
    fn default() -> Lists {
        Lists {
            base: std::ptr::null_mut(),
            bufs: Vec::new(),
        }
    }
}

impl Lists {
    fn add(&mut self, b: Buf) -> i64 {
        self.bufs.push(b);
        self.base = self.bufs.as_mut_ptr();
        self.bufs.len() as i64 - 1
    }
}

impl Drop for Lists {
    fn drop(&mut self) {
        spare::keep(std::mem::take(&mut self.bufs).into_iter().map(Buf::into_vec));
    }
}

/// The buffers of lists that were released, kept for the lists made next:
/// a gradient called in a loop then reuses its tape's memory, with no
/// copies as it grows and no page faults on fresh memory.
mod spare {
    use std::cell::RefCell;

    /// The most memory kept, in slots (256 MiB).
    const MAX_SLOTS: usize = 1 << 25;

    thread_local! {
        /// Empty buffers, by ascending capacity.
        static SPARE: RefCell<Vec<Vec<u64>>> = const { RefCell::new(Vec::new()) };
    }

    /// Keeps the largest of `bufs` and of the buffers already kept, emptied,
    /// up to [`MAX_SLOTS`].
    pub fn keep(bufs: impl Iterator<Item = Vec<u64>>) {
        SPARE.with_borrow_mut(|spare| {
            spare.extend(bufs.filter(|b| b.capacity() > 0).map(|mut b| {
                b.clear();
                b
            }));
            spare.sort_by_key(Vec::capacity);
            let mut total = 0;
            let mut first_kept = spare.len();
            while let Some(b) = first_kept.checked_sub(1).and_then(|i| spare.get(i)) {
                total += b.capacity();
                if total > MAX_SLOTS {
                    break;
                }
                first_kept -= 1;
            }
            spare.drain(..first_kept);
        });
    }

    /// An empty buffer: the largest kept one, or a new one.
    pub fn take() -> Vec<u64> {
        SPARE.with_borrow_mut(Vec::pop).unwrap_or_default()
    }
}

/// The number of lists so far: a function that makes lists frees those
/// made after this mark when it returns ([`diffl_list_release`]).
pub extern "C" fn diffl_list_mark(ctx: *mut Ctx) -> i64 {
    // SAFETY: compiled code passes the `Ctx` it was entered with, which the
    // host keeps alive and does not touch while the code runs.
    unsafe { ctx.as_ref() }.map_or(0, |c| c.lists.bufs.len() as i64)
}

pub extern "C" fn diffl_list_release(ctx: *mut Ctx, mark: i64) {
    // SAFETY: as in `diffl_list_mark`.
    if let (Some(c), Ok(m)) = (unsafe { ctx.as_mut() }, usize::try_from(mark))
        && m < c.lists.bufs.len()
    {
        let dead = c.lists.bufs.split_off(m);
        c.lists.base = c.lists.bufs.as_mut_ptr();
        spare::keep(dead.into_iter().map(Buf::into_vec));
    }
}

/// A new empty list; returns its handle.
pub extern "C" fn diffl_list_new(ctx: *mut Ctx) -> i64 {
    // SAFETY: as in `diffl_list_mark`.
    let Some(c) = (unsafe { ctx.as_mut() }) else {
        return -1;
    };
    c.lists.add(Buf::from_vec(spare::take()))
}

/// Appends the `width` slots at `src` to the list (`handle`, `len`) and
/// returns the handle of the result. Buffers only grow, and a list is a
/// prefix of its buffer: when the list is the whole buffer it grows in place,
/// otherwise (the list was pushed to before) the prefix is copied first, so
/// every list value keeps its elements. Returns -1 for a handle that does
/// not exist. (Compiled code pushes inline when the list is its whole
/// buffer and the buffer has room.)
pub extern "C" fn diffl_list_push(ctx: *mut Ctx, handle: i64, len: i64, width: i64, src: *const u64) -> i64 {
    // SAFETY: as in `diffl_list_mark`.
    let Some(c) = (unsafe { ctx.as_mut() }) else {
        return -1;
    };
    let (Ok(h), Ok(n), Ok(w)) = (
        usize::try_from(handle),
        usize::try_from(len),
        usize::try_from(width),
    ) else {
        return -1;
    };
    // SAFETY: compiled code passes a stack slot of `width` slots.
    let elem = unsafe { std::slice::from_raw_parts(src, w) };
    let Some(buf) = c.lists.bufs.get_mut(h) else {
        return -1;
    };
    if buf.len == n * w {
        buf.edit(|v| v.extend_from_slice(elem));
        return handle;
    }
    let Some(prefix) = buf.as_slice().get(..n * w) else {
        return -1;
    };
    let mut copy = spare::take();
    copy.extend_from_slice(prefix);
    copy.extend_from_slice(elem);
    c.lists.add(Buf::from_vec(copy))
}
