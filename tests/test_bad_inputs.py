"""The bad-input matrix: every entry script, fed what users get wrong, must end with a
one-line error that names the file, line or flag, exit non-zero, leave nothing it would
have written, and touch nothing that was there before.

The cases of one script run in one process (tests/bad_input_driver.py), all scripts at
once, so the matrix costs a few TensorFlow imports rather than one per case. Validation
happens before heavy work, which is what keeps each case fast.
"""

import dataclasses
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.config import AlbertConfig
from albert_tf.data.glue import get_task
from albert_tf.data.pretraining_data import PretrainingDataSettings, create_pretraining_data
from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer, train_sentencepiece
from albert_tf.export.saved_model import ServingModule, export_saved_model, load_serving_model
from albert_tf.tasks.classification.task import ClassifierSettings, run as run_classifier
from albert_tf.training.distribution import create_strategy
from tests.text_corpus import write_corpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVER = os.path.join(ROOT, "tests", "bad_input_driver.py")


@dataclasses.dataclass(frozen=True)
class Case:
    script: str
    name: str
    argv: Tuple[str, ...]
    expect: str  # a piece of the error message
    absent: Tuple[str, ...] = ()  # paths (relative to the workspace) that must not exist
    unchanged: Tuple[str, ...] = ()  # folders whose files must stay byte for byte

    @property
    def id(self):
        return f"{self.script}:{self.name}"


def case(script, name, argv, expect, absent=(), unchanged=()):
    return Case(script, name, tuple(argv), expect, tuple(absent), tuple(unchanged))


W = "{W}"  # replaced by the workspace folder
TINY = [f"--albert_config_file={W}/config.json"]
RACE = [*TINY, "--spm_model_file={W}/spm.model", "--max_seq_length=32", "--max_qa_length=8",
        "--train_batch_size=2", "--train_step=2", "--strategy=one_device"]
PRETRAIN = ["--input_file={W}/records/train.tfrecord-*", "--max_seq_length=32",
            "--max_predictions_per_seq=5", "--train_batch_size=4", "--num_train_steps=2",
            "--strategy=one_device"]
CLASSIFY = ["--task_name=SST-2", "--data_dir={W}/glue/SST-2", "--spm_model_file={W}/spm.model",
            "--max_seq_length=16", "--train_batch_size=4", "--train_step=2",
            "--strategy=one_device", "--do_train"]
EXPORT = ["--init_checkpoint={W}/runs/sst2", "--task_name=SST-2",
          "--spm_model_file={W}/spm.model", "--max_seq_length=16"]
QUERY = ["--model_dir={W}/exports/sst-2/1"]
ANALYZE = ["--init_checkpoint={W}/runs/sst2", "--input_file={W}/corpus.txt"]


def out(name):
    return f"{W}/out/{name}"


CASES: List[Case] = [
    # -- albert_params ----------------------------------------------------------------
    case("albert_params", "no config", [], "exactly one of --albert_config_file or --preset"),
    case("albert_params", "missing file", ["--albert_config_file={W}/nope.json"],
         "nope.json: config file not found"),
    case("albert_params", "not utf-8", ["--albert_config_file={W}/cfg_latin1.json"],
         "cfg_latin1.json: not UTF-8 text"),
    case("albert_params", "invalid json", ["--albert_config_file={W}/cfg_invalid.json"],
         "cfg_invalid.json: not valid JSON (line 1"),
    case("albert_params", "missing hidden_size", ["--albert_config_file={W}/cfg_nohidden.json"],
         "cfg_nohidden.json: missing required key(s) hidden_size"),
    case("albert_params", "negative embedding", ["--preset=base", "--embedding_size=-4"],
         "embedding_size must be a positive integer, got -4"),
    case("albert_params", "size beyond memory", ["--preset=base", "--embedding_size=100000000"],
         "describes about 3.21e+12 parameters"),
    # -- train_sentencepiece ----------------------------------------------------------
    case("train_sentencepiece", "no file", ["--input_file={W}/nothing*.txt",
                                            f"--model_prefix={out('spm_none')}/m"],
         "pattern '{W}/nothing*.txt' matches no file", absent=["out/spm_none"]),
    case("train_sentencepiece", "binary input", ["--input_file={W}/binary.bin",
                                                 f"--model_prefix={out('spm_bin')}/m"],
         "lines are not UTF-8: binary input", absent=["out/spm_bin"]),
    case("train_sentencepiece", "one overlong line", ["--input_file={W}/longline.txt",
                                                      f"--model_prefix={out('spm_long')}/m"],
         "longer than 4192 bytes and skipped", absent=["out/spm_long"]),
    case("train_sentencepiece", "blank input", ["--input_file={W}/blank.txt",
                                                f"--model_prefix={out('spm_blank')}/m"],
         "every line is empty", absent=["out/spm_blank"]),
    case("train_sentencepiece", "prefix under a file", ["--input_file={W}/corpus.txt",
                                                        "--model_prefix={W}/blocker/m"],
         "{W}/blocker is a file, not a folder"),
    case("train_sentencepiece", "vocab too small", ["--input_file={W}/corpus.txt",
                                                    f"--model_prefix={out('spm_small')}/m",
                                                    "--vocab_size=2"],
         "vocab_size", absent=["out/spm_small"]),
    # -- create_pretraining_data ------------------------------------------------------
    *[case("create_pretraining_data", name,
           ["--input_file={W}/corpus.txt", "--spm_model_file={W}/spm.model",
            f"--output_file={out('cpd_' + str(i))}/train.tfrecord", *extra], expect,
           absent=[f"out/cpd_{i}"]) for i, (name, extra, expect) in enumerate([
               ("masked_lm_prob 2", ["--masked_lm_prob=2"], "--masked_lm_prob must be in (0, 1]"),
               ("sequence too short", ["--max_seq_length=3"], "--max_seq_length must be between 5"),
               ("no workers", ["--num_workers=0"], "--num_workers must be between 1 and"),
               ("no shards", ["--num_output_shards=0"], "--num_output_shards must be between"),
               ("no dupes", ["--dupe_factor=0"], "--dupe_factor must be at least 1"),
               ("huge sequence", ["--max_seq_length=100000000"],
                "--max_seq_length must be between 5 ([CLS] a [SEP] b [SEP]) and 16384"),
               ("predictions beyond length", ["--max_seq_length=16",
                                              "--max_predictions_per_seq=40"],
                "--max_predictions_per_seq must be between 1 and --max_seq_length"),
               ("original's permutation", ["--do_permutation"],
                "--do_permutation (the original's permuted-token objective) is not supported"),
               ("bad input mode", ["--input_file_mode=w"], "--input_file_mode must be r or rb"),
               ("no shuffle memory", ["--shuffle_memory_mb=0"],
                "--shuffle_memory_mb must be at least 1"),
               ("unknown segmenter", ["--word_segmenter=ltp"],
                "--word_segmenter must be one of none, jieba, got 'ltp'"),
               ("segmenter without whole words", ["--word_segmenter=jieba",
                                                  "--nodo_whole_word_mask"],
                "which needs --do_whole_word_mask"),
               ("segmenter with SentencePiece", ["--word_segmenter=jieba"],
                "segments Chinese text for a WordPiece vocabulary (--vocab_file"),
               ("user dictionary without segmenter", ["--segmenter_user_dict={W}/corpus.txt"],
                "--segmenter_user_dict needs --word_segmenter=jieba"),
           ])],
    case("create_pretraining_data", "missing segmenter user dictionary",
         ["--input_file={W}/corpus.txt", "--vocab_file={W}/vocab.txt", "--word_segmenter=jieba",
          "--segmenter_user_dict={W}/nope_dict.txt", f"--output_file={out('cpd_nodict')}/x"],
         "nope_dict.txt: segmenter user dictionary not found", absent=["out/cpd_nodict"]),
    case("create_pretraining_data", "segmenter user dictionary not UTF-8",
         ["--input_file={W}/corpus.txt", "--vocab_file={W}/vocab.txt", "--word_segmenter=jieba",
          "--segmenter_user_dict={W}/binary.bin", f"--output_file={out('cpd_bindict')}/x"],
         "binary.bin:1: not UTF-8", absent=["out/cpd_bindict"]),
    case("create_pretraining_data", "segmenter user dictionary is a directory",
         ["--input_file={W}/corpus.txt", "--vocab_file={W}/vocab.txt", "--word_segmenter=jieba",
          "--segmenter_user_dict={W}/squad", f"--output_file={out('cpd_dirdict')}/x"],
         "{W}/squad: is a directory; expected a segmenter user dictionary",
         absent=["out/cpd_dirdict"]),
    *[case("create_pretraining_data", f"segmenter user dictionary: {name}",
           ["--input_file={W}/corpus.txt", "--vocab_file={W}/vocab.txt",
            "--word_segmenter=jieba", f"--segmenter_user_dict={{W}}/{dictionary}",
            f"--output_file={out('cpd_' + dictionary)}/x"], expect,
           absent=[f"out/cpd_{dictionary}"])
      for name, dictionary, expect in [
          ("negative frequency", "dict_negative.txt",
           "dict_negative.txt:2: frequency '-5' is not a non-negative integer"),
          ("non-numeric frequency", "dict_word.txt",
           "dict_word.txt:1: frequency 'often' is not a non-negative integer")]],
    case("create_pretraining_data", "WordPiece vocabulary is a directory",
         ["--input_file={W}/corpus.txt", "--vocab_file={W}/squad",
          f"--output_file={out('cpd_vocabdir')}/x"],
         "{W}/squad: is a directory; expected a vocabulary file", absent=["out/cpd_vocabdir"]),
    case("create_pretraining_data", "WordPiece vocabulary with a repeated token",
         ["--input_file={W}/corpus.txt", "--vocab_file={W}/vocab_repeat.txt",
          f"--output_file={out('cpd_vocab')}/x"],
         "vocab_repeat.txt:7: '的' repeats line 6", absent=["out/cpd_vocab"]),
    case("create_pretraining_data", "GBK vocabulary",
         ["--input_file={W}/corpus.txt", "--vocab_file={W}/vocab_gbk.txt",
          f"--output_file={out('cpd_gbk')}/x"],
         "vocab_gbk.txt:6: not UTF-8 (it reads as GBK, the Chinese Windows encoding: convert "
         "it with iconv -f GBK -t UTF-8)", absent=["out/cpd_gbk"]),
    case("create_pretraining_data", "vocabulary whose characters became '?'",
         ["--input_file={W}/corpus.txt", "--vocab_file={W}/vocab_lossy.txt",
          f"--output_file={out('cpd_lossy')}/x"],
         "vocab_lossy.txt:7: '?' repeats line 6; characters were lost when the file was "
         "converted", absent=["out/cpd_lossy"]),
    case("create_pretraining_data", "no tokenizer",
         ["--input_file={W}/corpus.txt", f"--output_file={out('cpd_notok')}/x"],
         "give --spm_model_file (a SentencePiece model", absent=["out/cpd_notok"]),
    case("create_pretraining_data", "missing spm model",
         ["--input_file={W}/corpus.txt", "--spm_model_file={W}/nope.model",
          f"--output_file={out('cpd_nospm')}/x"], "nope.model: SentencePiece model file not",
         absent=["out/cpd_nospm"]),
    case("create_pretraining_data", "garbage spm model",
         ["--input_file={W}/corpus.txt", "--spm_model_file={W}/binary.bin",
          f"--output_file={out('cpd_badspm')}/x"], "binary.bin", absent=["out/cpd_badspm"]),
    case("create_pretraining_data", "no instance",
         ["--input_file={W}/blank.txt", "--spm_model_file={W}/spm.model",
          f"--output_file={out('cpd_blank')}/x", "--num_workers=1"],
         "no instance could be made", absent=["out/cpd_blank"]),
    case("create_pretraining_data", "output under a file",
         ["--input_file={W}/corpus.txt", "--spm_model_file={W}/spm.model",
          "--output_file={W}/blocker/x"], "{W}/blocker is a file, not a folder"),
    case("create_pretraining_data", "no input",
         ["--input_file={W}/none*.txt", "--spm_model_file={W}/spm.model",
          f"--output_file={out('cpd_none')}/x"], "matches no file", absent=["out/cpd_none"]),
    # -- run_pretraining --------------------------------------------------------------
    *[case("run_pretraining", name, [*PRETRAIN, *flags_, f"--output_dir={out('pt_' + str(i))}"],
           expect, absent=[f"out/pt_{i}"]) for i, (name, flags_, expect) in enumerate([
               ("config not utf-8", ["--albert_config_file={W}/cfg_latin1.json"],
                "cfg_latin1.json: not UTF-8 text"),
               ("config without hidden_size", ["--albert_config_file={W}/cfg_nohidden.json"],
                "missing required key(s) hidden_size"),
               ("sequence beyond positions", [*TINY, "--max_seq_length=128"],
                "--max_seq_length=128 must be between 5 ([CLS] a [SEP] b [SEP]) and the model's "
                "max_position_embeddings (64)"),
               ("huge sequence", [*TINY, "--max_seq_length=100000000"],
                "--max_seq_length=100000000 must be between 5"),
               ("negative learning rate", [*TINY, "--learning_rate=-0.1"],
                "--learning_rate must be a positive number, got -0.1"),
               ("negative warmup", [*TINY, "--num_warmup_steps=-5"],
                "--num_warmup_steps must be at least 0, got -5"),
               ("zero batch", [*TINY, "--train_batch_size=0"],
                "--train_batch_size must be at least 1, got 0"),
               ("records of another length", [*TINY, "--max_seq_length=48"],
                "feature 'input_ids' has length 32 but 48 was asked for (--max_seq_length)"),
               ("manifest among the inputs", [*TINY, "--input_file={W}/records/train*"],
                "train.manifest.json is a create_pretraining_data manifest"),
               ("incomplete shard set", [*TINY, "--input_file={W}/partial/train.tfrecord-*"],
                "is incomplete: 1 of 2 missing"),
               ("not records", [*TINY, "--input_file={W}/corpus.txt"],
                "corpus.txt: not a readable TFRecord file"),
               ("ids beyond the vocabulary", ["--albert_config_file={W}/config_v50.json"],
                "beyond the config's vocab_size 50"),
               ("batch larger than the data", [*TINY, "--train_batch_size=100000"],
                "--train_batch_size=100000 is larger than the"),
               ("missing init checkpoint", [*TINY, "--init_checkpoint={W}/nope"],
                "--init_checkpoint"),
               ("eval without eval data", [*TINY, "--do_eval", "--nodo_train",
                                           "--max_eval_steps=0"],
                "--max_eval_steps must be at least 1"),
               ("no input file", [*TINY, "--input_file=/nonexistent/*.tfrecord"],
                "--input_file: pattern '/nonexistent/*.tfrecord' matches no file"),
               ("missing config file", ["--albert_config_file=/no.json"],
                "/no.json: config file not found"),
               ("flags from a flagfile", ["--flagfile={W}/pretrain.flags"],
                "/from/flagfile.json: config file not found"),
               ("no config", [], "give --albert_config_file or --preset: neither --output_dir "
                                 "nor --init_checkpoint holds an albert_config.json"),
               ("config and preset", [*TINY, "--preset=tiny"],
                "give at most one of --albert_config_file and --preset"),
           ])],
    case("run_pretraining", "a record damaged mid-file",
         [*PRETRAIN, *TINY, "--input_file={W}/damaged/train.tfrecord-*",
          f"--output_dir={out('pt_damaged')}"],
         "the training data is damaged: {W}/damaged/train.tfrecord-00000-of-00002: record "),
    case("run_pretraining", "output under a file", [*PRETRAIN, *TINY,
                                                    "--output_dir={W}/blocker/run"],
         "{W}/blocker is a file, not a folder"),
    # -- run_classifier ---------------------------------------------------------------
    *[case("run_classifier", name, [*CLASSIFY, *TINY, *flags_,
                                    f"--output_dir={out('cls_' + str(i))}"],
           expect, absent=[f"out/cls_{i}"]) for i, (name, flags_, expect) in enumerate([
               ("unknown task", ["--task_name=sst"], "--task_name: unknown task 'sst'"),
               ("custom without text column", ["--task_name=custom"],
                "--task_name=custom needs --text_a_column"),
               ("train file not utf-8", ["--data_dir={W}/glue_latin1/SST-2"],
                "glue_latin1/SST-2/train.tsv:3: not UTF-8 text"),
               ("label outside the task", ["--data_dir={W}/glue_badlabel/SST-2"],
                "glue_badlabel/SST-2/train.tsv:4: label 'positive' is not one of"),
               ("nan score", ["--task_name=STS-B", "--data_dir={W}/stsb_nan/STS-B"],
                "stsb_nan/STS-B/train.tsv:3: score 'nan' is not a finite number"),
               ("vocabulary beyond the config", ["--albert_config_file={W}/config_v50.json"],
                "has 200 pieces but the model's vocab_size is 50: ids past 49 have no "
                "embedding"),
               ("sequence beyond positions", ["--max_seq_length=512"],
                "--max_seq_length=512 must be between 5 ([CLS] a [SEP] b [SEP]) and the "
                "model's"),
               ("predict with no weights", ["--nodo_train", "--do_predict"],
                "holds no fine-tuned weights"),
               ("negative learning rate", ["--learning_rate=-1"],
                "--learning_rate must be a positive number"),
               ("batch larger than the data", ["--train_batch_size=4096"],
                "--train_batch_size=4096 is larger than the 40 training examples"),
               ("export under a file", ["--export_dir={W}/blocker/exports"],
                "{W}/blocker is a file, not a folder"),
               ("missing spm model", ["--spm_model_file={W}/nope.model"],
                "nope.model: SentencePiece model file not found"),
               ("no tokenizer", ["--spm_model_file="],
                "give the tokenizer: --spm_model_file (SentencePiece) or --vocab_file "
                "(WordPiece); neither --output_dir nor --init_checkpoint"),
               ("vocabulary is a directory", ["--spm_model_file=", "--vocab_file={W}/squad"],
                "{W}/squad: is a directory; expected a vocabulary file"),
               ("warmup proportion out of range", ["--warmup_proportion=1.5"],
                "--warmup_proportion must be in [0, 1], got 1.5"),
               ("epochs and steps", ["--num_train_epochs=2"],
                "give --train_step or --num_train_epochs, not both"),
               ("vocabulary with a repeated token", ["--spm_model_file=",
                                                     "--vocab_file={W}/vocab_repeat.txt"],
                "vocab_repeat.txt:7: '的' repeats line 6"),
           ])],
    case("run_classifier", "another task's run folder",
         [*CLASSIFY, *TINY, "--task_name=RTE", "--data_dir={W}/glue/RTE",
          "--output_dir={W}/runs/sst2"],
         "holds the weights of another run (task: 'SST-2' (recorded) -> 'RTE' (now)",
         unchanged=["runs/sst2"]),
    case("run_classifier", "another tokenizer in the run folder",
         [*CLASSIFY, *TINY, "--spm_model_file={W}/spm_other.model",
          "--output_dir={W}/runs/sst2"],
         "holds the weights of another run (tokenizer_sha256: ", unchanged=["runs/sst2"]),
    case("run_classifier", "unreadable run_settings.json",
         [*CLASSIFY, *TINY, "--output_dir={W}/runs/garbled"],
         "runs/garbled/run_settings.json: unreadable", unchanged=["runs/garbled"]),
    # Resuming with settings that change what is trained, without --new_phase.
    case("run_classifier", "resume with another length",
         [*CLASSIFY, "--train_batch_size=8", "--max_seq_length=20", "--train_step=4",
          "--output_dir={W}/runs/sst2"],
         "was trained with other settings (max_seq_length: 16 (recorded) -> 20 (now));",
         unchanged=["runs/sst2"]),
    case("run_classifier", "resume on edited training data",
         [*CLASSIFY, "--train_batch_size=8", "--data_dir={W}/glue_edited/SST-2",
          "--train_step=4", "--output_dir={W}/runs/sst2"],
         "(train_data_sha256: '", unchanged=["runs/sst2"]),
    case("run_classifier", "config other than the init checkpoint's",
         [*CLASSIFY, "--albert_config_file={W}/config_v50.json",
          "--init_checkpoint={W}/runs/sst2", f"--output_dir={out('cls_init_config')}"],
         "config_v50.json describes another model than --init_checkpoint's "
         "{W}/runs/sst2/albert_config.json (vocab_size: 200 vs 50)",
         absent=["out/cls_init_config"]),
    case("run_classifier", "tokenizer other than the init checkpoint's",
         [*CLASSIFY[:2], "--spm_model_file={W}/spm_other.model", *CLASSIFY[3:],
          "--init_checkpoint={W}/runs/sst2", f"--output_dir={out('cls_init_spm')}"],
         "spm_other.model is not the tokenizer --init_checkpoint {W}/runs/sst2 was trained "
         "with", absent=["out/cls_init_spm"]),
    # -- run_race -----------------------------------------------------------------------
    *[case("run_race", name, [*RACE, f"--data_dir={W}/race/{folder}",
                              f"--output_dir={out('race_' + folder)}"], expect,
           absent=[f"out/race_{folder}"])
      for name, folder, expect in [
          ("no train folder", "empty", "no train/ folder (expected train/middle/*.txt"),
          ("three options", "three", "a.txt:1, question 1: expected 4 option strings "
                                     "(--num_choices), got 3"),
          ("answer E", "letter", "a.txt:1, question 2: answer 'E' is not one of A, B, C, D"),
          ("no article", "noarticle", "a.txt:1: missing field 'article'"),
          ("broken JSON", "broken", "a.txt:2: not a JSON object"),
      ]],
    case("run_race", "both level filters", [*RACE, "--data_dir={W}/race/good", "--high_only",
                                            "--middle_only", f"--output_dir={out('race_1')}"],
         "--high_only and --middle_only exclude each other", absent=["out/race_1"]),
    case("run_race", "max_qa_length past max_seq_length",
         [*RACE, "--data_dir={W}/race/good", "--max_qa_length=40",
          f"--output_dir={out('race_2')}"],
         "--max_qa_length=40 must be at least 1 and leave room for the article in "
         "--max_seq_length=32", absent=["out/race_2"]),
    # -- run_squad ----------------------------------------------------------------------
    *[case("run_squad", name, [*TINY, "--spm_model_file={W}/spm.model", "--max_seq_length=64",
                                "--max_query_length=16", "--strategy=one_device",
                                f"--output_dir={out('sq_' + str(i))}", *flags_], expect,
           absent=[f"out/sq_{i}"]) for i, (name, flags_, expect) in enumerate([
               ("malformed JSON", ["--do_train", "--train_file={W}/squad/broken.json"],
                "squad/broken.json: not valid JSON (line 1"),
               ("missing question", ["--do_train", "--train_file={W}/squad/no_question.json"],
                "no_question.json: question 'q2': missing field 'question'"),
               ("duplicate ids", ["--do_train", "--train_file={W}/squad/duplicate.json"],
                "duplicate.json: question 'q1': duplicate question id"),
               ("empty context", ["--do_train", "--train_file={W}/squad/empty_context.json"],
                "empty_context.json: question 'q1': empty context"),
               ("missing file", ["--do_train", "--train_file={W}/squad/none.json"],
                "none.json: question-answering file not found"),
               ("nothing to do", ["--train_file={W}/squad/good.json"],
                "at least one of --do_train and --do_predict must be set"),
               ("predict without weights", ["--do_predict",
                                            "--predict_file={W}/squad/good.json"],
                "holds no fine-tuned checkpoint"),
               ("train without a file", ["--do_train"],
                "--train_file is required with --do_train"),
               ("unknown v2 head", ["--do_train", "--train_file={W}/squad/good.json",
                                    "--version_2_with_negative", "--v2_head=cls"],
                "--v2_head must be one of answerability, null_score, got 'cls'"),
               ("v2.0 file in a v1.1 run", ["--do_train", "--train_file={W}/squad/v2.json"],
                "v2.json: question 'q2': is_impossible: true (an unanswerable question, SQuAD "
                "v2.0) in a SQuAD v1.1 run; pass --version_2_with_negative"),
               ("v2.0 file predicted by a v1.1 run",
                ["--do_predict", "--predict_file={W}/squad/v2.json",
                 "--init_checkpoint={W}/runs/sst2"],
                "pass --version_2_with_negative"),
           ])],
    # -- export_model -----------------------------------------------------------------
    *[case("export_model", name, [*flags_, f"--export_dir={out('exp_' + str(i))}"], expect,
           absent=[f"out/exp_{i}"]) for i, (name, flags_, expect) in enumerate([
               # A checkpoint folder: no run_settings.json to take the task from.
               ("neither task nor encoder",
                [a for a in EXPORT if "task_name" not in a and "init_checkpoint" not in a]
                + ["--init_checkpoint={W}/runs/sst2/checkpoints",
                   "--albert_config_file={W}/runs/sst2/albert_config.json"],
                "is not a run folder: give --task_name"),
               ("another tokenizer", [*EXPORT[:2], "--spm_model_file={W}/spm_other.model"],
                "spm_other.model is not the tokenizer {W}/runs/sst2 was trained with"),
               ("another task", [*EXPORT, "--task_name=CoLA"],
                "--task_name=CoLA but {W}/runs/sst2 is a classification run with "
                "task_name=SST-2"),
               ("other lower-casing", [*EXPORT, "--nodo_lower_case"],
                "--do_lower_case=False but {W}/runs/sst2 was trained with do_lower_case=True"),
               ("a recorded path outside the run folder", ["--init_checkpoint={W}/runs/escape"],
                "spm_model_file '../../spm_other.model' leads outside the run folder"),
               ("a folder of an earlier version", ["--init_checkpoint={W}/runs/legacy"],
                "holds no copy of its tokenizer (its run_settings.json names "
                "{W}/spm.model, which is not opened"),
               ("a setting of the trained model", [*EXPORT[:1], "--doc_stride=3"],
                "--doc_stride cannot be changed for a classification export"),
               ("missing checkpoint", ["--init_checkpoint={W}/nope", "--task_name=SST-2",
                                       "--albert_config_file={W}/config.json"],
                "--init_checkpoint"),
               ("not a checkpoint", ["--init_checkpoint={W}/records", "--task_name=SST-2"],
                "--init_checkpoint: no checkpoint at '{W}/records'"),
               ("no config", ["--init_checkpoint={W}/bare/model", "--task_name=SST-2"],
                "--albert_config_file is needed: no albert_config.json in {W}/bare"),
               ("sequence beyond positions", [*EXPORT, "--max_seq_length=100000000"],
                "--max_seq_length=100000000 must be between 5"),
               ("unknown task", ["--init_checkpoint={W}/bare/model", *TINY, "--task_name=nope"],
                "unknown task 'nope'"),
               ("a task of another shape", ["--init_checkpoint={W}/bare/model", *TINY,
                                            "--task_name=MNLI", "--spm_model_file={W}/spm.model"],
                "but the model's classifier"),
               ("custom without labels", ["--init_checkpoint={W}/bare/model", *TINY,
                                          "--task_name=custom"],
                "--task_name=custom classification needs --labels"),
               ("a model name with a folder", [*EXPORT, "--model_name=a/b"],
                "--model_name='a/b': expected a plain folder name"),
               ("a SavedModel flag for another format",
                [*EXPORT[:1], "--format=tflite", "--model_name=x"],
                "--model_name is for --format=saved_model, not --format=tflite"),
               ("bfloat16 for a LiteRT file",
                [*EXPORT[:1], "--format=tflite", "--precision=mixed_bfloat16"],
                "--precision=mixed_bfloat16 is for SavedModel exports"),
           ])],
    case("export_model", "export under a file", [*EXPORT, "--export_dir={W}/blocker/x"],
         "{W}/blocker is a file, not a folder"),
    case("export_model", "another format into a full folder",
         [*EXPORT[:1], "--format=hugging_face", "--export_dir={W}/runs"],
         "--export_dir {W}/runs: already exists and is not empty", unchanged=["runs"]),
    # -- analyze_model ----------------------------------------------------------------
    *[case("analyze_model", name, [*flags_, f"--output_dir={out('an_' + str(i))}"], expect,
           absent=[f"out/an_{i}"]) for i, (name, flags_, expect) in enumerate([
               ("neither text nor records", ["--init_checkpoint={W}/bare/model", *TINY],
                "give exactly one of --input_file (text) and --record_file"),
               ("a label per checkpoint", [*ANALYZE, "--labels=a,b"],
                "--labels: give 1 distinct names"),
               ("no checkpoint", ["--init_checkpoint={W}/squad", "--input_file={W}/corpus.txt"],
                "--init_checkpoint: no checkpoint at '{W}/squad'"),
               # Before: reported as the tokenizer missing from the checkpoint's folder.
               ("no checkpoint, config given", ["--init_checkpoint={W}/nope/ckpt-5", *TINY,
                                                "--input_file={W}/corpus.txt"],
                "--init_checkpoint: no checkpoint at '{W}/nope/ckpt-5'"),
               ("no config beside the checkpoint", ["--init_checkpoint={W}/bare/model",
                                                    "--input_file={W}/corpus.txt"],
                "no albert_config.json in {W}/bare; pass --albert_config_file"),
               ("no tokenizer", ["--init_checkpoint={W}/bare/model", *TINY,
                                 "--input_file={W}/corpus.txt"],
                "its folder keeps no tokenizer; pass --spm_model_file"),
               ("no sequences", [*ANALYZE, "--max_sequences=0"],
                "--max_sequences must be at least 1, got 0"),
               ("configs for every checkpoint", [*ANALYZE, "--albert_config_file={W}/config.json"
                                                 ",{W}/config.json,{W}/config.json"],
                "--albert_config_file: give one file or one per checkpoint (1), got 3"),
               ("records without a manifest", ["--init_checkpoint={W}/runs/sst2",
                                               "--record_file={W}/corpus.txt"],
                "has no create_pretraining_data manifest giving its lengths"),
               ("length beyond the model", [*ANALYZE, "--max_seq_length=65"],
                "--max_seq_length=65 is longer than sst2's max_position_embeddings (64)"),
               ("another tokenizer than the run's", [*ANALYZE,
                                                     "--spm_model_file={W}/spm_other.model"],
                "spm_other.model is not the tokenizer {W}/runs/sst2 was trained with"),
           ])],
    # -- convert_checkpoint -----------------------------------------------------------
    *[case("convert_checkpoint", name, [f"--source={W}/{source}",
                                        f"--output_dir={out('conv_' + str(i))}"],
           expect, absent=[f"out/conv_{i}"]) for i, (name, source, expect) in enumerate([
               ("safetensors header of 10^12 bytes", "hf_big_header", "header too large"),
               ("truncated safetensors", "hf_truncated", "not fully covered"),
               ("invalid config.json", "hf_bad_config",
                "config.json: not a readable Hugging Face config.json"),
               ("config.json not an object", "hf_list_config", "expected a JSON object"),
               ("config.json without sizes", "hf_no_sizes", "missing required key(s)"),
               ("truncated TF checkpoint", "tf1/ckpt-1", "damaged or truncated"),
               ("missing source", "nope", "neither a TF checkpoint nor a Hugging Face model"),
           ])],
    case("convert_checkpoint", "output under a file", ["--source={W}/tf1/ckpt-1",
                                                       "--output_dir={W}/blocker/conv"],
         "{W}/blocker is a file, not a folder"),
    case("convert_checkpoint", "output folder not empty", ["--source={W}/tf1/ckpt-1",
                                                           "--output_dir={W}/runs/sst2"],
         "already exists and is not empty", unchanged=["runs/sst2"]),
    # -- query_saved_model ------------------------------------------------------------
    case("query_saved_model", "no export there", ["--model_dir={W}/nope", "--text_a=x"],
         "no saved_model.pb there"),
    case("query_saved_model", "truncated saved_model.pb",
         ["--model_dir={W}/broken_export/1", "--text_a=x"], "not a loadable SavedModel"),
    case("query_saved_model", "ids signature for text", [*QUERY, "--signature=serve_ids",
                                                         "--text_a=x"],
         "signature 'serve_ids' takes ['input_ids', 'input_mask', 'segment_ids']"),
    case("query_saved_model", "pair text for a single-text model", [*QUERY, "--text_a=x",
                                                                    "--text_b=y"],
         "signature 'serving_default' takes ['text_a'], but the texts given make"),
    case("query_saved_model", "ragged tsv", [*QUERY, "--input_tsv={W}/ragged.tsv"],
         "ragged.tsv:3: 1 column(s), but the header has 2"),
    case("query_saved_model", "missing tsv", [*QUERY, "--input_tsv={W}/nope.tsv"],
         "--input_tsv {W}/nope.tsv: file not found"),
    case("query_saved_model", "binary tsv", [*QUERY, "--input_tsv={W}/binary.bin"],
         "--input_tsv {W}/binary.bin: not UTF-8 text"),
    case("query_saved_model", "output under a file", [*QUERY, "--text_a=x",
                                                      "--output_json={W}/blocker/q.json"],
         "{W}/blocker is a file, not a folder"),
    case("query_saved_model", "negative limit", [*QUERY, "--input_tsv={W}/ragged.tsv",
                                                 "--limit=-1"], "--limit must be at least 0"),
    # -- run_demo ---------------------------------------------------------------------
    case("run_demo", "missing corpus", [f"--run_dir={out('demo_0')}", "--corpus={W}/nope.txt"],
         "--corpus {W}/nope.txt: no such file", absent=["out/demo_0"]),
    case("run_demo", "zero steps", [f"--run_dir={out('demo_1')}", "--pretrain_steps=0"],
         "--pretrain_steps must be at least 1", absent=["out/demo_1"]),
    case("run_demo", "negative learning rate", [f"--run_dir={out('demo_2')}",
                                                "--finetune_learning_rate=-1"],
         "--finetune_learning_rate must be positive", absent=["out/demo_2"]),
    case("run_demo", "run dir under a file", ["--run_dir={W}/blocker/demo"],
         "{W}/blocker is a file, not a folder"),
    case("run_demo", "unknown model size", [f"--run_dir={out('demo_3')}", "--model_size=huge"],
         "unknown preset 'huge'", absent=["out/demo_3"]),
]


def resolve(text, workspace):
    return text.replace(W, str(workspace))


def snapshot(folder) -> Dict[str, str]:
    files = {}
    for base, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, folder)] = hashlib.sha256(handle.read()).hexdigest()
    return files


def write_glue(folder, rows: Sequence[Tuple[str, str]], header="sentence\tlabel"):
    folder.mkdir(parents=True)
    lines = [header] + [f"{text}\t{label}" for text, label in rows]
    for split in ("train", "dev"):
        (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "test.tsv").write_text("index\tsentence\n" + "".join(
        f"{i}\t{text}\n" for i, (text, _) in enumerate(rows)), encoding="utf-8")


def build_workspace(folder):
    """Everything the cases read: small but real (a trained run, an export, records)."""
    rng = np.random.default_rng(0)
    corpus = write_corpus(folder / "corpus.txt", 60, seed=4)
    spm_model = train_sentencepiece([corpus], str(folder / "spm"), vocab_size=200)
    train_sentencepiece([write_corpus(folder / "other.txt", 30, seed=9)],
                        str(folder / "spm_other"), vocab_size=150)
    config = AlbertConfig.from_preset("tiny", vocab_size=200, max_position_embeddings=64)
    config.to_json_file(str(folder / "config.json"))
    config.replace(vocab_size=50).to_json_file(str(folder / "config_v50.json"))
    values = config.to_dict()
    del values["hidden_size"]
    (folder / "cfg_nohidden.json").write_text(json.dumps(values))
    (folder / "cfg_latin1.json").write_bytes(b'{"vocab_size": 200, "note": "caf\xe9"}')
    (folder / "cfg_invalid.json").write_text('{"vocab_size": 200,')
    (folder / "blocker").write_text("a file where a folder is expected")
    (folder / "pretrain.flags").write_text("--albert_config_file=/from/flagfile.json\n"
                                           "--num_train_steps=3\n")
    (folder / "binary.bin").write_bytes(rng.integers(0, 256, 60_000, dtype=np.uint8).tobytes())
    (folder / "longline.txt").write_text("word " * 5000 + "\n")
    (folder / "blank.txt").write_text("\n\n   \n")
    article = {"id": "a.txt", "article": "The Loire flows through Tours.",
               "questions": ["Which river?", "Where does it flow?"],
               "options": [["Loire", "Seine", "Rhine", "Po"], ["Tours", "Rome", "Bonn", "Oslo"]],
               "answers": ["A", "A"]}
    for name, record in [("good", article),
                         ("three", {**article, "options": [["a", "b", "c"]] * 2}),
                         ("letter", {**article, "answers": ["A", "E"]}),
                         ("noarticle", {k: v for k, v in article.items() if k != "article"}),
                         ("broken", json.dumps(article) + "\n{\"id\": ")]:
        for split in ("train", "dev"):
            path = folder / "race" / name / split / "middle" / "a.txt"
            path.parent.mkdir(parents=True)
            path.write_text(record if isinstance(record, str) else json.dumps(record))
    (folder / "race" / "empty").mkdir()
    (folder / "ragged.tsv").write_text("label\tsentence\n1\tfine\n0\n")
    (folder / "vocab_repeat.txt").write_text(
        "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n的\n的\n", encoding="utf-8")
    (folder / "vocab_gbk.txt").write_bytes("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n的\n一\n"
                                          .encode("gbk"))
    (folder / "vocab_lossy.txt").write_text(  # UTF-8 text that went through ASCII and back
        "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n?\n?\n", encoding="ascii")
    squad = folder / "squad"
    squad.mkdir()
    good = {"id": "q1", "question": "Who met Bob?",
            "answers": [{"text": "Ann", "answer_start": 0}]}

    def squad_file(name, context, *questions):
        (squad / name).write_text(json.dumps({"data": [{"paragraphs": [
            {"context": context, "qas": list(questions)}]}]}), encoding="utf-8")

    (squad / "broken.json").write_text('{"data": [{"paragraphs": ', encoding="utf-8")
    squad_file("good.json", "Ann met Bob.", good)
    squad_file("no_question.json", "Ann met Bob.", good, {"id": "q2", "answers": []})
    squad_file("duplicate.json", "Ann met Bob.", good, good)
    squad_file("empty_context.json", " \n ", good)
    squad_file("v2.json", "Ann met Bob.", good, {"id": "q2", "question": "Who left?",
                                                  "answers": [], "is_impossible": True})
    (folder / "dict_negative.txt").write_text("云计算 5 n\n区块链 -5\n", encoding="utf-8")
    (folder / "dict_word.txt").write_text("云计算 often n\n", encoding="utf-8")
    (folder / "vocab.txt").write_text(
        "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n的\nthe\n", encoding="utf-8")

    create_pretraining_data([corpus], str(folder / "records" / "train.tfrecord"), spm_model,
                            PretrainingDataSettings(max_seq_length=32, max_predictions_per_seq=5,
                                                    dupe_factor=1), num_output_shards=2)
    shutil.copytree(folder / "records", folder / "damaged")
    shard = folder / "damaged" / "train.tfrecord-00000-of-00002"
    data = bytearray(shard.read_bytes())
    data[len(data) * 2 // 3:len(data) * 2 // 3 + 8] = b"\xff" * 8  # same size, bad CRC
    shard.write_bytes(bytes(data))
    shutil.copytree(folder / "records", folder / "partial")
    (folder / "partial" / "train.tfrecord-00001-of-00002").unlink()
    (folder / "partial" / "train.manifest.json").unlink()

    words = ["good", "bad", "fine", "dull", "great", "awful", "film", "story", "plot"]
    rows = [(" ".join(rng.choice(words, 5)), str(i % 2)) for i in range(40)]
    write_glue(folder / "glue" / "SST-2", rows)
    write_glue(folder / "glue" / "RTE", [(text, "entailment") for text, _ in rows],
               header="sentence1\tsentence2\tlabel")
    write_glue(folder / "glue_latin1" / "SST-2", rows)
    with open(folder / "glue_latin1" / "SST-2" / "train.tsv", "ab") as handle:
        handle.write(b"caf\xe9 au lait\t1\n")
    lines = (folder / "glue_latin1" / "SST-2" / "train.tsv").read_bytes().split(b"\n")
    (folder / "glue_latin1" / "SST-2" / "train.tsv").write_bytes(
        b"\n".join(lines[:2] + [lines[-2]] + lines[2:-2]) + b"\n")  # bad bytes on line 3
    write_glue(folder / "glue_badlabel" / "SST-2", rows[:2] + [("odd row", "positive")])
    write_glue(folder / "stsb_nan" / "STS-B", [("a b", "1.5"), ("c d", "nan")],
               header="sentence1\tsentence2\tscore")
    for split in ("train", "dev"):  # STS-B has two texts
        path = folder / "stsb_nan" / "STS-B" / f"{split}.tsv"
        path.write_text("sentence1\tsentence2\tscore\na b\tc d\t1.5\ne f\tg h\tnan\n")

    run_classifier(ClassifierSettings(
        task=get_task("SST-2"), data_dir=str(folder / "glue" / "SST-2"),
        spm_model_file=spm_model, albert_config=config, output_dir=str(folder / "runs" / "sst2"),
        max_seq_length=16, train_batch_size=8, eval_batch_size=8, num_train_steps=2,
        save_checkpoints_steps=2, iterations_per_loop=2, log_steps=1, do_train=True,
        do_eval=True), create_strategy("one_device"))
    (folder / "runs" / "garbled").mkdir()
    (folder / "runs" / "garbled" / "run_settings.json").write_text('{"kind": "classifi')
    write_glue(folder / "glue_edited" / "SST-2", rows[::-1])
    # A run folder whose record names a tokenizer outside it (a valid model, which the
    # export would otherwise take); one as an earlier version wrote it (no copy inside);
    # and bare weights without a config beside them.
    runs = folder / "runs"
    shutil.copytree(runs / "sst2", runs / "escape")
    record = json.loads((runs / "sst2" / "run_settings.json").read_text())
    escaped = json.loads(json.dumps(record))
    escaped["settings"]["spm_model_file"] = "../../spm_other.model"
    (runs / "escape" / "run_settings.json").write_text(json.dumps(escaped))
    shutil.copytree(runs / "sst2", runs / "legacy")
    shutil.rmtree(runs / "legacy" / "assets")
    (runs / "legacy" / "run_settings.json").write_text(json.dumps(
        {"kind": "fine_tuning", **record["settings"], "spm_model_file": spm_model}))
    (runs / "legacy" / "run.json").write_text(json.dumps(
        {"task": "SST-2", "labels": ["0", "1"], "spm_model_sha256": record["tokenizer"][
            "sha256"], "do_lower_case": True}))
    (folder / "bare").mkdir()
    for name in os.listdir(runs / "sst2" / "best"):
        shutil.copyfile(runs / "sst2" / "best" / name, folder / "bare" / name)
    module = ServingModule(load_serving_model(config, str(folder / "runs" / "sst2"), 2),
                           AlbertTokenizer(spm_model), 16, ["0", "1"])
    export_saved_model(module, str(folder / "exports"), "sst-2")
    shutil.copytree(folder / "exports" / "sst-2", folder / "broken_export")
    pb = folder / "broken_export" / "1" / "saved_model.pb"
    pb.write_bytes(pb.read_bytes()[:200])

    hf_values = {"model_type": "albert", **{k: v for k, v in config.to_dict().items()
                                            if k != "sharing"}}
    for name, header_length, body in (("hf_big_header", 10**12, b"{}"),
                                      ("hf_truncated", None, None)):
        hf = folder / name
        hf.mkdir()
        (hf / "config.json").write_text(json.dumps(hf_values))
        if header_length:
            (hf / "model.safetensors").write_bytes(struct.pack("<Q", header_length) + body)
        else:
            header = json.dumps({"w": {"dtype": "F32", "shape": [100],
                                       "data_offsets": [0, 400]}}).encode()
            (hf / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header
                                                   + b"\0" * 200)
    for name, text in (("hf_bad_config", "{not json"), ("hf_list_config", "[1, 2]"),
                       ("hf_no_sizes", json.dumps({"model_type": "albert"}))):
        shutil.copytree(folder / "hf_truncated", folder / name)
        (folder / name / "config.json").write_text(text)
    prefix = tf.train.Checkpoint(v=tf.Variable(np.zeros(4000, np.float32))).write(
        str(folder / "tf1" / "ckpt-1"))
    config.to_json_file(str(folder / "tf1" / "albert_config.json"))
    data = prefix + ".data-00000-of-00001"
    with open(data, "r+b") as handle:
        handle.truncate(os.path.getsize(data) // 2)
    (folder / "out").mkdir()


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    """(workspace, {case id: result}, snapshots taken before the cases ran)."""
    workspace = tmp_path_factory.mktemp("bad_inputs")
    build_workspace(workspace)
    watched = {path for c in CASES for path in c.unchanged}
    before = {path: snapshot(workspace / path) for path in watched}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    processes = {}
    for script in dict.fromkeys(c.script for c in CASES):
        cases = [{"id": c.id, "argv": [resolve(a, workspace) for a in c.argv]}
                 for c in CASES + GOOD_CASES if c.script == script]
        process = subprocess.Popen([sys.executable, DRIVER, script], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=env, cwd=ROOT)
        process.stdin.write(json.dumps(cases))
        process.stdin.close()
        processes[script] = process
    results = {}
    for script, process in processes.items():
        stdout = process.stdout.read()
        stderr = process.stderr.read()
        process.wait(timeout=900)
        assert process.returncode == 0, f"{script} driver died:\n{stderr[-3000:]}"
        results.update(json.loads(stdout.strip().splitlines()[-1]))
    return workspace, results, before


# Runs that succeed, in the same driver processes (no TensorFlow import of their own): the
# fine-tuning scripts take the warmup from --warmup_proportion whenever the steps are given.
GOOD_CASES: List[Case] = [
    case("run_squad", "steps given, warmup from the proportion",
         [*TINY, "--spm_model_file={W}/spm.model", "--max_seq_length=32",
          "--max_query_length=8", "--doc_stride=8", "--strategy=one_device", "--do_train",
          "--train_file={W}/squad/good.json", "--train_batch_size=1", "--num_train_steps=30",
          "--save_checkpoints_steps=30", "--iterations_per_loop=30",
          f"--output_dir={out('good_squad')}"], ""),
    case("run_classifier", "warmup from the proportion",
         [*CLASSIFY, *TINY, "--train_step=8", "--warmup_proportion=0.25",
          "--save_checkpoints_steps=8", f"--output_dir={out('good_classifier')}"], ""),
    *[case("export_model", f"a run as {format_}",
           ["--init_checkpoint={W}/runs/sst2", f"--format={format_}",
            f"--export_dir={out('as_' + format_)}"], "")
      for format_ in ("hugging_face", "keras_hub", "tflite")],
    case("run_classifier", "steps from epochs",  # 40 examples x 0.5 / batch 4 -> 5 steps
         [*[flag for flag in CLASSIFY if not flag.startswith("--train_step")],
          *TINY, "--num_train_epochs=0.5", "--warmup_proportion=0.4",
          "--save_checkpoints_steps=5", f"--output_dir={out('good_epochs')}"], ""),
]


def test_the_matrix_covers_every_script_with_at_least_60_cases():
    scripts = {c.script for c in CASES}
    assert scripts == {"albert_params", "train_sentencepiece", "create_pretraining_data",
                       "run_pretraining", "run_classifier", "run_squad", "run_race",
                       "export_model",
                       "convert_checkpoint", "query_saved_model", "run_demo",
                       "analyze_model"}
    assert len(CASES) >= 60 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("bad", CASES, ids=lambda c: c.id)
def test_bad_input_ends_in_a_clear_error_and_leaves_nothing(matrix, bad):
    workspace, results, before = matrix
    result = results[bad.id]
    assert not result["traceback"], result["message"]
    assert result["status"] != 0, result
    message = result["message"] + result["stderr"]
    assert resolve(bad.expect, workspace) in message, message[-1500:]
    for path in bad.absent:
        assert not os.path.exists(workspace / path), f"{path} was left behind"
    for path in bad.unchanged:
        assert snapshot(workspace / path) == before[path], f"{path} was changed"


def test_fine_tuning_scripts_warm_up_over_the_proportion_of_the_steps_given(matrix):
    """Before: run_squad --num_train_steps=30 kept the default warmup of 3125 steps. The
    steps may also come from --num_train_epochs."""
    workspace, results, _ = matrix
    for good, steps, warmup in zip([*GOOD_CASES[:2], GOOD_CASES[-1]], (30, 8, 5), (3, 2, 2)):
        assert results[good.id]["status"] == 0, results[good.id]
        folder = resolve(good.argv[-1].split("=", 1)[1], workspace)
        recorded = json.loads(open(os.path.join(folder, "run_settings.json")).read())
        assert (recorded["settings"]["num_train_steps"],
                recorded["settings"]["num_warmup_steps"]) == (steps, warmup), good.id


def test_a_run_folder_leaves_as_each_format_with_its_labels_and_tokenizer(matrix):
    from albert_tf.export.tflite import TfliteRunner
    from albert_tf.tasks.export_run import run_source, trained_model
    from albert_tf.tasks.run_folder import load_run

    workspace, results, _ = matrix
    exports = {good.argv[1].split("=")[1]: resolve(good.argv[2].split("=", 1)[1], workspace)
               for good in GOOD_CASES if good.script == "export_model"}
    for good in GOOD_CASES[2:]:
        assert results[good.id]["status"] == 0, results[good.id]
    run = os.path.join(workspace, "runs", "sst2")
    spm = open(os.path.join(run, "assets", "spiece.model"), "rb").read()
    hf = exports["hugging_face"]
    values = json.load(open(os.path.join(hf, "config.json")))
    assert values["architectures"] == ["AlbertForSequenceClassification"]
    assert values["id2label"] == {"0": "0", "1": "1"}  # SST-2's labels
    assert open(os.path.join(hf, "spiece.model"), "rb").read() == spm
    preset = exports["keras_hub"]
    assert json.load(open(os.path.join(preset, "task.json")))["class_name"] == \
        "AlbertTextClassifier"
    assert open(os.path.join(preset, "assets", "tokenizer", "vocabulary.spm"), "rb").read() == spm
    lite = exports["tflite"]
    assert sorted(os.listdir(lite)) == ["labels.txt", "model.tflite", "model_int8.tflite",
                                        "spiece.model"]
    model = trained_model(run_source(load_run(run)))
    ids = np.array([[2, 40, 41, 42, 3]], "int32")
    batch = (ids, np.ones_like(ids), np.zeros_like(ids))
    want = model(dict(zip(("input_ids", "input_mask", "segment_ids"), batch))).numpy()
    got = TfliteRunner(open(os.path.join(lite, "model.tflite"), "rb").read())(*batch)
    np.testing.assert_allclose(got["logits"], want, atol=1e-4)


def test_query_answers_follow_the_umask_and_the_run_records_what_it_belongs_to(matrix):
    """Before: --output_json was always 0600 (mkstemp's mode)."""
    workspace, _, _ = matrix
    target = workspace / "answers" / "q.json"
    result = subprocess.run(
        ["bash", "-c", f"umask 022 && exec {sys.executable} "
         f"{os.path.join(ROOT, 'query_saved_model.py')} --model_dir={workspace}/exports/sst-2/1 "
         f"--text_a='a good film' --output_json={target}"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert oct(os.stat(target).st_mode & 0o777) == oct(0o644)
    assert json.loads(target.read_text())["answers"][0]["label"] in ("0", "1")
    record = json.loads((workspace / "runs" / "sst2" / "run_settings.json").read_text())
    identity = record["identity"]["model"]
    assert identity["task"] == "SST-2" and identity["labels"] == ["0", "1"]
    assert identity["tokenizer_sha256"] == record["tokenizer"]["sha256"] == hashlib.sha256(
        (workspace / "spm.model").read_bytes()).hexdigest()
