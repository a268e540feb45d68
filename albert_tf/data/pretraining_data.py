"""create_pretraining_data: text files -> sharded TFRecords of masked SOP (or NSP) instances.

Stages, each spread over the worker processes:
1. Tokenize: every file is cut into byte ranges of whole documents (`corpus.
   document_ranges`), each tokenized once into an on-disk token cache.
2. Instances: one unit per (input file, dupe pass) draws from its own generator seeded by
   (random_seed, file index, dupe pass), pairs and masks the file's documents (a random
   segment B comes from any document of the corpus, as in the original) and deals its
   records to the shards in random order, into one part file per shard.
3. Shuffle: every shard's records are shuffled as a whole (the original shuffles all
   instances; see `shuffle_shard`), in memory bounded by `shuffle_memory_mb`.

The output therefore depends on the seed, the shard count and (only for shards larger than
it) `shuffle_memory_mb`, never on how many workers ran or in which order they finished.
Workers import no TensorFlow (records are framed by `tfrecord_frames`), so they start in
about a second. Shards are assembled in a hidden work folder and moved in only when all
are complete; the manifest, written last, completes the set (see shards.py). Worker
processes exit when the parent dies.

Records carry the original tool's feature names and dtypes, so either tool's output
loads in the other's input pipeline. With `dynamic_masking` the records are written
unmasked (no masked_lm_* features) and the input pipeline masks them anew every epoch.
"""

import concurrent.futures
import dataclasses
import itertools
import json
import multiprocessing
import os
import shutil
import threading
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
from absl import logging

from albert_tf.data.corpus import (CorpusDocuments, CorpusStats, TokenCache, document_ranges,
                                   tokenize_file)
from albert_tf.data.example_encoding import ExampleEncoder
from albert_tf.data.features import (ENCODER_FEATURES, MASKED_LM_FEATURES, SENTENCE_ORDER_LABEL,
                                     TOKEN_BOUNDARY)
from albert_tf.data.masking import mask_sequences
from albert_tf.data.segment_pairs import PairingStats, SegmentPair, segment_pairs_from_document
from albert_tf.data.tfrecord_frames import frame, read_frames
from albert_tf.data.sentencepiece_tokenizer import ALBERT_SPECIAL_IDS, SpecialIds
from albert_tf.data.tokenizers import load_tokenizer
from albert_tf.data.word_segmentation import (SEGMENTERS, ChineseWordSegmenter,
                                              WholeWordEncoder, token_boundary_of, unmarked)
from albert_tf.data.wordpiece_tokenizer import WordPieceTokenizer
from albert_tf.data.shards import (MANIFEST_TOOL, existing_set_files, manifest_path,
                                   shard_name)
from albert_tf.errors import AlbertTfError
from albert_tf.io_utils import (current_umask, check_writable, owned_temp_name, remove_stale,
                                write_atomically)

MAX_OUTPUT_SHARDS = 1000  # each worker keeps one open part file per shard
MAX_WORKERS = 256
# Instances are encoded 256 at a time; far past any position table (512 in the released
# models) that is memory no machine has.
MAX_SEQ_LENGTH = 16384
WORK_DIR_PREFIX = ".create_pretraining_data-"
_ENCODE_BATCH = 256
# Tokenization ranges: about two per worker, within these bounds.
MIN_RANGE_BYTES = 1 << 20
MAX_RANGE_BYTES = 64 << 20


class PretrainingDataError(AlbertTfError, ValueError):
    """Bad flags or unusable input; the message names the flag or file."""


def max_predictions_for(max_seq_length: int) -> int:
    """Prediction slots in the original's ratio (20 for 128 tokens at masked_lm_prob 0.15).

    >>> max_predictions_for(128), max_predictions_for(64), max_predictions_for(512)
    (20, 10, 80)
    """
    return max(1, round(max_seq_length * 20 / 128))


@dataclasses.dataclass(frozen=True)
class PretrainingDataSettings:
    """The original create_pretraining_data flags (same names and defaults), plus
    `dynamic_masking`, `skip_single_sentence_chunks` (skip chunks of one sentence instead
    of pairing them with another document's text, as the original does),
    `shuffle_memory_mb` (memory for shuffling a shard; larger shards take a second pass
    over the disk) and `word_segmenter` with `segmenter_user_dict` (Chinese whole-word
    masking, see word_segmentation.py)."""

    max_seq_length: int = 512
    max_predictions_per_seq: int = 20
    random_seed: int = 12345
    dupe_factor: int = 40
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    ngram: int = 3
    favor_shorter_ngram: bool = True
    do_whole_word_mask: bool = True
    random_next_sentence: bool = False
    do_lower_case: bool = True
    dynamic_masking: bool = False
    skip_single_sentence_chunks: bool = False
    shuffle_memory_mb: int = 1024
    word_segmenter: str = "none"
    segmenter_user_dict: Optional[str] = None

    def validate(self) -> None:
        checks = [
            ("max_seq_length", 5 <= self.max_seq_length <= MAX_SEQ_LENGTH,
             f"between 5 ([CLS] a [SEP] b [SEP]) and {MAX_SEQ_LENGTH}"),
            ("max_predictions_per_seq",
             1 <= self.max_predictions_per_seq <= self.max_seq_length,
             "between 1 and --max_seq_length"),
            ("dupe_factor", self.dupe_factor >= 1, "at least 1"),
            ("masked_lm_prob", 0.0 < self.masked_lm_prob <= 1.0, "in (0, 1]"),
            ("short_seq_prob", 0.0 <= self.short_seq_prob <= 1.0, "in [0, 1]"),
            ("ngram", self.ngram >= 1, "at least 1"),
            ("random_seed", self.random_seed >= 0, "non-negative"),
            ("shuffle_memory_mb", self.shuffle_memory_mb >= 1, "at least 1"),
        ]
        for flag, ok, expected in checks:
            if not ok:
                raise PretrainingDataError(
                    f"--{flag} must be {expected}, got {getattr(self, flag)!r}")
        if self.word_segmenter not in SEGMENTERS:
            raise PretrainingDataError(f"--word_segmenter must be one of {', '.join(SEGMENTERS)}"
                                       f", got {self.word_segmenter!r}")
        if self.word_segmenter != "none" and not self.do_whole_word_mask:
            raise PretrainingDataError(
                f"--word_segmenter={self.word_segmenter} decides which pieces mask together, "
                "which needs --do_whole_word_mask")
        if self.segmenter_user_dict and self.word_segmenter == "none":
            raise PretrainingDataError("--segmenter_user_dict needs --word_segmenter=jieba")


@dataclasses.dataclass
class InstanceStats:
    """Counters over the written instances (summed over units)."""

    instances: int = 0
    tokens: int = 0  # real tokens, [CLS]/[SEP] included
    masked: int = 0
    swapped_or_random: int = 0  # label 1
    short_instances: int = 0  # fewer tokens than max_seq_length
    half_length_instances: int = 0  # at most half of max_seq_length
    boundaries: int = 0  # token_boundary ones, [CLS]/[SEP] included
    single_sentence_chunks: int = 0
    single_sentence_chunks_skipped: int = 0
    ngram_counts: List[int] = dataclasses.field(default_factory=list)
    drawn_ngram_counts: List[int] = dataclasses.field(default_factory=list)
    replacement_counts: List[int] = dataclasses.field(default_factory=lambda: [0, 0, 0])

    @classmethod
    def for_ngram(cls, ngram: int) -> "InstanceStats":
        return cls(ngram_counts=[0] * ngram, drawn_ngram_counts=[0] * ngram)

    def add(self, other: "InstanceStats") -> None:
        for name in ("instances", "tokens", "masked", "swapped_or_random", "short_instances",
                     "half_length_instances", "boundaries", "single_sentence_chunks",
                     "single_sentence_chunks_skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("ngram_counts", "drawn_ngram_counts", "replacement_counts"):
            setattr(self, name, _add_counts(getattr(self, name), getattr(other, name)))

    def summary(self) -> Dict[str, object]:
        def share(part, whole):
            return round(part / whole, 4) if whole else None
        ngrams = sum(self.ngram_counts)
        drawn = sum(self.drawn_ngram_counts)
        replaced = sum(self.replacement_counts)
        return {
            "instances": self.instances,
            "mean_tokens_per_instance": share(self.tokens, self.instances),
            "masked_fraction": share(self.masked, self.tokens),
            "label_1_fraction": share(self.swapped_or_random, self.instances),
            "short_fraction": share(self.short_instances, self.instances),
            "half_length_or_less_fraction": share(self.half_length_instances, self.instances),
            "boundary_fraction": share(self.boundaries, self.tokens),
            "ngram_histogram": [share(count, ngrams) for count in self.ngram_counts],
            "drawn_ngram_histogram": [share(count, drawn) for count in self.drawn_ngram_counts],
            "replacement_mask_keep_random": [share(c, replaced) for c in self.replacement_counts],
            "single_sentence_chunks": self.single_sentence_chunks,
            "single_sentence_chunks_skipped": self.single_sentence_chunks_skipped,
        }


def _add_counts(a: Sequence[int], b: Sequence[int]) -> List[int]:
    """Element-wise sum of two histograms of possibly different lengths."""
    size = max(len(a), len(b))
    return (np.pad(np.asarray(a, int), (0, size - len(a)))
            + np.pad(np.asarray(b, int), (0, size - len(b)))).tolist()


def output_paths(output_file: str, num_output_shards: int) -> List[str]:
    """Shard names: the flag itself for one shard, `name-00003-of-00008` for several, or
    a comma-separated list given in the flag (the original's form).

    >>> output_paths("out/train.tfrecord", 2)
    ['out/train.tfrecord-00000-of-00002', 'out/train.tfrecord-00001-of-00002']
    """
    names = [name.strip() for name in output_file.split(",") if name.strip()]
    if not names:
        raise PretrainingDataError("--output_file: no output file given")
    if not 1 <= num_output_shards <= MAX_OUTPUT_SHARDS:
        raise PretrainingDataError(
            f"--num_output_shards must be between 1 and {MAX_OUTPUT_SHARDS}, "
            f"got {num_output_shards}")
    if len(names) > 1:
        if num_output_shards not in (1, len(names)):
            raise PretrainingDataError(
                f"--output_file lists {len(names)} files but --num_output_shards is "
                f"{num_output_shards}; give one name or matching counts")
        return names
    if num_output_shards == 1:
        return names
    return [shard_name(names[0], k, num_output_shards) for k in range(num_output_shards)]


class _UnitWriter:
    """Turns segment pairs into records a batch at a time and deals them to one part file
    per shard: each run of `len(shards)` records goes to the shards in a fresh random
    order, so the shards get equal shares and no shard sees the unit's records in turn."""

    def __init__(self, part_paths: Sequence[str], rng: np.random.Generator, make_batch,
                 on_written):
        self._parts = [open(path, "wb") for path in part_paths]
        self._rng = rng
        self._deal: List[int] = []
        self._encoder = ExampleEncoder()
        self._make_batch = make_batch
        self._on_written = on_written
        self._pending: List[SegmentPair] = []

    def add(self, pair: SegmentPair) -> None:
        self._pending.append(pair)
        if len(self._pending) == _ENCODE_BATCH:
            self._encode_pending()

    def _encode_pending(self) -> None:
        if not self._pending:
            return
        for record in self._encoder.encode_batch(*self._make_batch(self._pending)):
            if not self._deal:
                self._deal = self._rng.permutation(len(self._parts)).tolist()
            self._parts[self._deal.pop()].write(frame(record))
        self._on_written(len(self._pending))
        self._pending = []

    def close(self) -> None:
        try:
            self._encode_pending()
        finally:
            for part in self._parts:
                part.close()


def shuffle_shard(part_paths: Sequence[str], output_path: str, rng: np.random.Generator,
                  memory_bytes: int, work_dir: str) -> int:
    """Writes the records of `part_paths` to `output_path` in uniformly random order,
    holding at most about `memory_bytes` of records at a time; returns the bytes written.

    A shard that fits is shuffled in memory. A larger one is first scattered to
    `ceil(1.25 * size / memory_bytes)` bucket files, each record to a uniformly random
    bucket, and each bucket is then shuffled in memory and appended: a uniform random
    assignment followed by uniform shuffles of the buckets gives a uniform permutation.
    Each part file is removed once read.
    """
    total = sum(os.path.getsize(path) for path in part_paths)
    if total <= memory_bytes:
        groups = [list(part_paths)]
    else:
        buckets = -(-5 * total // (4 * memory_bytes))
        groups = [[os.path.join(work_dir, f"bucket-{b}")] for b in range(buckets)]
        outputs = [open(group[0], "wb") for group in groups]
        try:
            for path in part_paths:
                frames = read_frames(path)
                while chunk := list(itertools.islice(frames, 4096)):
                    for framed, bucket in zip(chunk, rng.integers(buckets, size=len(chunk))):
                        outputs[bucket].write(framed)
                os.remove(path)
        finally:
            for handle in outputs:
                handle.close()
    with open(output_path, "wb") as out:
        for group in groups:
            frames = [framed for path in group for framed in read_frames(path)]
            for index in rng.permutation(len(frames)).tolist():
                out.write(frames[index])
            for path in group:
                os.remove(path)
        return out.tell()


def instance_batch(pairs: Sequence[SegmentPair], word_starts: np.ndarray,
                   options: PretrainingDataSettings, rng: np.random.Generator,
                   stats: InstanceStats, special_ids: SpecialIds = ALBERT_SPECIAL_IDS):
    """The padded features of `[CLS] a [SEP] b [SEP]` for each pair, masked unless
    dynamic_masking: (int64 features {name: [batch, ...]}, float features)."""
    batch, seq = len(pairs), options.max_seq_length
    cls, sep = special_ids.cls, special_ids.sep
    marked = [np.concatenate([[cls], pair.tokens_a, [sep], pair.tokens_b, [sep]])
              .astype(np.int64) for pair in pairs]
    sequences = [unmarked(ids) for ids in marked]
    # The original marks word starts and [CLS]/[SEP] (which word_starts already says).
    boundaries = [token_boundary_of(ids, word_starts) for ids in marked]
    input_ids = np.zeros((batch, seq), np.int64)
    input_mask = np.zeros((batch, seq), np.int64)
    segment_ids = np.zeros((batch, seq), np.int64)
    token_boundary = np.zeros((batch, seq), np.int64)
    for row, (pair, ids, boundary) in enumerate(zip(pairs, sequences, boundaries)):
        length = len(ids)
        input_ids[row, :length] = ids
        input_mask[row, :length] = 1
        segment_ids[row, len(pair.tokens_a) + 2:length] = 1
        token_boundary[row, :length] = boundary
    labels = np.array([[pair.label] for pair in pairs], np.int64)
    lengths = input_mask.sum(axis=1)
    stats.instances += batch
    stats.tokens += int(lengths.sum())
    stats.short_instances += int((lengths < seq).sum())
    stats.half_length_instances += int((2 * lengths <= seq).sum())
    stats.boundaries += int(token_boundary.sum())
    stats.swapped_or_random += int(labels.sum())
    int64_features = dict(zip(ENCODER_FEATURES, (input_ids, input_mask, segment_ids)))
    int64_features.update({TOKEN_BOUNDARY: token_boundary, SENTENCE_ORDER_LABEL: labels})
    if options.dynamic_masking:
        return int64_features, {}
    predictions = options.max_predictions_per_seq
    positions = np.zeros((batch, predictions), np.int64)
    masked_ids = np.zeros((batch, predictions), np.int64)
    weights = np.zeros((batch, predictions), np.float32)
    results = mask_sequences(sequences, boundaries, rng, len(word_starts),
                             options.masked_lm_prob, predictions, options.ngram,
                             options.favor_shorter_ngram, options.do_whole_word_mask,
                             special_ids)
    for row, masked in enumerate(results):
        count = len(masked.positions)
        input_ids[row, :len(masked.input_ids)] = masked.input_ids
        positions[row, :count] = masked.positions
        masked_ids[row, :count] = masked.labels
        weights[row, :count] = 1.0
        stats.masked += count
        for n in masked.ngram_lengths.tolist():
            stats.ngram_counts[n - 1] += 1
        for n in masked.drawn_ngram_lengths.tolist():
            stats.drawn_ngram_counts[n - 1] += 1
        for kind in masked.replacements.tolist():
            stats.replacement_counts[kind] += 1
    positions_name, ids_name, weights_name = MASKED_LM_FEATURES
    int64_features.update({positions_name: positions, ids_name: masked_ids})
    return int64_features, {weights_name: weights}


# ---- worker side: state set once per process by _init_worker -------------------------
_worker: Dict[str, object] = {}


def _init_worker(tokenizer_files, lower_case, special_ids, word_starts, counter,
                 parent_pid=None) -> None:
    _worker.update(tokenizer_files=tokenizer_files, lower_case=lower_case,
                   special_ids=special_ids, word_starts=word_starts, counter=counter,
                   tokenizer=None)
    if parent_pid is not None:
        threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_with_parent(parent_pid: int) -> None:
    """A worker whose parent died (kill -9 included) stops at once instead of computing on
    as an orphan: the parent alone assembles shards, so nothing it made would be used."""
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(1)


def _tokenize_task(path: str, byte_range, directory: str, max_sentence_length: int,
                   min_sentences: int, options: PretrainingDataSettings) -> CorpusStats:
    if _worker["tokenizer"] is None:
        tokenizer = load_tokenizer(*_worker["tokenizer_files"], _worker["lower_case"])
        if options.word_segmenter == "jieba":
            tokenizer = WholeWordEncoder(
                tokenizer, ChineseWordSegmenter(options.segmenter_user_dict))
        _worker["tokenizer"] = tokenizer
    return tokenize_file(path, _worker["tokenizer"], directory, max_sentence_length,
                         min_sentences, byte_range, _worker["word_starts"])


def _unit_task(cache_dirs: Sequence[str], documents: range, file_index: int, dupe: int,
               part_paths: Sequence[str], options: PretrainingDataSettings) -> InstanceStats:
    """Instances from the corpus documents `documents` (one file's) for one dupe pass."""
    word_starts = _worker["word_starts"]
    counter = _worker["counter"]
    corpus = CorpusDocuments([TokenCache(directory) for directory in cache_dirs])
    rng = np.random.default_rng([options.random_seed, file_index, dupe])
    deal_rng = np.random.default_rng([options.random_seed, file_index, dupe, 1])
    stats = InstanceStats.for_ngram(options.ngram)
    pairing = PairingStats()
    draws_other = options.random_next_sentence or not options.skip_single_sentence_chunks

    def on_written(count):
        with counter.get_lock():
            counter.value += count

    def make_batch(pairs):
        return instance_batch(pairs, word_starts, options, rng, stats, _worker["special_ids"])

    writer = _UnitWriter(part_paths, deal_rng, make_batch, on_written)
    try:
        for index in documents:
            others = corpus.excluding(index) if draws_other else ()
            for pair in segment_pairs_from_document(
                    corpus[index], options.max_seq_length, rng, options.short_seq_prob,
                    options.random_next_sentence, others, pairing,
                    options.skip_single_sentence_chunks):
                writer.add(pair)
    finally:
        writer.close()
    stats.single_sentence_chunks = pairing.single_sentence_chunks
    stats.single_sentence_chunks_skipped = pairing.single_sentence_chunks_skipped
    return stats


class _InlineExecutor(concurrent.futures.Executor):
    """Runs tasks in this process (num_workers=1), with the same interface as the pool."""

    def submit(self, fn, *args, **kwargs):
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # re-raised by future.result()
            future.set_exception(error)
        return future


class _ProgressLogger:
    """Logs instances written and instances/s every `interval` seconds from a thread."""

    def __init__(self, counter, total_units: int, interval: float):
        self._counter, self._total_units, self._interval = counter, total_units, interval
        self.units_done = 0
        self._start = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()
        self.log()

    def _run(self):
        while not self._stop.wait(self._interval):
            self.log()

    def log(self):
        elapsed = time.monotonic() - self._start
        instances = self._counter.value
        logging.info("units %d/%d | instances %d | %.0f instances/s | %.0fs",
                     self.units_done, self._total_units, instances,
                     instances / max(elapsed, 1e-9), elapsed)


def create_pretraining_data(input_files: Sequence[str], output_file: str,
                            spm_model_file: Optional[str],
                            options: PretrainingDataSettings = PretrainingDataSettings(),
                            num_workers: int = 1, num_output_shards: int = 1,
                            progress_interval: float = 10.0,
                            vocab_file: Optional[str] = None) -> Dict[str, object]:
    """Writes the shards and their manifest; returns the manifest's contents.

    Args:
        input_files: Text files (see corpus.py for the format).
        output_file: Output name (see `output_paths`); the manifest (flags, shard sizes,
            statistics) is `shards.manifest_path(output_file)`, written last.
        spm_model_file: SentencePiece model with ALBERT's special ids; None to tokenize
            with the WordPiece `vocab_file` (the original's choice between the two).
        options: Flag values of the original tool.
        num_workers: Processes; 1 runs in this process.
        num_output_shards: Shards to write.
        progress_interval: Seconds between progress lines.
        vocab_file: A BERT-style WordPiece vocab.txt (the Chinese releases), used when
            `spm_model_file` is None.
    """
    options.validate()
    if not 1 <= num_workers <= MAX_WORKERS:
        raise PretrainingDataError(f"--num_workers must be between 1 and {MAX_WORKERS}, "
                                   f"got {num_workers}")
    paths = output_paths(output_file, num_output_shards)
    output_dirs = sorted({os.path.dirname(os.path.abspath(path)) for path in paths})
    if len(output_dirs) > 1:
        raise PretrainingDataError(f"--output_file: every shard must be in one folder, got "
                                   f"{output_dirs}")
    check_writable(paths[0], "output_file", is_dir=False)  # the folder every shard is in
    for path in paths[1:] + [manifest_path(output_file)]:
        if os.path.isdir(path):
            raise PretrainingDataError(f"--output_file: {path} is a folder, not a file")
    tokenizer = load_tokenizer(spm_model_file, vocab_file, options.do_lower_case)
    if options.word_segmenter != "none":
        if not isinstance(tokenizer, WordPieceTokenizer):
            raise PretrainingDataError(
                f"--word_segmenter={options.word_segmenter} segments Chinese text for a "
                "WordPiece vocabulary (--vocab_file, without --spm_model_file)")
        ChineseWordSegmenter(options.segmenter_user_dict)  # a bad dictionary fails here
    word_starts = np.array([tokenizer.is_word_start(i) for i in range(tokenizer.vocab_size)],
                           np.int64)
    word_starts[[tokenizer.special_ids.cls, tokenizer.special_ids.sep]] = 1
    output_dir = output_dirs[0]
    created_output_dir = not os.path.isdir(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    for stale in remove_stale(output_dir, WORK_DIR_PREFIX):
        logging.info("removed %s, left by a killed run", stale)
    work_dir = os.path.join(output_dir, owned_temp_name(WORK_DIR_PREFIX))
    os.mkdir(work_dir)
    counter = multiprocessing.get_context("spawn").Value("q", 0)
    init_args = ((spm_model_file, vocab_file), options.do_lower_case, tokenizer.special_ids,
                 word_starts, counter)
    if num_workers == 1:
        _init_worker(*init_args)
        executor = _InlineExecutor()
    else:
        executor = concurrent.futures.ProcessPoolExecutor(
            num_workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=init_args + (os.getpid(),))
    started = time.monotonic()
    try:
        with executor:
            corpus, cache_dirs, file_documents = _tokenize_all(
                executor, input_files, work_dir, options, num_workers)
            units = [(f, d) for f in range(len(input_files)) for d in range(options.dupe_factor)]
            stats = InstanceStats.for_ngram(options.ngram)
            with _ProgressLogger(counter, len(units), progress_interval) as progress:
                futures = [executor.submit(
                    _unit_task, cache_dirs, file_documents[f], f, d,
                    [os.path.join(work_dir, f"unit-{f}-{d}.part-{k}") for k in range(len(paths))],
                    options) for f, d in units]
                for future in concurrent.futures.as_completed(futures):
                    stats.add(future.result())
                    progress.units_done += 1
        if stats.instances == 0:
            raise PretrainingDataError(
                "no instance could be made from the input: documents need at least two "
                f"sentences (see the counts: {dataclasses.asdict(corpus)})")
        shard_sizes = _assemble_shards(paths, work_dir, units, options)
        _replace_shard_set(output_file, paths, work_dir)
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        if created_output_dir and not os.listdir(output_dir):
            os.rmdir(output_dir)
        raise
    shutil.rmtree(work_dir, ignore_errors=True)
    elapsed = time.monotonic() - started
    manifest = {
        "tool": MANIFEST_TOOL,
        "input_files": list(input_files),
        "spm_model_file": spm_model_file and os.path.abspath(spm_model_file),
        "vocab_file": None if spm_model_file else os.path.abspath(vocab_file),
        "tokenizer_sha256": tokenizer.model_sha256,
        "output_files": paths,
        "shard_bytes": shard_sizes,
        "num_output_shards": len(paths),
        "num_workers": num_workers,
        "options": dataclasses.asdict(options),
        "masked": not options.dynamic_masking,
        "corpus": dataclasses.asdict(corpus),
        "statistics": stats.summary(),
        "seconds": round(elapsed, 2),
        "instances_per_second": round(stats.instances / max(elapsed, 1e-9), 1),
    }
    write_atomically(manifest_path(output_file),
                     (json.dumps(manifest, indent=2) + "\n").encode())
    logging.info("wrote %d instances to %d shard(s) in %.1fs (%.0f instances/s); manifest "
                 "and statistics in %s", stats.instances, len(paths), elapsed,
                 manifest["instances_per_second"], manifest_path(output_file))
    return manifest


def _tokenize_all(executor, input_files, work_dir, options, num_workers):
    """Tokenizes every file by byte ranges; returns the corpus counts, the cache folders
    in corpus order and, per file, the range of corpus document indices it holds."""
    max_sentence_length = (options.max_seq_length - 3) // 2
    # Documents of one sentence make pairs only with another document's text.
    min_sentences = (2 if options.skip_single_sentence_chunks and not options.random_next_sentence
                     else 1)
    total_bytes = sum(os.path.getsize(path) for path in input_files)
    range_bytes = min(max(total_bytes // (2 * num_workers), MIN_RANGE_BYTES), MAX_RANGE_BYTES)
    tasks = [(f, r, byte_range) for f, path in enumerate(input_files)
             for r, byte_range in enumerate(document_ranges(path, range_bytes))]
    futures = [executor.submit(_tokenize_task, input_files[f], byte_range,
                               os.path.join(work_dir, f"cache-{f}-{r}"), max_sentence_length,
                               min_sentences, options) for f, r, byte_range in tasks]
    by_file: Dict[int, List] = {}
    for (f, r, _), future in zip(tasks, futures):
        by_file.setdefault(f, []).append((os.path.join(work_dir, f"cache-{f}-{r}"), future))
    corpus = CorpusStats()
    cache_dirs: List[str] = []
    file_documents: List[range] = []
    for f, path in enumerate(input_files):
        file_stats = CorpusStats()
        first_document = corpus.documents
        for cache_dir, future in by_file[f]:
            file_stats.add(future.result())
            cache_dirs.append(cache_dir)
        file_stats.files = 1
        # A file is empty when every one of its ranges is.
        file_stats.empty_files = int(file_stats.empty_files == len(by_file[f]))
        logging.info("tokenized %s: %d documents, %d sentences, %d tokens; %d long sentences "
                     "split (%d cuts inside a word)", path, file_stats.documents,
                     file_stats.sentences, file_stats.tokens, file_stats.long_sentences_split,
                     file_stats.long_sentence_cuts_inside_words)
        corpus.add(file_stats)
        file_documents.append(range(first_document, corpus.documents))
    if options.random_next_sentence and corpus.documents == 1:
        raise PretrainingDataError(
            f"{input_files[0] if len(input_files) == 1 else 'the input'}: "
            "--random_next_sentence (NSP) draws segment B from another document, but the "
            "input has only one document")
    return corpus, cache_dirs, file_documents


def _assemble_shards(paths: Sequence[str], work_dir: str, units,
                     options: PretrainingDataSettings) -> List[int]:
    """Shard k = every unit's part k, shuffled as a whole into `work_dir/shard-k`."""
    sizes = []
    for k in range(len(paths)):
        started = time.monotonic()
        parts = [os.path.join(work_dir, f"unit-{f}-{d}.part-{k}") for f, d in units]
        rng = np.random.default_rng([options.random_seed, k, 2])
        sizes.append(shuffle_shard(parts, os.path.join(work_dir, f"shard-{k}"), rng,
                                   options.shuffle_memory_mb << 20, work_dir))
        logging.info("shuffled shard %d/%d: %.1f MB in %.1fs", k + 1, len(paths),
                     sizes[-1] / 1e6, time.monotonic() - started)
    return sizes


def _replace_shard_set(output_file: str, paths: Sequence[str], work_dir: str) -> None:
    """Retires the previous set under this name (its manifest first, so an interruption
    leaves no manifest vouching for a partial set), then moves the new shards in. The new
    manifest, written after this, completes the set."""
    old_manifest = manifest_path(output_file)
    if os.path.exists(old_manifest):
        os.remove(old_manifest)
    for old in existing_set_files(output_file):
        os.remove(old)
    for k, path in enumerate(paths):
        os.chmod(os.path.join(work_dir, f"shard-{k}"), 0o666 & ~current_umask())
        os.replace(os.path.join(work_dir, f"shard-{k}"), path)
