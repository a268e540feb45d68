"""The peers' interpreter: Hugging Face transformers on CPU PyTorch, in a virtualenv of
its own (`.venv-peers/` beside the project's `.venv/`, never a project dependency), made
on first use; and running `hf_peer.py` jobs under it."""

import json
import os
import subprocess
import sys
import venv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS_VENV = os.path.join(ROOT, ".venv-peers")
PEER_PACKAGES = ("torch", "transformers", "tokenizers", "sentencepiece", "protobuf", "numpy")
HF_PEER = os.path.join(ROOT, "benchmarks", "hf_peer.py")


def peers_python(python: str = "") -> str:
    """`python` when given, else the peers' virtualenv's interpreter, created (and the
    packages installed, a few GB with torch's own libraries) when missing."""
    if python:
        return python
    interpreter = os.path.join(PEERS_VENV, "bin", "python")
    check = [interpreter, "-c", "import torch, transformers, sentencepiece"]
    if os.path.exists(interpreter) and subprocess.run(check, capture_output=True).returncode == 0:
        return interpreter
    print(f"creating {PEERS_VENV} with {', '.join(PEER_PACKAGES)} (first use; minutes)",
          flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(PEERS_VENV)
    subprocess.run([interpreter, "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return interpreter


def run_hf_peer(python: str, request: dict, script: str = HF_PEER,
                timeout: float = None) -> dict:
    """One job of `script` (`hf_peer.py`, or another peer script beside it): its JSON
    result, or {"error": the stderr tail, or that it ran past `timeout` seconds}."""
    try:
        done = subprocess.run([python, os.path.join(os.path.dirname(HF_PEER), script)],
                              input=json.dumps(request), capture_output=True, text=True,
                              timeout=timeout,
                              env=dict(os.environ, TOKENIZERS_PARALLELISM="true"))
    except subprocess.TimeoutExpired:
        return {"error": f"not finished in {timeout} s"}
    if done.returncode:
        return {"error": done.stderr[-1500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(peers_python(sys.argv[1] if len(sys.argv) > 1 else ""))
