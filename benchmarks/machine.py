"""What a speed figure needs beside it: the CPU's vector flags and TensorFlow's float32
matmul peak, measured in the same run."""

import time


def cpu_flags() -> str:
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        words = set(next(line for line in handle if line.startswith("flags")).split())
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8", "avx_vnni",
              "avx512_vnni")
    return " ".join(flag for flag in wanted if flag in words)


def matmul_peak(dtype: str = "float32", size: int = 2048, repeats: int = 16) -> float:
    """FLOP/s of a square TensorFlow matmul chain at `dtype` (best of three timings)."""
    import tensorflow as tf

    a = tf.random.normal((size, size), dtype=tf.float32)
    a = tf.cast(a / size ** 0.5, dtype)

    @tf.function
    def chain(x):
        for _ in range(repeats):
            x = tf.matmul(x, a)
        return x

    chain(a).numpy()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        chain(a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2.0 * size ** 3 * repeats / best
