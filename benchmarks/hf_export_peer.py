"""Hugging Face transformers' side of `bench_exports.py`: runs under the peers' interpreter
(`benchmarks/peers.py`), reads one JSON request on stdin, prints one JSON line. Imports
neither TensorFlow nor albert_tf.

    {"job": "save_random", "architecture": "AlbertForPreTraining", "config": {...},
     "folder": ..., "seed": 0}
        a model with random weights (LayerNorms and biases too) saved by save_pretrained
    {"job": "load", "folder": ..., "texts": [...], "ids": [[...], ...], "max_length": 128}
        from_pretrained(folder) and AutoTokenizer: loading info, the tokenizer's ids of
        `texts`, the model's outputs on `ids` (one sequence at a time) and, with
        `max_length`, on the tokenizer's own ids of `texts` truncated to it
"""

import json
import sys

import numpy as np
import torch
import transformers


def save_random(request: dict) -> dict:
    torch.manual_seed(request["seed"])
    config = transformers.AlbertConfig(**request["config"])
    model = getattr(transformers, request["architecture"])(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.3)
    model.save_pretrained(request["folder"])
    return {"saved": request["folder"]}


def outputs_of(model, ids) -> dict:
    input_ids = torch.tensor([ids])
    with torch.inference_mode():
        out = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                    token_type_ids=torch.zeros_like(input_ids))
    names = [name for name in ("logits", "start_logits", "end_logits", "prediction_logits",
                               "sop_logits", "last_hidden_state") if name in out]
    return {name: out[name][0].float().numpy().tolist() for name in names}


def load(request: dict) -> dict:
    folder = request["folder"]
    architecture = json.load(open(f"{folder}/config.json"))["architectures"][0]
    model, info = getattr(transformers, architecture).from_pretrained(
        folder, output_loading_info=True)
    model.eval()
    result = {"architecture": architecture,
              "loading_info": {key: sorted(map(str, value)) for key, value in info.items()}}
    if request.get("texts"):
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        result["tokenizer"] = type(tokenizer).__name__
        result["text_ids"] = [tokenizer(text)["input_ids"] for text in request["texts"]]
        if request.get("max_length"):  # the model on its own tokenizer's ids, truncated
            result["text_outputs"] = [outputs_of(model, tokenizer(
                text, truncation=True, max_length=request["max_length"])["input_ids"])
                for text in request["texts"]]
    result["outputs"] = [outputs_of(model, ids) for ids in request.get("ids", [])]
    return result


def main():
    request = json.loads(sys.stdin.read())
    torch.set_num_threads(max(1, torch.get_num_threads()))
    job = {"save_random": save_random, "load": load}[request["job"]]
    result = job(request)
    result["versions"] = {"transformers": transformers.__version__,
                          "torch": torch.__version__, "numpy": np.__version__}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
