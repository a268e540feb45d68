"""The serving measurement every system gets (NumPy only: it runs in the TensorFlow
processes of `bench_serve.py` and in the PyTorch process of `hf_peer.py`)."""

import time

import numpy as np


def time_serving(predict, texts, calls: int, batch: int) -> dict:
    """`predict(list of texts)` timed: batch-1 latency p50/p99 over `calls` requests (the
    texts in turn) and the throughput of all `texts` in requests of `batch`, after three
    warm-up rounds of each shape."""
    for number in range(3):
        predict(texts[number:number + 1])
        predict(texts[:batch])
    latencies = []
    for number in range(calls):
        text = texts[number % len(texts)]
        start = time.perf_counter()
        predict([text])
        latencies.append(time.perf_counter() - start)
    start = time.perf_counter()
    for first in range(0, len(texts), batch):
        predict(texts[first:first + batch])
    seconds = time.perf_counter() - start
    return {"p50_ms": 1e3 * float(np.percentile(latencies, 50)),
            "p99_ms": 1e3 * float(np.percentile(latencies, 99)),
            "sequences_per_second": len(texts) / seconds}
