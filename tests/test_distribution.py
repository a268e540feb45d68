import pytest

from albert_tf.training import distribution
from albert_tf.training.distribution import (StrategyError, auto_jit_compile, auto_precision,
                                             cpu_has_bfloat16, create_strategy, device_type)


def test_strategy_errors_name_the_problem(monkeypatch):
    with pytest.raises(StrategyError, match="--strategy must be one of"):
        create_strategy("parameter_server")
    with pytest.raises(StrategyError, match="--num_gpus=4 but only 0 GPU"):
        create_strategy("mirrored", num_gpus=4)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(StrategyError, match="needs the TF_CONFIG environment variable"):
        create_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(StrategyError, match="TF_CONFIG is not valid JSON"):
        create_strategy("multi_worker")
    with pytest.raises(StrategyError, match="--strategy=tpu needs --tpu"):
        create_strategy("tpu")


def test_auto_without_accelerators_is_one_device():
    strategy = create_strategy("auto")
    assert type(strategy).__name__ == "OneDeviceStrategy"
    assert strategy.num_replicas_in_sync == 1


def test_cpu_bfloat16_detection_reads_the_instruction_flags(tmp_path):
    flags = "flags\t\t: fpu sse2 avx2 avx512f {}\n"
    (tmp_path / "bf16").write_text(flags.format("avx512_bf16"))
    (tmp_path / "amx").write_text(flags.format("amx_bf16 amx_tile"))
    (tmp_path / "none").write_text(flags.format("avx512_vnni"))
    assert cpu_has_bfloat16(str(tmp_path / "bf16")) and cpu_has_bfloat16(str(tmp_path / "amx"))
    assert not cpu_has_bfloat16(str(tmp_path / "none"))
    assert not cpu_has_bfloat16(str(tmp_path / "missing"))


@pytest.mark.parametrize("has_bf16, expected", [(True, "mixed_bfloat16"), (False, "float32")])
def test_auto_precision_and_jit_on_cpu(monkeypatch, has_bf16, expected):
    monkeypatch.setattr(distribution, "cpu_has_bfloat16", lambda: has_bf16)
    strategy = create_strategy("one_device")
    assert device_type(strategy) == "cpu"
    assert auto_precision(strategy) == expected
    assert auto_jit_compile(strategy) is False
