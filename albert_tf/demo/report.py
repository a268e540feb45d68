"""The demo's report: `report.md` (settings, metrics, timings, plots) and `report.json`.

Every number comes from what the stages logged: the TensorBoard event files of pretraining
and fine-tuning, their results files (`eval_results_heldout.json`, `eval_results.json`), the
prediction file and the query answers.
"""

import csv
import dataclasses
import json
import os
import platform
import re
from typing import Dict, List

import numpy as np

from albert_tf.experiments import continuation_task
from albert_tf.experiments.summaries import (Series, cpu_name, package_version, plot_curves,
                                             read_scalars)
from albert_tf.io_utils import copy_atomically, write_atomically

PRETRAINING_TAGS = ("mlm_loss", "sop_loss", "mlm_accuracy", "sop_accuracy")


def _read_json(path: str):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def read_tsv(path: str) -> List[Dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def collect(pipeline) -> Dict[str, object]:
    """Gathers the report's numbers from the stages' outputs (`pipeline` is the
    `DemoPipeline`, not imported here: it imports this module)."""
    from albert_tf.config import AlbertConfig
    from albert_tf.models import AlbertPretrainer
    from albert_tf.models.parameter_table import parameter_breakdown

    path = pipeline.path
    config = AlbertConfig.from_json_file(path("albert_config.json"))
    corpus = _read_json(path("corpus", "summary.json"))

    pretraining_curves = read_scalars(path("pretrain", "train"))
    last_step = pretraining_curves["loss"][-1][0]
    pretrain_final = {tag: series[-1][1] for tag, series in pretraining_curves.items()
                      if series[-1][0] == last_step}
    throughput = [v for _, v in pretraining_curves.get("sequences_per_second", [])[1:]]
    pretrain_eval = _read_json(path("pretrain", "eval_results_heldout.json"))
    finetune_eval = _read_json(path("finetune", "eval_results.json"))
    dev = read_tsv(path("task", "dev.tsv"))
    test = read_tsv(path("task", "test.tsv"))
    predictions = read_tsv(path("finetune", "test_predictions.tsv"))
    test_labels = {row["index"]: row["label"] for row in test}
    test_correct = sum(row["prediction"] == test_labels[row["index"]] for row in predictions)
    majority = max(continuation_task.LABELS,
                   key=lambda label: sum(row["label"] == label for row in dev))

    query = _read_json(path("query.json"))
    predicted = {row["index"]: row["prediction"] for row in predictions}
    answers = query["answers"]
    agreeing = sum(answer["label"] == predicted[test[i]["index"]]
                   for i, answer in enumerate(answers))

    settings = {name: value for name, value in dataclasses.asdict(pipeline.settings).items()
                if name not in ("python", "force")}
    return {
        "settings": settings,
        "machine": {"platform": platform.platform(), "processor": cpu_name(),
                    "cpus": os.cpu_count(), "python": platform.python_version(),
                    "tensorflow": package_version("tensorflow"), "precision": _logged_precision(
                        path("logs", "pretrain.log"))},
        "corpus": corpus,
        "model": {"config": config.to_dict(),
                  "parameters": parameter_breakdown(AlbertPretrainer(config))["total"]},
        "pretraining": {"final_step": last_step, "final_train": pretrain_final,
                        "median_sequences_per_second": float(np.median(throughput))
                        if throughput else None, "heldout_eval": pretrain_eval},
        "finetuning": {
            "main_metric": finetune_eval["main_metric"],
            "evaluations": finetune_eval["evaluations"], "best": finetune_eval["best"],
            "dev_examples": len(dev),
            "dev_majority_label": majority,
            "dev_majority_accuracy": sum(r["label"] == majority for r in dev) / len(dev),
            "test_examples": len(predictions),
            "test_accuracy": test_correct / len(predictions)},
        "serving": {"model_dir": os.path.relpath(query["model_dir"], pipeline.run_dir),
                    "albert_tf_imported": query["albert_tf_imported"],
                    "answers": answers, "agree_with_run_classifier": agreeing},
        "layer_transitions": _read_json(path("transitions", "layer_transitions.json"))
        ["models"]["pretrained"],
        "stages": {name: {"seconds": record.seconds, "reused": record.reused,
                          "commands": record.commands}
                   for name, record in pipeline.records.items() if record.finished},
        "curves": {"pretraining": pretraining_curves,
                   "finetuning_train": read_scalars(path("finetune", "train"))},
    }


def write_report(pipeline) -> Dict[str, object]:
    """Writes plots/*.png, report.json and report.md; returns the collected numbers."""
    numbers = collect(pipeline)
    path = pipeline.path
    curves = numbers["curves"]["pretraining"]
    heldout = numbers["pretraining"]["heldout_eval"]
    final_step = numbers["pretraining"]["final_step"]

    def with_heldout(tag: str) -> Dict[str, Series]:
        return {f"{tag} (train)": curves.get(tag, []),
                f"{tag} (held-out)": [(final_step, heldout[tag])]}

    plot_curves({"masked LM loss": with_heldout("mlm_loss"),
                 "masked LM accuracy": with_heldout("mlm_accuracy"),
                 "sentence-order accuracy": with_heldout("sop_accuracy")},
                path("plots", "pretraining.png"), "Pretraining")
    finetuning = numbers["finetuning"]
    metric = finetuning["main_metric"]
    plot_curves({"training loss": {"loss": numbers["curves"]["finetuning_train"].get("loss", [])},
                 f"dev {metric}": {
                     metric: [(e["step"], e[metric]) for e in finetuning["evaluations"]],
                     "majority class": [(e["step"], finetuning["dev_majority_accuracy"])
                                        for e in finetuning["evaluations"]]}},
                path("plots", "finetuning.png"), "Fine-tuning: does sentence B follow A?")
    copy_atomically(path("transitions", "layer_transitions.png"),
                    path("plots", "layer_transitions.png"))
    write_atomically(path("report.json"), json.dumps(numbers, indent=2).encode())
    write_atomically(path("report.md"), render_markdown(numbers).encode("utf-8"))
    return numbers


def render_markdown(numbers: Dict[str, object]) -> str:
    settings, corpus, model = numbers["settings"], numbers["corpus"], numbers["model"]
    pre, fine, serving = numbers["pretraining"], numbers["finetuning"], numbers["serving"]
    config = model["config"]
    final, heldout = pre["final_train"], pre["heldout_eval"]
    best, metric = fine["best"], fine["main_metric"]
    machine = numbers["machine"]
    transitions = numbers["layer_transitions"]
    lines = [
        "# albert-tf demo report", "",
        f"Machine: {machine['processor']}, {machine['cpus']} CPUs, {machine['platform']}, "
        f"Python {machine['python']}, TensorFlow {machine['tensorflow']}; training ran in "
        f"{machine['precision']} (`--precision=auto`).", "",
        "## Settings", "",
        "| setting | value |", "|---|---|",
        *[f"| {name} | {value if value is not None else 'CPython docs'} |"
          for name, value in settings.items()], "",
        f"Corpus: {corpus['source']}: {corpus['documents']} documents, "
        f"{corpus['sentences']} sentences, {corpus['words']} words "
        f"({corpus['pretrain_documents']} for pretraining, {corpus['heldout_documents']} "
        "held out).", "",
        f"Model: hidden {config['hidden_size']}, embedding {config['embedding_size']}, "
        f"{config['num_hidden_layers']} layers sharing one block, "
        f"{config['num_attention_heads']} heads, vocabulary {config['vocab_size']}: "
        f"{model['parameters']:,} parameters with the pretraining heads.", "",
        "## Pretraining (masked LM + sentence order)", "",
        "| metric | train (last logged step) | held-out eval |", "|---|---|---|",
        *[f"| {tag} | {final[tag]:.4f} | {heldout[tag]:.4f} |" for tag in PRETRAINING_TAGS],
        "",
        f"Step {pre['final_step']}; median throughput "
        + (f"{pre['median_sequences_per_second']:.1f} sequences/s."
           if pre["median_sequences_per_second"] else "not logged."),
        "", "![pretraining curves](plots/pretraining.png)", "",
        "## Layer transitions (the paper's Figure 2)", "",
        "Mean L2 distance and cosine similarity between each layer's input and output "
        f"hidden states over {transitions['tokens']:,} tokens of held-out text "
        "(`analyze_model.py`).", "",
        "| layer | L2 distance | cosine similarity |", "|---|---:|---:|",
        *[f"| {row['layer']} | {row['l2_distance']:.4f} | {row['cosine_similarity']:.4f} |"
          for row in transitions["layers"]], "",
        "![layer transitions](plots/layer_transitions.png)", "",
        "## Fine-tuning: does sentence B follow sentence A?", "",
        "Pairs of consecutive sentences of the corpus (`continues`) against pairs whose second "
        "sentence comes from another document (`unrelated`), half each; train, dev and test "
        "hold different documents.", "",
        f"| | {metric} |", "|---|---|",
        f"| best dev (step {best['step']}) | {best[metric]:.4f} |",
        f"| dev majority class ({fine['dev_majority_label']}) | "
        f"{fine['dev_majority_accuracy']:.4f} |",
        f"| test, best weights ({fine['test_examples']} pairs) | {fine['test_accuracy']:.4f} |",
        "", "![fine-tuning curves](plots/finetuning.png)", "",
        "## Serving", "",
        f"Export: `{serving['model_dir']}`. A separate process that imports only tensorflow "
        f"and tensorflow-text (albert_tf imported: {serving['albert_tf_imported']}) sent "
        f"{len(serving['answers'])} raw test pairs to `serving_default`; "
        f"{serving['agree_with_run_classifier']} of {len(serving['answers'])} labels equal "
        "run_classifier's predictions.", "",
        "| sentence A | sentence B | label | p(continues) |", "|---|---|---|---|",
        *[f"| {_cell(a['text_a'])} | {_cell(a['text_b'])} | {a['label']} | "
          f"{a['probabilities'][1]:.3f} |" for a in serving["answers"]], "",
        "## Stages", "",
        "| stage | seconds | |", "|---|---|---|",
        *[f"| {name} | {stage['seconds']:.1f} | {'reused' if stage['reused'] else 'ran'} |"
          for name, stage in numbers["stages"].items()],
        f"| total | {sum(s['seconds'] for s in numbers['stages'].values()):.1f} | |", "",
        "Commands the stages ran (from the repository root):", "", "```bash",
        *[command for stage in numbers["stages"].values() for command in stage["commands"]],
        "```", "",
    ]
    return "\n".join(lines)


def _cell(text: str, width: int = 70) -> str:
    text = text if len(text) <= width else text[:width - 1] + "…"
    return text.replace("|", "\\|")


def _logged_precision(log_path: str) -> str:
    """What `--precision=auto` picked, from the training loop's log line."""
    with open(log_path, encoding="utf-8") as handle:
        match = re.search(r"\] precision (\S+), XLA (\w+)", handle.read())
    return f"{match.group(1)}, XLA {match.group(2)}" if match else "not logged"
