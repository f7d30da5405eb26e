"""``shopbot finetune`` end to end on SmolLM2, the gate, and hot-swapping an adapter.

One short real run (two LoRA steps, batch 1) on a copy of the demo store and a
tiny real conversation log is shared by the module: the data it writes, the
adapter and manifest, the gate's decision. Resume and the bad-input paths are
checked separately; they stop before (or a step into) training.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.conftest import TEST_LLM


def _tiny_hyper(**changes):  # type: ignore[no-untyped-def]
    from training.lora import Hyper

    values = dict(steps=2, batch_size=1, learning_rate=1e-3, warmup_steps=1, max_length=1024,
                  paraphrases=1, val_fraction=0.02, checkpoint_every=1, eval_every=100)  # fmt: skip
    values.update(changes)
    return Hyper(**values)


def _write_log(path: Path) -> Path:
    """A real shopbot.db: a +1 answer, a -1 answer, a handoff answered by an agent."""
    from bot.storage.conversations import Conversation, ConversationStore, TurnRecord

    log = ConversationStore(path)
    good = TurnRecord(
        sender="c1",
        user_text="do you deliver to addresses in canada?",
        action="action_answer",
        sources=[{"id": "faq-international-shipping", "type": "faq", "title": "", "score": 1}],
        messages=[{"recipient_id": "c1", "text": "Not at the moment: we only ship in the USA."}],
    )
    log.save_turn(good, Conversation(sender="c1"))
    log.add_feedback(good.turn_id, "c1", 1, None)
    bad = TurnRecord(
        sender="c2",
        user_text="how long does shipping take",
        action="action_answer",
        sources=[{"id": "faq-shipping-times", "type": "faq", "title": "", "score": 1}],
        messages=[{"recipient_id": "c2", "text": "Shipping takes about a month."}],
    )
    log.save_turn(bad, Conversation(sender="c2"))
    log.add_feedback(bad.turn_id, "c2", -1, "wrong")
    ask = TurnRecord(sender="c3", user_text="Can I change the colour of my lamp order?",
                     action="action_handoff", handoff=True)  # fmt: skip
    log.save_turn(ask, Conversation(sender="c3"))
    # Agent answers are not redacted on the way in; fine-tuning must scrub them.
    log.log_agent_message(
        "c3",
        "Yes, while the order is still pending we can change it; "
        "I will email you at jane.doe@example.com to confirm.",
        agent="sam",
    )
    log.close()
    return path


@pytest.fixture(scope="module")
def run(demo_store: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from bot.answers.adapters import pointer_path
    from training.finetune import finetune

    # The session's demo store: building a store is the slow part, so it is shared.
    root = tmp_path_factory.mktemp("finetune")
    store = demo_store
    out = root / "adapter"
    # No --cases: the gate judges on cases made from this store's held-out entries.
    manifest = finetune(store, out, logs=_write_log(root / "shopbot.db"), base=TEST_LLM,
                        hyper=_tiny_hyper(), progress=False,
                        log=lambda *a: None)  # fmt: skip
    yield {"store": store, "out": out, "manifest": manifest, "root": root}
    # Other tests serve this store: leave it serving the base model.
    pointer_path(store).unlink(missing_ok=True)


def test_training_data_is_scrubbed_deduplicated_and_excludes_negative_feedback(run) -> None:
    data = run["out"] / "data"
    rows = [json.loads(line) for f in ("train.jsonl", "val.jsonl") for line in
            (data / f).read_text().splitlines()]  # fmt: skip
    by_origin = {r["origin"] for r in rows}
    assert {"agent", "feedback", "faq", "policy"} <= by_origin
    text = (data / "train.jsonl").read_text() + (data / "val.jsonl").read_text()
    assert "jane.doe@example.com" not in text and "[EMAIL]" in text
    assert "about a month" not in text  # the -1 rated reply
    keys = [(r["question"].lower(), r["target"]) for r in rows]
    assert len(keys) == len(set(keys))
    # The prompt is the one the server builds: system rules, passages, question.
    agent = next(r for r in rows if r["origin"] == "agent")
    assert agent["messages"][0]["role"] == "system"
    assert "Passages:" in agent["messages"][-1]["content"]
    assert run["manifest"]["data"]["dropped"].get("negative feedback") == 1


def test_adapter_and_manifest_are_written(run) -> None:
    from bot.answers.adapters import read_manifest

    out = run["out"]
    assert (out / "adapter_config.json").is_file()
    assert (out / "adapter_model.safetensors").is_file()
    assert not (out / "checkpoints").exists()
    manifest = read_manifest(out)
    assert manifest["base_model"] == TEST_LLM
    assert manifest["data"]["train"] > 0 and manifest["data"]["validation"] > 0
    assert manifest["hyper_parameters"]["lora_r"] == 8
    assert manifest["metrics"]["steps"] == 2 and manifest["metrics"]["val_loss"] is not None
    assert [h["step"] for h in manifest["loss_history"]] == [1, 2]


def test_reloaded_adapter_changes_the_model_output(run) -> None:
    import torch

    from bot.answers.generation import load_generator

    prompt = [{"role": "user", "content": "Do you ship outside the USA?"}]
    logits = []
    for adapter in (None, run["out"]):
        gen = load_generator(backend="transformers", model=TEST_LLM, adapter=adapter)
        ids = gen.tokenizer(gen.render(prompt), return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            logits.append(gen.model(ids).logits[0, -1].float())
    assert not torch.allclose(logits[0], logits[1], atol=1e-3)


def test_the_gate_judges_on_cases_made_from_the_trained_store(run) -> None:
    from knowledge_base.store import load_store
    from training.answers import held_out_ids, load_cases

    gate_cases = run["out"] / "data" / "gate_cases.jsonl"
    assert run["manifest"]["gate"]["cases"] == str(gate_cases)
    cases = load_cases(gate_cases)
    store = load_store(run["store"])
    held = set(run["manifest"]["data"]["held_out_for_gate"])
    assert held and held == held_out_ids(store)
    # Every held-out entry is asked about (and must be cited); out-of-scope ones too.
    assert {c.expect_source for c in cases if c.expect_source} == held
    assert sum(c.category == "unanswerable" for c in cases) >= 4
    # ... and none of them was trained on.
    answers = {f.answer.strip() for f in store.faqs if f.id in held}
    answers |= {p.text.strip() for p in store.passages if p.id in held}
    rows = [json.loads(line) for f in ("train.jsonl", "val.jsonl") for line in
            (run["out"] / "data" / f).read_text().splitlines()]  # fmt: skip
    store_rows = [r for r in rows if r["origin"] in ("faq", "faq-paraphrase", "follow-up")]
    assert store_rows and not any(r["target"].strip() in answers for r in store_rows)


def test_gate_decision_is_recorded_and_pointer_follows_it(run) -> None:
    from bot.answers.adapters import active_adapter

    gate = run["manifest"]["gate"]
    assert set(gate["current"]) >= {"pass_rate", "ungrounded_numbers"}
    assert gate["reason"].startswith("activated" if gate["activated"] else "not activated")
    written = json.loads((run["out"] / "shopbot-adapter.json").read_text())
    assert written["gate"]["reason"] == gate["reason"]
    expected = run["out"] if gate["activated"] else None
    assert active_adapter(run["store"], TEST_LLM) == expected


def test_adapter_none_serves_the_base_model_even_with_an_active_adapter(run) -> None:
    from bot.answers.adapters import activate, pointer_path, resolve_adapter
    from bot.assemble import load_generator_from_config
    from bot.config import load_config

    pointer = pointer_path(run["store"])
    before = pointer.read_bytes() if pointer.is_file() else None
    activate(run["store"], run["out"], base_model=TEST_LLM, reason="test")
    try:
        config = load_config(run["store"], llm_model=TEST_LLM, llm_backend="transformers")
        assert load_generator_from_config(config).adapter_path == run["out"].resolve()
        config.llm_adapter = "none"
        assert load_generator_from_config(config).adapter_path is None
        # serve-llm resolves its --adapter/--store the same way (bot.answers.adapters.resolve_adapter).
        assert resolve_adapter("none", run["store"], TEST_LLM, "llama-cpp") is None
        assert resolve_adapter(None, run["store"], TEST_LLM, "llama-cpp") == run["out"].resolve()
        assert resolve_adapter(None, run["store"], TEST_LLM, "openai") is None
    finally:
        if before is None:
            pointer.unlink(missing_ok=True)
        else:
            pointer.write_bytes(before)


def test_gate_evaluates_both_models_from_the_same_order_state(run) -> None:
    """A case that cancels an order must pass for the second model too (fresh order state)."""
    from training.adapter_gate import run_gate

    cancel = {"id": "cancel", "turns": ["my email is aarav.brown3708@example.com",
              "I want to cancel order #W5065081", "no longer needed", "yes"],
              "expect_all": ["cancelled", "$2,502.04"]}  # fmt: skip
    cases = run["root"] / "cancel.jsonl"
    cases.write_text(json.dumps(cancel) + "\n")
    gate = run_gate(run["store"], TEST_LLM, run["out"], cases, progress=False, log=lambda *a: None)
    assert [r["passed"] for r in gate["per_case"]["current"]] == [True]
    assert [r["passed"] for r in gate["per_case"]["new"]] == [True]
    assert not gate["activated"]  # equal pass rates: nothing to gain


def test_gate_refuses_an_adapter_that_scores_worse_or_invents_more() -> None:
    from training.adapter_gate import gate_decision

    base = {"pass_rate": 0.5, "ungrounded_numbers": 0}
    assert gate_decision(base, {"pass_rate": 0.4, "ungrounded_numbers": 0})[0] is False
    assert gate_decision(base, {"pass_rate": 0.5, "ungrounded_numbers": 0})[0] is False
    ok, reason = gate_decision(base, {"pass_rate": 0.9, "ungrounded_numbers": 1})
    assert not ok and "ungrounded" in reason
    assert gate_decision(base, {"pass_rate": 0.6, "ungrounded_numbers": 0})[0] is True


def test_interrupted_training_resumes_from_its_checkpoint(run, tmp_path: Path) -> None:
    from training.lora import train

    rows = [json.loads(x) for x in (run["out"] / "data" / "train.jsonl").read_text().splitlines()]
    rows = rows[:4]
    from bot.answers.models import ensure_hf_folder, resolve_model

    folder = ensure_hf_folder(resolve_model(TEST_LLM))
    hyper = _tiny_hyper(steps=2)
    quiet = dict(progress=False, log=lambda *a: None)
    first = train(folder, rows, [], tmp_path, hyper, until_step=1, **quiet)
    assert first["stopped_early"] and (tmp_path / "checkpoints" / "step-1").is_dir()
    assert not (tmp_path / "adapter_config.json").exists()
    done = train(folder, rows, [], tmp_path, hyper, resume=True, **quiet)
    assert done["steps_this_run"] == 1
    assert [h["step"] for h in done["history"]] == [1, 2]
    assert (tmp_path / "adapter_config.json").is_file()


def test_bad_input_gives_a_clear_error_and_activates_nothing(run, tmp_path: Path) -> None:
    from bot.answers.adapters import pointer_path
    from bot.storage.conversations import ConversationStore
    from training.finetune import finetune
    from training.lora import FinetuneError

    store = run["store"]
    before = pointer_path(store).read_text() if pointer_path(store).is_file() else None
    empty = tmp_path / "empty.db"
    ConversationStore(empty).close()
    with pytest.raises(FinetuneError, match="empty"):
        finetune(store, tmp_path / "a", logs=empty, base=TEST_LLM, gate=False, progress=False)
    unusable = tmp_path / "unusable.db"
    log = ConversationStore(unusable)
    from bot.storage.conversations import Conversation, TurnRecord

    log.save_turn(TurnRecord(sender="x", user_text="hi", action="utter_greet"),
                  Conversation(sender="x"))  # fmt: skip
    log.close()
    with pytest.raises(FinetuneError, match="none usable"):
        finetune(store, tmp_path / "b", logs=unusable, base=TEST_LLM, gate=False, progress=False)
    with pytest.raises(FinetuneError, match="not available"):
        finetune(store, tmp_path / "c", base="/nonexistent/model", gate=False, progress=False)
    with pytest.raises(FinetuneError, match="not a shopbot conversation log"):
        (tmp_path / "junk.db").write_text("not sqlite")
        finetune(store, tmp_path / "d", logs=tmp_path / "junk.db", base=TEST_LLM, gate=False,
                 progress=False)  # fmt: skip
    after = pointer_path(store).read_text() if pointer_path(store).is_file() else None
    assert after == before


def test_server_swaps_in_a_newly_activated_adapter(run, demo_bot, demo_config,
                                                   small_generator) -> None:  # fmt: skip
    from bot.answers.adapters import AdapterWatcher, activate, pointer_path

    watcher = AdapterWatcher(demo_bot, demo_config)
    assert watcher.enabled()
    try:
        assert asyncio.run(watcher.check()) is False  # nothing changed yet
        activate(demo_config.store_dir, run["out"], base_model=TEST_LLM, reason="test")
        assert asyncio.run(watcher.check()) is True
        assert demo_bot.answerer.generator.name.endswith("+adapter")
        assert demo_bot.adapter_path == run["out"]
    finally:
        pointer_path(demo_config.store_dir).unlink(missing_ok=True)
        demo_bot.answerer.generator = small_generator
        demo_bot.adapter_path = None
