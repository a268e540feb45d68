import json
import os

import pytest

from albert_tf.config import PRESETS, AlbertConfig, ConfigError

# The albert_config.json shipped with the original albert_base v2 release.
ORIGINAL_BASE_V2 = {
    "attention_probs_dropout_prob": 0,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0,
    "embedding_size": 128,
    "hidden_size": 768,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "num_hidden_groups": 1,
    "net_structure_type": 0,
    "gap_size": 0,
    "num_memory_blocks": 0,
    "inner_group_num": 1,
    "down_scale_factor": 1,
    "type_vocab_size": 2,
    "vocab_size": 30000,
}


def test_original_format_file_loads_and_ignores_variant_keys(tmp_path, caplog):
    path = tmp_path / "albert_config.json"
    path.write_text(json.dumps(ORIGINAL_BASE_V2))
    with caplog.at_level("INFO", logger="absl"):
        config = AlbertConfig.from_json_file(str(path))
    assert config == AlbertConfig.from_preset("base")
    assert config.layer_norm_eps == 1e-12 and config.sharing == "all"
    ignored = " ".join(record.getMessage() for record in caplog.records)
    for key in ("net_structure_type", "gap_size", "num_memory_blocks", "down_scale_factor"):
        assert key in ignored


def test_json_round_trip_is_atomic_and_exact(tmp_path):
    config = AlbertConfig.from_preset("large", sharing="ffn", num_hidden_groups=2, inner_group_num=2)
    path = tmp_path / "sub" / "albert_config.json"
    config.to_json_file(str(path))
    assert os.listdir(path.parent) == ["albert_config.json"]  # no temp file left behind
    assert AlbertConfig.from_json_file(str(path)) == config
    assert json.loads(path.read_text())["sharing"] == "ffn"


@pytest.mark.parametrize("name, hidden, layers, heads, inner", [
    ("base", 768, 12, 12, 3072),
    ("large", 1024, 24, 16, 4096),
    ("xlarge", 2048, 24, 16, 8192),
    ("xxlarge", 4096, 12, 64, 16384),
])
def test_presets_match_released_v2_configs(name, hidden, layers, heads, inner):
    config = AlbertConfig.from_preset(name)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
            config.intermediate_size) == (hidden, layers, heads, inner)
    assert (config.embedding_size, config.vocab_size) == (128, 30000)
    assert config.hidden_dropout_prob == 0 and config.attention_probs_dropout_prob == 0


def test_preset_names_and_unknown_preset():
    assert set(PRESETS) == {"base", "large", "xlarge", "xxlarge", "tiny"}
    with pytest.raises(ConfigError, match="unknown preset 'huge'; expected one of base"):
        AlbertConfig.from_preset("huge")


def test_group_of_layer_follows_original_formula():
    config = AlbertConfig(num_hidden_layers=12, num_hidden_groups=3)
    assert [config.group_of_layer(layer) for layer in range(12)] == [0] * 4 + [1] * 4 + [2] * 4


@pytest.mark.parametrize("changes, message", [
    (dict(hidden_size=100, num_attention_heads=12),
     r"hidden_size \(100\) must be divisible by num_attention_heads \(12\)"),
    (dict(num_hidden_layers=12, num_hidden_groups=5),
     r"num_hidden_layers \(12\) must be divisible by num_hidden_groups \(5\)"),
    (dict(vocab_size=0), "vocab_size must be a positive integer, got 0"),
    (dict(embedding_size=-3), "embedding_size must be a positive integer, got -3"),
    (dict(intermediate_size=3.5), "intermediate_size must be a positive integer, got 3.5"),
    (dict(hidden_dropout_prob=1.0), r"hidden_dropout_prob must be in \[0, 1\), got 1.0"),
    (dict(attention_probs_dropout_prob=-0.1), r"attention_probs_dropout_prob must be in \[0, 1\)"),
    (dict(hidden_act="gelu_fast"), "hidden_act 'gelu_fast' is not supported; expected one of gelu"),
    (dict(sharing="some"), "sharing 'some' is not supported; expected one of all, attention, ffn, none"),
    (dict(embedding_layout="sum_first"),
     "embedding_layout 'sum_first' is not supported; expected one of original, project_first"),
    (dict(sharing="none", num_hidden_groups=2),
     r"sharing='none' gives every layer its own block, so num_hidden_groups must be 1 or"),
    (dict(layer_norm_eps=0), "layer_norm_eps must be a positive number"),
])
def test_validation_errors_name_the_field(changes, message):
    with pytest.raises(ConfigError, match=message):
        AlbertConfig(**changes)


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="missing.json: config file not found"):
        AlbertConfig.from_json_file(str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "hidden_size": 768,\n  oops\n}')
    with pytest.raises(ConfigError, match=r"broken.json: not valid JSON \(line 3"):
        AlbertConfig.from_json_file(str(broken))
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({**ORIGINAL_BASE_V2, "hiden_size": 3}))
    with pytest.raises(ConfigError, match="unknown.json: unknown key 'hiden_size'"):
        AlbertConfig.from_json_file(str(unknown))
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({**ORIGINAL_BASE_V2, "num_attention_heads": 7}))
    with pytest.raises(ConfigError, match=r"invalid.json: hidden_size \(768\) must be divisible"):
        AlbertConfig.from_json_file(str(invalid))
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="list.json: expected a JSON object, got list"):
        AlbertConfig.from_json_file(str(listed))
