//! Splitting large loops over the machine's cores (rayon's pool, which the
//! matrix products use too, so its threads are already awake).

use rayon::prelude::*;

/// Below this many elements a loop runs on the calling thread: a split costs
/// more than it saves.
pub(crate) const PARALLEL_MIN: usize = 1 << 16;

/// The number of threads large kernels use.
pub(crate) fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |p| p.get()))
}

/// Calls `f(piece, start)` on pieces of `x` (one per thread, each a multiple
/// of `unit` elements long, `start` its offset in `x`), in parallel when `x`
/// is large. Every element is in exactly one piece, so the result is the
/// same as `f(x, 0)`.
pub(crate) fn for_pieces<T: Send>(x: &mut [T], unit: usize, f: impl Fn(&mut [T], usize) + Sync) {
    let n = x.len();
    let t = threads();
    if n < PARALLEL_MIN || t < 2 || unit == 0 || n < 2 * unit {
        f(x, 0);
        return;
    }
    let per = n.div_ceil(t).div_ceil(unit) * unit;
    x.par_chunks_mut(per)
        .enumerate()
        .for_each(|(i, piece)| f(piece, i * per));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_every_element_once_at_their_offsets() {
        for (n, unit) in [
            (10, 1),
            (PARALLEL_MIN * 3 + 7, 1),
            (PARALLEL_MIN * 4, 1024),
            (5, 0),
        ] {
            let mut x = vec![0usize; n];
            for_pieces(&mut x, unit, |piece, start| {
                if unit > 0 {
                    assert_eq!(start % unit, 0);
                }
                for (k, v) in piece.iter_mut().enumerate() {
                    *v += start + k + 1;
                }
            });
            assert!(x.iter().enumerate().all(|(i, &v)| v == i + 1), "n = {n}");
        }
    }
}
