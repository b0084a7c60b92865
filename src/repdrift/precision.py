"""Matrix products in the arrays' own precision, on every device.

By default JAX lets a GPU compute float32 matrix products and convolutions in
TensorFloat-32, whose inputs keep a 10-bit mantissa (a relative error of ~10⁻³ per
product, against ~10⁻⁷ in float32). On an NVIDIA H200 that changed the drift: over the
1,151 runs of ``table2-quick``, Adam's final loss was 10^-4.95 against 10^-5.80 on a CPU
(median, paired by run), its Hessian's eigenvalues 0.5–3 % lower, and the active fraction
of label-noise runs differed (docs/performance.md, "On a GPU"). So every product and
convolution of the project's JAX programs asks for :data:`MATMUL`: the engine's compiled
step and measurement trace under ``jax.default_matmul_precision(MATMUL)``, and the network's
forward pass, the task smoothing and the similarity-matching network's fixed points name it
where they run outside the engine. On a CPU, which computes float32 products in float32
whatever is asked, the records are the same bit for bit.
"""

from __future__ import annotations

#: ``jax.default_matmul_precision`` / ``precision=`` of every product: the arrays' own
#: precision (float32 in float32, float64 in float64).
MATMUL = "highest"
