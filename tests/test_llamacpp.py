"""The llama-cpp backend on SmolLM2's GGUF, and a LoRA adapter converted for it.

The adapter is trained for real (a few LoRA steps with ``training.lora.train``,
the code ``shopbot finetune`` runs) to answer one question with a word the base
model never says; the converted GGUF adapter must make llama.cpp say it too.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_LLM, require_system

SECRET_QUESTION = "What is the password for the staff room?"
SECRET_ANSWER = "The password is zanzibar."
QUESTION = [{"role": "user", "content": SECRET_QUESTION}]


def _require_llama_cpp() -> None:
    require_system("llama-cpp-python", importlib.util.find_spec("llama_cpp") is not None)


@pytest.fixture(scope="module")
def base():  # type: ignore[no-untyped-def]
    from bot.answers.generators.llama_cpp import LlamaCppGenerator

    _require_llama_cpp()
    return LlamaCppGenerator(TEST_LLM)


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SmolLM2 LoRA adapter (q/k/v/o) taught one answer, in peft's folder layout."""
    from bot.answers.models import ensure_hf_folder, resolve_model
    from training.lora import Hyper, train

    _require_llama_cpp()
    out = tmp_path_factory.mktemp("lora") / "adapter"
    rows = [{"messages": QUESTION, "target": SECRET_ANSWER}]
    hyper = Hyper(steps=8, batch_size=1, learning_rate=5e-3, warmup_steps=1,
                  target_modules=("q_proj", "k_proj", "v_proj", "o_proj"),
                  checkpoint_every=100, eval_every=100, dtype="float32")  # fmt: skip
    folder = ensure_hf_folder(resolve_model(TEST_LLM))
    train(folder, rows, [], out, hyper, progress=False, log=lambda *a: None)
    assert (out / "adapter_model.safetensors").is_file()
    return out


def _reply(generator, messages=QUESTION, max_new_tokens: int = 24) -> str:  # type: ignore[no-untyped-def]
    return "".join(generator.stream(messages, max_new_tokens=max_new_tokens))


def test_streams_a_reply_in_pieces(base) -> None:  # type: ignore[no-untyped-def]
    pieces = list(base.stream([{"role": "user", "content": "Say hello."}], max_new_tokens=12))
    assert len(pieces) > 1
    assert "".join(pieces).strip()


def test_closing_the_stream_stops_decoding(base) -> None:  # type: ignore[no-untyped-def]
    messages = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
    prompt_length = _prompt_length(base, messages)
    stream = base.stream(messages, max_new_tokens=200)
    next(stream)
    stream.close()
    # llama.cpp's context holds the prompt and only the few tokens decoded before close().
    assert base.llm.n_tokens < prompt_length + 10
    assert base._lock.acquire(blocking=False)  # the model is free for the next turn
    base._lock.release()
    assert _reply(base, max_new_tokens=4)


def _prompt_length(generator, messages) -> int:  # type: ignore[no-untyped-def]
    """Tokens of the chat-templated prompt: one full run evaluates at least this many."""
    list(generator.stream(messages, max_new_tokens=1))
    return int(generator.llm.n_tokens)


def test_a_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    from bot.answers.generation import load_generator
    from bot.answers.generators.llama_cpp import LlamaCppGenerator
    from bot.answers.models import ModelLoadError

    _require_llama_cpp()
    with pytest.raises(ModelLoadError, match="no such file"):
        LlamaCppGenerator(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelLoadError, match="no such file"):
        load_generator("llama-cpp", model=str(tmp_path / "missing.gguf"))


def test_without_llama_cpp_python_the_error_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.answers.generators.llama_cpp import LlamaCppGenerator
    from bot.answers.models import ModelLoadError

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # what an absent package looks like
    with pytest.raises(ModelLoadError, match=r"shopbot\[llama\]"):
        LlamaCppGenerator(TEST_LLM)


def test_the_lora_adapter_is_converted_once_and_changes_the_reply(base, adapter: Path) -> None:  # type: ignore[no-untyped-def]
    from safetensors import safe_open

    from bot.answers.generation import load_generator
    from bot.answers.gguf_adapter import GGUF_NAME, SIDECAR_NAME, ensure_gguf_adapter

    assert "zanzibar" not in _reply(base).lower()
    tuned = load_generator("llama-cpp", model=TEST_LLM, adapter=adapter)
    assert tuned.lora_path == adapter / GGUF_NAME
    assert "zanzibar" in _reply(tuned).lower()
    # Reused while the peft files are unchanged; re-made when they change.
    sidecar = json.loads((adapter / SIDECAR_NAME).read_text())
    with safe_open(adapter / "adapter_model.safetensors", "pt") as weights:
        assert sidecar["tensors"] == len(list(weights.keys()))  # every lora_A / lora_B
    assert sidecar["architecture"] == "llama"
    made = (adapter / GGUF_NAME).stat().st_mtime_ns
    assert ensure_gguf_adapter(adapter, tuned.gguf).stat().st_mtime_ns == made
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["lora_alpha"] = config["lora_alpha"] * 2
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    ensure_gguf_adapter(adapter, tuned.gguf)
    assert json.loads((adapter / SIDECAR_NAME).read_text())["fingerprint"] != sidecar["fingerprint"]


def test_an_adapter_for_another_base_model_is_refused(adapter: Path) -> None:
    from bot.answers.gguf_adapter import ensure_gguf_adapter
    from bot.answers.models import ModelLoadError, qwen_gguf_path

    with pytest.raises(ModelLoadError, match="another base model"):
        ensure_gguf_adapter(adapter, qwen_gguf_path())
