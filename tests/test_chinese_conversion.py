"""Converting Chinese ALBERT checkpoints: Google's Chinese releases (original names,
vocab_chinese.txt), brightmart/albert_zh's own models (BERT names, one `layer_shared`
block, the word lookup projected first) and Hugging Face folders with a vocab.txt; each
written under its real names and checked against a NumPy forward pass."""

import json
import os
import shutil

import numpy as np
import pytest

from albert_tf.checkpoints.conversion import ConversionError, convert_checkpoint
from albert_tf.config import AlbertConfig, ConfigError
from albert_tf.data.wordpiece_tokenizer import WordPieceTokenizer
from albert_tf.models import AlbertPretrainer
from tests.helpers import SHARED_DATA, parameter_formula
from tests.reference import feed_forward, layer_norm, self_attention
from tests.test_conversion import (check_outputs, embedding_and_head_shapes, hf_arrays,
                                   original_arrays, pooler_and_heads_reference, write_hf_config,
                                   write_safetensors, write_tf1_checkpoint)

CHINESE = os.path.join(SHARED_DATA, "chinese")
GOOGLE_TINY_CONFIG = os.path.join(CHINESE, "albert_config_tiny_google.json")
VOCAB = os.path.join(CHINESE, "vocab.txt")
needs_chinese_data = pytest.mark.skipif(
    not all(os.path.exists(p) for p in (GOOGLE_TINY_CONFIG, VOCAB)),
    reason="the Chinese data is not in ../shared/data")


def small_vocab(path, size):
    """A WordPiece vocabulary of `size` entries: the specials, then CJK characters."""
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens += [chr(0x4E00 + i) for i in range(size - len(tokens))]
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return path


@needs_chinese_data
def test_google_chinese_release_converts_with_its_vocabulary(tmp_path):
    # The released config loads as it is (its variant keys are the original's defaults).
    config = AlbertConfig.from_json_file(GOOGLE_TINY_CONFIG)
    assert (config.vocab_size, config.hidden_size, config.num_hidden_layers) == (21128, 312, 4)
    arrays = original_arrays(config, seed=3)
    source = tmp_path / "albert_tiny_zh"
    source.mkdir()
    shutil.copyfile(GOOGLE_TINY_CONFIG, source / "albert_config.json")
    shutil.copyfile(VOCAB, source / "vocab_chinese.txt")
    prefix = write_tf1_checkpoint(str(source / "albert_model.ckpt"), arrays)
    output = tmp_path / "converted"
    report = convert_checkpoint(prefix, str(output))
    assert len(report.mapped) == len(arrays) and report.unused == [] and report.missing == []
    assert report.tokenizer == (f"vocab_chinese.txt (WordPiece vocabulary, 21128 entries): "
                                f"pass --vocab_file={output / 'vocab_chinese.txt'}")
    assert (output / "vocab_chinese.txt").read_bytes() == (source / "vocab_chinese.txt").read_bytes()
    assert "tokenizer vocab_chinese.txt" in (output / "conversion_report.txt").read_text()
    check_outputs(output, config, arrays, atol=5e-5)
    # The copied vocabulary gives the released ids.
    tokenizer = WordPieceTokenizer(str(output / "vocab_chinese.txt"))
    assert tokenizer.encode("中国") == [704, 1744]


def brightmart_config_values(**overrides):
    """A brightmart/albert_zh config as it ships (BERT's pooler keys, ln_type), small."""
    return {"attention_probs_dropout_prob": 0.0, "directionality": "bidi",
            "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "hidden_size": 32,
            "embedding_size": 16, "initializer_range": 0.02, "intermediate_size": 48,
            "max_position_embeddings": 32, "num_attention_heads": 4, "num_hidden_layers": 3,
            "pooler_fc_size": 768, "pooler_num_attention_heads": 12, "pooler_num_fc_layers": 3,
            "pooler_size_per_head": 128, "pooler_type": "first_token_transform",
            "type_vocab_size": 2, "vocab_size": 60, "ln_type": "postln", **overrides}


def brightmart_arrays(values, seed=0):
    rng = np.random.default_rng(seed)
    V, E, H, I = (values["vocab_size"], values["embedding_size"], values["hidden_size"],
                  values["intermediate_size"])
    shapes = embedding_and_head_shapes(V, E, H, values["max_position_embeddings"], H)
    shapes["bert/embeddings/word_embeddings_2"] = (E, H)
    p = "bert/encoder/layer_shared/"
    for name in ("query", "key", "value"):
        shapes[p + f"attention/self/{name}/kernel"] = (H, H)
        shapes[p + f"attention/self/{name}/bias"] = (H,)
    shapes.update({p + "attention/output/dense/kernel": (H, H),
                   p + "attention/output/dense/bias": (H,),
                   p + "attention/output/LayerNorm/gamma": (H,),
                   p + "attention/output/LayerNorm/beta": (H,),
                   p + "intermediate/dense/kernel": (H, I), p + "intermediate/dense/bias": (I,),
                   p + "output/dense/kernel": (I, H), p + "output/dense/bias": (H,),
                   p + "output/LayerNorm/gamma": (H,), p + "output/LayerNorm/beta": (H,)})
    return {name: rng.normal(0.0, 0.3, shape).astype("float32")
            for name, shape in shapes.items()}


def brightmart_reference(a, values, batch):
    """brightmart/albert_zh's modeling.py and run_pretraining.py heads, in NumPy."""
    ids, mask, segments = batch["input_ids"], batch["input_mask"], batch["segment_ids"]
    x = a["bert/embeddings/word_embeddings"][ids] @ a["bert/embeddings/word_embeddings_2"]
    x = (x + a["bert/embeddings/token_type_embeddings"][segments]
         + a["bert/embeddings/position_embeddings"][:ids.shape[1]])
    h = layer_norm(x, a["bert/embeddings/LayerNorm/gamma"], a["bert/embeddings/LayerNorm/beta"])
    p = "bert/encoder/layer_shared/"
    attention = {f"{n[0]}_w": a[p + f"attention/self/{n}/kernel"] for n in ("query", "key", "value")}
    attention.update({f"{n[0]}_b": a[p + f"attention/self/{n}/bias"]
                      for n in ("query", "key", "value")})
    attention.update(o_w=a[p + "attention/output/dense/kernel"],
                     o_b=a[p + "attention/output/dense/bias"],
                     ln_g=a[p + "attention/output/LayerNorm/gamma"],
                     ln_b=a[p + "attention/output/LayerNorm/beta"])
    ffn = {"i_w": a[p + "intermediate/dense/kernel"], "i_b": a[p + "intermediate/dense/bias"],
           "o_w": a[p + "output/dense/kernel"], "o_b": a[p + "output/dense/bias"],
           "ln_g": a[p + "output/LayerNorm/gamma"], "ln_b": a[p + "output/LayerNorm/beta"]}
    for _ in range(values["num_hidden_layers"]):
        h = feed_forward(self_attention(h, mask.astype("float64"), attention,
                                        values["num_attention_heads"]), ffn)
    # The MLM transform is H wide and goes back to E through the projection, transposed.
    return pooler_and_heads_reference(a, h, batch, a["bert/embeddings/word_embeddings_2"].T)


def write_brightmart(folder, values, arrays):
    folder.mkdir()
    (folder / "albert_config.json").write_text(json.dumps(values))
    small_vocab(folder / "vocab.txt", values["vocab_size"])
    return write_tf1_checkpoint(str(folder / "model.ckpt-125000"),
                                {**arrays, "global_step": np.int64(125000)})


@pytest.mark.parametrize("embedding_size", [16, 32])  # E < H, and E == H (still projected)
def test_brightmart_checkpoint_converts_to_the_same_function(tmp_path, embedding_size):
    values = brightmart_config_values(embedding_size=embedding_size)
    arrays = brightmart_arrays(values, seed=embedding_size)
    prefix = write_brightmart(tmp_path / "albert_tiny_zh", values, arrays)
    output = tmp_path / "converted"
    report = convert_checkpoint(prefix, str(output))
    assert len(report.mapped) == len(arrays) and report.missing == [] and report.unused == []
    assert report.skipped == ["global_step"]
    assert "mapped  embeddings/embedding_hidden_mapping_in/kernel <- " \
           "bert/embeddings/word_embeddings_2" in report.text()
    assert report.tokenizer.startswith("vocab.txt (WordPiece vocabulary, 60 entries)")
    config = AlbertConfig.from_json_file(str(output / "albert_config.json"))
    assert config.embedding_layout == "project_first"
    check_outputs(output, config, arrays,
                  forward=lambda a, _, batch: brightmart_reference(a, values, batch))
    # Parameters: the H-wide position/type tables and LayerNorm, a bias-free projection,
    # and an H-wide MLM transform, instead of the original's E-wide ones.
    V, E, H = config.vocab_size, config.embedding_size, config.hidden_size
    P, T = config.max_position_embeddings, config.type_vocab_size
    original = parameter_formula(config)
    expected = (sum(original.values()) - original["embedding"] - original["projection"]
                - original["mlm_head"] + (V * E + P * H + T * H + 2 * H) + E * H
                + (H * H + H + 2 * H + V))
    assert AlbertPretrainer(config).count_params() == expected == sum(
        a.size for a in arrays.values())


def test_brightmart_pre_ln_models_are_refused(tmp_path):
    values = brightmart_config_values(ln_type="preln")
    prefix = write_brightmart(tmp_path / "albert_xlarge_zh", values, brightmart_arrays(values))
    with pytest.raises(ConfigError, match="ln_type='preln' .* is not supported"):
        convert_checkpoint(prefix, str(tmp_path / "converted"))
    assert not (tmp_path / "converted").exists()


def test_hugging_face_chinese_folder_with_vocab_txt(tmp_path):
    config = AlbertConfig(vocab_size=60, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                          num_attention_heads=4, intermediate_size=48, max_position_embeddings=32)
    arrays = original_arrays(config, seed=9)
    folder = write_hf_config(tmp_path / "albert_chinese_tiny", config,
                             tokenizer_class="BertTokenizer")
    write_safetensors(folder / "model.safetensors", hf_arrays(arrays, config))
    small_vocab(folder / "vocab.txt", 60)
    output = tmp_path / "converted"
    report = convert_checkpoint(str(folder), str(output))
    assert report.missing == [] and report.unused == []
    assert report.tokenizer == (f"vocab.txt (WordPiece vocabulary, 60 entries): pass "
                                f"--vocab_file={output / 'vocab.txt'}")
    check_outputs(output, config, arrays)


def test_a_tokenizer_of_another_size_is_refused(tmp_path):
    config = AlbertConfig(vocab_size=60, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                          num_attention_heads=4, intermediate_size=48, max_position_embeddings=32)
    folder = write_hf_config(tmp_path / "hf", config)
    write_safetensors(folder / "model.safetensors", hf_arrays(original_arrays(config), config))
    small_vocab(folder / "vocab.txt", 50)
    with pytest.raises(ConversionError, match=r"vocab.txt: 50 entries, but the config's "
                                              r"vocab_size is 60"):
        convert_checkpoint(str(folder), str(tmp_path / "converted"))
    assert not (tmp_path / "converted").exists()
