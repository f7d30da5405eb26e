"""Time one LoRA training step (forward + backward) in fp32 and in bf16.

    nice -n 5 python scripts/bench_finetune_step.py smollm2-135m 128

Random token ids, batch 4 x LENGTH, LoRA r=8 on q/v as ``shopbot finetune``
uses; the second step of each dtype is the one to read (the first warms up).
"""

import sys
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from bot.answers.models import ensure_hf_folder, resolve_model


def main() -> None:
    """Print seconds per step for each dtype."""
    folder = ensure_hf_folder(resolve_model(sys.argv[1] if len(sys.argv) > 1 else "smollm2-135m"))
    length = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    for dtype in (torch.float32, torch.bfloat16):
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype)
        lora = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                          task_type="CAUSAL_LM")  # fmt: skip
        model = get_peft_model(model, lora)
        ids = torch.randint(100, 1000, (4, length))
        for i in range(2):
            started = time.time()
            model(input_ids=ids, labels=ids).loss.backward()
            print(f"{dtype} 4x{length} step {i + 1}: {time.time() - started:.2f} s", flush=True)


if __name__ == "__main__":
    main()
