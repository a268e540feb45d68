"""Hugging Face transformers' PyTorch ALBERT, timed for `bench_train.py` and
`bench_serve.py`. Runs under the peers' interpreter (`benchmarks/peers.py`: torch and
transformers in a virtualenv of their own, never the project's), reads one JSON request
on stdin and prints one JSON line. Imports neither TensorFlow nor albert_tf.

    {"job": "train", "config": {...}, "batch": {...}, "precision": "float32",
     "compile": false, "steps": 6, "warmup_steps": 2}
    {"job": "serve", "config": {...}, "tokenizer": {"spm_model_file": ...} or
     {"vocab_file": ...}, "texts": [...], "max_seq_length": 128, "precision": "float32",
     "calls": 100, "batch": 32}
"""

import json
import os
import resource
import sys
import time

import numpy as np
import torch
import transformers

from serve_timing import time_serving  # beside this file, NumPy only

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def hf_config(config: dict) -> transformers.AlbertConfig:
    """Our AlbertConfig's dict as transformers' (the same names; gelu_new is ALBERT's tanh
    gelu)."""
    return transformers.AlbertConfig(
        vocab_size=config["vocab_size"], embedding_size=config["embedding_size"],
        hidden_size=config["hidden_size"], num_hidden_layers=config["num_hidden_layers"],
        num_hidden_groups=config["num_hidden_groups"],
        num_attention_heads=config["num_attention_heads"],
        intermediate_size=config["intermediate_size"],
        inner_group_num=config["inner_group_num"], hidden_act="gelu_new",
        hidden_dropout_prob=config["hidden_dropout_prob"],
        attention_probs_dropout_prob=config["attention_probs_dropout_prob"],
        max_position_embeddings=config["max_position_embeddings"],
        type_vocab_size=config["type_vocab_size"], layer_norm_eps=1e-12)


def matmul_peak(dtype, size=2048, repeats=16) -> float:
    """FLOP/s of a square matmul chain at `dtype` (best of three)."""
    a = (torch.randn(size, size) / size ** 0.5).to(dtype)
    best = float("inf")
    with torch.inference_mode():
        for attempt in range(4):
            x = a
            start = time.perf_counter()
            for _ in range(repeats):
                x = x @ a
            elapsed = time.perf_counter() - start
            if attempt:
                best = min(best, elapsed)
    return 2.0 * size ** 3 * repeats / best


def autocast(precision):
    if precision == "float32":
        return torch.autocast("cpu", enabled=False)
    return torch.autocast("cpu", dtype=DTYPES[precision])


def train(request: dict) -> dict:
    """AlbertForPreTraining's step (MLM on every position, SOP), clipped to global norm
    1, one AdamW update (torch has no LAMB); `compile` runs it through torch.compile."""
    torch.manual_seed(0)
    model = transformers.AlbertForPreTraining(hf_config(request["config"])).train()
    batch = {name: torch.tensor(np.asarray(value)) for name, value in request["batch"].items()}
    labels = torch.full_like(batch["input_ids"], -100)
    rows = torch.arange(labels.shape[0])[:, None]
    weights = batch["masked_lm_weights"] > 0
    labels[rows.expand_as(batch["masked_lm_positions"])[weights],
           batch["masked_lm_positions"][weights]] = batch["masked_lm_ids"][weights].long()
    inputs = {"input_ids": batch["input_ids"].long(),
              "attention_mask": batch["input_mask"].long(),
              "token_type_ids": batch["segment_ids"].long(), "labels": labels,
              "sentence_order_label": batch["next_sentence_labels"].reshape(-1).long()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast(request["precision"]):
            loss = model(**inputs).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return float(loss)

    if request["compile"]:
        model.forward = torch.compile(model.forward)
    start = time.perf_counter()
    loss = step()
    compile_seconds = time.perf_counter() - start
    for _ in range(request["warmup_steps"]):
        step()
    start = time.perf_counter()
    for _ in range(request["steps"]):
        loss = step()
    seconds = time.perf_counter() - start
    return {"step_seconds": seconds / request["steps"], "compile_seconds": compile_seconds,
            "loss": loss, "matmul_peak_flops": matmul_peak(DTYPES[request["precision"]]),
            "peak_memory_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20}


def tokenizer_for(spec: dict):
    """The tokenizer users load with the model: ALBERT's SentencePiece or the Chinese
    releases' WordPiece vocab.txt (both fast, Rust-backed)."""
    if spec.get("spm_model_file"):
        return transformers.AlbertTokenizerFast(vocab_file=spec["spm_model_file"],
                                                do_lower_case=True, keep_accents=False)
    return transformers.BertTokenizerFast(vocab_file=spec["vocab_file"], do_lower_case=True)


def serve(request: dict) -> dict:
    """Raw strings through the tokenizer (padded to the batch's longest, truncated to
    max_seq_length) and AlbertForSequenceClassification, under inference_mode."""
    torch.manual_seed(0)
    config = hf_config(request["config"])
    config.num_labels = 2
    model = transformers.AlbertForSequenceClassification(config).eval()
    tokenizer = tokenizer_for(request["tokenizer"])
    texts, batch = request["texts"], request["batch"]

    def predict(chunk):
        encoded = tokenizer(chunk, padding=True, truncation=True,
                            max_length=request["max_seq_length"], return_tensors="pt")
        with torch.inference_mode(), autocast(request["precision"]):
            return model(**encoded).logits.float().numpy()

    return time_serving(predict, texts, request["calls"], batch)


def main():
    torch.set_num_threads(os.cpu_count())
    request = json.load(sys.stdin)
    result = {"train": train, "serve": serve}[request["job"]](request)
    print(json.dumps({**result, "torch": torch.__version__,
                      "transformers": transformers.__version__}))


if __name__ == "__main__":
    main()
