import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.data.masking import ngram_probabilities
from albert_tf.data.corpus import (CorpusDocuments, CorpusStats, TokenCache, document_ranges,
                                   tokenize_file)
from albert_tf.data.pretraining_data import (PretrainingDataError, PretrainingDataSettings,
                                             create_pretraining_data, output_paths,
                                             shuffle_shard)
from albert_tf.data.tfrecord_frames import frame, read_frames, record_of
from albert_tf.data.sentencepiece_tokenizer import (CLS_ID, MASK_ID, SEP_ID, AlbertTokenizer,
                                         TokenizerError, train_sentencepiece)
from tests.records import read_records
from tests.text_corpus import write_corpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    files = [write_corpus(folder / "a.txt", 120, seed=1), write_corpus(folder / "b.txt", 80, seed=2)]
    spm_model = train_sentencepiece(files, str(folder / "spm"), vocab_size=400)
    return files, spm_model


def run(corpus, output, **kwargs):
    files, spm_model = corpus
    shards = kwargs.pop("num_output_shards", 1)
    workers = kwargs.pop("num_workers", 1)
    options = PretrainingDataSettings(**{"max_seq_length": 128, "max_predictions_per_seq": 20,
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
    # Chunks of one sentence are label 1 (B from another document, as in the original);
    # the others are swapped half the time.
    single = sidecar["statistics"]["single_sentence_chunks"]
    assert single > 0 and sidecar["statistics"]["single_sentence_chunks_skipped"] == 0
    expected = (single + 0.5 * (len(labels) - single)) / len(labels)
    assert abs(labels.mean() - expected) < 4 * 0.5 / np.sqrt(len(labels))

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
    on_disk = json.loads((tmp_path / "train.manifest.json").read_text())
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
    options = PretrainingDataSettings(max_seq_length=64, dupe_factor=1)
    with caplog.at_level("WARNING"):
        sidecar = create_pretraining_data([str(text)], str(tmp_path / "out"), spm_model, options)
    assert f"{text}:3: skipping a line that is not UTF-8" in caplog.text
    assert sidecar["corpus"]["invalid_utf8_lines"] == 1
    assert sidecar["corpus"]["single_sentence_documents"] == 1
    assert sidecar["corpus"]["long_sentences_split"] == 1
    assert sidecar["corpus"]["long_sentence_cuts_inside_words"] == 0
    assert sidecar["corpus"]["documents"] == 3  # the one-sentence document is paired too
    for row in read_records([str(tmp_path / "out")]):
        assert row["input_mask"].sum() <= 64


@pytest.mark.parametrize("override, message", [
    ({"max_seq_length": 4}, "--max_seq_length must be between 5"),
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
                                PretrainingDataSettings(random_next_sentence=True))
    assert not out.exists()  # the folder it would have created is not left behind
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
    # The original's command line: --vocab_file beside --spm_model_file, --input_file_mode.
    result = subprocess.run(base + [f"--output_file={tmp_path / 'ok'}", "--max_seq_length=64",
                                    "--dupe_factor=1", "--num_output_shards=2",
                                    "--num_workers=1", f"--vocab_file={tmp_path}/unused.vocab",
                                    "--input_file_mode=rb"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "instances/s" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["ok-00000-of-00002", "ok-00001-of-00002", "ok.manifest.json"]


def test_a_rerun_replaces_the_previous_shard_set_whole(corpus, tmp_path):
    """Before: a rerun with another --num_output_shards left the old shards beside the new
    ones, and the README's glob then mixed them."""
    run(corpus, tmp_path / "train.tfrecord", num_output_shards=4)
    first = sorted(os.listdir(tmp_path))
    assert first == ["train.manifest.json"] + [f"train.tfrecord-0000{k}-of-00004"
                                               for k in range(4)]
    run(corpus, tmp_path / "train.tfrecord", num_output_shards=2)
    assert sorted(os.listdir(tmp_path)) == [
        "train.manifest.json", "train.tfrecord-00000-of-00002", "train.tfrecord-00001-of-00002"]
    manifest = json.loads((tmp_path / "train.manifest.json").read_text())
    assert manifest["shard_bytes"] == [
        os.path.getsize(tmp_path / f"train.tfrecord-0000{k}-of-00002") for k in range(2)]
    # The manifest does not match the README's input globs.
    assert glob.glob(str(tmp_path / "train.tfrecord*")) == glob.glob(
        str(tmp_path / "train.tfrecord-*"))


def test_readers_refuse_incomplete_mixed_and_changed_shard_sets(corpus, tmp_path):
    from albert_tf.data.pretraining_dataset import PretrainingRecordError, check_input_files

    def check(pattern):
        check_input_files(sorted(glob.glob(str(tmp_path / pattern))), 128, 20, False)

    run(corpus, tmp_path / "train.tfrecord", num_output_shards=4)
    check("train.tfrecord-*")  # complete: no error
    shard = tmp_path / "train.tfrecord-00002-of-00004"
    data = shard.read_bytes()
    shard.write_bytes(data[:len(data) // 2])
    with pytest.raises(PretrainingRecordError, match="00002-of-00004 has .* bytes but .*"
                                                     "train.manifest.json recorded"):
        check("train.tfrecord-*")
    shard.unlink()  # what a kill between two renames leaves (the manifest is removed first)
    (tmp_path / "train.manifest.json").unlink()
    with pytest.raises(PretrainingRecordError, match=r"incomplete: 1 of 4 missing \(.*00002"):
        check("train.tfrecord-*")
    shard.write_bytes(data)
    (tmp_path / "train.tfrecord-00000-of-00002").write_bytes(data)  # an older set's leftover
    with pytest.raises(PretrainingRecordError, match=r"shard sets of \[2, 4\] files side by"):
        check("train.tfrecord-*")
    (tmp_path / "train.tfrecord-00000-of-00002").unlink()
    (tmp_path / "train.manifest.json").write_text(json.dumps({"tool": "x"}))
    with pytest.raises(PretrainingRecordError, match="is a create_pretraining_data manifest"):
        check("train*")
    (tmp_path / "notes.json").write_text(json.dumps({"note": "not a record file at all"}))
    with pytest.raises(PretrainingRecordError, match="notes.json: not a readable TFRecord"):
        check("notes.json")


def worker_pids(parent):
    children = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.isdigit() and int(fields[1]) == parent:
            children.append(int(entry))
    return children


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_after_kill_9_workers_exit_and_the_rerun_cleans_up(corpus, tmp_path):
    import signal
    import time

    files, spm_model = corpus
    big = write_corpus(tmp_path / "big.txt", 1500, seed=3)
    command = [sys.executable, os.path.join(ROOT, "create_pretraining_data.py"),
               f"--input_file={big}", f"--spm_model_file={spm_model}",
               f"--output_file={tmp_path / 'out' / 'train.tfrecord'}", "--max_seq_length=64",
               "--dupe_factor=40", "--num_workers=2", "--num_output_shards=2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 120
    workers = []
    while time.monotonic() < deadline and len(workers) < 2:
        time.sleep(0.5)
        workers = [pid for pid in worker_pids(process.pid)
                   if "spawn_main" in open(f"/proc/{pid}/cmdline").read()]
    assert len(workers) >= 2, "workers never started"
    time.sleep(3)  # into the work
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in workers):
        time.sleep(0.2)
    alive = [p for p in workers if os.path.exists(f"/proc/{p}")
             and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]
    assert alive == [], "orphaned workers kept running"
    leftovers = os.listdir(tmp_path / "out")
    assert any(name.startswith(".create_pretraining_data-") for name in leftovers)
    assert not any(name.startswith("train") for name in leftovers)  # no partial set
    result = subprocess.run(command[:-3] + ["--dupe_factor=1", "--num_workers=1"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "left by a killed run" in result.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["train.manifest.json", "train.tfrecord"]


# -- the original's shuffle, and what the work is split into -------------------------------

MARKERS = "жωשก"


def marked_corpus(folder, files=4, documents=20):
    """Files whose every sentence opens with the file's own marker letter."""
    paths = []
    for index in range(files):
        path = write_corpus(folder / f"f{index}.txt", documents, seed=10 + index)
        lines = open(path, encoding="utf-8").read().split("\n")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(f"{MARKERS[index]} {line}" if line else line
                                   for line in lines))
        paths.append(path)
    return paths, train_sentencepiece(paths, str(folder / "spm"), vocab_size=300)


def test_records_are_mixed_across_files_dupe_passes_and_shards(tmp_path):
    """Before: every shard held file 0's records first and file 3's last."""
    files, spm_model = marked_corpus(tmp_path)
    tokenizer = AlbertTokenizer(spm_model)
    marker_ids = {index: {i for i in range(tokenizer.vocab_size)
                          if MARKERS[index] in tokenizer.id_to_piece(i)} for index in range(4)}
    options = PretrainingDataSettings(max_seq_length=64, dupe_factor=2, dynamic_masking=True)
    create_pretraining_data(files, str(tmp_path / "out" / "x"), spm_model, options,
                            num_output_shards=2)
    for shard in output_paths(str(tmp_path / "out" / "x"), 2):
        sources = []
        for row in read_records([shard]):
            ids = row["input_ids"]
            segment_a = set(ids[1:int(np.flatnonzero(ids == SEP_ID)[0])].tolist())
            found = [f for f, marks in marker_ids.items() if segment_a & marks]
            if len(found) == 1:
                sources.append(found[0])
        sources = np.array(sources)
        assert len(sources) > 200
        correlation = np.corrcoef(np.arange(len(sources)), sources)[0, 1]
        assert abs(correlation) < 0.2, correlation
        tenth = len(sources) // 10
        assert len(set(sources[:tenth])) == 4 and len(set(sources[-tenth:])) == 4


@pytest.mark.parametrize("memory_bytes", [1 << 30, 3000])
def test_shuffle_shard_is_a_seeded_uniform_permutation(tmp_path, memory_bytes):
    """In memory, or (small memory) scattered to buckets first: either way every record
    once, in an order that does not follow the parts."""
    def parts(folder):
        folder.mkdir()
        paths = []
        for part in range(4):
            path = folder / f"part-{part}"
            path.write_bytes(b"".join(frame(f"{part}:{i}".encode()) for i in range(250)))
            paths.append(str(path))
        return paths

    outputs = []
    for attempt in range(2):
        folder = tmp_path / f"run{attempt}"
        size = shuffle_shard(parts(folder), str(folder / "out"), np.random.default_rng(5),
                             memory_bytes, str(folder))
        assert size == os.path.getsize(folder / "out")
        assert sorted(os.listdir(folder)) == ["out"]  # parts and buckets removed
        outputs.append([record_of(f).decode() for f in read_frames(str(folder / "out"))])
    assert outputs[0] == outputs[1]
    records = outputs[0]
    assert sorted(records) == sorted(f"{p}:{i}" for p in range(4) for i in range(250))
    part_of = np.array([int(r.split(":")[0]) for r in records])
    assert abs(np.corrcoef(np.arange(len(part_of)), part_of)[0, 1]) < 0.15
    # Windows of 100 records hold about as many parts as a uniform shuffle gives (4).
    assert min(len(set(part_of[i:i + 100])) for i in range(0, 1000, 100)) == 4


def test_frames_are_the_bytes_tensorflow_writes(tmp_path):
    records = [b"", b"x", os.urandom(3000)]
    with tf.io.TFRecordWriter(str(tmp_path / "tf")) as writer:
        for record in records:
            writer.write(record)
    assert (tmp_path / "tf").read_bytes() == b"".join(frame(r) for r in records)
    assert [record_of(f) for f in read_frames(str(tmp_path / "tf"))] == records


def test_byte_ranges_tokenize_to_the_same_documents(corpus, tmp_path):
    files, spm_model = corpus
    tokenizer = AlbertTokenizer(spm_model)
    whole = tokenize_file(files[0], tokenizer, str(tmp_path / "whole"), 60, 1)
    ranges = document_ranges(files[0], 2000)
    assert len(ranges) > 3 and ranges[0][0] == 0 and ranges[-1][1] == os.path.getsize(files[0])
    pieces, counts = [], CorpusStats()
    for index, byte_range in enumerate(ranges):
        counts.add(tokenize_file(files[0], tokenizer, str(tmp_path / f"r{index}"), 60, 1,
                                 byte_range))
        pieces.append(TokenCache(str(tmp_path / f"r{index}")))
    assert counts.documents == whole.documents and counts.tokens == whole.tokens
    joined, reference = CorpusDocuments(pieces), CorpusDocuments([TokenCache(str(tmp_path / "whole"))])
    assert [joined[i] for i in range(len(joined))] == [reference[i] for i in range(len(reference))]


def test_long_sentences_are_cut_at_word_starts(corpus, tmp_path):
    _, spm_model = corpus
    tokenizer = AlbertTokenizer(spm_model)
    starts = np.array([tokenizer.is_word_start(i) for i in range(tokenizer.vocab_size)])
    text = tmp_path / "long.txt"
    sentence = " ".join(["kalomishine", "ru", "taborfin"] * 60) + "."
    text.write_text(f"{sentence}\nA short one.\n")
    stats = tokenize_file(str(text), tokenizer, str(tmp_path / "cache"), 50, 1, None, starts)
    assert stats.long_sentences_split == 1 and stats.long_sentence_cuts_inside_words == 0
    sentences = TokenCache(str(tmp_path / "cache")).document(0)[:-1]
    assert len(sentences) > 3 and all(0 < len(s) <= 50 for s in sentences)
    assert all(starts[s[0]] for s in sentences)
    lengths = [len(s) for s in sentences[:-1]]
    assert max(lengths) - min(lengths) <= 10  # near-equal pieces
