"""Fine-tuned question-answering checkpoints convert with their heads: Hugging Face's
AlbertForQuestionAnswering (`qa_outputs`), the original run_squad_v1 (`cls/squad/*`) and
run_squad_v2 (`start_logits/`, `end_logits/`, `answer_class/`), each written under its real
names and checked against the source's arrays."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.checkpoints.conversion import convert_checkpoint
from albert_tf.checkpoints.warm_start import warm_start
from albert_tf.config import AlbertConfig
from albert_tf.data.squad import best_spans, convert_examples, read_squad
from albert_tf.models import AlbertQuestionAnswering
from albert_tf.models.answerability_qa import AlbertAnswerabilityQA
from albert_tf.tasks.question_answering.task import QASettings, run
from albert_tf.training.distribution import create_strategy
from albert_tf.training.loop import TrainingError
from tests.helpers import SHARED_DATA
from tests.test_conversion import (_config_file, a_batch, hf_arrays, make_config,
                                   original_arrays, reference, write_hf_config,
                                   write_safetensors, write_tf1_checkpoint)

ENCODER_INPUTS = ("input_ids", "input_mask", "segment_ids")


def encoder_only(arrays):
    """The encoder's arrays (a fine-tuned checkpoint has no pretraining heads)."""
    return {name: value for name, value in arrays.items() if name.startswith("bert/")}


def check_span_model(output_dir, config, arrays, weight, bias):
    model = AlbertQuestionAnswering(config)
    report = warm_start(str(output_dir), model, [(("model",), model)])
    assert report.fresh == []
    batch = a_batch(config)
    outputs = model({name: batch[name] for name in ENCODER_INPUTS})
    logits = reference(arrays, config, batch)["sequence_output"] @ weight.T + bias
    valid = batch["input_mask"].astype(bool)
    np.testing.assert_allclose(np.asarray(outputs["start_logits"])[valid], logits[..., 0][valid],
                               atol=5e-5)
    np.testing.assert_allclose(np.asarray(outputs["end_logits"])[valid], logits[..., 1][valid],
                               atol=5e-5)


def test_hugging_face_question_answering_converts_with_its_span_head(tmp_path):
    config = make_config(1, 1)
    arrays = original_arrays(config, seed=4)
    # As AlbertForQuestionAnswering saves it: no pretraining heads, no pooler.
    tensors = {name: value for name, value in hf_arrays(arrays, config).items()
               if not name.startswith(("predictions.", "sop_classifier.", "albert.pooler."))}
    rng = np.random.default_rng(5)
    weight = rng.normal(0, 0.3, (2, config.hidden_size)).astype("float32")
    bias = rng.normal(0, 0.3, 2).astype("float32")
    tensors.update({"qa_outputs.weight": weight, "qa_outputs.bias": bias})
    folder = write_hf_config(tmp_path / "hf", config,
                             architectures=["AlbertForQuestionAnswering"])
    write_safetensors(folder / "model.safetensors", tensors)
    report = convert_checkpoint(str(folder), str(tmp_path / "converted"))
    assert report.unused == [] and "AlbertQuestionAnswering" in report.wrote
    assert "pooler/kernel" in report.missing
    assert ("span/qa_outputs/kernel", "qa_outputs.weight") in report.mapped
    check_span_model(tmp_path / "converted", config, arrays, weight, bias)


def test_original_run_squad_v1_checkpoint_converts_with_its_span_head(tmp_path):
    config = make_config(2, 1)
    arrays = original_arrays(config, seed=6)
    rng = np.random.default_rng(7)
    weight = rng.normal(0, 0.3, (2, config.hidden_size)).astype("float32")
    bias = rng.normal(0, 0.3, 2).astype("float32")
    prefix = write_tf1_checkpoint(str(tmp_path / "squad" / "model.ckpt-8000"),
                                  {**encoder_only(arrays), "cls/squad/output_weights": weight,
                                   "cls/squad/output_bias": bias})
    report = convert_checkpoint(prefix, str(tmp_path / "converted"),
                                config_file=_config_file(tmp_path, config))
    assert report.unused == []
    check_span_model(tmp_path / "converted", config, arrays, weight, bias)


def test_original_run_squad_v2_checkpoint_converts_with_its_answerability_head(tmp_path):
    config = make_config(1, 1)
    H = config.hidden_size
    arrays = original_arrays(config, seed=8)
    rng = np.random.default_rng(9)
    shapes = {"start_logits/dense/kernel": (H, 1), "start_logits/dense/bias": (1,),
              "end_logits/dense_0/kernel": (2 * H, H), "end_logits/dense_0/bias": (H,),
              "end_logits/LayerNorm/gamma": (H,), "end_logits/LayerNorm/beta": (H,),
              "end_logits/dense_1/kernel": (H, 1), "end_logits/dense_1/bias": (1,),
              "answer_class/dense_0/kernel": (2 * H, H), "answer_class/dense_0/bias": (H,),
              "answer_class/dense_1/kernel": (H, 1)}
    head = {name: rng.normal(0, 0.3, shape).astype("float32") for name, shape in shapes.items()}
    prefix = write_tf1_checkpoint(str(tmp_path / "squad2" / "model.ckpt-8000"),
                                  {**encoder_only(arrays), **head})
    report = convert_checkpoint(prefix, str(tmp_path / "converted"),
                                config_file=_config_file(tmp_path, config))
    assert report.unused == [] and "AlbertAnswerabilityQA" in report.wrote
    model = AlbertAnswerabilityQA(config)
    restored = warm_start(str(tmp_path / "converted"), model, [(("model",), model)])
    assert restored.fresh == []
    by_path = {variable.path: variable for variable in model.weights}
    for ours, source in report.mapped:
        if source in head:
            np.testing.assert_array_equal(by_path[ours].numpy(), head[source], err_msg=ours)
    assert len([source for _, source in report.mapped if source in head]) == len(head)
    batch = a_batch(config)
    sequence = model.encoder({name: batch[name] for name in ENCODER_INPUTS})["sequence_output"]
    valid = batch["input_mask"].astype(bool)
    np.testing.assert_allclose(np.asarray(sequence)[valid],
                               reference(arrays, config, batch)["sequence_output"][valid],
                               atol=5e-5)


SQUAD_DEV = os.path.join(SHARED_DATA, "squad", "dev-v1.1.json")


@pytest.mark.skipif(not os.path.exists(SQUAD_DEV), reason="SQuAD is not shared")
def test_run_squad_predicts_from_a_converted_fine_tuned_model(squad_tokenizer, tmp_path):
    config = AlbertConfig.from_preset("tiny", vocab_size=squad_tokenizer.vocab_size,
                                      max_position_embeddings=128)
    arrays = original_arrays(config, seed=10)
    rng = np.random.default_rng(11)
    weight = rng.normal(0, 0.3, (2, config.hidden_size)).astype("float32")
    prefix = write_tf1_checkpoint(str(tmp_path / "squad" / "model.ckpt-1"), {
        **encoder_only(arrays), "cls/squad/output_weights": weight,
        "cls/squad/output_bias": np.zeros(2, "float32")})
    convert_checkpoint(prefix, str(tmp_path / "converted"),
                       config_file=_config_file(tmp_path, config))
    base = dict(albert_config=config, spm_model_file=squad_tokenizer.spm_model_file,
                predict_file=SQUAD_DEV, max_seq_length=128, doc_stride=64,
                max_query_length=24, do_predict=True, predict_batch_size=64)
    results = run(QASettings(output_dir=str(tmp_path / "run"),
                             init_checkpoint=str(tmp_path / "converted"), **base),
                  create_strategy("one_device"))
    predictions = json.loads((tmp_path / "run" / "predictions.json").read_text())
    assert len(predictions) == 810 and results["eval"]["total"] == 810
    # The converted head predicts what its weights say: the answer of the first question
    # is the span its logits rank best.
    examples, _ = read_squad(SQUAD_DEV, is_training=False)
    model = AlbertQuestionAnswering(config)
    warm_start(str(tmp_path / "converted"), model, [(("model",), model)])
    features = convert_examples(examples[:1], squad_tokenizer, 128, 64, 24)
    outputs = model({name: np.array([getattr(f, name) for f in features], "int32")
                     for name in ENCODER_INPUTS})
    best = best_spans(examples[0], features, np.asarray(outputs["start_logits"]),
                      np.asarray(outputs["end_logits"]))
    assert predictions[examples[0].qas_id] == best[0].text
    # A pretrained encoder has no span head to predict with.
    tf.train.Checkpoint(encoder=model.encoder).write(str(tmp_path / "encoder" / "encoder"))
    with pytest.raises(TrainingError, match="holds no fine-tuned question-answering head"):
        run(QASettings(output_dir=str(tmp_path / "run2"),
                       init_checkpoint=str(tmp_path / "encoder" / "encoder"), **base),
            create_strategy("one_device"))
