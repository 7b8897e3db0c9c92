"""OpenFlamingo 2.0.1 beside transformers 5: the tokenizer adapter its data module needs.

OpenFlamingo's preprocessing reads ``tokenizer.additional_special_tokens`` and
``additional_special_tokens_ids``, which transformers 5 tokenizers no longer have. Wrap the
tokenizer before handing it over (the tests and ``bench/openflamingo_mmc4.py`` run OpenFlamingo's
own ``preprocess_interleaved`` on our MMC4 export this way)::

    tok = OpenFlamingoTokenizer(AutoTokenizer.from_pretrained(...))
"""

from __future__ import annotations


class OpenFlamingoTokenizer:
    """A transformers tokenizer with OpenFlamingo's two tokens added and listed as it reads them."""

    def __init__(self, tok):
        self.tok, self.eos_token = tok, tok.eos_token
        self.additional_special_tokens = ["<|endofchunk|>", "<image>"]
        tok.add_special_tokens({"additional_special_tokens": self.additional_special_tokens})
        self.additional_special_tokens_ids = tok.convert_tokens_to_ids(self.additional_special_tokens)

    def __getattr__(self, name):
        return getattr(self.tok, name)

    def __call__(self, *args, **kwargs):
        return self.tok(*args, **kwargs)
