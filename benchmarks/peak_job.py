"""The machine's matrix-product speed on the backend that `KERAS_BACKEND`
names: GFLOP/s of `keras.ops.matmul` of a `[rows, 1024] x [1024, 1024]`
product, float32 and bfloat16, the fastest of a few calls. On JAX also a
bfloat16 product with a float32 result (`preferred_element_type`), which
`keras.ops.matmul` does not ask for: XLA's CPU backend runs that one much
faster than a bfloat16 result (benchmarks/RESULTS.md, Machines).

A roofline for the model workloads: their steps are mostly matrix products
and convolutions (`flops.py`), so a run's GFLOP/s over this figure is the
share of the machine's matrix speed it uses.
"""

import time

import common
import keras
import numpy as np

WIDTH = 1024


def fastest_gflop_per_sec(rows, dtype, calls, product=keras.ops.matmul):
    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.standard_normal((rows, WIDTH)), dtype=dtype)
    b = keras.ops.convert_to_tensor(rng.standard_normal((WIDTH, WIDTH)), dtype=dtype)
    seconds = []
    for _ in range(calls + 1):
        start = time.perf_counter()
        # Summing waits for the product (JAX dispatches ahead) and copies
        # back one number instead of the matrix (as float32: TensorFlow
        # cannot hand NumPy a bfloat16 scalar).
        total = keras.ops.sum(product(a, b))
        keras.ops.convert_to_numpy(keras.ops.cast(total, "float32"))
        seconds.append(time.perf_counter() - start)
    # The first call warms up (compiles, on JAX) and is not counted.
    return 2 * rows * WIDTH * WIDTH / min(seconds[1:]) / 1e9


def main():
    spec = common.job_spec()
    rows, calls = spec.get("rows", 8192), max(1, spec.get("calls", 5))
    record = {
        "impl": "matmul",
        "backend": keras.backend.backend(),
        "rows": rows,
        "float32_gflop_per_sec": round(
            fastest_gflop_per_sec(rows, "float32", calls), 1
        ),
        "bfloat16_gflop_per_sec": round(
            fastest_gflop_per_sec(rows, "bfloat16", calls), 1
        ),
    }
    if keras.backend.backend() == "jax":
        import jax.numpy as jnp

        def float32_result(a, b):
            return jnp.matmul(a, b, preferred_element_type="float32")

        record["bfloat16_float32_result_gflop_per_sec"] = round(
            fastest_gflop_per_sec(rows, "bfloat16", calls, float32_result), 1
        )
    common.emit(record)


if __name__ == "__main__":
    main()
