"""The grid's report: `ablation.md` (a table shaped like the paper's, contrasts against the
base cell, the paper's findings set against this grid), `ablation.json` and PNG plots.

Every number comes from what the stages wrote: parameter counts from the cells' models as
built, held-out accuracies from the pretraining folder's
`eval_results_heldout_sop.json` / `eval_results_heldout_nsp.json`, dev accuracy from the
fine-tuning run's `eval_results.json` (its best evaluation), curves from the TensorBoard
event files, layer transitions from `analyze_model.py`'s JSON.
"""

import json
import math
import os
import platform
from typing import Dict, List, Optional, Tuple

import numpy as np

from albert_tf.config import AlbertConfig
from albert_tf.experiments.summaries import cpu_name, package_version, plot_curves, read_scalars
from albert_tf.io_utils import copy_atomically, write_atomically

CURVE_TAGS = {"masked LM loss (train)": "mlm_loss", "masked LM accuracy (train)": "mlm_accuracy",
              "SOP / NSP accuracy (train, the cell's own objective)": "sop_accuracy"}
SAME, OPPOSITE, NOT_REPRODUCED, UNTESTED, SEE = (
    "same direction", "opposite direction", "not reproduced", "not tested here",
    "see numbers")



def heldout_name(objective: str) -> str:
    """The eval set name of an objective's held-out records: a cell's pretraining folder
    holds eval_results_heldout_sop.json and eval_results_heldout_nsp.json."""
    return f"heldout_{objective}"

def _read_json(path: str):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def encoder_parameters(config: AlbertConfig) -> int:
    """Parameters of the encoder built from `config` (shared weights once), as the paper's
    tables count them."""
    from albert_tf.models.encoder import AlbertEncoder

    return AlbertEncoder(config).count_params()


def heldout_counts(path: str, records: int) -> Tuple[float, int]:
    """(share of label 0, masked positions) over the first `records` records of `path`,
    the records an evaluation of that many reads (label 0: SOP in order, NSP B follows
    A)."""
    import tensorflow as tf

    schema = {"next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
              "masked_lm_weights": tf.io.VarLenFeature(tf.float32)}
    labels, masked = [], 0
    for record in tf.data.TFRecordDataset(path).take(records):
        example = tf.io.parse_single_example(record, schema)
        labels.append(int(example["next_sentence_labels"][0]))
        masked += int(tf.reduce_sum(example["masked_lm_weights"].values).numpy())
    return labels.count(0) / max(1, len(labels)), masked


def noise_margin(accuracy: float, count: int) -> float:
    """Two standard errors of an accuracy measured on `count` items: a difference below it
    is not told apart from the sampling of the held-out set (run-to-run variation of the
    training itself comes on top)."""
    return 2.0 * math.sqrt(max(accuracy * (1.0 - accuracy), 1e-6) / max(1, count))


def collect(run) -> Dict[str, object]:
    """The report's numbers from the stages' outputs (`run` is the `AblationRun`)."""
    counts = {}
    cells = []
    for cell in run.cells:
        config = AlbertConfig.from_json_file(run.cell_path(cell, "albert_config.json"))
        curves = read_scalars(run.cell_path(cell, "pretrain", "train"))
        evals = {objective: _read_json(run.cell_path(
            cell, "pretrain", f"eval_results_{heldout_name(objective)}.json"))
                 for objective in ("sop", "nsp")}
        for objective, results in evals.items():
            records = results["eval_examples"]
            if (objective, records) not in counts:
                counts[objective, records] = heldout_counts(
                    run.record_file(objective, "heldout"), records)
        sop_records, nsp_records = (evals[objective]["eval_examples"]
                                    for objective in ("sop", "nsp"))
        row = {"name": cell.name, "embedding_size": cell.embedding_size,
               "sharing": cell.sharing, "objective": cell.objective, "dropout": cell.dropout,
               "encoder_parameters": encoder_parameters(config),
               "mlm_accuracy": evals["sop"]["mlm_accuracy"],
               "mlm_loss": evals["sop"]["mlm_loss"],
               "sop_accuracy": evals["sop"]["sop_accuracy"],
               "nsp_accuracy": evals["nsp"]["sop_accuracy"],
               "sop_majority": max(counts["sop", sop_records][0],
                                   1 - counts["sop", sop_records][0]),
               "nsp_majority": max(counts["nsp", nsp_records][0],
                                   1 - counts["nsp", nsp_records][0]),
               "sop_eval_pairs": sop_records, "nsp_eval_pairs": nsp_records,
               "mlm_eval_positions": counts["sop", sop_records][1],
               "final_step": evals["sop"]["step"],
               "pretrain_seconds": run.records[f"pretrain/{cell.name}"].seconds,
               "median_sequences_per_second": _median(curves.get("sequences_per_second")),
               "curves": {tag: curves.get(tag, []) for tag in CURVE_TAGS.values()}}
        finetune_results = run.cell_path(cell, "finetune", "eval_results.json")
        if os.path.exists(finetune_results):
            results = _read_json(finetune_results)
            metric = results["main_metric"]
            row.update(dev_metric=metric, dev_best=results["best"][metric],
                       dev_best_step=results["best"]["step"],
                       dev_final=results["evaluations"][-1][metric])
        cells.append(row)
    transitions_file = run.path("transitions", "layer_transitions.json")
    transitions = _read_json(transitions_file)["models"] if os.path.exists(
        transitions_file) else {}
    settings = {name: value for name, value in vars(run.settings).items()
                if name not in ("python", "force")}
    settings = {name: list(value) if isinstance(value, tuple) else value
                for name, value in settings.items()}
    return {
        "settings": settings,
        "machine": {"platform": platform.platform(), "processor": cpu_name(),
                    "cpus": os.cpu_count(), "python": platform.python_version(),
                    "tensorflow": package_version("tensorflow")},
        "corpus": _read_json(run.path("corpus", "summary.json")),
        "cells": cells,
        "contrasts": contrasts(cells),
        "findings": findings(cells, transitions),
        "transitions": transitions,
        "stages": {name: {"seconds": record.seconds, "reused": record.reused,
                          "commands": record.commands}
                   for name, record in run.records.items() if record.finished},
    }


def _median(series) -> Optional[float]:
    values = [value for _, value in (series or [])[1:]]  # the first includes start-up
    return float(np.median(values)) if values else None


AXES = ("embedding_size", "sharing", "objective", "dropout")
METRICS = ("encoder_parameters", "mlm_accuracy", "sop_accuracy", "nsp_accuracy", "dev_best")


def contrasts(cells: List[Dict]) -> List[Dict[str, object]]:
    """Every cell against the base cell (the first) where they differ in one axis: the
    change and the differences of every metric (cell minus base)."""
    base = cells[0]
    rows = []
    for cell in cells[1:]:
        changed = [axis for axis in AXES if cell[axis] != base[axis]]
        if len(changed) != 1:
            continue
        axis = changed[0]
        rows.append({"cell": cell["name"], "axis": axis,
                     "change": f"{axis} {base[axis]} -> {cell[axis]}",
                     **{f"delta_{metric}": cell[metric] - base[metric]
                        for metric in METRICS if metric in cell and metric in base}})
    return rows


def _one_axis_pair(cells, axis, first, second):
    """(cell with axis=first, cell with axis=second) agreeing on every other axis, or None."""
    for a in cells:
        for b in cells:
            if a[axis] == first and b[axis] == second and all(
                    a[other] == b[other] for other in AXES if other != axis):
                return a, b
    return None


def transition_oscillation(layers: List[Dict[str, float]], key: str) -> float:
    """Mean absolute change of `key` from one layer to the next after the first layer
    (the paper's Figure 2 contrasts oscillating BERT curves with smooth ALBERT ones)."""
    values = [row[key] for row in layers[1:]]
    return float(np.mean(np.abs(np.diff(values)))) if len(values) > 1 else 0.0


def _direction(delta: float, margin: float, expected_sign: int) -> str:
    """Whether `delta` goes the paper's way (`expected_sign` +1 or -1; 0: no change
    expected), against a noise margin."""
    if abs(delta) < margin:
        return SAME if expected_sign == 0 else f"within noise (±{margin:.3f})"
    if expected_sign == 0:
        return f"differs beyond noise (±{margin:.3f})"
    return SAME if delta * expected_sign > 0 else OPPOSITE


def _solves(cell: Dict, task: str) -> bool:
    """Whether the held-out `task` (sop or nsp) accuracy beats the majority class by more
    than the noise margin."""
    accuracy, majority = cell[f"{task}_accuracy"], cell[f"{task}_majority"]
    return accuracy - majority > noise_margin(majority, cell[f"{task}_eval_pairs"])


def findings(cells: List[Dict], transitions: Dict[str, Dict]) -> List[Dict[str, object]]:
    """The paper's findings that this grid can test, each with what the grid measured and
    a verdict: the same direction, the opposite, within the noise of the held-out set, or
    not reproduced (an effect the paper reports that this grid does not show)."""
    rows = []

    def pair_accuracy(cell, task):
        margin = noise_margin(cell[f"{task}_majority"], cell[f"{task}_eval_pairs"])
        return (f"{cell['name']}: held-out {task.upper()} accuracy "
                f"{cell[f'{task}_accuracy']:.3f} (majority class "
                f"{cell[f'{task}_majority']:.3f}, noise ±{margin:.3f})")

    sop_nsp = _one_axis_pair(cells, "objective", "nsp", "sop")
    if sop_nsp:
        nsp_cell, sop_cell = sop_nsp
        learned_sop = _solves(sop_cell, "sop")
        rows += [
            {"paper": "Table 5: a model trained with SOP solves SOP (86.5%)",
             "measured": pair_accuracy(sop_cell, "sop"),
             "agrees": SAME if learned_sop else NOT_REPRODUCED},
            {"paper": "Table 5: a model trained with NSP solves NSP (90.5%)",
             "measured": pair_accuracy(nsp_cell, "nsp"),
             "agrees": SAME if _solves(nsp_cell, "nsp") else NOT_REPRODUCED},
            {"paper": "Table 5: a model trained with NSP does not solve SOP (52.0%)",
             "measured": pair_accuracy(nsp_cell, "sop"),
             "agrees": (UNTESTED + ": the SOP-trained cell did not learn SOP either"
                        if not learned_sop else
                        NOT_REPRODUCED if _solves(nsp_cell, "sop") else SAME)},
            {"paper": "Table 5: a model trained with SOP solves NSP reasonably (78.9%)",
             "measured": pair_accuracy(sop_cell, "nsp"),
             "agrees": SAME if _solves(sop_cell, "nsp") else NOT_REPRODUCED},
        ]

    def mlm_comparison(claim, first, second, expected_sign):
        delta = second["mlm_accuracy"] - first["mlm_accuracy"]
        margin = noise_margin((first["mlm_accuracy"] + second["mlm_accuracy"]) / 2,
                              min(first["mlm_eval_positions"], second["mlm_eval_positions"]))
        return {"paper": claim,
                "measured": f"MLM accuracy {second['mlm_accuracy']:.3f} ({second['name']}, "
                            f"{second['encoder_parameters']:,} params) vs "
                            f"{first['mlm_accuracy']:.3f} ({first['name']}, "
                            f"{first['encoder_parameters']:,} params)",
                "agrees": _direction(delta, margin, expected_sign)}

    for mode, claim, sign in (
            ("none", "Table 4: not sharing any parameters beats all-shared on MLM", 1),
            ("attention", "Table 4: sharing only attention beats all-shared on MLM", 1),
            ("ffn", "Table 4: sharing only the FFN does about as well as all-shared "
                    "(the FFN is what sharing hurts)", 0)):
        pair = _one_axis_pair(cells, "sharing", "all", mode)
        if pair:
            rows.append(mlm_comparison(claim, *pair, sign))
    base = cells[0]
    by_size = sorted((cell for cell in cells if all(
        cell[axis] == base[axis] for axis in AXES if axis != "embedding_size")),
        key=lambda cell: cell["embedding_size"])
    if len(by_size) > 1:
        spread = (max(c["mlm_accuracy"] for c in by_size)
                  - min(c["mlm_accuracy"] for c in by_size))
        rows.append({
            "paper": "Table 3: with all-shared layers the embedding size changes accuracy "
                     "little (E=128 best overall)",
            "measured": "MLM accuracy by E: " + ", ".join(
                f"{c['embedding_size']}: {c['mlm_accuracy']:.3f}" for c in by_size)
                + f" (spread {spread:.3f})",
            "agrees": SEE})
    rates = sorted({cell["dropout"] for cell in cells})
    pair = _one_axis_pair(cells, "dropout", rates[0], rates[-1]) if len(rates) > 1 else None
    if pair and rates[0] == 0:
        rows.append(mlm_comparison("Figure 3: removing dropout raises MLM accuracy (large "
                                   "models, after 1M steps)", pair[1], pair[0], 1))
    pair = _one_axis_pair(cells, "sharing", "all", "none")
    if pair and all(len(transitions.get(cell["name"], {}).get("layers", ())) > 2
                    for cell in pair):
        shared, separate = pair
        measured, smoother = [], True
        for key in ("l2_distance", "cosine_similarity"):
            change = {cell["name"]: transition_oscillation(
                transitions[cell["name"]]["layers"], key) for cell in pair}
            measured.append(f"{key} change per layer after the first "
                            f"{change[shared['name']]:.4f} (all) vs "
                            f"{change[separate['name']]:.4f} (none)")
            smoother = smoother and change[shared["name"]] < change[separate["name"]]
        rows.append({"paper": "Figure 2: transitions from layer to layer are smoother with "
                              "all-shared layers than without sharing",
                     "measured": "; ".join(measured),
                     "agrees": SAME if smoother else NOT_REPRODUCED})
    return rows


def write_report(run) -> Dict[str, object]:
    """Writes plots/*.png, ablation.json and ablation.md; returns the collected numbers."""
    numbers = collect(run)
    plot_curves({panel: {cell["name"]: cell["curves"][tag] for cell in numbers["cells"]}
                 for panel, tag in CURVE_TAGS.items()},
                run.path("plots", "learning_curves.png"),
                f"Pretraining, {len(numbers['cells'])} cells at equal budgets")
    transitions_png = run.path("transitions", "layer_transitions.png")
    if os.path.exists(transitions_png):
        copy_atomically(transitions_png, run.path("plots", "layer_transitions.png"))
    write_atomically(run.path("ablation.json"), json.dumps(numbers, indent=2).encode())
    write_atomically(run.path("ablation.md"), render_markdown(numbers).encode("utf-8"))
    return numbers


def _fmt(value, digits=3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_markdown(numbers: Dict[str, object]) -> str:
    settings, machine, corpus = numbers["settings"], numbers["machine"], numbers["corpus"]
    cells = numbers["cells"]
    dev_metric = next((cell["dev_metric"] for cell in cells if "dev_metric" in cell), None)
    lines = [
        "# ALBERT ablation grid", "",
        f"Machine: {machine['processor']}, {machine['cpus']} CPUs, {machine['platform']}, "
        f"Python {machine['python']}, TensorFlow {machine['tensorflow']}.", "",
        f"Corpus: {corpus['source']}: {corpus['documents']} documents, {corpus['words']} "
        f"words ({corpus['pretrain_documents']} for pretraining, "
        f"{corpus['heldout_documents']} held out). Every cell: hidden "
        f"{settings['hidden_size']}, {settings['num_hidden_layers']} layers, "
        f"{settings['num_attention_heads']} heads, FFN {settings['intermediate_size']}, "
        f"sequence length {settings['max_seq_length']}, {settings['train_steps']} steps of "
        f"batch {settings['batch_size']} (LAMB, learning rate {settings['learning_rate']}).",
        "",
        "Held-out accuracies are over the same held-out documents, their records built "
        "twice: SOP pairs (the MLM accuracy is measured on these) and NSP pairs; the "
        f"majority class of the evaluated records is {cells[0]['sop_majority']:.3f} (SOP) "
        f"and {cells[0]['nsp_majority']:.3f} (NSP).", "",
        "| cell | E | sharing | trained on | dropout | encoder params | MLM acc | "
        f"SOP acc | NSP acc | dev {dev_metric or 'acc'} | pretrain s |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
        *[f"| {c['name']} | {c['embedding_size']} | {c['sharing']} | "
          f"{c['objective'].upper()} | {c['dropout']:g} | {c['encoder_parameters']:,} | "
          f"{_fmt(c['mlm_accuracy'])} | {_fmt(c['sop_accuracy'])} | "
          f"{_fmt(c['nsp_accuracy'])} | {_fmt(c.get('dev_best'))} | "
          f"{c['pretrain_seconds']:.0f} |" for c in cells], "",
    ]
    if dev_metric:
        lines += [f"Dev {dev_metric}: the best of the fine-tuning run's evaluations "
                  f"({settings['finetune_steps']} steps of batch "
                  f"{settings['finetune_batch_size']} on `{settings['finetune_task']}`, the "
                  "same for every cell).", ""]
    if numbers["contrasts"]:
        lines += ["## Against the base cell", "",
                  f"Base: {cells[0]['name']}. Differences are cell minus base.", "",
                  "| change | params | MLM acc | SOP acc | NSP acc | dev |",
                  "|---|---:|---:|---:|---:|---:|",
                  *[f"| {r['change']} | {r['delta_encoder_parameters']:+,} | "
                    f"{r['delta_mlm_accuracy']:+.3f} | {r['delta_sop_accuracy']:+.3f} | "
                    f"{r['delta_nsp_accuracy']:+.3f} | "
                    f"{'-' if 'delta_dev_best' not in r else format(r['delta_dev_best'], '+.3f')} |"
                    for r in numbers["contrasts"]], ""]
    if numbers["findings"]:
        lines += ["## The paper's findings at this scale", "",
                  "The paper's runs are 125k steps of batch 4096 on 16 GB of text; these "
                  "are minutes on a CPU, so only directions can be compared. The noise "
                  "margins are two standard errors of the held-out sample; a different "
                  "seed moves the numbers too, so a difference just beyond the margin is "
                  "weak evidence.", "",
                  "| the paper | this grid | |", "|---|---|---|",
                  *[f"| {f['paper']} | {f['measured']} | {f['agrees']} |"
                    for f in numbers["findings"]], ""]
    lines += ["![learning curves](plots/learning_curves.png)", ""]
    if numbers["transitions"]:
        lines += ["## Layer transitions (Figure 2)", "",
                  "Mean L2 distance and cosine similarity between each layer's input and "
                  "output hidden states over the held-out text's tokens.", "",
                  "![layer transitions](plots/layer_transitions.png)", ""]
    lines += ["## Stages", "", "| stage | seconds | |", "|---|---:|---|",
              *[f"| {name} | {stage['seconds']:.1f} | "
                f"{'reused' if stage['reused'] else 'ran'} |"
                for name, stage in numbers["stages"].items()],
              f"| total | {sum(s['seconds'] for s in numbers['stages'].values()):.1f} | |",
              "", "Commands the stages ran:", "", "```bash",
              *[command for stage in numbers["stages"].values()
                for command in stage["commands"]], "```", ""]
    return "\n".join(lines)
