"""What the generation backends share: their error, stop markers, decoding defaults, threads."""

from __future__ import annotations

import os

# Penalises tokens the reply already used (not the prompt's): stops loops.
REPETITION_PENALTY = 1.1

# End-of-turn markers of the chat templates we know: their token ids stop
# transformers' generation, and llama.cpp stops on them if emitted as text.
STOP_MARKERS = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "</s>"]


def thread_count(requested: int | None) -> int | None:
    """Threads for a local model: ``requested``, else $SHOPBOT_NUM_THREADS, else every core."""
    return requested or int(os.environ.get("SHOPBOT_NUM_THREADS", "0")) or os.cpu_count()


class GenerationError(RuntimeError):
    """Generation failed after the model was loaded (endpoint down, OOM, ...)."""
