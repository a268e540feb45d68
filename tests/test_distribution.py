import pytest

from albert_tf.training.distribution import StrategyError, create_strategy


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
