"""Choosing a tf.distribute strategy from a flag value."""

import json
import os
from typing import Optional

import tensorflow as tf
from absl import logging

from albert_tf.errors import AlbertTfError

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")


class StrategyError(AlbertTfError, ValueError):
    """A strategy that cannot run here; the message says why."""


def create_strategy(name: str = "auto", num_gpus: Optional[int] = None,
                    tpu: Optional[str] = None) -> tf.distribute.Strategy:
    """The strategy for `--strategy`.

    auto: TPU when `tpu` is given, else Mirrored over all GPUs when there are several,
    else one device. mirrored: over `num_gpus` GPUs (all by default), or over every
    logical CPU device when there is no GPU. multi_worker: needs TF_CONFIG.

    Example:

    >>> type(create_strategy("one_device")).__name__
    'OneDeviceStrategy'
    """
    if name not in STRATEGIES:
        raise StrategyError(f"--strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "multi_worker":
        # Collective ops must be configured before anything initializes the TF runtime
        # (listing devices does), so this comes first.
        return _log(_multi_worker_strategy())
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    if num_gpus is not None:
        if num_gpus > len(gpus):
            raise StrategyError(f"--num_gpus={num_gpus} but only {len(gpus)} GPU(s) are visible")
        gpus = gpus[:num_gpus]
    if name == "auto":
        name = "tpu" if tpu else ("mirrored" if len(gpus) > 1 else "one_device")
    if name == "one_device":
        strategy = tf.distribute.OneDeviceStrategy(gpus[0] if gpus else "/cpu:0")
    elif name == "mirrored":
        devices = gpus or [device.name for device in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices)
    else:
        if not tpu:
            raise StrategyError("--strategy=tpu needs --tpu (a TPU name or grpc:// address)")
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        strategy = tf.distribute.TPUStrategy(resolver)
    return _log(strategy)


def device_type(strategy: tf.distribute.Strategy) -> str:
    """"tpu", "gpu" or "cpu": what the strategy's replicas run on."""
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "tpu"
    devices = " ".join(strategy.extended.worker_devices).upper()
    return "gpu" if "GPU" in devices else "cpu"


def cpu_has_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU has bfloat16 matrix instructions (AVX512-BF16 or AMX)."""
    try:
        with open(cpuinfo, encoding="utf-8") as handle:
            flags = set(handle.read().split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def _gpu_has_bfloat16() -> bool:
    details = [tf.config.experimental.get_device_details(device)
               for device in tf.config.list_physical_devices("GPU")]
    return bool(details) and all(detail.get("compute_capability", (0, 0)) >= (8, 0)
                                 for detail in details)


def auto_precision(strategy: tf.distribute.Strategy) -> str:
    """`--precision=auto`: mixed_bfloat16 on TPUs, on GPUs from Ampere on and on CPUs with
    bfloat16 instructions (measured on an AVX512-BF16 CPU: ALBERT-base pretraining 1.6x
    float32, BENCHMARKS.md); mixed_float16 on older GPUs; float32 otherwise."""
    kind = device_type(strategy)
    if kind == "tpu":
        return "mixed_bfloat16"
    if kind == "gpu":
        return "mixed_bfloat16" if _gpu_has_bfloat16() else "mixed_float16"
    return "mixed_bfloat16" if cpu_has_bfloat16() else "float32"


def auto_jit_compile(strategy: tf.distribute.Strategy) -> bool:
    """The default of `--jit_compile`: XLA on TPUs and GPUs, not on CPUs, where it slowed
    the ALBERT-base pretraining step (float32 0.91x, bfloat16 0.55x; BENCHMARKS.md)."""
    return device_type(strategy) != "cpu"


def _multi_worker_strategy() -> tf.distribute.Strategy:
    if "TF_CONFIG" not in os.environ:
        raise StrategyError("--strategy=multi_worker needs the TF_CONFIG environment "
                            "variable (cluster and task of this worker)")
    try:
        json.loads(os.environ["TF_CONFIG"])
    except ValueError as error:
        raise StrategyError(f"TF_CONFIG is not valid JSON: {error}") from None
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as error:
        raise StrategyError(f"cannot start MultiWorkerMirroredStrategy ({error}): create the "
                            "strategy before any other TensorFlow work") from None


def _log(strategy: tf.distribute.Strategy) -> tf.distribute.Strategy:
    logging.info("strategy %s with %d replica(s)", type(strategy).__name__,
                 strategy.num_replicas_in_sync)
    return strategy
