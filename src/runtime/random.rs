//! Random numbers from a counter-based generator (Philox4x32-10).
//!
//! The generator's state is a key (the seed) and a counter. Element `i` of a
//! draw of `n` elements is a pure function of `(key, counter + i)`, and the
//! draw advances the counter by `n`; so the numbers never depend on how many
//! threads compute them or on the backend, and reverse mode can replay a
//! region's draws by restoring the state it saved ([`Rng::state`],
//! [`Rng::restore`]). Philox is the generator of cuRAND and of PyTorch's CUDA
//! backend (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", 2011).

use super::DType;
use super::error::{KResult, KernelError};
use super::tensor::{Tensor, checked_numel};

/// The generator: a key and the counter of the next draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rng {
    key: u64,
    counter: u64,
}

impl Default for Rng {
    fn default() -> Rng {
        Rng::new(0)
    }
}

const PHILOX_M0: u32 = 0xD251_1F53;
const PHILOX_M1: u32 = 0xCD9E_8D57;
const PHILOX_W0: u32 = 0x9E37_79B9;
const PHILOX_W1: u32 = 0xBB67_AE85;

/// Four random 32-bit words for the generator's `(key, counter)`.
fn philox(key: u64, counter: u64) -> [u32; 4] {
    philox4x32_10(
        [key as u32, (key >> 32) as u32],
        [counter as u32, (counter >> 32) as u32, 0, 0],
    )
}

/// Philox4x32 with 10 rounds, as specified by Random123.
fn philox4x32_10(key: [u32; 2], counter: [u32; 4]) -> [u32; 4] {
    let [mut k0, mut k1] = key;
    let mut c = counter;
    for _ in 0..10 {
        let p0 = u64::from(PHILOX_M0) * u64::from(c[0]);
        let p1 = u64::from(PHILOX_M1) * u64::from(c[2]);
        c = [
            ((p1 >> 32) as u32) ^ c[1] ^ k0,
            p1 as u32,
            ((p0 >> 32) as u32) ^ c[3] ^ k1,
            p0 as u32,
        ];
        k0 = k0.wrapping_add(PHILOX_W0);
        k1 = k1.wrapping_add(PHILOX_W1);
    }
    c
}

/// A uniform f64 in `[0, 1)` with 53 random bits.
fn unit_f64(hi: u32, lo: u32) -> f64 {
    let bits = (u64::from(hi) << 21) ^ u64::from(lo >> 11);
    (bits & ((1u64 << 53) - 1)) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform f32 in `[0, 1)` with 24 random bits (never rounds up to 1).
fn unit_f32(w: u32) -> f32 {
    (w >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// A standard normal from one Philox block (Box–Muller, first output).
fn normal(words: [u32; 4]) -> f64 {
    let [a, b, c, d] = words;
    // 1 - u lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - unit_f64(a, b);
    let u2 = unit_f64(c, d);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng {
            key: seed,
            counter: 0,
        }
    }

    /// `seed(n)`: restart from key `n`.
    pub fn reseed(&mut self, seed: i64) {
        *self = Rng::new(seed as u64);
    }

    /// The state as two ints (key, counter), for [`Rng::restore`].
    pub fn state(&self) -> Tensor {
        Tensor::from_i64s(vec![2], vec![self.key as i64, self.counter as i64])
            .unwrap_or_else(|_| Tensor::scalar_i64(0))
    }

    pub fn restore(&mut self, state: &Tensor) -> KResult<()> {
        match state.to_i64_vec().as_slice() {
            [key, counter] => {
                self.key = *key as u64;
                self.counter = *counter as u64;
                Ok(())
            }
            _ => Err(KernelError::Internal("malformed generator state".into())),
        }
    }

    /// The Philox blocks of the next `n` counters, advancing the counter.
    fn blocks(&mut self, n: usize) -> impl Iterator<Item = [u32; 4]> + use<> {
        let (key, start) = (self.key, self.counter);
        self.counter = self.counter.wrapping_add(n as u64);
        (0..n as u64).map(move |i| philox(key, start.wrapping_add(i)))
    }

    /// `rand(shape)`: uniform in `[0, 1)`.
    pub fn uniform(&mut self, shape: Vec<usize>, dtype: DType) -> KResult<Tensor> {
        let n = checked_numel(&shape)?;
        match dtype {
            DType::F32 => Tensor::from_f32s(shape, self.blocks(n).map(|w| unit_f32(w[0])).collect()),
            DType::F64 => Tensor::from_f64s(
                DType::F64,
                shape,
                self.blocks(n).map(|w| unit_f64(w[0], w[1])).collect(),
            ),
            d => Err(KernelError::DType { op: "rand", dtype: d }),
        }
    }

    /// `randn(shape)`: standard normal.
    pub fn normal(&mut self, shape: Vec<usize>, dtype: DType) -> KResult<Tensor> {
        let n = checked_numel(&shape)?;
        match dtype {
            DType::F32 => Tensor::from_f32s(shape, self.blocks(n).map(|w| normal(w) as f32).collect()),
            DType::F64 => Tensor::from_f64s(DType::F64, shape, self.blocks(n).map(normal).collect()),
            d => Err(KernelError::DType {
                op: "randn",
                dtype: d,
            }),
        }
    }

    /// `permutation(n)`: `0..n` ordered by random 64-bit keys (ties, which
    /// have probability about n²/2⁶⁵, by position).
    pub fn permutation(&mut self, n: i64) -> KResult<Tensor> {
        let len = usize::try_from(n).map_err(|_| KernelError::NegativeSize {
            what: "permutation",
            value: n,
        })?;
        let mut keyed: Vec<(u64, i64)> = self
            .blocks(len)
            .zip(0i64..)
            .map(|(w, i)| ((u64::from(w[0]) << 32) | u64::from(w[1]), i))
            .collect();
        keyed.sort_unstable();
        Tensor::from_i64s(vec![len], keyed.into_iter().map(|(_, i)| i).collect())
    }

    /// `sample_bernoulli(p)`: 1 with probability `p`, elementwise.
    pub fn bernoulli(&mut self, p: &Tensor) -> KResult<Tensor> {
        let probs = p.to_f64_vec();
        for &q in &probs {
            if q.is_nan() || !(0.0..=1.0).contains(&q) {
                return Err(KernelError::BadProbabilities {
                    detail: format!("a Bernoulli probability is {q}, outside [0, 1]"),
                });
            }
        }
        let z = probs
            .iter()
            .zip(self.blocks(probs.len()))
            .map(|(&q, w)| i64::from(unit_f64(w[0], w[1]) < q))
            .collect();
        Tensor::from_i64s(p.shape().to_vec(), z)
    }

    /// `sample_categorical(probs)`: an index into the last axis per row,
    /// `k` with probability `probs[…, k]`.
    pub fn categorical(&mut self, probs: &Tensor) -> KResult<Tensor> {
        let shape = probs.shape();
        let (&k, rows_shape) = shape.split_last().ok_or_else(|| KernelError::BadProbabilities {
            detail: "`sample_categorical` needs a vector of probabilities, found a scalar".into(),
        })?;
        let values = probs.to_f64_vec();
        let rows: Vec<&[f64]> = if k == 0 {
            Vec::new()
        } else {
            values.chunks(k).collect()
        };
        let n_rows = checked_numel(rows_shape)?;
        if k == 0 {
            return Err(KernelError::BadProbabilities {
                detail: "`sample_categorical` over zero categories".into(),
            });
        }
        for row in &rows {
            check_row(row)?;
        }
        let z = rows
            .iter()
            .zip(self.blocks(n_rows))
            .map(|(row, w)| pick(row, unit_f64(w[0], w[1])))
            .collect();
        Tensor::from_i64s(rows_shape.to_vec(), z)
    }
}

/// Rejects a row with a negative or NaN entry or a sum away from 1.
fn check_row(row: &[f64]) -> KResult<()> {
    if let Some(q) = row.iter().find(|q| q.is_nan() || **q < 0.0) {
        return Err(KernelError::BadProbabilities {
            detail: format!("a category has probability {q}"),
        });
    }
    let total: f64 = row.iter().sum();
    if (total - 1.0).abs() > 1e-5 {
        return Err(KernelError::BadProbabilities {
            detail: format!("the probabilities sum to {total}, not 1"),
        });
    }
    Ok(())
}

/// The first index whose cumulative probability exceeds `u` (scaled by the
/// row's sum, so rounding never runs past the end); zero-probability
/// categories are never chosen.
fn pick(row: &[f64], u: f64) -> i64 {
    let total: f64 = row.iter().sum();
    let target = u * total;
    let mut acc = 0.0;
    let mut last_positive = 0;
    for (i, &q) in row.iter().enumerate() {
        if q > 0.0 {
            acc += q;
            last_positive = i;
            if target < acc {
                return i as i64;
            }
        }
    }
    last_positive as i64
}

/// `d log p(z) / d p` for Bernoulli samples `z` of probabilities `p`:
/// `1/p` where `z = 1`, `-1/(1-p)` where `z = 0`.
pub fn score_bernoulli(p: &Tensor, z: &Tensor) -> KResult<Tensor> {
    let (ps, zs) = (p.to_f64_vec(), z.to_i64_vec());
    let g = ps
        .iter()
        .zip(&zs)
        .map(|(&q, &s)| if s != 0 { 1.0 / q } else { -1.0 / (1.0 - q) })
        .collect();
    Tensor::from_f64s(p.dtype(), p.shape().to_vec(), g)
}

/// `d log p(z) / d probs` for categorical samples: `1/probs[…, z]` at the
/// sampled index of each row, zero elsewhere.
pub fn score_categorical(probs: &Tensor, z: &Tensor) -> KResult<Tensor> {
    let k = probs.shape().last().copied().unwrap_or(0);
    let values = probs.to_f64_vec();
    let mut g = vec![0.0; values.len()];
    if k > 0 {
        for ((row, out), &s) in values.chunks(k).zip(g.chunks_mut(k)).zip(&z.to_i64_vec()) {
            let s = usize::try_from(s).unwrap_or(usize::MAX);
            if let (Some(q), Some(o)) = (row.get(s), out.get_mut(s)) {
                *o = 1.0 / q;
            }
        }
    }
    Tensor::from_f64s(probs.dtype(), probs.shape().to_vec(), g)
}

#[cfg(test)]
#[path = "random_tests.rs"]
mod tests;
