"""SavedModel export: layout, signatures, equality with the Keras model in a fresh process,
warm-up records, serving edge cases, saved_model_cli and the export_model.py script."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (the SentencePiece ops the loaded exports use)

from albert_tf.checkpoints.warm_start import CheckpointMismatchError
from albert_tf.data.packing import SequenceLengthError, pack
from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer, TokenizerError
from albert_tf.export import saved_model as saved_model_lib
from albert_tf.export.client import request_inputs
from albert_tf.export.saved_model import (ExportError, ServingModule, existing_versions,
                                          export_saved_model, load_serving_model)
from albert_tf.io_utils import owned_temp_name
from albert_tf.models import AlbertClassifier, AlbertPretrainer
from tests.helpers import LABELS, SEQ, UNICODE_TEXTS
from tests.helpers import load_exported as load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def keras_outputs(model, tokenizer, text_a, text_b=None):
    """Reference: the Python packing path, padded to SEQ, through the Keras model."""
    rows = [pack(tokenizer.encode(a), tokenizer.encode(b) if text_b is not None else None, SEQ)
            for a, b in zip(text_a, text_b if text_b is not None else text_a)]
    features = {name: np.array([row[i] for row in rows], "int32")
                for i, name in enumerate(("input_ids", "input_mask", "segment_ids"))}
    return features, model(features, training=False)


FRESH_PROCESS = r"""
import json, sys
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)
path, requests = sys.argv[1], json.load(sys.stdin)
loaded = tf.saved_model.load(path)
answers = {"signatures": sorted(loaded.signatures),
           "imports_albert_tf": any(m.startswith("albert_tf") for m in sys.modules)}
for key, (signature, inputs) in requests.items():
    function = loaded.signatures[signature]
    tensors = {name: tf.constant(value, tf.string if isinstance(value[0], str) else tf.int32)
               for name, value in inputs.items()}
    try:
        outputs = function(**tensors)
        answers[key] = {name: value.numpy().tolist() if value.dtype != tf.string
                        else [v.decode() for v in value.numpy()] for name, value in outputs.items()}
    except tf.errors.InvalidArgumentError as error:
        answers[key] = {"error": error.message}
print(json.dumps(answers))
"""


def run_fresh(path, requests):
    result = subprocess.run([sys.executable, "-c", FRESH_PROCESS, path],
                            input=json.dumps(requests), capture_output=True, text=True,
                            timeout=300, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_classifier_export_serves_text_and_ids_in_a_process_without_albert_tf(assets, tmp_path):
    _, spm_model, _ = assets
    model = load(assets, len(LABELS))
    tokenizer = AlbertTokenizer(spm_model)
    module = ServingModule(model, tokenizer, SEQ, LABELS, text_pair=True)
    path = export_saved_model(module, str(tmp_path), "nli")
    assert path == str(tmp_path / "nli" / "1")

    rng = np.random.default_rng(0)
    long_text = " ".join(["kalomi neru tavo"] * 200)  # far beyond SEQ tokens
    text_a = UNICODE_TEXTS + [long_text, "", "Ça marche très bien"]
    text_b = [text_a[i] for i in rng.permutation(len(text_a))]
    features, want = keras_outputs(model, tokenizer, text_a, text_b)
    batch_256 = [text_a[i % len(text_a)] for i in range(256)]
    answers = run_fresh(path, {
        "text": ("serving_default", {"text_a": text_a, "text_b": text_b}),
        "ids": ("serve_ids", {name: value.tolist() for name, value in features.items()}),
        "one": ("serving_default", {"text_a": [text_a[1]], "text_b": [text_b[1]]}),
        "many": ("serving_default", {"text_a": batch_256, "text_b": batch_256[::-1]}),
        "mismatch": ("serving_default", {"text_a": ["a", "b"], "text_b": ["c"]}),
        "too_long": ("serve_ids", {name: np.ones((1, SEQ + 1), "int32").tolist()
                                   for name in features}),
    })
    assert answers["signatures"] == ["serve_ids", "serving_default"]
    assert answers["imports_albert_tf"] is False
    want = want.numpy()
    for key in ("text", "ids"):
        np.testing.assert_allclose(answers[key]["logits"], want, atol=1e-5, err_msg=key)
        probabilities = np.exp(want) / np.exp(want).sum(-1, keepdims=True)
        np.testing.assert_allclose(answers[key]["probabilities"], probabilities, atol=1e-5)
        assert answers[key]["label"] == [LABELS[i] for i in want.argmax(-1)]
    np.testing.assert_allclose(answers["one"]["logits"], want[1:2], atol=1e-5)
    assert np.array(answers["many"]["logits"]).shape == (256, 3)
    assert "text_a and text_b must hold the same number of texts" in answers["mismatch"]["error"]
    assert f"more than max_seq_length={SEQ}" in answers["too_long"]["error"]


CONTRACT_PROCESS = r"""
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401
loaded = tf.saved_model.load(sys.argv[1])
answers = {}
for key, (signature, inputs) in json.load(sys.stdin).items():
    tensors = {name: tf.constant([text.encode("latin-1") for text in value])  # any bytes
               if spec[0] == "latin1" else
               tf.constant(value, spec[0], shape=spec[1] if len(spec) > 1 else None)
               for name, (value, *spec) in inputs.items()}
    try:
        outputs = loaded.signatures[signature](**tensors)
        answers[key] = {name: list(value.shape) for name, value in outputs.items()}
    except (tf.errors.InvalidArgumentError, TypeError, ValueError) as error:
        answers[key] = {"error": getattr(error, "message", str(error))}
print(json.dumps(answers))
"""


def test_the_signatures_refuse_malformed_requests_and_answer_empty_batches(assets, tmp_path):
    """Before: an empty text batch failed with a slice error; id -1 and segment id -1 read
    the last embedding row; mask 7 and rank-0/rank-2 texts were accepted."""
    _, spm_model, config = assets
    module = ServingModule(load(assets, len(LABELS)), AlbertTokenizer(spm_model), SEQ, LABELS,
                           text_pair=True)
    path = export_saved_model(module, str(tmp_path), "nli")
    ok = [[2, 10, 3, 0]]

    def ids(input_ids=ok, input_mask=((1, 1, 1, 0),), segment_ids=((0, 0, 0, 0),)):
        return ("serve_ids", {"input_ids": (input_ids, "int32"),
                              "input_mask": (input_mask, "int32"),
                              "segment_ids": (segment_ids, "int32")})

    requests = {
        "empty_text": ("serving_default", {"text_a": ([], "string"), "text_b": ([], "string")}),
        "empty_ids": ("serve_ids", {name: ([], "int32", [0, 4]) for name in
                                    ("input_ids", "input_mask", "segment_ids")}),
        "good": ids(),
        "negative_id": ids([[2, -1, 3, 0]]),
        "id_beyond_vocab": ids([[2, config.vocab_size, 3, 0]]),
        "negative_segment": ids(segment_ids=[[0, -1, 0, 0]]),
        "segment_beyond": ids(segment_ids=[[0, 2, 0, 0]]),
        "mask_seven": ids(input_mask=[[1, 7, 1, 0]]),
        "rank_0_text": ("serving_default", {"text_a": ("a", "string"), "text_b": ("b", "string")}),
        "rank_2_text": ("serving_default", {"text_a": ([["a"]], "string"),
                                            "text_b": ([["b"]], "string")}),
        # Latin-1 bytes where UTF-8 is expected (before: a bare "Graph execution error").
        "not_utf8": ("serving_default", {"text_a": (["fine", "ok"], "latin1"),
                                         "text_b": (["ok", "caf\xe9 \xff"], "latin1")}),
    }
    result = subprocess.run([sys.executable, "-c", CONTRACT_PROCESS, path],
                            input=json.dumps(requests), capture_output=True, text=True,
                            timeout=300, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["empty_text"] == {"label": [0], "logits": [0, 3], "probabilities": [0, 3]}
    assert answers["empty_ids"]["logits"] == [0, 3]
    assert answers["good"]["logits"] == [1, 3]
    expected = {"negative_id": "input_ids must be in [0, vocab_size=300)",
                "id_beyond_vocab": "input_ids must be in [0, vocab_size=300)",
                "negative_segment": "segment_ids must be in [0, type_vocab_size=2)",
                "segment_beyond": "segment_ids must be in [0, type_vocab_size=2)",
                "mask_seven": "input_mask must hold only 0 and 1",
                "not_utf8": "text_b holds text that is not valid UTF-8, at batch positions:] [1]"}
    for key, message in expected.items():
        assert message in answers[key].get("error", ""), (key, answers[key])
    for key in ("rank_0_text", "rank_2_text"):
        assert "error" in answers[key], (key, answers[key])


def test_warmup_records_parse_and_replay(assets, tmp_path):
    from tensorflow_serving.apis import prediction_log_pb2

    _, spm_model, _ = assets
    module = ServingModule(load(assets, len(LABELS)), AlbertTokenizer(spm_model), SEQ, LABELS,
                           text_pair=True)
    path = export_saved_model(module, str(tmp_path), "nli", warmup_texts=["first", "second"])
    loaded = tf.saved_model.load(path)
    records = list(tf.data.TFRecordDataset(
        os.path.join(path, "assets.extra", "tf_serving_warmup_requests")).as_numpy_iterator())
    seen = set()
    for record in records:
        request = prediction_log_pb2.PredictionLog.FromString(record).predict_log.request
        assert request.model_spec.name == "nli"
        inputs = request_inputs(request)
        signature = request.model_spec.signature_name
        outputs = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        assert outputs["logits"].shape == (2, 3)
        seen.add(signature)
    assert seen == {"serving_default", "serve_ids"}
    assert set(request_inputs(request)) <= {"text_a", "text_b", "input_ids", "input_mask",
                                            "segment_ids"}


def test_versions_count_up_and_a_failed_export_leaves_nothing(assets, tmp_path, monkeypatch):
    _, spm_model, _ = assets
    module = ServingModule(load(assets, len(LABELS)), AlbertTokenizer(spm_model), SEQ, LABELS,
                           text_signatures=True, text_pair=True)
    (tmp_path / "nli" / "7").mkdir(parents=True)
    (tmp_path / "nli" / "7" / "keep.txt").write_text("an older version")
    (tmp_path / "nli" / "notes").mkdir()
    (tmp_path / "nli" / "8").write_text("a stray file, not a version")  # was blamed on
    # "another export" before; now passed over
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    killed = tmp_path / "nli" / owned_temp_name(".tmp-", dead.pid)  # a killed export's
    killed.mkdir()
    running = tmp_path / "nli" / owned_temp_name(".tmp-")  # a live one's: kept
    running.mkdir()
    assert export_saved_model(module, str(tmp_path), "nli").endswith(os.path.join("nli", "9"))
    assert (tmp_path / "nli" / "7" / "keep.txt").read_text() == "an older version"
    assert (tmp_path / "nli" / "8").read_text() == "a stray file, not a version"
    assert not killed.exists() and running.exists()
    running.rmdir()

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(saved_model_lib.tf.saved_model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(module, str(tmp_path), "nli")
    assert existing_versions(str(tmp_path / "nli")) == [7, 9]
    assert sorted(os.listdir(tmp_path / "nli")) == ["7", "8", "9", "notes"]
    with pytest.raises(ExportError, match="--model_name='../x': expected a plain folder name"):
        export_saved_model(module, str(tmp_path), "../x")


def test_encoder_export_returns_pooled_and_sequence_outputs(assets, tmp_path):
    _, spm_model, _ = assets
    encoder = load(assets, None)
    tokenizer = AlbertTokenizer(spm_model)
    path = export_saved_model(ServingModule(encoder, tokenizer, SEQ), str(tmp_path), "encoder")
    texts = ["Ελληνικά κείμενα", "kalomi neru tavo shipe"]
    features, want = keras_outputs(encoder, tokenizer, texts)
    answers = run_fresh(path, {
        "ids": ("encode", {name: value.tolist() for name, value in features.items()}),
        "text": ("serving_default", {"text_a": texts}),
        "pair": ("encode_text_pair", {"text_a": texts, "text_b": texts[::-1]}),
    })
    assert answers["signatures"] == ["encode", "encode_text_pair", "serving_default"]
    for key in ("ids", "text"):
        np.testing.assert_allclose(answers[key]["pooled_output"], want["pooled_output"],
                                   atol=1e-5)
    mask = features["input_mask"].astype(bool)
    sequence = np.array(answers["ids"]["sequence_output"])
    np.testing.assert_allclose(sequence[mask], want["sequence_output"].numpy()[mask], atol=1e-5)
    _, pair_want = keras_outputs(encoder, tokenizer, texts, texts[::-1])
    np.testing.assert_allclose(answers["pair"]["pooled_output"], pair_want["pooled_output"],
                               atol=1e-5)


def test_ids_only_export_needs_no_tensorflow_text_and_saved_model_cli_runs_it(assets, tmp_path):
    model = AlbertClassifier(assets[2], 1)  # a regressor: one output named score
    module = ServingModule(model, None, SEQ, text_signatures=False)
    path = export_saved_model(module, str(tmp_path), "stsb")
    script = ("import sys, tensorflow as tf\n"
              "loaded = tf.saved_model.load(sys.argv[1])\n"
              "print(sorted(loaded.signatures), 'tensorflow_text' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", script, path], capture_output=True,
                            text=True, timeout=300, env=ENV)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "['serve_ids'] False"

    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run([cli, "show", "--dir", path, "--all"], capture_output=True,
                           text=True, timeout=300, env=ENV)
    assert shown.returncode == 0 and "signature_def['serve_ids']" in shown.stdout
    assert "outputs['score']" in shown.stdout
    ran = subprocess.run(
        [cli, "run", "--dir", path, "--tag_set", "serve", "--signature_def", "serve_ids",
         "--input_exprs", "input_ids=[[2,7,9,3]];input_mask=[[1,1,1,1]];segment_ids=[[0,0,0,0]]"],
        capture_output=True, text=True, timeout=300, env=ENV)
    assert ran.returncode == 0, ran.stderr[-2000:]
    features = {"input_ids": np.array([[2, 7, 9, 3]], "int32"),
                "input_mask": np.ones((1, 4), "int32"), "segment_ids": np.zeros((1, 4), "int32")}
    want = float(model(features)[0, 0])
    printed = ran.stdout[ran.stdout.index("Result for output key score:"):].split("\n")[1]
    assert float(printed.strip("[] ")) == pytest.approx(want, abs=1e-5)


def test_saved_model_cli_with_tensorflow_text_loaded_runs_the_full_export(assets, tmp_path):
    _, spm_model, _ = assets
    module = ServingModule(load(assets, len(LABELS)), AlbertTokenizer(spm_model), SEQ, LABELS)
    path = export_saved_model(module, str(tmp_path), "single")
    # The README's command: saved_model_cli itself does not load tensorflow-text's ops.
    command = [sys.executable, "-c", "import sys, tensorflow_text; from tensorflow.python.tools."
               "saved_model_cli import main; sys.argv[0] = 'saved_model_cli'; sys.exit(main())",
               "run", "--dir", path, "--tag_set", "serve", "--signature_def", "serving_default",
               "--input_exprs", "text_a=['a first text', 'Ça marche']"]
    ran = subprocess.run(command, capture_output=True, text=True, timeout=300, env=ENV)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "Result for output key label:" in ran.stdout
    assert ran.stdout.count("b'") >= 2 and any(label in ran.stdout for label in LABELS)


def test_export_settings_errors(assets):
    folder, spm_model, config = assets
    model = load(assets, len(LABELS))
    tokenizer = AlbertTokenizer(spm_model)
    with pytest.raises(ExportError, match="can export an AlbertClassifier or an AlbertEncoder, "
                                          "not AlbertPretrainer"):
        ServingModule(AlbertPretrainer(config), tokenizer, SEQ)
    with pytest.raises(ExportError, match="2 labels .* for a classifier with 3 outputs"):
        ServingModule(model, tokenizer, SEQ, LABELS[:2])
    with pytest.raises(ExportError, match="the classifier has 3 outputs: pass its labels"):
        ServingModule(model, tokenizer, SEQ)
    with pytest.raises(SequenceLengthError, match=r"--max_seq_length=65 must be between 5 .* "
                                                  r"max_position_embeddings \(64\)"):
        ServingModule(model, tokenizer, 65, LABELS)
    with pytest.raises(ExportError, match="text signatures need the SentencePiece model"):
        ServingModule(model, None, SEQ, LABELS)
    small = AlbertClassifier(config.replace(vocab_size=100), 3)
    with pytest.raises(TokenizerError, match="has 300 pieces but the model's vocab_size is 100"):
        ServingModule(small, tokenizer, SEQ, LABELS)
    pretrained = tf.train.Checkpoint(model=AlbertPretrainer(config)).write(
        str(folder / "pretrained" / "ckpt"))
    with pytest.raises(ExportError, match="does not hold a classifier with 3 outputs: missing "
                                          "classifier/"):
        load_serving_model(config, pretrained, 3)
    with pytest.raises(CheckpointMismatchError, match="holds none of this model's variables"):
        load_serving_model(config, str(folder / "encoder" / "encoder"), 3)


def test_export_model_script(assets, tmp_path):
    folder, spm_model, _ = assets
    run_dir = tmp_path / "run"
    (run_dir / "best").mkdir(parents=True)
    for suffix in (".index", ".data-00000-of-00001"):
        source = folder / "classifier" / f"model{suffix}"
        (run_dir / "best" / f"model{suffix}").write_bytes(source.read_bytes())
    (run_dir / "albert_config.json").write_bytes((folder / "albert_config.json").read_bytes())
    base = [sys.executable, os.path.join(ROOT, "export_model.py"), f"--init_checkpoint={run_dir}",
            f"--spm_model_file={spm_model}", f"--export_dir={tmp_path / 'exports'}"]
    result = subprocess.run(base + ["--task_name=MNLI", "--model_name=mnli",
                                    f"--max_seq_length={SEQ}"],
                            capture_output=True, text=True, timeout=300, env=ENV)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == str(tmp_path / "exports" / "mnli" / "1")
    # Without --max_seq_length the model's max_position_embeddings is the limit.
    result = subprocess.run(base + ["--task_name=MNLI", "--model_name=mnli",
                                    "--precision=mixed_bfloat16"],
                            capture_output=True, text=True, timeout=300, env=ENV)
    assert result.returncode == 0, result.stderr[-2000:]
    texts = {"text_a": tf.constant(["kalomi neru", "Ça marche"]),
             "text_b": tf.constant(["tavo", "bien"])}
    full, half = (tf.saved_model.load(str(tmp_path / "exports" / "mnli" / version))
                  .signatures["serving_default"](**texts) for version in ("1", "2"))
    assert full["logits"].dtype == half["logits"].dtype == tf.float32
    np.testing.assert_allclose(half["logits"], full["logits"], atol=0.05)
    assert set(label.decode() for label in full["label"].numpy()) <= set(LABELS)

    # Its refusals (no task, a task of another shape, custom without labels, a bad model
    # name, no config) are cases of the bad-input matrix (tests/test_bad_inputs.py).
