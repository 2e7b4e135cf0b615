//! Automatic differentiation as IR-to-IR transformations of specialized
//! functions. `reverse` builds vector-Jacobian products; `api` builds the
//! functions behind `grad`, `value_and_grad` and `vjp` from them. The
//! results are ordinary typed IR, run by every backend and differentiable
//! again.

pub mod activity;
pub mod api;
pub mod emit;
pub mod forward;
mod forward_rules;
pub mod gradcheck;
mod nn_rules;
pub mod reverse;
pub mod rules;
pub mod source;
pub mod stochastic;
