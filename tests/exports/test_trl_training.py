"""Every training format trains, for one step, with the trainer its dataset card names, as
the export wrote it: loaded with ``datasets`` from the folder of the JSONL file and its card,
no column renamed, dropped or reshaped (the classification and regression heads get only
what their card says: the tokenised text, and for multi-label the labels as a multi-hot
vector).

The model is a one-layer GPT-2 built from a config and the tokenizer a word-level one built
from the data, both here: on the CPU, nothing downloaded. TRL and torch are development
dependencies: without them this module fails to import, it is never skipped.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
import pytest
import torch
import trl
from export_helpers import answerer
from format_projects import FormatProject, every_format
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    GPT2Config,
    GPT2ForSequenceClassification,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
)

from db_fixtures import Env
from expertloop.exports.card import TRAINERS
from expertloop.exports.writers import write_rows
from expertloop.services.exports import ExportOptions, prepare_export

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {{ eos_token }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL = ["<pad>", "<unk>", "<eos>", "<|system|>", "<|user|>", "<|assistant|>"]


@pytest.fixture
def sqlite_env(backends: Any) -> Iterator[Env]:
    """The SQLite database only: the rows are the same on PostgreSQL (the other export
    tests check that), and training once is enough."""
    environment = Env(backends["sqlite"])
    try:
        yield environment
    finally:
        backends["sqlite"].truncate()


def _export(env: Env, case: FormatProject, folder: Path) -> str:
    """The export as a user gets it: a JSONL file and its card in one folder; return the
    trainer the card names."""
    prepared = prepare_export(
        env.db,
        actor=case.manager,
        project_id=case.project_id,
        options=ExportOptions(format=case.format, **case.options),
        secret_key="test",
    )
    folder.mkdir(parents=True)
    with (folder / "data.jsonl").open("wb") as sink:
        write_rows(prepared.batches(), sink, output="jsonl", schema=prepared.schema)
    card = prepared.card("data.jsonl")
    (folder / "README.md").write_text(card)
    return card


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)


def _tokenizer(datasets_: list[Any]) -> PreTrainedTokenizerFast:
    words = {w for ds in datasets_ for row in ds for t in _texts(row) for w in t.split()}
    vocab = {tok: n for n, tok in enumerate([*SPECIAL, *sorted(words)])}
    inner = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    inner.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=inner,
        pad_token="<pad>",
        unk_token="<unk>",
        eos_token="<eos>",
        bos_token="<eos>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _config(tokenizer: PreTrainedTokenizerFast, **extra: Any) -> GPT2Config:
    return GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_embd=16,
        n_layer=1,
        n_head=2,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
        **extra,
    )


def _lm(tokenizer: PreTrainedTokenizerFast) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    return GPT2LMHeadModel(_config(tokenizer))


def _head(tokenizer: PreTrainedTokenizerFast, **extra: Any) -> GPT2ForSequenceClassification:
    torch.manual_seed(0)
    return GPT2ForSequenceClassification(_config(tokenizer, **extra))


COMMON: dict[str, Any] = {
    "max_steps": 1,
    "per_device_train_batch_size": 2,
    "report_to": "none",
    "use_cpu": True,
    "save_strategy": "no",
    "logging_strategy": "no",
    "disable_tqdm": True,
    "dataloader_num_workers": 0,
}


def _text_of(tokenizer: PreTrainedTokenizerFast, prompt: Any, completion: Any = None) -> str:
    """A row's input as text: a conversation through the chat template, a string as it is."""
    if isinstance(prompt, list):
        messages = prompt + (completion or [])
        return str(tokenizer.apply_chat_template(messages, tokenize=False))
    return prompt + (completion or "")


def _train(fmt: str, card: str, ds: Any, tokenizer: PreTrainedTokenizerFast, out: str) -> float:
    """One step of the trainer the card names; return the loss."""
    if fmt == "preference":
        assert "DPOTrainer" in card
        # The reference model is given: TRL would load it by the model's name (it has none).
        trainer: Any = trl.DPOTrainer(
            model=_lm(tokenizer), ref_model=_lm(tokenizer),
            args=trl.DPOConfig(output_dir=out, **COMMON),
            train_dataset=ds, processing_class=tokenizer,
        )
    elif fmt == "unpaired":
        assert "KTOTrainer" in card
        trainer = trl.KTOTrainer(
            model=_lm(tokenizer), ref_model=_lm(tokenizer),
            args=trl.KTOConfig(output_dir=out, **COMMON),
            train_dataset=ds, processing_class=tokenizer,
        )
    elif fmt == "sft":
        assert "SFTTrainer" in card
        trainer = trl.SFTTrainer(
            model=_lm(tokenizer), args=trl.SFTConfig(output_dir=out, **COMMON),
            train_dataset=ds, processing_class=tokenizer,
        )
    elif fmt == "reward":
        assert "RewardTrainer" in card
        trainer = trl.RewardTrainer(
            model=_head(tokenizer, num_labels=1), args=trl.RewardConfig(output_dir=out, **COMMON),
            train_dataset=ds, processing_class=tokenizer,
        )
    elif fmt == "rubric_rl":
        assert "GRPOTrainer" in card

        def rubric_reward(completions: list[Any], solution: list[str], rubric: list[Any], **kwargs: Any) -> list[float]:
            assert len(solution) == len(rubric) == len(completions)
            return [float(sum(r["points"] for r in rb)) / 10 for rb in rubric]

        trainer = trl.GRPOTrainer(
            model=_lm(tokenizer), reward_funcs=rubric_reward,
            args=trl.GRPOConfig(output_dir=out, num_generations=2, max_completion_length=4, **COMMON),
            train_dataset=ds, processing_class=tokenizer,
        )
    elif fmt == "scores":
        assert "num_labels=1" in card
        encoded = ds.map(
            lambda r: {**tokenizer(_text_of(tokenizer, r["prompt"], r["completion"]), truncation=True, max_length=128), "labels": float(r["score"])}
        )
        trainer = Trainer(
            model=_head(tokenizer, num_labels=1, problem_type="regression"),
            args=TrainingArguments(output_dir=out, **COMMON),
            train_dataset=encoded, processing_class=tokenizer,
        )
    elif fmt == "classification":
        assert "AutoModelForSequenceClassification" in card
        multi = "labels" in ds.features
        names = (ds.features["labels"].feature if multi else ds.features["label"]).names

        def encode(r: dict[str, Any]) -> dict[str, Any]:
            enc = dict(tokenizer(r["text"], truncation=True, max_length=128))
            if multi:  # as the card says: the labels as a multi-hot vector
                enc["labels"] = [float(i in r["labels"]) for i in range(len(names))]
            return enc

        if multi:
            ds = ds.cast_column("labels", datasets.List(datasets.Value("float32")))
        encoded = ds.map(encode)
        extra = {"problem_type": "multi_label_classification"} if multi else {}
        trainer = Trainer(
            model=_head(tokenizer, num_labels=len(names), **extra),
            args=TrainingArguments(output_dir=out, **COMMON),
            train_dataset=encoded, processing_class=tokenizer,
        )
    else:
        raise AssertionError(f"no trainer for {fmt}")
    result = trainer.train()
    return float(result.training_loss)


def test_every_export_format_trains_one_step_with_the_trainer_its_card_names(sqlite_env, tmp_path):
    datasets.disable_progress_bars()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    cases = every_format(sqlite_env, answerer(sqlite_env))
    assert {c.format for c in cases} == set(TRAINERS) - {"raw"}
    exported = []
    for n, case in enumerate(cases):
        folder = tmp_path / f"{n}-{case.format}"
        card = _export(sqlite_env, case, folder)
        ds = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / f"cache-{n}"))["train"]
        assert ds.num_rows >= 2, case.format
        exported.append((case.format, card, ds))
    tokenizer = _tokenizer([ds for _, _, ds in exported])
    losses = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the libraries' own deprecation notices
        for n, (fmt, card, ds) in enumerate(exported):
            loss = _train(fmt, card, ds, tokenizer, str(tmp_path / f"run-{n}"))
            assert loss == loss, f"{fmt}: the loss is NaN"
            losses[f"{n}-{fmt}"] = loss
    assert len(losses) == len(cases)
