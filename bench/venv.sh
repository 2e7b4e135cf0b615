# Sourced by the benchmark scripts from the repository root: sets VENV to
# the Python environment with NumPy, JAX (CPU) and PyTorch, bench/.venv
# unless VENV is already set, and makes it there when it is missing.
VENV="${VENV:-bench/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet numpy "jax[cpu]"
  # The CPU-only wheel when its index is reachable, else PyPI's.
  "$VENV/bin/pip" install --quiet --timeout 20 --retries 0 torch \
      --index-url https://download.pytorch.org/whl/cpu 2>/dev/null \
    || "$VENV/bin/pip" install --quiet torch
fi
