"""Chinese classification task readers: ChnSentiCorp as shipped (../shared/data), and
LCQMC and the CLUE tasks on small files written in their distributed layouts."""

import json
import os

import pytest

from albert_tf.data.glue import TaskDataError, get_task
from tests.helpers import SHARED_DATA

CHNSENTICORP = os.path.join(SHARED_DATA, "chnsenticorp")


@pytest.mark.skipif(not os.path.exists(CHNSENTICORP), reason="ChnSentiCorp is not shared")
def test_chnsenticorp_reads_as_shipped():
    task = get_task("chnsenticorp")
    counts = {split: len(task.read(CHNSENTICORP, split)) for split in ("train", "dev", "test")}
    assert counts == {"train": 9600, "dev": 1200, "test": 1200}
    dev = task.read(CHNSENTICORP, "dev")
    assert {example.label for example in dev} == {"0", "1"}
    assert dev[0].text_a.startswith("這間酒店環境") and dev[0].text_b is None


def write_lines(path, rows):
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                    encoding="utf-8")


def test_lcqmc_reads_headerless_pairs(tmp_path):
    for split in ("train", "dev", "test"):
        (tmp_path / f"{split}.txt").write_text(
            "喜欢打篮球的男生喜欢什么样的女生\t爱打篮球的男生喜欢什么样的女生\t1\n"
            "我手机丢了，我想换个手机\t我想买个新手机，求推荐\t1\n"
            "大家觉得她好看吗\t大家觉得跑男好看吗？\t0\n", encoding="utf-8")
    task = get_task("LCQMC")
    train = task.read(str(tmp_path), "train")
    assert [(e.text_b[:4], e.label) for e in train] == [("爱打篮球", "1"), ("我想买个", "1"),
                                                        ("大家觉得", "0")]
    assert [e.label for e in task.read(str(tmp_path), "test")] == [None] * 3


def test_clue_json_lines_tasks(tmp_path):
    afqmc = tmp_path / "afqmc"
    afqmc.mkdir()
    write_lines(afqmc / "train.json", [
        {"sentence1": "双十一花呗提额在哪", "sentence2": "里可以提花呗额度", "label": "0"},
        {"sentence1": "花呗支持高铁票支付吗", "sentence2": "为什么友付宝不支持花呗付款", "label": "1"}])
    write_lines(afqmc / "test.json", [{"id": 7, "sentence1": "借呗怎么还款",
                                       "sentence2": "借呗还款方式"}])
    task = get_task("afqmc")
    assert [(e.text_a, e.label) for e in task.read(str(afqmc), "train")] == [
        ("双十一花呗提额在哪", "0"), ("花呗支持高铁票支付吗", "1")]
    test = task.read(str(afqmc), "test")
    assert (test[0].index, test[0].text_b, test[0].label) == ("7", "借呗还款方式", None)

    tnews = tmp_path / "tnews"
    tnews.mkdir()
    write_lines(tnews / "train.json", [
        {"label": "102", "label_desc": "news_entertainment",
         "sentence": "江疏影甜甜圈自拍，迷之角度竟这么好看", "keywords": "江疏影,美少女"},
        {"label": "116", "label_desc": "news_game", "sentence": "如何评价新版本", "keywords": ""}])
    task = get_task("TNEWS")
    assert task.num_outputs == 15 and "105" not in task.labels and "111" not in task.labels
    assert [e.label for e in task.read(str(tnews), "train")] == ["102", "116"]

    iflytek = tmp_path / "iflytek"
    iflytek.mkdir()
    write_lines(iflytek / "dev.json", [{"label": "110", "label_des": "社区超市",
                                        "sentence": "朴朴快送超市创立于2016年"}])
    assert get_task("iflytek").read(str(iflytek), "dev")[0].label == "110"

    cmnli = tmp_path / "cmnli"
    cmnli.mkdir()
    write_lines(cmnli / "dev.json", [
        {"sentence1": "新的权利已经足够好了", "sentence2": "每个人都很喜欢最新的福利", "label": "neutral"},
        {"sentence1": "这是一个例子", "sentence2": "没有多数标签", "label": "-"},
        {"sentence1": "他们来了", "sentence2": "他们没来", "label": "contradiction"}])
    assert [e.label for e in get_task("CMNLI").read(str(cmnli), "dev")] == [
        "neutral", "contradiction"]  # "-": no annotator majority, skipped as CLUE does


def test_bad_json_lines_name_the_file_and_line(tmp_path):
    (tmp_path / "train.json").write_text(
        '{"sentence1": "a", "sentence2": "b", "label": "0"}\n{"sentence1": "a", \n',
        encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"train.json:2: not a JSON object"):
        get_task("afqmc").read(str(tmp_path), "train")
    (tmp_path / "train.json").write_text('["a", "b", "0"]\n', encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"train.json:1: expected a JSON object, got list"):
        get_task("afqmc").read(str(tmp_path), "train")
    (tmp_path / "train.json").write_text('{"sentence1": "a", "label": "0"}\n',
                                         encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"train.json:1: no key 'sentence2'"):
        get_task("afqmc").read(str(tmp_path), "train")
    (tmp_path / "train.json").write_text(
        '{"sentence1": "a", "sentence2": "b", "label": "2"}\n', encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"train.json:1: label '2' is not one of"):
        get_task("afqmc").read(str(tmp_path), "train")


VOCAB = os.path.join(SHARED_DATA, "chinese", "vocab.txt")


@pytest.mark.skipif(not os.path.exists(VOCAB), reason="the Chinese vocabulary is not shared")
def test_clue_predictions_are_written_as_clue_submissions(tmp_path):
    from albert_tf.tasks.classification.task import run
    from albert_tf.config import AlbertConfig
    from albert_tf.tasks.classification.task import ClassifierSettings
    from albert_tf.training.distribution import create_strategy

    pairs = [("花呗怎么还款", "花呗还款方式", "1"), ("借呗额度", "今天天气很好", "0")] * 8
    write_lines(tmp_path / "train.json", [{"sentence1": a, "sentence2": b, "label": label}
                                          for a, b, label in pairs])
    write_lines(tmp_path / "dev.json", [{"sentence1": a, "sentence2": b, "label": label}
                                        for a, b, label in pairs[:4]])
    write_lines(tmp_path / "test.json", [{"id": 30 + i, "sentence1": a, "sentence2": b}
                                         for i, (a, b, _) in enumerate(pairs[:3])])
    config = AlbertConfig.from_preset("tiny", vocab_size=21128, embedding_size=8)
    settings = ClassifierSettings(
        task=get_task("afqmc"), data_dir=str(tmp_path), vocab_file=VOCAB, albert_config=config,
        output_dir=str(tmp_path / "run"), max_seq_length=32, train_batch_size=8,
        num_train_steps=4, save_checkpoints_steps=4, iterations_per_loop=4, do_train=True,
        do_eval=True, do_predict=True)
    results = run(settings, create_strategy("one_device"))
    path = tmp_path / "run" / "afqmc_predict.json"
    assert results["predictions"] == [str(path)]
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in rows] == [30, 31, 32]
    assert all(set(row) == {"id", "label"} and row["label"] in ("0", "1") for row in rows)
