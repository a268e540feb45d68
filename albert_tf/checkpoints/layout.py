"""Every path inside a run folder, in one place.

A run folder (`--output_dir` of run_pretraining / run_classifier) holds:

    albert_config.json     the model's config, written once, checked on every resume
    run_settings.json      every setting of the last run (what export_model reads back)
    run.json               fine-tuning: the task, labels and tokenizer it belongs to
    checkpoints/ckpt-N     the training checkpoints (model, optimizer, step)
    best/model             fine-tuning: the weights of the best evaluation
    encoder/encoder        pretraining: the encoder alone, for warm starts
    eval_results.json      the evaluation results
    train/                 TensorBoard summaries
    data/                  fine-tuning: the tokenized splits (a cache)
    scratch/<task>_<id>/   checkpoints of non-chief workers (never read back)

Example:

>>> layout = RunLayout("runs/mrpc")
>>> layout.best_prefix, layout.encoder_prefix
('runs/mrpc/best/model', 'runs/mrpc/encoder/encoder')
"""

import dataclasses
import json
import os
from typing import Dict, Optional

from albert_tf.errors import AlbertTfError
from albert_tf.io_utils import write_atomically


class RunFolderError(AlbertTfError, ValueError):
    """A run folder file that cannot be read; the message names it."""


@dataclasses.dataclass(frozen=True)
class RunLayout:
    """The paths of one run folder."""

    output_dir: str

    def _path(self, *parts: str) -> str:
        return os.path.join(self.output_dir, *parts)

    @property
    def config_file(self) -> str:
        return self._path("albert_config.json")

    @property
    def run_file(self) -> str:
        return self._path("run.json")

    @property
    def settings_file(self) -> str:
        return self._path("run_settings.json")

    @property
    def results_file(self) -> str:
        return self._path("eval_results.json")

    @property
    def checkpoint_dir(self) -> str:
        return self._path("checkpoints")

    @property
    def best_prefix(self) -> str:
        return self._path("best", "model")

    @property
    def encoder_prefix(self) -> str:
        return self._path("encoder", "encoder")

    @property
    def train_logs(self) -> str:
        return self._path("train")

    @property
    def data_cache_dir(self) -> str:
        return self._path("data")

    def scratch_dir(self, task_type: str, task_id: int) -> str:
        return self._path("scratch", f"{task_type}_{task_id}")

    def read_run_identity(self) -> Optional[Dict[str, object]]:
        """The fine-tuning run's recorded identity (`run.json`), or None when absent."""
        return self._read_json(self.run_file, "run_classifier")

    def write_settings(self, kind: str, settings) -> None:
        """Records every field of a settings dataclass (the config aside: it has its own
        file) with the kind of run, atomically."""
        values = {field.name: getattr(settings, field.name)
                  for field in dataclasses.fields(settings) if field.name != "albert_config"}
        text = json.dumps({"kind": kind, **values}, indent=2, default=_jsonable)
        write_atomically(self.settings_file, (text + "\n").encode())

    def read_settings(self) -> Optional[Dict[str, object]]:
        """What `write_settings` recorded, or None when the folder has no such file."""
        return self._read_json(self.settings_file, "run_pretraining or run_classifier")

    def _read_json(self, path: str, writer: str) -> Optional[Dict[str, object]]:
        if not os.path.exists(path):
            return None
        try:
            with open(path, encoding="utf-8") as handle:
                values = json.load(handle)
        except (OSError, ValueError) as error:
            raise RunFolderError(f"{path}: unreadable ({error}); is this a run folder of "
                                 f"{writer}?") from None
        if not isinstance(values, dict):
            raise RunFolderError(f"{path}: expected a JSON object, not "
                                 f"{type(values).__name__}")
        return values


def _jsonable(value):
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
