#!/usr/bin/env bash
# Fine-tune and evaluate on GLUE with the ALBERT paper's per-task hyper-parameters
# (Lan et al. 2019, appendix table of downstream settings; the original run_glue.sh):
#
#   task   lr     batch  train steps  warmup  (classifier dropout 0.1, adamw, seq 512)
#
# Usage (environment variables, all but GLUE_DIR/INIT/SPM optional):
#   GLUE_DIR=glue INIT=converted/base SPM=albert_base/30k-clean.model \
#   CONFIG=converted/base/albert_config.json OUTPUT=runs/glue TASKS="RTE MRPC" \
#   MAX_SEQ_LENGTH=512 ./run_glue.sh
# Extra arguments go to every run_classifier.py call (e.g. --precision=float32).
# DRY_RUN=1 prints the commands instead of running them.
set -euo pipefail
# Paths are the caller's (relative ones resolve against the directory it was run from);
# only the script itself is found beside this file.
SCRIPT_DIR="$(cd "$(dirname "$0")" && pwd)"
: "${GLUE_DIR:?set GLUE_DIR to the folder holding CoLA/, SST-2/, ...}"
: "${INIT:?set INIT to a checkpoint (run folder, converted folder or prefix)}"
: "${SPM:?set SPM to the SentencePiece model}"
CONFIG="${CONFIG:-${INIT%/}/albert_config.json}"
OUTPUT="${OUTPUT:-runs/glue}"
TASKS="${TASKS:-CoLA STS-B SST-2 MNLI QNLI QQP RTE MRPC WNLI}"
MAX_SEQ_LENGTH="${MAX_SEQ_LENGTH:-512}"
PYTHON="${PYTHON:-python}"

# task learning_rate batch_size train_steps warmup_steps
SETTINGS="
CoLA  1e-5 16  5336  320
STS-B 2e-5 16  3598  214
SST-2 1e-5 32  20935 1256
MNLI  3e-5 128 10000 1000
QNLI  1e-5 32  33112 1986
QQP   5e-5 128 14000 1000
RTE   3e-5 32  800   200
MRPC  2e-5 32  800   200
WNLI  2e-5 16  2000  250
"

for task in $TASKS; do
  line=$(echo "$SETTINGS" | awk -v t="$task" '$1 == t')
  if [ -z "$line" ]; then
    echo "run_glue.sh: unknown task '$task'; expected one of: $(echo "$SETTINGS" | awk 'NF {printf "%s ", $1}')" >&2
    exit 2
  fi
  read -r _ lr batch steps warmup <<< "$line"
  command=("$PYTHON" "$SCRIPT_DIR/run_classifier.py" --task_name="$task" --data_dir="$GLUE_DIR/$task"
           --output_dir="$OUTPUT/$task" --init_checkpoint="$INIT" --albert_config_file="$CONFIG"
           --spm_model_file="$SPM" --max_seq_length="$MAX_SEQ_LENGTH" --optimizer=adamw
           --learning_rate="$lr" --train_batch_size="$batch" --train_step="$steps"
           --warmup_step="$warmup" --save_checkpoints_steps=100 --do_train --do_eval
           --do_predict "$@")
  if [ "${DRY_RUN:-0}" = 1 ]; then
    printf '%q ' "${command[@]}"; echo
  else
    echo "== $task: lr $lr, batch $batch, $steps steps ($warmup warmup)"
    "${command[@]}"
  fi
done
