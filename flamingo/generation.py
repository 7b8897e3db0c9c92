"""Generation for few-shot interleaved prompts: greedy and beam search over a KV cache.

Shapes: ``B`` batch, ``K`` beams, ``L`` prompt length, ``V`` vocabulary.

Images are encoded once and their visual tokens reused at every step; the LM's own
key/value cache holds the text. The mask for a new token continues the image count
of the tokens before it (``offset``), so the cached path sees exactly what a full
recomputation would (``use_cache=False`` does that recomputation; tests compare).
A row stops at ``<|endofchunk|>`` (or eos) and is then padded.

Beam search keeps finished beams alive with their score frozen and ranks by summed
log-probability (no length normalisation); with one beam it reduces to greedy.
Prompts in a batch are left-padded (``attention_mask`` 0 on padding).
"""

from __future__ import annotations

import torch

from flamingo.masking import text_time


def _step(model, ids, media, mask, past, use_cache, new_len):
    """Logits of the last position (B*K, V) and the updated cache."""
    if not use_cache:
        logits, _ = model.run_lm(ids, media, mask, last_only=True)
        return logits[:, -1], None
    chunk = ids[:, -new_len:]
    offset = (
        text_time(ids[:, :-new_len], model.token_ids.image)[:, -1]
        if ids.shape[1] > new_len
        else None
    )
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)[:, -new_len:]
    logits, past = model.run_lm(
        chunk, media, mask, offset=offset, cache=past, position_ids=positions, last_only=True
    )
    return logits[:, -1], past


def generate(
    model,
    input_ids: torch.Tensor,
    images: torch.Tensor | None = None,
    *,
    attention_mask: torch.Tensor | None = None,
    max_new_tokens: int = 20,
    num_beams: int = 1,
    use_cache: bool = True,
    stop_token_ids: tuple[int, ...] | None = None,
    min_new_tokens: int = 0,
) -> torch.Tensor:
    """Prompt (B, L) [+ images (B, T, F, C, H, W)] -> (B, L + generated) token ids.

    ``min_new_tokens``: the stop tokens are barred for that many steps (as in transformers'
    ``min_new_tokens``), so a caption is never empty.
    """
    from transformers import DynamicCache

    ids_tok = model.token_ids
    stops = torch.tensor(
        stop_token_ids or (ids_tok.end_of_chunk, ids_tok.eos), device=input_ids.device
    )
    b, k = input_ids.shape[0], num_beams
    mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
    media = model.encode_images(images) if images is not None else None  # (B, T, n, Dv), once
    # every beam of a row is a batch row of its own: (B*K, ...)
    ids, mask = input_ids.repeat_interleave(k, 0), mask.repeat_interleave(k, 0)
    media = media.repeat_interleave(k, 0) if media is not None else None
    scores = torch.zeros(b, k, device=ids.device)
    scores[:, 1:] = float("-inf")  # identical beams at the start: expand only the first
    done = torch.zeros(b * k, dtype=torch.bool, device=ids.device)
    past = DynamicCache() if use_cache else None
    new_len = ids.shape[1]
    for step in range(max_new_tokens):
        logits, past = _step(model, ids, media, mask, past, use_cache, new_len)
        logp = torch.log_softmax(logits.float(), dim=-1)  # (B*K, V)
        # no new images can be given mid-generation, and padding is only for finished beams
        logp[:, [ids_tok.image, ids_tok.pad]] = float("-inf")
        if step < min_new_tokens:
            logp[:, stops] = float("-inf")
        # a finished beam may only continue with padding, at no cost
        logp[done] = float("-inf")
        logp[done, ids_tok.pad] = 0.0
        vocab = logp.shape[-1]
        cand = (scores.view(-1, 1) + logp).view(b, k * vocab)
        scores, flat = cand.topk(k, dim=-1)  # (B, K)
        src = (torch.arange(b, device=ids.device)[:, None] * k + flat // vocab).view(-1)  # (B*K,)
        token = (flat % vocab).view(-1, 1)
        ids = torch.cat((ids[src], token), dim=1)
        mask = torch.cat((mask[src], torch.ones_like(token)), dim=1)
        done = done[src] | torch.isin(token[:, 0], stops)
        if past is not None and k > 1:
            past.reorder_cache(src)
        new_len = 1
        if bool(done.all()):
            break
    best = scores.argmax(-1) + torch.arange(b, device=ids.device) * k  # (B,)
    return ids[best]
