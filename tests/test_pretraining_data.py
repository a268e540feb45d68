import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.data.masking import ngram_probabilities
from albert_tf.data.pretraining_data import (PretrainingDataError, PretrainingDataOptions,
                                             create_pretraining_data, output_paths)
from albert_tf.data.tokenization import (CLS_ID, MASK_ID, SEP_ID, TokenizerError,
                                         train_sentencepiece)
from tests.text_corpus import write_corpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    files = [write_corpus(folder / "a.txt", 120, seed=1), write_corpus(folder / "b.txt", 80, seed=2)]
    spm_model = train_sentencepiece(files, str(folder / "spm"), vocab_size=400)
    return files, spm_model


def read_records(paths):
    """Every record of the files, parsed by tf.train.Example (not by our pipeline)."""
    rows = []
    for path in paths:
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            feature = tf.train.Example.FromString(record).features.feature
            rows.append({name: np.array(value.int64_list.value or value.float_list.value)
                         for name, value in feature.items()})
    return rows


def run(corpus, output, **kwargs):
    files, spm_model = corpus
    shards = kwargs.pop("num_output_shards", 1)
    workers = kwargs.pop("num_workers", 1)
    options = PretrainingDataOptions(**{"max_seq_length": 128, "max_predictions_per_seq": 20,
                                        "dupe_factor": 2, **kwargs})
    return create_pretraining_data(files, str(output), spm_model, options,
                                   num_workers=workers, num_output_shards=shards)


def test_statistics_of_generated_data(corpus, tmp_path):
    sidecar = run(corpus, tmp_path / "train.tfrecord", max_seq_length=256,
                  max_predictions_per_seq=60, dupe_factor=4)
    rows = read_records([str(tmp_path / "train.tfrecord")])
    assert len(rows) == sidecar["statistics"]["instances"] > 400

    masked = real = mask = kept = random_ids = 0
    for row in rows:
        ids, length = row["input_ids"], int(row["input_mask"].sum())
        assert row["input_mask"][:length].all() and not row["input_mask"][length:].any()
        seps = np.flatnonzero(ids[:length] == SEP_ID)
        assert ids[0] == CLS_ID and len(seps) == 2 and seps[1] == length - 1
        np.testing.assert_array_equal(row["segment_ids"][:length],
                                      np.arange(length) > seps[0])
        count = int(row["masked_lm_weights"].sum())
        positions, labels = row["masked_lm_positions"][:count], row["masked_lm_ids"][:count]
        assert not np.isin(positions, [0, *seps]).any()
        assert (np.diff(positions) > 0).all()
        chosen = ids[positions]
        mask += int((chosen == MASK_ID).sum())
        kept += int((chosen == labels).sum())
        random_ids += int(((chosen != MASK_ID) & (chosen != labels)).sum())
        masked += count
        real += length
    assert abs(masked / real - 0.15) < 0.01
    shares = np.array([mask, kept, random_ids]) / masked
    # A random replacement equal to the label counts as kept: 1 in ~400 ids, negligible.
    np.testing.assert_allclose(shares, [0.8, 0.1, 0.1], atol=0.02)
    labels = np.array([row["next_sentence_labels"][0] for row in rows])
    assert abs(labels.mean() - 0.5) < 4 * 0.5 / np.sqrt(len(labels))

    statistics = sidecar["statistics"]
    assert statistics["masked_fraction"] == pytest.approx(masked / real, abs=1e-4)
    assert statistics["label_1_fraction"] == pytest.approx(labels.mean(), abs=1e-4)
    # The drawn n follow p(n); chosen spans lean shorter (long ones overlap or overrun the
    # budget more often, as in the original) but keep the order 1 > 2 > 3.
    np.testing.assert_allclose(statistics["drawn_ngram_histogram"], ngram_probabilities(3),
                               atol=0.02)
    chosen = statistics["ngram_histogram"]
    assert chosen[0] > chosen[1] > chosen[2] > 0.05
    np.testing.assert_allclose(chosen, ngram_probabilities(3), atol=0.15)
    on_disk = json.loads((tmp_path / "train.tfrecord.json").read_text())
    assert on_disk["statistics"] == statistics and on_disk["masked"] is True


def test_output_depends_on_seed_and_shards_not_on_workers(corpus, tmp_path):
    run(corpus, tmp_path / "one" / "x", num_output_shards=3, num_workers=1)
    run(corpus, tmp_path / "two" / "x", num_output_shards=3, num_workers=2)
    names = output_paths("x", 3)
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    # One shard holds the same records, dealt differently.
    run(corpus, tmp_path / "single" / "x", num_output_shards=1)
    records = lambda paths: sorted(  # noqa: E731
        r for p in paths for r in tf.data.TFRecordDataset(p).as_numpy_iterator())
    assert records([str(tmp_path / "one" / n) for n in names]) == records(
        [str(tmp_path / "single" / "x")])
    run(corpus, tmp_path / "seed" / "x", random_seed=7)
    assert (tmp_path / "seed" / "x").read_bytes() != (tmp_path / "single" / "x").read_bytes()
    leftovers = [p for p in glob.glob(str(tmp_path / "*" / ".*"))]
    assert leftovers == []


def test_bad_lines_are_counted_and_named(corpus, tmp_path, caplog):
    _, spm_model = corpus
    text = tmp_path / "bad.txt"
    long_line = " ".join(["kalomi"] * 300)
    text.write_bytes(
        b"Good first line here.\nSecond good line.\n\xff\xfe broken line\n\n"
        b"Only one sentence.\n\n"
        + long_line.encode() + b"\nAnd a short one.\n")
    options = PretrainingDataOptions(max_seq_length=64, dupe_factor=1)
    with caplog.at_level("WARNING"):
        sidecar = create_pretraining_data([str(text)], str(tmp_path / "out"), spm_model, options)
    assert f"{text}:3: skipping a line that is not UTF-8" in caplog.text
    assert sidecar["corpus"]["invalid_utf8_lines"] == 1
    assert sidecar["corpus"]["single_sentence_documents"] == 1
    assert sidecar["corpus"]["long_sentences_split"] == 1
    assert sidecar["corpus"]["documents"] == 2
    for row in read_records([str(tmp_path / "out")]):
        assert row["input_mask"].sum() <= 64


@pytest.mark.parametrize("override, message", [
    ({"max_seq_length": 4}, "--max_seq_length must be at least 5"),
    ({"max_predictions_per_seq": 0}, "--max_predictions_per_seq must be between 1"),
    ({"masked_lm_prob": 1.5}, "--masked_lm_prob must be in (0, 1]"),
    ({"dupe_factor": 0}, "--dupe_factor must be at least 1"),
    ({"short_seq_prob": -0.1}, "--short_seq_prob must be in [0, 1]"),
    ({"ngram": 0}, "--ngram must be at least 1"),
])
def test_flags_out_of_range(corpus, tmp_path, override, message):
    with pytest.raises(PretrainingDataError, match=message.replace("(", r"\(").replace(
            ")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        run(corpus, tmp_path / "x", **override)
    assert os.listdir(tmp_path) == []


def test_unusable_inputs_fail_clearly_and_leave_nothing(corpus, tmp_path):
    _, spm_model = corpus
    blank = tmp_path / "in" / "blank.txt"
    blank.parent.mkdir()
    blank.write_text("\n\n   \n")
    out = tmp_path / "out"
    with pytest.raises(PretrainingDataError, match="no instance could be made"):
        create_pretraining_data([str(blank)], str(out / "x"), spm_model)
    one_doc = tmp_path / "in" / "one.txt"
    one_doc.write_text("First sentence.\nSecond sentence.\n")
    with pytest.raises(PretrainingDataError, match=f"{one_doc}: --random_next_sentence"):
        create_pretraining_data([str(one_doc)], str(out / "x"), spm_model,
                                PretrainingDataOptions(random_next_sentence=True))
    assert os.listdir(out) == []
    with pytest.raises(TokenizerError, match="missing.model: SentencePiece model file not found"):
        create_pretraining_data([str(one_doc)], str(out / "x"), str(tmp_path / "missing.model"))
    with pytest.raises(PretrainingDataError, match="lists 2 files but --num_output_shards is 3"):
        output_paths("a,b", 3)


def test_nsp_takes_segment_b_from_other_documents(corpus, tmp_path):
    sidecar = run(corpus, tmp_path / "nsp", random_next_sentence=True)
    assert sidecar["options"]["random_next_sentence"] is True
    assert 0.3 < sidecar["statistics"]["label_1_fraction"] < 0.7


def test_command_line_reports_errors_without_traceback(corpus, tmp_path):
    files, spm_model = corpus
    base = [sys.executable, os.path.join(ROOT, "create_pretraining_data.py"),
            f"--input_file={files[0]}", f"--spm_model_file={spm_model}"]
    result = subprocess.run(base + [f"--output_file={tmp_path / 'x'}", "--masked_lm_prob=2"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "create_pretraining_data: --masked_lm_prob must be in (0, 1], got 2.0" in result.stderr
    assert "Traceback" not in result.stderr
    result = subprocess.run(
        base[:2] + [f"--input_file={tmp_path}/nothing*.txt", f"--spm_model_file={spm_model}",
                    f"--output_file={tmp_path / 'x'}"], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "matches no file" in result.stderr
    result = subprocess.run(base + [f"--output_file={tmp_path / 'ok'}", "--max_seq_length=64",
                                    "--dupe_factor=1", "--num_output_shards=2",
                                    "--num_workers=1"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "instances/s" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["ok-00000-of-00002", "ok-00001-of-00002", "ok.json"]
