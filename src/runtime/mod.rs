//! The runtime: tensors and their kernels. Placeholder.
