"""The Chinese (WordPiece) path end to end on the shared data: records with the released
vocabulary's special ids, then data (jieba whole-word masking) -> pretraining ->
fine-tuning on a ChnSentiCorp slice -> export -> raw Chinese text served from a fresh
process."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from albert_tf.config import AlbertConfig
from albert_tf.data.masking import ordinary_ids
from albert_tf.data.pretraining_data import PretrainingDataSettings, create_pretraining_data
from albert_tf.data.wordpiece_tokenizer import WordPieceTokenizer
from tests.helpers import ROOT, SHARED_DATA
from tests.records import read_records

CHINESE = os.path.join(SHARED_DATA, "chinese")
VOCAB = os.path.join(CHINESE, "vocab.txt")
NEWS = os.path.join(CHINESE, "news_zh_1.txt")
CHNSENTICORP = os.path.join(SHARED_DATA, "chnsenticorp")
pytestmark = pytest.mark.skipif(
    not all(os.path.exists(p) for p in (VOCAB, NEWS, CHNSENTICORP)),
    reason="the Chinese data is not in ../shared/data")
SEQ, PREDICTIONS = 64, 10
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def test_pretraining_records_use_the_vocabularys_special_ids(tmp_path):
    tokenizer = WordPieceTokenizer(VOCAB)
    special = tokenizer.special_ids  # [PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103
    manifest = create_pretraining_data(
        [NEWS], str(tmp_path / "train.tfrecord"), None,
        PretrainingDataSettings(max_seq_length=SEQ, max_predictions_per_seq=PREDICTIONS,
                                dupe_factor=2), vocab_file=VOCAB)
    assert manifest["vocab_file"] == os.path.abspath(VOCAB)
    assert manifest["spm_model_file"] is None
    records = read_records(manifest["output_files"])
    assert len(records) == manifest["statistics"]["instances"] > 100
    replaced = kept = randomized = 0
    for record in records:
        ids, length = record["input_ids"], int(record["input_mask"].sum())
        assert ids[0] == special.cls and ids[length - 1] == special.sep
        assert (ids[:length] == special.sep).sum() == 2
        weights = record["masked_lm_weights"] > 0
        positions = record["masked_lm_positions"][weights]
        labels = record["masked_lm_ids"][weights]
        assert not np.isin(labels, [special.cls, special.sep]).any()
        after = ids[positions]
        replaced += int((after == special.mask).sum())
        kept += int((after == labels).sum())
        changed = (after != special.mask) & (after != labels)
        randomized += int(changed.sum())
        assert not np.isin(after[changed], list(special)).any()  # never a special token
        # A "##" piece of the text continues the word before it (masking keeps it whole).
        original = ids.copy()
        original[positions] = labels
        pieces = tokenizer.id_to_piece(original[:length])
        continuing = np.array([p.startswith("##") for p in pieces])
        assert (record["token_boundary"][:length][continuing] == 0).all()
    total = replaced + kept + randomized
    assert 0.74 < replaced / total < 0.86 and 0.05 < randomized / total < 0.16
    assert 0.13 < manifest["statistics"]["masked_fraction"] < 0.17
    assert len(ordinary_ids(tokenizer.vocab_size, special)) == tokenizer.vocab_size - 5


def run_script(script, *args):
    result = subprocess.run([sys.executable, os.path.join(ROOT, script), *args],
                            capture_output=True, text=True, timeout=900, env=ENV)
    assert result.returncode == 0, f"{script}: {result.stderr[-3000:]}"
    return result


def write_slice(folder, rows_per_split):
    folder.mkdir()
    for split, rows in rows_per_split.items():
        with open(os.path.join(CHNSENTICORP, f"{split}.tsv"), encoding="utf-8") as handle:
            lines = handle.readlines()
        (folder / f"{split}.tsv").write_text("".join(lines[:rows + 1]), encoding="utf-8")


SERVE = r"""
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401
path, texts, features = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
loaded = tf.saved_model.load(path)
by_text = loaded.signatures["serving_default"](text_a=tf.constant(texts))
by_ids = loaded.signatures["serve_ids"](**{name: tf.constant(value, tf.int32)
                                           for name, value in features.items()})
print(json.dumps({"text": by_text["logits"].numpy().tolist(),
                  "ids": by_ids["logits"].numpy().tolist(),
                  "labels": [label.decode() for label in by_text["label"].numpy()],
                  "albert_tf": any(name.startswith("albert_tf") for name in sys.modules)}))
"""


def test_the_chinese_chain_from_text_to_served_predictions(tmp_path):
    config = AlbertConfig.from_preset("tiny", vocab_size=21128, max_position_embeddings=SEQ)
    config_file = tmp_path / "albert_config.json"
    config.to_json_file(str(config_file))
    run_script("create_pretraining_data.py", f"--input_file={NEWS}", f"--vocab_file={VOCAB}",
               f"--output_file={tmp_path / 'records' / 'train.tfrecord'}",
               f"--max_seq_length={SEQ}", f"--max_predictions_per_seq={PREDICTIONS}",
               "--dupe_factor=2", "--num_workers=1", "--word_segmenter=jieba")
    manifest = json.loads((tmp_path / "records" / "train.manifest.json").read_text())
    assert manifest["options"]["word_segmenter"] == "jieba"
    assert manifest["statistics"]["boundary_fraction"] < 0.8  # words of several characters
    run_script("run_pretraining.py", f"--input_file={tmp_path / 'records' / 'train.tfrecord'}",
               f"--output_dir={tmp_path / 'pretrain'}", f"--albert_config_file={config_file}",
               "--train_batch_size=16", "--num_train_steps=4", "--num_warmup_steps=0",
               "--save_checkpoints_steps=4", "--iterations_per_loop=2", "--log_steps=2",
               "--strategy=one_device", "--learning_rate=0.001")
    recorded = json.loads((tmp_path / "pretrain" / "run_settings.json").read_text())
    assert recorded["settings"]["vocab_file"] == "assets/vocab.txt"  # its own copy
    assert recorded["tokenizer"]["copied_from"] == os.path.abspath(VOCAB)
    assert recorded["settings"]["max_seq_length"] == SEQ  # from the records' manifest

    # Fine-tuning takes the config and the vocabulary from the pretraining run folder.
    data = tmp_path / "chnsenticorp"
    write_slice(data, {"train": 200, "dev": 64, "test": 16})
    run_script("run_classifier.py", "--task_name=chnsenticorp", f"--data_dir={data}",
               f"--init_checkpoint={tmp_path / 'pretrain'}",
               f"--output_dir={tmp_path / 'sentiment'}", f"--max_seq_length={SEQ}",
               "--train_batch_size=16", "--train_step=6", "--warmup_step=0",
               "--save_checkpoints_steps=6", "--iterations_per_loop=3", "--log_steps=3",
               "--do_train", "--do_eval", "--strategy=one_device",
               f"--export_dir={tmp_path / 'exports'}", "--export_model_name=sentiment")
    results = json.loads((tmp_path / "sentiment" / "eval_results.json").read_text())
    assert results["best"]["examples"] == 64
    record = json.loads((tmp_path / "sentiment" / "run_settings.json").read_text())
    assert record["settings"]["vocab_file"] == "assets/vocab.txt"
    assert record["identity"]["model"]["tokenizer_sha256"] == WordPieceTokenizer(
        VOCAB).model_sha256
    export = tmp_path / "exports" / "sentiment" / "1"
    assert (export / "assets" / "vocab.txt").exists()

    tokenizer = WordPieceTokenizer(VOCAB)
    texts = ["这家酒店的服务非常好，房间干净！", "電腦的質量太差了，不推薦購買。",
             "Kindle阅读器3代, 性价比高 😀"]
    from albert_tf.data.packing import pack

    rows = [pack(tokenizer.encode(text), None, SEQ, tokenizer.special_ids) for text in texts]
    width = max(sum(mask) for _, mask, _ in rows)
    features = {name: [row[index][:width] for row in rows]
                for index, name in enumerate(("input_ids", "input_mask", "segment_ids"))}
    served = subprocess.run([sys.executable, "-c", SERVE, str(export), json.dumps(texts),
                             json.dumps(features)], capture_output=True, text=True,
                            timeout=300, env=ENV)
    assert served.returncode == 0, served.stderr[-3000:]
    answers = json.loads(served.stdout.strip().splitlines()[-1])
    assert not answers["albert_tf"]
    np.testing.assert_allclose(answers["text"], answers["ids"], rtol=1e-5, atol=1e-5)
    assert set(answers["labels"]) <= {"0", "1"}
