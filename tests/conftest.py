import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from albert_tf.config import AlbertConfig  # noqa: E402
from tests.helpers import LABELS, SHARED_DATA, UNICODE_TEXTS  # noqa: E402
from tests.text_corpus import write_corpus  # noqa: E402


# The suite runs on two pytest-xdist workers, a file at a time (pytest.ini): handing out
# the longest files first (measured, slowest first) keeps one worker from finishing alone.
LONGEST_FILES = ("test_pretraining_loop.py", "test_question_answering.py", "test_export.py",
                 "test_ablation.py", "test_classifier.py", "test_demo.py",
                 "test_bad_inputs.py", "test_chinese.py", "test_cmrc2018.py",
                 "test_conversion.py", "test_pretraining_data.py")


def pytest_collection_modifyitems(items):
    rank = {name: index for index, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FILES)))


@pytest.fixture(autouse=True)
def _float32_policy_and_seed():
    """Every test starts in float32 with a fixed seed; mixed-precision tests may change it."""
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """A SentencePiece model, a config, and checkpoints of a classifier and an encoder (the
    export and serving tests')."""
    import tensorflow as tf

    from albert_tf.data.sentencepiece_tokenizer import train_sentencepiece
    from albert_tf.models import AlbertClassifier, AlbertEncoder

    folder = tmp_path_factory.mktemp("export")
    corpus = write_corpus(folder / "corpus.txt", 40, seed=8)
    with open(corpus, "a", encoding="utf-8") as handle:
        handle.write("\n".join(UNICODE_TEXTS * 3))
    spm_model = train_sentencepiece([corpus], str(folder / "spm"), vocab_size=300)
    config = AlbertConfig.from_preset("tiny", vocab_size=300, max_position_embeddings=64)
    config.to_json_file(str(folder / "albert_config.json"))
    classifier = AlbertClassifier(config, len(LABELS))
    tf.train.Checkpoint(model=classifier).write(str(folder / "classifier" / "model"))
    encoder = AlbertEncoder(config)
    tf.train.Checkpoint(encoder=encoder).write(str(folder / "encoder" / "encoder"))
    return folder, spm_model, config


def tiny_config(**overrides) -> AlbertConfig:
    """The tiny preset without dropout, so outputs are deterministic unless asked."""
    values = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    values.update(overrides)
    return AlbertConfig.from_preset("tiny", **values)


def random_batch(config: AlbertConfig, batch=3, seq=12, predictions=4, seed=0, with_labels=True):
    """A pretraining batch: [CLS] a [SEP] b [SEP] with trailing padding of varying length."""
    rng = np.random.default_rng(seed)
    input_ids = rng.integers(5, config.vocab_size, size=(batch, seq)).astype("int32")
    input_mask = np.ones((batch, seq), "int32")
    segment_ids = np.zeros((batch, seq), "int32")
    for row in range(batch):
        length = seq - row  # row r has r padding tokens
        input_ids[row, 0] = 2
        input_ids[row, length - 1] = 3
        input_ids[row, length // 2] = 3
        segment_ids[row, length // 2 + 1:length] = 1
        input_ids[row, length:] = 0
        input_mask[row, length:] = 0
    positions = np.stack([rng.choice(np.arange(1, seq - batch), predictions, replace=False)
                          for _ in range(batch)]).astype("int32")
    features = {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids,
                "masked_lm_positions": positions}
    if with_labels:
        weights = np.ones((batch, predictions), "float32")
        weights[0, -1] = 0.0  # one padded prediction slot
        features.update(
            masked_lm_ids=rng.integers(5, config.vocab_size, size=(batch, predictions)).astype(
                "int32"),
            masked_lm_weights=weights,
            next_sentence_labels=rng.integers(0, 2, size=(batch,)).astype("int32"),
        )
    return features


def encoder_features(batch):
    return {name: batch[name] for name in ("input_ids", "input_mask", "segment_ids")}


SQUAD = os.path.join(SHARED_DATA, "squad")


@pytest.fixture(scope="session")
def squad_tokenizer(tmp_path_factory):
    """A SentencePiece model (1,000 pieces) trained on the shared SQuAD text (the
    question-answering tests')."""
    import json

    from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer, train_sentencepiece

    if not os.path.exists(os.path.join(SQUAD, "dev-v1.1.json")):
        pytest.skip("SQuAD is not in ../shared/data")
    folder = tmp_path_factory.mktemp("spm")
    corpus = folder / "corpus.txt"
    lines = []
    for name in ("train-v1.1.json", "dev-v1.1.json", "train-v2.0.json", "dev-v2.0.json"):
        for article in json.load(open(os.path.join(SQUAD, name), encoding="utf-8"))["data"]:
            for paragraph in article["paragraphs"]:
                lines.append(paragraph["context"])
                lines += [qa["question"] for qa in paragraph["qas"]]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return AlbertTokenizer(train_sentencepiece([str(corpus)], str(folder / "spm"),
                                               vocab_size=1000))
