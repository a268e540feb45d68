"""Export to Hugging Face: the folder's safetensors file read by a parser written here from
the format's spec, its tensors against the ones written independently under Hugging Face's
names (tests/test_conversion.hf_arrays), a NumPy forward pass that follows Hugging Face's
modeling_albert over the exported tensors, round trips HF -> ours -> HF, and the refusals."""

import json
import os
import struct

import numpy as np
import pytest

from albert_tf.checkpoints.conversion import ConversionError, convert_checkpoint
from albert_tf.checkpoints.hugging_face import write_hugging_face
from albert_tf.checkpoints.warm_start import warm_start
from albert_tf.config import AlbertConfig
from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer
from albert_tf.models import AlbertClassifier, AlbertEncoder, AlbertPretrainer
from albert_tf.models.answerability_qa import AlbertAnswerabilityQA
from albert_tf.models.question_answering import AlbertQuestionAnswering
from tests.reference import feed_forward, layer_norm, randomize, self_attention
from tests.test_conversion import (a_batch, hf_arrays, make_config, original_arrays,
                                   write_hf_config, write_safetensors, write_tf1_checkpoint)

DTYPES = {"F32": np.float32, "I64": np.int64}


def parse_safetensors(path):
    """(tensors, metadata) of a .safetensors file, checked against the format's spec: an
    8-byte little-endian header size, a JSON header of {name: {dtype, shape,
    data_offsets}} (and `__metadata__`), then the data, each tensor's bytes [begin, end)
    of it, contiguous, in order, covering it all."""
    raw = open(path, "rb").read()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size].decode("utf-8"))
    data = raw[8 + size:]
    metadata = header.pop("__metadata__", {})
    spans = sorted((entry["data_offsets"], name) for name, entry in header.items())
    position = 0
    tensors = {}
    for (begin, end), name in spans:
        entry = header[name]
        assert begin == position, f"{name} does not follow the previous tensor"
        dtype = DTYPES[entry["dtype"]]
        assert end - begin == int(np.prod(entry["shape"])) * np.dtype(dtype).itemsize, name
        tensors[name] = np.frombuffer(data[begin:end], dtype).reshape(entry["shape"])
        position = end
    assert position == len(data), "bytes after the last tensor"
    return tensors, metadata


def hf_forward(tensors, values, batch, prefix="albert."):
    """Hugging Face's AlbertModel over its own tensors ([out, in] weights, its group
    formula int(i / (layers / groups))), in NumPy: (sequence output, pooled output)."""
    def dense(name, x):
        return x @ tensors[f"{prefix}{name}.weight"].T + tensors[f"{prefix}{name}.bias"]

    def norm(name, x):
        return layer_norm(x, tensors[f"{prefix}{name}.weight"], tensors[f"{prefix}{name}.bias"],
                          values["layer_norm_eps"])

    ids, mask, segments = batch["input_ids"], batch["input_mask"], batch["segment_ids"]
    x = (tensors[f"{prefix}embeddings.word_embeddings.weight"][ids]
         + tensors[f"{prefix}embeddings.token_type_embeddings.weight"][segments]
         + tensors[f"{prefix}embeddings.position_embeddings.weight"][:ids.shape[1]])
    h = dense("encoder.embedding_hidden_mapping_in", norm("embeddings.LayerNorm", x))
    layers, groups = values["num_hidden_layers"], values["num_hidden_groups"]
    for i in range(layers):
        group = int(i / (layers / groups))
        for k in range(values["inner_group_num"]):
            p = f"encoder.albert_layer_groups.{group}.albert_layers.{k}."
            w = {f"{n[0]}_{kind[0]}": tensors[f"{prefix}{p}attention.{n}.{kind}"]
                 for n in ("query", "key", "value") for kind in ("weight", "bias")}
            attention = {"q_w": w["q_w"].T, "q_b": w["q_b"], "k_w": w["k_w"].T, "k_b": w["k_b"],
                         "v_w": w["v_w"].T, "v_b": w["v_b"],
                         "o_w": tensors[f"{prefix}{p}attention.dense.weight"].T,
                         "o_b": tensors[f"{prefix}{p}attention.dense.bias"],
                         "ln_g": tensors[f"{prefix}{p}attention.LayerNorm.weight"],
                         "ln_b": tensors[f"{prefix}{p}attention.LayerNorm.bias"]}
            h = self_attention(h, mask.astype("float64"), attention,
                               values["num_attention_heads"])
            h = feed_forward(h, {"i_w": tensors[f"{prefix}{p}ffn.weight"].T,
                                 "i_b": tensors[f"{prefix}{p}ffn.bias"],
                                 "o_w": tensors[f"{prefix}{p}ffn_output.weight"].T,
                                 "o_b": tensors[f"{prefix}{p}ffn_output.bias"],
                                 "ln_g": tensors[f"{prefix}{p}full_layer_layer_norm.weight"],
                                 "ln_b": tensors[f"{prefix}{p}full_layer_layer_norm.bias"]})
    pooled = (np.tanh(dense("pooler", h[:, 0])) if f"{prefix}pooler.weight" in tensors
              else None)
    return h, pooled


def features(batch):
    return {k: batch[k] for k in ("input_ids", "input_mask", "segment_ids")}


def converted_pretrainer(tmp_path, config, arrays):
    source = tmp_path / "original"
    source.mkdir()
    config.to_json_file(str(source / "albert_config.json"))
    prefix = write_tf1_checkpoint(str(source / "model.ckpt-1"), arrays)
    convert_checkpoint(prefix, str(tmp_path / "converted"))
    pretrainer = AlbertPretrainer(config)
    warm_start(str(tmp_path / "converted"), pretrainer, [(("model",), pretrainer)])
    return pretrainer


@pytest.mark.parametrize("groups, inner", [(1, 1), (2, 2)])
def test_a_pretrainer_exports_the_tensors_hugging_face_names(tmp_path, groups, inner):
    config = make_config(groups, inner)
    arrays = original_arrays(config, seed=groups + 3 * inner)
    pretrainer = converted_pretrainer(tmp_path, config, arrays)
    write_hugging_face(pretrainer, str(tmp_path / "hf"))
    tensors, metadata = parse_safetensors(tmp_path / "hf" / "model.safetensors")
    assert metadata == {"format": "pt"}
    expected = hf_arrays(arrays, config)
    # Hugging Face's save_pretrained leaves out what is tied or a buffer.
    for name in ("albert.embeddings.position_ids", "predictions.decoder.weight",
                 "predictions.decoder.bias"):
        del expected[name]
    assert sorted(tensors) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(tensors[name], value, err_msg=name)
    values = json.load(open(tmp_path / "hf" / "config.json"))
    assert values["architectures"] == ["AlbertForPreTraining"]
    assert {key: values[key] for key in (
        "model_type", "hidden_act", "layer_norm_eps", "embedding_size", "num_hidden_groups",
        "inner_group_num", "vocab_size", "hidden_size", "intermediate_size",
        "max_position_embeddings", "type_vocab_size", "position_embedding_type",
        "num_attention_heads", "num_hidden_layers")} == {
        "model_type": "albert", "hidden_act": "gelu_new", "layer_norm_eps": 1e-12,
        "embedding_size": 16, "num_hidden_groups": groups, "inner_group_num": inner,
        "vocab_size": 60, "hidden_size": 32, "intermediate_size": 48,
        "max_position_embeddings": 32, "type_vocab_size": 2,
        "position_embedding_type": "absolute", "num_attention_heads": 4,
        "num_hidden_layers": 4}


@pytest.mark.parametrize("architecture", ["AlbertForPreTraining",
                                          "AlbertForSequenceClassification",
                                          "AlbertForQuestionAnswering"])
def test_hugging_face_to_ours_to_hugging_face_is_bit_for_bit(tmp_path, architecture):
    config = make_config(2, 1)
    arrays = original_arrays(config, seed=11)
    tensors = {name: value for name, value in hf_arrays(arrays, config).items()
               if "decoder" not in name and "position_ids" not in name}
    rng = np.random.default_rng(3)
    if architecture != "AlbertForPreTraining":
        tensors = {name: value for name, value in tensors.items() if name.startswith("albert.")}
        if architecture == "AlbertForSequenceClassification":
            tensors["classifier.weight"] = rng.normal(size=(3, 32)).astype("float32")
            tensors["classifier.bias"] = rng.normal(size=(3,)).astype("float32")
        else:
            tensors = {n: v for n, v in tensors.items() if not n.startswith("albert.pooler")}
            tensors["qa_outputs.weight"] = rng.normal(size=(2, 32)).astype("float32")
            tensors["qa_outputs.bias"] = rng.normal(size=(2,)).astype("float32")
    folder = write_hf_config(tmp_path / "hf", config, architectures=[architecture])
    write_safetensors(folder / "model.safetensors", tensors)
    report = convert_checkpoint(str(folder), str(tmp_path / "ours"))
    assert report.unused == []
    if architecture == "AlbertForSequenceClassification":
        model = AlbertClassifier(config, 3)
    elif architecture == "AlbertForQuestionAnswering":
        model = AlbertQuestionAnswering(config)
    else:
        model = AlbertPretrainer(config)
    restored = warm_start(str(tmp_path / "ours"), model, [(("model",), model)])
    assert [path for path in restored.fresh if not path.startswith("pooler/")] == []
    write_hugging_face(model, str(tmp_path / "back"))
    back, _ = parse_safetensors(tmp_path / "back" / "model.safetensors")
    assert sorted(back) == sorted(tensors)
    for name, value in tensors.items():
        assert back[name].tobytes() == value.tobytes(), name
    assert json.load(open(tmp_path / "back" / "config.json"))["architectures"] == [architecture]


def test_a_classifier_computes_in_hugging_face_layout_what_it_computes_here(tmp_path):
    config = make_config(2, 2, embedding_size=32)  # E == H: an identity projection
    model = AlbertClassifier(config, 3, dropout_rate=0.0)
    randomize(model, seed=4, scale=0.3)
    assert model.encoder.embeddings.projection is None
    write_hugging_face(model, str(tmp_path / "hf"), labels=["neg", "neu", "pos"])
    tensors, _ = parse_safetensors(tmp_path / "hf" / "model.safetensors")
    values = json.load(open(tmp_path / "hf" / "config.json"))
    assert values["id2label"] == {"0": "neg", "1": "neu", "2": "pos"}
    assert values["label2id"] == {"neg": 0, "neu": 1, "pos": 2}
    assert values["problem_type"] == "single_label_classification"
    batch = a_batch(config)
    _, pooled = hf_forward(tensors, values, batch)
    logits = pooled @ tensors["classifier.weight"].T + tensors["classifier.bias"]
    np.testing.assert_allclose(model(features(batch)).numpy(), logits, atol=1e-4)


def test_a_question_answering_model_and_an_encoder_compute_the_same_in_hf_layout(tmp_path):
    config = make_config(1, 2)
    model = AlbertQuestionAnswering(config)
    randomize(model, seed=6, scale=0.3)
    write_hugging_face(model, str(tmp_path / "qa"))
    tensors, _ = parse_safetensors(tmp_path / "qa" / "model.safetensors")
    values = json.load(open(tmp_path / "qa" / "config.json"))
    assert values["architectures"] == ["AlbertForQuestionAnswering"]
    assert not any("pooler" in name for name in tensors)
    batch = a_batch(config)
    sequence, _ = hf_forward(tensors, values, batch)
    span = sequence @ tensors["qa_outputs.weight"].T + tensors["qa_outputs.bias"]
    outputs = model(features(batch))
    valid = batch["input_mask"].astype(bool)
    np.testing.assert_allclose(outputs["start_logits"].numpy()[valid], span[..., 0][valid],
                               atol=1e-4)
    np.testing.assert_allclose(outputs["end_logits"].numpy()[valid], span[..., 1][valid],
                               atol=1e-4)

    encoder = model.encoder
    write_hugging_face(encoder, str(tmp_path / "encoder"))
    tensors, _ = parse_safetensors(tmp_path / "encoder" / "model.safetensors")
    values = json.load(open(tmp_path / "encoder" / "config.json"))
    assert values["architectures"] == ["AlbertModel"]
    assert "embeddings.word_embeddings.weight" in tensors  # AlbertModel: no albert. prefix
    sequence, pooled = hf_forward(tensors, values, batch, prefix="")
    got = encoder(features(batch))
    np.testing.assert_allclose(got["sequence_output"].numpy()[valid], sequence[valid], atol=1e-4)
    np.testing.assert_allclose(got["pooled_output"], pooled, atol=1e-4)


def test_the_tokenizer_files_are_those_hugging_face_reads(tmp_path, squad_tokenizer):
    config = make_config(1, 1)
    config = AlbertConfig(**{**config.to_dict(), "vocab_size": squad_tokenizer.vocab_size})
    write_hugging_face(AlbertEncoder(config), str(tmp_path / "hf"), squad_tokenizer)
    folder = tmp_path / "hf"
    assert sorted(os.listdir(folder)) == ["config.json", "model.safetensors",
                                          "special_tokens_map.json", "spiece.model",
                                          "tokenizer_config.json"]
    assert (folder / "spiece.model").read_bytes() == squad_tokenizer.model_proto
    settings = json.load(open(folder / "tokenizer_config.json"))
    assert settings["tokenizer_class"] == "AlbertTokenizer"
    assert settings["do_lower_case"] is True and settings["keep_accents"] is False
    assert AlbertTokenizer(str(folder / "spiece.model")).encode("Who met Bob?") == \
        squad_tokenizer.encode("Who met Bob?")
    values = json.load(open(folder / "config.json"))
    assert (values["pad_token_id"], values["bos_token_id"], values["eos_token_id"]) == (0, 2, 3)


def test_a_wordpiece_model_ships_its_vocab_for_bert_tokenizer(tmp_path):
    from albert_tf.data.wordpiece_tokenizer import WordPieceTokenizer

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "中", "国"])
                     + "\n", encoding="utf-8")
    config = AlbertConfig(**{**make_config(1, 1).to_dict(), "vocab_size": 7})
    write_hugging_face(AlbertEncoder(config), str(tmp_path / "hf"),
                       WordPieceTokenizer(str(vocab), lower_case=False))
    settings = json.load(open(tmp_path / "hf" / "tokenizer_config.json"))
    assert settings["tokenizer_class"] == "BertTokenizer" and settings["do_lower_case"] is False
    assert (tmp_path / "hf" / "vocab.txt").read_bytes() == vocab.read_bytes()
    values = json.load(open(tmp_path / "hf" / "config.json"))
    assert (values["pad_token_id"], values["bos_token_id"], values["eos_token_id"]) == (0, 2, 3)


def first_formula_mismatch():
    """(layers, groups) where Hugging Face's group formula and the original's disagree."""
    for layers in range(2, 40):
        for groups in (g for g in range(1, layers + 1) if layers % g == 0):
            if any(int(i / (layers / groups)) != int(i / layers * groups)
                   for i in range(layers)):
                return layers, groups
    raise AssertionError("no mismatch found")


@pytest.mark.parametrize("what, make, message", [
    ("partial sharing", lambda: AlbertEncoder(AlbertConfig(
        **{**make_config(1, 1).to_dict(), "sharing": "attention"})),
     "sharing='attention' shares only the attention half"),
    ("brightmart layout", lambda: AlbertEncoder(AlbertConfig(
        **{**make_config(1, 1).to_dict(), "embedding_layout": "project_first"})),
     "embedding_layout='project_first'"),
    ("answerability head", lambda: AlbertAnswerabilityQA(make_config(1, 1)),
     "v2_head=answerability"),
])
def test_what_hugging_face_cannot_compute_is_refused(tmp_path, what, make, message):
    with pytest.raises(ConversionError, match=message):
        write_hugging_face(make(), str(tmp_path / "hf"))
    assert not (tmp_path / "hf").exists()


def test_groups_hugging_face_assigns_otherwise_are_refused(tmp_path):
    layers, groups = first_formula_mismatch()
    config = AlbertConfig(vocab_size=30, embedding_size=8, hidden_size=8,
                          num_hidden_layers=layers, num_hidden_groups=groups,
                          num_attention_heads=2, intermediate_size=8,
                          max_position_embeddings=8)
    with pytest.raises(ConversionError, match=f"num_hidden_groups={groups} over "
                                              f"num_hidden_layers={layers}"):
        write_hugging_face(AlbertEncoder(config), str(tmp_path / "hf"))


def test_sharing_none_exports_a_group_per_layer(tmp_path):
    config = AlbertConfig(**{**make_config(1, 1).to_dict(), "sharing": "none"})
    encoder = AlbertEncoder(config)
    randomize(encoder, seed=2, scale=0.3)
    write_hugging_face(encoder, str(tmp_path / "hf"))
    tensors, _ = parse_safetensors(tmp_path / "hf" / "model.safetensors")
    values = json.load(open(tmp_path / "hf" / "config.json"))
    assert (values["num_hidden_groups"], values["inner_group_num"]) == (4, 1)
    batch = a_batch(config)
    sequence, _ = hf_forward(tensors, values, batch, prefix="")
    valid = batch["input_mask"].astype(bool)
    np.testing.assert_allclose(encoder(features(batch))["sequence_output"].numpy()[valid],
                               sequence[valid], atol=1e-4)


def test_an_unfinished_export_leaves_nothing(tmp_path, monkeypatch):
    import safetensors.numpy

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        write_hugging_face(AlbertEncoder(make_config(1, 1)), str(tmp_path / "hf"))
    assert os.listdir(tmp_path) == []


def test_an_original_run_classifier_checkpoint_converts_with_its_head(tmp_path):
    from tests.test_conversion import reference

    config = make_config(1, 1)
    arrays = {name: value for name, value in original_arrays(config, seed=8).items()
              if not name.startswith("cls/")}  # run_classifier keeps no pretraining heads
    rng = np.random.default_rng(8)
    arrays["output_weights"] = rng.normal(size=(3, 32)).astype("float32")
    arrays["output_bias"] = rng.normal(size=(3,)).astype("float32")
    source = tmp_path / "original"
    source.mkdir()
    config.to_json_file(str(source / "albert_config.json"))
    prefix = write_tf1_checkpoint(str(source / "model.ckpt-9"), arrays)
    report = convert_checkpoint(prefix, str(tmp_path / "converted"))
    assert "AlbertClassifier: encoder and classifier head (3 outputs)" in report.wrote
    assert report.unused == [] and report.missing == []
    model = AlbertClassifier(config, 3, dropout_rate=0.0)
    assert warm_start(str(tmp_path / "converted"), model, [(("model",), model)]).fresh == []
    batch = a_batch(config)
    pooled = reference({**arrays, **{name: value for name, value in original_arrays(
        config, seed=8).items() if name.startswith("cls/")}}, config, batch)["pooled_output"]
    np.testing.assert_allclose(model(features(batch)).numpy(),
                               pooled @ arrays["output_weights"].T + arrays["output_bias"],
                               atol=1e-4)
