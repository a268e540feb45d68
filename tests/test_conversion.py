"""Checkpoint conversion: synthetic original (TF1) and Hugging Face checkpoints written
here, converted, and checked against a NumPy forward pass over the raw arrays."""

import collections
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import types
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.checkpoints import conversion
from albert_tf.checkpoints.conversion import (ConversionError, convert_checkpoint, hf_config,
                                              read_safetensors, read_torch_zip)
from albert_tf.checkpoints.warm_start import warm_start
from albert_tf.config import AlbertConfig
from albert_tf.io_utils import OutputLocationError
from albert_tf.models import AlbertClassifier, AlbertPretrainer
from tests.reference import feed_forward, gelu_tanh, layer_norm, self_attention

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH, SEQ, PREDICTIONS = 2, 10, 3


def make_config(groups, inner, layers=4, embedding_size=16):
    return AlbertConfig(vocab_size=60, embedding_size=embedding_size, hidden_size=32,
                        num_hidden_layers=layers, num_hidden_groups=groups,
                        inner_group_num=inner, num_attention_heads=4, intermediate_size=48,
                        max_position_embeddings=32)


def original_group(layer, config):
    """The original modeling.py's group index, written out independently."""
    return int(float(layer) / float(config.num_hidden_layers)
               * float(config.num_hidden_groups))


def embedding_and_head_shapes(V, E, H, P, width):
    """Shapes of the BERT-named embeddings, pooler and heads, with position and token-type
    tables, LayerNorms and MLM transform `width` wide (E in the original, H in
    brightmart/albert_zh's models)."""
    return {"bert/embeddings/word_embeddings": (V, E),
            "bert/embeddings/token_type_embeddings": (2, width),
            "bert/embeddings/position_embeddings": (P, width),
            "bert/embeddings/LayerNorm/gamma": (width,),
            "bert/embeddings/LayerNorm/beta": (width,),
            "bert/pooler/dense/kernel": (H, H), "bert/pooler/dense/bias": (H,),
            "cls/predictions/transform/dense/kernel": (H, width),
            "cls/predictions/transform/dense/bias": (width,),
            "cls/predictions/transform/LayerNorm/gamma": (width,),
            "cls/predictions/transform/LayerNorm/beta": (width,),
            "cls/predictions/output_bias": (V,),
            "cls/seq_relationship/output_weights": (2, H),
            "cls/seq_relationship/output_bias": (2,)}


def original_arrays(config, seed=0, projection=None):
    """Random values under the original names (LayerNorms and biases included): the groups
    the original's formula uses, and the E -> H projection when E != H (or when
    `projection` says so)."""
    rng = np.random.default_rng(seed)
    V, E, H, I = (config.vocab_size, config.embedding_size, config.hidden_size,
                  config.intermediate_size)
    shapes = embedding_and_head_shapes(V, E, H, config.max_position_embeddings, E)
    if projection or (projection is None and E != H):
        shapes.update({"bert/encoder/embedding_hidden_mapping_in/kernel": (E, H),
                       "bert/encoder/embedding_hidden_mapping_in/bias": (H,)})
    for g in sorted({original_group(layer, config)
                     for layer in range(config.num_hidden_layers)}):
        for k in range(config.inner_group_num):
            p = f"bert/encoder/transformer/group_{g}/inner_group_{k}/"
            for name in ("query", "key", "value"):
                shapes[p + f"attention_1/self/{name}/kernel"] = (H, H)
                shapes[p + f"attention_1/self/{name}/bias"] = (H,)
            shapes.update({p + "attention_1/output/dense/kernel": (H, H),
                           p + "attention_1/output/dense/bias": (H,),
                           p + "LayerNorm/gamma": (H,), p + "LayerNorm/beta": (H,),
                           p + "ffn_1/intermediate/dense/kernel": (H, I),
                           p + "ffn_1/intermediate/dense/bias": (I,),
                           p + "ffn_1/intermediate/output/dense/kernel": (I, H),
                           p + "ffn_1/intermediate/output/dense/bias": (H,),
                           p + "LayerNorm_1/gamma": (H,), p + "LayerNorm_1/beta": (H,)})
    return {name: rng.normal(0.0, 0.3, shape).astype("float32")
            for name, shape in shapes.items()}


def reference(a, config, batch):
    """The original ALBERT forward pass over the raw arrays."""
    ids, mask, segments = batch["input_ids"], batch["input_mask"], batch["segment_ids"]
    x = (a["bert/embeddings/word_embeddings"][ids]
         + a["bert/embeddings/token_type_embeddings"][segments]
         + a["bert/embeddings/position_embeddings"][:ids.shape[1]])
    x = layer_norm(x, a["bert/embeddings/LayerNorm/gamma"], a["bert/embeddings/LayerNorm/beta"])
    h = x
    if "bert/encoder/embedding_hidden_mapping_in/kernel" in a:
        h = (x @ a["bert/encoder/embedding_hidden_mapping_in/kernel"]
             + a["bert/encoder/embedding_hidden_mapping_in/bias"])
    states = [h]  # the input of every block step, then the last output
    for layer in range(config.num_hidden_layers):
        group = original_group(layer, config)
        for k in range(config.inner_group_num):
            p = f"bert/encoder/transformer/group_{group}/inner_group_{k}/"
            attention = {f"{n[0]}_w": a[p + f"attention_1/self/{n}/kernel"]
                         for n in ("query", "key", "value")}
            attention.update({f"{n[0]}_b": a[p + f"attention_1/self/{n}/bias"]
                              for n in ("query", "key", "value")})
            attention.update(o_w=a[p + "attention_1/output/dense/kernel"],
                             o_b=a[p + "attention_1/output/dense/bias"],
                             ln_g=a[p + "LayerNorm/gamma"], ln_b=a[p + "LayerNorm/beta"])
            h = self_attention(h, mask.astype("float64"), attention, config.num_attention_heads)
            h = feed_forward(h, {"i_w": a[p + "ffn_1/intermediate/dense/kernel"],
                                 "i_b": a[p + "ffn_1/intermediate/dense/bias"],
                                 "o_w": a[p + "ffn_1/intermediate/output/dense/kernel"],
                                 "o_b": a[p + "ffn_1/intermediate/output/dense/bias"],
                                 "ln_g": a[p + "LayerNorm_1/gamma"],
                                 "ln_b": a[p + "LayerNorm_1/beta"]})
            states.append(h)
    return {**pooler_and_heads_reference(a, h, batch), "hidden_states": states}


def pooler_and_heads_reference(a, h, batch, back_projection=None):
    """The BERT-named pooler, MLM and SOP heads over the sequence output `h`; the MLM
    transform's output goes through `back_projection` first when given (brightmart)."""
    pooled = np.tanh(h[:, 0] @ a["bert/pooler/dense/kernel"] + a["bert/pooler/dense/bias"])
    picked = np.take_along_axis(h, batch["masked_lm_positions"][..., None], axis=1)
    t = gelu_tanh(picked @ a["cls/predictions/transform/dense/kernel"]
                  + a["cls/predictions/transform/dense/bias"])
    t = layer_norm(t, a["cls/predictions/transform/LayerNorm/gamma"],
                   a["cls/predictions/transform/LayerNorm/beta"])
    if back_projection is not None:
        t = t @ back_projection
    mlm = t @ a["bert/embeddings/word_embeddings"].T + a["cls/predictions/output_bias"]
    sop = pooled @ a["cls/seq_relationship/output_weights"].T + a["cls/seq_relationship/output_bias"]
    return {"sequence_output": h, "pooled_output": pooled, "mlm_logits": mlm, "sop_logits": sop}


def a_batch(config, seed=1):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, config.vocab_size, (BATCH, SEQ)).astype("int32")
    mask = np.ones((BATCH, SEQ), "int32")
    mask[1, 7:] = 0
    segments = np.zeros((BATCH, SEQ), "int32")
    segments[:, 5:] = 1
    positions = np.array([[1, 4, 8], [2, 3, 6]], "int32")
    return {"input_ids": ids, "input_mask": mask, "segment_ids": segments,
            "masked_lm_positions": positions}


def write_tf1_checkpoint(prefix, arrays):
    with tf.Graph().as_default():
        variables = [tf.compat.v1.get_variable(name, initializer=value)
                     for name, value in arrays.items()]
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            return saver.save(session, prefix)


def check_outputs(output_dir, config, arrays, atol=2e-5, forward=reference):
    """The converted checkpoint computes what `forward` (a NumPy forward pass of the
    source's model over its raw arrays) does."""
    pretrainer = AlbertPretrainer(config)
    report = warm_start(str(output_dir), pretrainer, [(("model",), pretrainer)])
    assert report.fresh == []
    batch = a_batch(config)
    got = pretrainer(batch, training=False)
    encoded = pretrainer.encoder({k: batch[k] for k in ("input_ids", "input_mask",
                                                        "segment_ids")}, training=False)
    want = forward(arrays, config, batch)
    valid = batch["input_mask"].astype(bool)
    np.testing.assert_allclose(encoded["sequence_output"].numpy()[valid],
                               want["sequence_output"][valid], atol=atol)
    np.testing.assert_allclose(encoded["pooled_output"], want["pooled_output"], atol=atol)
    np.testing.assert_allclose(got["mlm_logits"], want["mlm_logits"], atol=atol * 10)
    np.testing.assert_allclose(got["sop_logits"], want["sop_logits"], atol=atol)


@pytest.mark.parametrize("groups, inner", [(1, 1), (1, 2), (2, 1), (2, 2)])
def test_original_checkpoint_converts_to_the_same_function(tmp_path, groups, inner):
    config = make_config(groups, inner)
    arrays = original_arrays(config, seed=groups * 10 + inner)
    stored = {**arrays, "global_step": np.int64(1000)}
    stored.update({f"{name}/adam_m": np.zeros_like(value) for name, value in arrays.items()})
    source = tmp_path / "original"
    source.mkdir()
    config.to_json_file(str(source / "albert_config.json"))
    prefix = write_tf1_checkpoint(str(source / "model.ckpt-1000"), stored)
    report = convert_checkpoint(prefix, str(tmp_path / "converted"))
    assert len(report.mapped) == len(arrays) and report.missing == [] and report.unused == []
    assert "global_step" in report.skipped and len(report.skipped) == len(arrays) + 1
    assert sorted(os.listdir(tmp_path / "converted")) == [
        "albert_config.json", "checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index",
        "conversion_report.txt"]
    assert AlbertConfig.from_json_file(str(tmp_path / "converted" / "albert_config.json")) == \
        config
    check_outputs(tmp_path / "converted", config, arrays)


def test_layer_transitions_of_a_converted_checkpoint_are_those_of_the_raw_arrays(tmp_path):
    from albert_tf.analysis.layer_transitions import layer_transitions
    from albert_tf.export.saved_model import load_serving_model

    config = make_config(2, 2)
    arrays = original_arrays(config, seed=7)
    source = tmp_path / "original"
    source.mkdir()
    config.to_json_file(str(source / "albert_config.json"))
    convert_checkpoint(write_tf1_checkpoint(str(source / "model.ckpt-1"), arrays),
                       str(tmp_path / "converted"))
    # What analyze_model.py does with a converted folder: its config, its weights.
    converted = AlbertConfig.from_json_file(str(tmp_path / "converted" / "albert_config.json"))
    encoder = load_serving_model(converted, str(tmp_path / "converted"), None)
    batch = a_batch(config)
    result = layer_transitions(encoder, [{name: batch[name] for name in (
        "input_ids", "input_mask", "segment_ids")}])
    states = reference(arrays, config, batch)["hidden_states"]
    valid = batch["input_mask"].astype(bool)
    before, after = np.stack(states[:-1])[:, valid], np.stack(states[1:])[:, valid]
    assert len(states) == 1 + config.num_hidden_layers * config.inner_group_num
    np.testing.assert_allclose(result.l2_distance,
                               np.linalg.norm(after - before, axis=-1).mean(-1), rtol=1e-4)
    np.testing.assert_allclose(result.cosine_similarity, (
        (before * after).sum(-1) / (np.linalg.norm(before, axis=-1)
                                    * np.linalg.norm(after, axis=-1))).mean(-1), rtol=1e-4)


def test_tf_hub_module_prefix_and_encoder_only_sources(tmp_path):
    config = make_config(1, 1)
    arrays = original_arrays(config)
    encoder_only = {f"module/{name}": value for name, value in arrays.items()
                    if name.startswith("bert/")}
    prefix = write_tf1_checkpoint(str(tmp_path / "hub" / "variables"), encoder_only)
    report = convert_checkpoint(prefix, str(tmp_path / "converted"),
                                config_file=_config_file(tmp_path, config))
    assert report.missing and all(not p.startswith(("embeddings", "transformer", "pooler"))
                                  for p in report.missing)
    assert "encoder only" in report.wrote
    classifier = AlbertClassifier(config, 2)
    restored = warm_start(str(tmp_path / "converted"), classifier,
                          [(("model", "encoder"), classifier.encoder),
                           (("encoder",), classifier.encoder)])
    assert restored.root == "encoder" and len(restored.restored) == len(classifier.encoder.weights)


def _config_file(folder, config):
    path = folder / "given_config.json"
    config.to_json_file(str(path))
    return str(path)


def test_conversion_errors_name_the_variable(tmp_path):
    config = make_config(2, 1)
    arrays = original_arrays(config)
    bad = dict(arrays)
    bad["bert/pooler/dense/kernel"] = np.zeros((3, 3), "float32")
    prefix = write_tf1_checkpoint(str(tmp_path / "bad" / "model"), bad)
    with pytest.raises(ConversionError, match=r"bert/pooler/dense/kernel has shape \[3, 3\] but "
                                              r"pooler/kernel needs \[32, 32\]"):
        convert_checkpoint(prefix, str(tmp_path / "out"), _config_file(tmp_path, config))
    assert not (tmp_path / "out").exists()
    # A config with more groups than the checkpoint holds
    prefix = write_tf1_checkpoint(str(tmp_path / "one_group" / "model"),
                                  original_arrays(make_config(1, 1)))
    with pytest.raises(ConversionError, match="group_1/inner_group_0/attention_1/self/query/"
                                              "kernel.*num_hidden_groups"):
        convert_checkpoint(prefix, str(tmp_path / "out"), _config_file(tmp_path, config))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(OutputLocationError, match="already exists and is not empty"):
        convert_checkpoint(prefix, str(tmp_path / "full"), _config_file(tmp_path, config))
    with pytest.raises(ConversionError, match="neither a TF checkpoint nor a Hugging Face"):
        convert_checkpoint(str(tmp_path / "nothing"), str(tmp_path / "out2"))
    with pytest.raises(ConversionError, match="the config's sharing='ffn' has no counterpart"):
        convert_checkpoint(prefix, str(tmp_path / "out3"),
                           _config_file(tmp_path, make_config(1, 1).replace(sharing="ffn")))


# -- Hugging Face ---------------------------------------------------------------------------

def hf_arrays(arrays, config):
    """The same values under Hugging Face AlbertForPreTraining names ([out, in] dense)."""
    def dense(hf, original):
        return {f"{hf}.weight": arrays[f"{original}/kernel"].T.copy(),
                f"{hf}.bias": arrays[f"{original}/bias"]}

    def norm(hf, original):
        return {f"{hf}.weight": arrays[f"{original}/gamma"],
                f"{hf}.bias": arrays[f"{original}/beta"]}

    out = {"albert.embeddings.word_embeddings.weight": arrays["bert/embeddings/word_embeddings"],
           "albert.embeddings.token_type_embeddings.weight":
               arrays["bert/embeddings/token_type_embeddings"],
           "albert.embeddings.position_embeddings.weight":
               arrays["bert/embeddings/position_embeddings"],
           "albert.embeddings.position_ids": np.arange(32)[None].astype("int64"),
           "predictions.bias": arrays["cls/predictions/output_bias"],
           "predictions.decoder.weight": arrays["bert/embeddings/word_embeddings"],
           "predictions.decoder.bias": arrays["cls/predictions/output_bias"],
           "sop_classifier.classifier.weight": arrays["cls/seq_relationship/output_weights"],
           "sop_classifier.classifier.bias": arrays["cls/seq_relationship/output_bias"]}
    out.update(norm("albert.embeddings.LayerNorm", "bert/embeddings/LayerNorm"))
    out.update(dense("albert.encoder.embedding_hidden_mapping_in",
                     "bert/encoder/embedding_hidden_mapping_in"))  # HF always has it
    out.update(dense("albert.pooler", "bert/pooler/dense"))
    out.update(dense("predictions.dense", "cls/predictions/transform/dense"))
    out.update(norm("predictions.LayerNorm", "cls/predictions/transform/LayerNorm"))
    for g in sorted({original_group(layer, config)
                     for layer in range(config.num_hidden_layers)}):
        for k in range(config.inner_group_num):
            hf = f"albert.encoder.albert_layer_groups.{g}.albert_layers.{k}."
            tf1 = f"bert/encoder/transformer/group_{g}/inner_group_{k}/"
            for name in ("query", "key", "value"):
                out.update(dense(hf + f"attention.{name}", tf1 + f"attention_1/self/{name}"))
            out.update(dense(hf + "attention.dense", tf1 + "attention_1/output/dense"))
            out.update(norm(hf + "attention.LayerNorm", tf1 + "LayerNorm"))
            out.update(dense(hf + "ffn", tf1 + "ffn_1/intermediate/dense"))
            out.update(dense(hf + "ffn_output", tf1 + "ffn_1/intermediate/output/dense"))
            out.update(norm(hf + "full_layer_layer_norm", tf1 + "LayerNorm_1"))
    return out


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, value in tensors.items():
        data = np.ascontiguousarray(value).tobytes()
        dtype = {"float32": "F32", "int64": "I64"}[str(value.dtype)]
        header[name] = {"dtype": dtype, "shape": list(value.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    encoded = json.dumps(header).encode()
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks))


def write_torch_zip(path, tensors, monkeypatch, views=None, storage_ids=None):
    """PyTorch's zip layout: archive/data.pkl referencing archive/data/<key> storages, with
    the pickle naming torch's globals (fake modules stand in for torch here). `views` maps
    a name to the (offset, size, stride) to write instead of the array's own (crafted
    files); `storage_ids` maps a name to a persistent id to write instead of the real one."""
    views, storage_ids = views or {}, storage_ids or {}
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    class LongStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    for owner, obj, name in ((torch, FloatStorage, "FloatStorage"),
                             (torch, LongStorage, "LongStorage"),
                             (utils, _rebuild_tensor_v2, "_rebuild_tensor_v2")):
        obj.__module__, obj.__qualname__ = owner.__name__, name
        setattr(owner, name, obj)
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)

    class Storage:
        def __init__(self, key, array):
            self.key, self.array = key, array

    class Tensor:
        def __init__(self, storage, name):
            self.storage, self.name = storage, name

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                if obj.key in storage_ids:
                    return storage_ids[obj.key]
                kind = FloatStorage if obj.array.dtype == np.float32 else LongStorage
                return ("storage", kind, obj.key, "cpu", obj.array.size)
            return None

        def reducer_override(self, obj):
            if isinstance(obj, Tensor):
                array = obj.storage.array
                strides = tuple(s // array.itemsize for s in array.strides)
                offset, size, strides = views.get(obj.name, (0, array.shape, strides))
                return _rebuild_tensor_v2, (obj.storage, offset, size, strides, False,
                                            collections.OrderedDict())
            return NotImplemented

    state = collections.OrderedDict()
    storages = []
    for index, (name, value) in enumerate(tensors.items()):
        storage = Storage(str(index), np.ascontiguousarray(value))
        storages.append(storage)
        state[name] = Tensor(storage, name)
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("archive/data.pkl", "w") as handle:
            Writer(handle, protocol=2).dump(state)
        for storage in storages:
            archive.writestr(f"archive/data/{storage.key}", storage.array.tobytes())
    monkeypatch.delitem(sys.modules, "torch")
    monkeypatch.delitem(sys.modules, "torch._utils")


def write_hf_config(folder, config, **overrides):
    """A Hugging Face config.json for `config` (HF's own keys and names) in a new folder."""
    folder.mkdir()
    values = {"architectures": ["AlbertForPreTraining"], "model_type": "albert",
              "hidden_act": "gelu_new", "pad_token_id": 0, "classifier_dropout_prob": 0.1,
              "position_embedding_type": "absolute",
              **{k: v for k, v in config.to_dict().items()
                 if k not in ("sharing", "hidden_act", "always_project_embeddings")},
              **overrides}
    (folder / "config.json").write_text(json.dumps(values))
    return folder


@pytest.mark.parametrize("file_format", ["safetensors", "bin"])
def test_hugging_face_weights_convert_without_pytorch(tmp_path, monkeypatch, file_format):
    config = make_config(2, 2)
    arrays = original_arrays(config, seed=5)
    tensors = hf_arrays(arrays, config)
    folder = write_hf_config(tmp_path / "hf", config)
    if file_format == "safetensors":
        write_safetensors(folder / "model.safetensors", tensors)
        assert read_safetensors(str(folder / "model.safetensors")).keys() == tensors.keys()
    else:
        write_torch_zip(folder / "pytorch_model.bin", tensors, monkeypatch)
        read = read_torch_zip(str(folder / "pytorch_model.bin"))
        for name, value in tensors.items():
            np.testing.assert_array_equal(read[name], value, err_msg=name)
    report = convert_checkpoint(str(folder), str(tmp_path / "converted"))
    assert report.missing == [] and report.unused == []
    assert sorted(report.skipped) == ["albert.embeddings.position_ids",
                                      "predictions.decoder.bias", "predictions.decoder.weight"]
    converted = AlbertConfig.from_json_file(str(tmp_path / "converted" / "albert_config.json"))
    assert converted == config  # gelu_new is the original (tanh) gelu
    check_outputs(tmp_path / "converted", config, arrays)


def test_convert_checkpoint_script(tmp_path):
    config = make_config(1, 2)
    arrays = original_arrays(config)
    source = tmp_path / "albert_base"
    source.mkdir()
    config.to_json_file(str(source / "albert_config.json"))
    write_tf1_checkpoint(str(source / "model.ckpt-best"), arrays)
    command = [sys.executable, os.path.join(ROOT, "convert_checkpoint.py"),
               f"--source={source / 'model.ckpt-best'}", f"--output_dir={tmp_path / 'out'}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"{len(arrays)} mapped, 0 skipped, 0 missing, 0 unused" in result.stdout
    assert "mapped  transformer_block_1/ffn_1/LayerNorm_1/gamma <- bert/encoder/transformer/" \
           "group_0/inner_group_1/LayerNorm_1/gamma" in result.stdout
    # A second run into the same folder is refused: a case of the bad-input matrix.


def test_readers_refuse_what_they_cannot_read_safely(tmp_path):
    (tmp_path / "old.bin").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ConversionError, match="not PyTorch's zip format"):
        read_torch_zip(str(tmp_path / "old.bin"))
    # A pickle that would run code when loaded is refused, not executed.
    with zipfile.ZipFile(tmp_path / "evil.bin", "w") as archive:
        archive.writestr("archive/data.pkl", b"cos\nsystem\n(S'touch pwned'\ntR.")
    with pytest.raises(ConversionError, match="unexpected object os.system"):
        read_torch_zip(str(tmp_path / "evil.bin"))
    assert not os.path.exists("pwned")
    (tmp_path / "bad.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    with pytest.raises(ConversionError, match="not a readable safetensors file"):
        read_safetensors(str(tmp_path / "bad.safetensors"))
    header = json.dumps({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})
    (tmp_path / "fp8.safetensors").write_bytes(
        struct.pack("<Q", len(header)) + header.encode() + b"\x00\x00")
    with pytest.raises(ConversionError, match="w has unsupported dtype F8_E4M3"):
        read_safetensors(str(tmp_path / "fp8.safetensors"))


def test_hugging_face_activation_names_map_to_the_original_ones():
    values = make_config(1, 1).to_dict()
    assert hf_config({**values, "hidden_act": "gelu_new"}, "c").hidden_act == "gelu"
    assert hf_config({**values, "hidden_act": "gelu"}, "c").hidden_act == "gelu_exact"
    del values["hidden_act"]  # absent: Hugging Face's default, gelu_new
    assert hf_config({**values, "model_type": "albert"}, "c") == make_config(1, 1)


@pytest.mark.parametrize("view, message", [
    ((8, (4,), (1,)), "reaches element 11 of a storage of 6"),   # offset past the end
    ((0, (2, 3), (3, 2)), "reaches element 7 of a storage of 6"),  # stride past the end
    ((-4, (2,), (1,)), "storage offset (-4,) is not a list of non-negative"),
    ((0, (2,), (-1,)), "stride (-1,) is not a list of non-negative"),
    ((0, (2, 3), (3,)), "has size (2, 3) but stride (3,)"),
    ((10**6, (0,), (1,)), "storage offset 1000000 beyond its 6 elements"),
    ((0, ("2",), (1,)), "size ('2',) is not a list of non-negative integers"),
])
def test_a_crafted_torch_view_outside_its_storage_is_refused(tmp_path, monkeypatch, view,
                                                              message):
    """Before: as_strided read whatever memory the offsets pointed at (heap bytes in the
    converted weights, or a segfault)."""
    path = tmp_path / "pytorch_model.bin"
    write_torch_zip(path, {"w": np.arange(6, dtype=np.float32)}, monkeypatch, views={"w": view})
    with pytest.raises(ConversionError, match=re.escape(message)):
        read_torch_zip(str(path))


@pytest.mark.parametrize("storage_id, message", [
    (("storage", "EvilStorage", "0", "cpu", 6), "unexpected storage reference"),
    (("storage", "FloatStorage", "../../etc/passwd", "cpu", 6), "unexpected storage reference"),
    (("storage", "FloatStorage", "7", "cpu", 6), "refers to archive/data/7, which the archive"),
    ("not-a-tuple", "unexpected storage reference"),
])
def test_crafted_storage_references_are_refused(tmp_path, monkeypatch, storage_id, message):
    path = tmp_path / "pytorch_model.bin"
    write_torch_zip(path, {"w": np.arange(6, dtype=np.float32)}, monkeypatch,
                    storage_ids={"0": storage_id})
    with pytest.raises(ConversionError, match=re.escape(message)):
        read_torch_zip(str(path))


def test_a_zip_bomb_member_is_refused_before_it_is_inflated(tmp_path, monkeypatch):
    path = tmp_path / "pytorch_model.bin"
    write_torch_zip(path, {"w": np.arange(6, dtype=np.float32)}, monkeypatch)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data/big", b"\0" * (1 << 22))  # 4 MiB of zeros: ~4 KiB
    with zipfile.ZipFile(path) as archive:
        with pytest.raises(ConversionError, match="claims 4194304 bytes"):
            conversion._read_member(archive, "archive/data/big", str(path))


@pytest.mark.parametrize("damage, message", [
    (lambda data: struct.pack("<Q", 10**12) + data[8:], "header too large"),
    (lambda data: data[:-5], "not fully covered"),
    (lambda data: data[:4], "not a readable safetensors file"),
])
def test_damaged_safetensors_files_are_named_errors(tmp_path, damage, message):
    """Before: a header length of 10^12 was reported as missing weights."""
    path = tmp_path / "model.safetensors"
    write_safetensors(path, {"w": np.arange(6, dtype=np.float32)})
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ConversionError, match=message):
        read_safetensors(str(path))


def test_bfloat16_safetensors_are_widened_to_float32(tmp_path):
    values = np.array([1.0, -2.5, 3.140625], np.float32)
    raw = (values.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    header = json.dumps({"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}})
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + raw)
    np.testing.assert_array_equal(read_safetensors(str(path))["w"], values)


# -- shapes and settings the first converter got wrong ---------------------------------------

def test_original_checkpoint_with_e_equal_h_converts_heads_too(tmp_path):
    """E == H: the original builds no projection; the heads must still convert."""
    config = make_config(1, 1, embedding_size=32)
    arrays = original_arrays(config, seed=3)
    assert "bert/encoder/embedding_hidden_mapping_in/kernel" not in arrays
    prefix = write_tf1_checkpoint(str(tmp_path / "src" / "model"), arrays)
    report = convert_checkpoint(prefix, str(tmp_path / "out"), _config_file(tmp_path, config))
    assert report.missing == [] and report.unused == [] and len(report.mapped) == len(arrays)
    assert "encoder only" not in report.wrote
    converted = AlbertConfig.from_json_file(str(tmp_path / "out" / "albert_config.json"))
    assert converted.always_project_embeddings is False
    check_outputs(tmp_path / "out", converted, arrays)


def test_hugging_face_with_e_equal_h_keeps_its_projection(tmp_path):
    config = make_config(1, 1, embedding_size=32)
    arrays = original_arrays(config, seed=4, projection=True)
    folder = write_hf_config(tmp_path / "hf", config)
    write_safetensors(folder / "model.safetensors", hf_arrays(arrays, config))
    report = convert_checkpoint(str(folder), str(tmp_path / "out"))
    assert report.missing == [] and report.unused == []
    converted = AlbertConfig.from_json_file(str(tmp_path / "out" / "albert_config.json"))
    assert converted.always_project_embeddings is True
    assert converted.replace(always_project_embeddings=False) == config
    check_outputs(tmp_path / "out", converted, arrays)


@pytest.mark.parametrize("override, message", [
    ({"tie_word_embeddings": False}, "tie_word_embeddings=False is not supported"),
    ({"position_embedding_type": "relative_key"},
     "position_embedding_type='relative_key' is not supported"),
])
def test_hugging_face_settings_that_change_the_computation_are_refused(tmp_path, override,
                                                                         message):
    config = make_config(1, 1)
    folder = write_hf_config(tmp_path / "hf", config, **override)
    write_safetensors(folder / "model.safetensors", hf_arrays(original_arrays(config), config))
    with pytest.raises(ConversionError, match=message):
        convert_checkpoint(str(folder), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_an_untied_hugging_face_decoder_is_refused(tmp_path):
    """A file whose stored decoder differs from the embeddings would lose it silently."""
    config = make_config(1, 1)
    tensors = hf_arrays(original_arrays(config), config)
    tensors["predictions.decoder.weight"] = tensors["predictions.decoder.weight"] + 1.0
    folder = write_hf_config(tmp_path / "hf", config)
    write_safetensors(folder / "model.safetensors", tensors)
    with pytest.raises(ConversionError, match="predictions.decoder.weight differs from "
                                              "albert.embeddings.word_embeddings.weight"):
        convert_checkpoint(str(folder), str(tmp_path / "out"))


def test_groups_follow_the_original_floating_point_formula(tmp_path):
    """L = G = 22: the original runs group 14 for layers 14 and 15 and never makes group 15."""
    config = make_config(22, 1, layers=22)
    assert [config.group_of_layer(layer) for layer in (13, 14, 15, 16)] == [13, 14, 14, 16]
    arrays = original_arrays(config, seed=6)
    assert not any("group_15/" in name for name in arrays)
    prefix = write_tf1_checkpoint(str(tmp_path / "src" / "model"), arrays)
    report = convert_checkpoint(prefix, str(tmp_path / "out"), _config_file(tmp_path, config))
    assert report.missing == [] and report.unused == []
    check_outputs(tmp_path / "out", config, arrays)


def test_a_keras_hub_preset_without_keras_hub_installed_says_how_to_install_it(
        tmp_path, monkeypatch):
    preset = tmp_path / "preset"
    preset.mkdir()
    (preset / "config.json").write_text(json.dumps(
        {"module": "keras_hub.src.models.albert.albert_backbone",
         "class_name": "AlbertBackbone", "config": {}}))
    (preset / "model.weights.h5").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "keras_hub", None)  # import keras_hub fails
    with pytest.raises(ConversionError, match=r"needs keras-hub: pip install "
                                              r"'albert_tf\[keras_hub\]'"):
        convert_checkpoint(str(preset), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
