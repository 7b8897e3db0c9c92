"""The prompt templates, pinned: each task's demonstration and query text, written into results.

OpenFlamingo's templates (``open_flamingo/eval/eval_models/open_flamingo.py``), which follow the
Flamingo paper's appendix: a demonstration is the image token, the task's text with its answer,
and ``<|endofchunk|>``; the query is the same text up to where the answer goes.

Zero-shot, as in the paper (and OpenFlamingo), still shows two demonstrations, text only: their
``<image>`` tokens are removed and no demonstration image is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from train.eval.tasks import CAPTIONING, CLASSIFICATION, VQA, Example

IMAGE, END_OF_CHUNK = "<image>", "<|endofchunk|>"
ZERO_SHOT_TEXT_DEMOS = 2


@dataclass(frozen=True)
class Template:
    """``demo`` formats one demonstration (with its answer); ``query`` the text before the answer."""

    name: str
    demo: str
    query: str

    def render_demo(self, e: Example, answer: str) -> str:
        return self.demo.format(question=e.question, text=e.text, answer=answer)

    def render_query(self, e: Example) -> str:
        return self.query.format(question=e.question, text=e.text)


TEMPLATES = {
    CAPTIONING: Template("captioning", "<image>Output:{answer}<|endofchunk|>", "<image>Output:"),
    VQA: Template("vqa", "<image>Question:{question} Short answer:{answer}<|endofchunk|>",
                  "<image>Question:{question} Short answer:"),
    CLASSIFICATION: Template("classification", "<image>Output:{answer}<|endofchunk|>", "<image>Output:"),
    "hateful_memes": Template(
        "hateful_memes", "<image>is an image with: '{text}' written on it. Is it hateful? Answer:{answer}<|endofchunk|>",
        "<image>is an image with: '{text}' written on it. Is it hateful? Answer:"),
}


def template_for(task: str, kind: str) -> Template:
    return TEMPLATES.get(task, TEMPLATES[kind])


def demo_answer(kind: str, e: Example) -> str:
    """The answer a demonstration shows, as OpenFlamingo does: its first caption, its first VQA
    answer, or its class name."""
    if kind == CAPTIONING:
        return e.references[0]
    if kind == VQA:
        return e.answers[0]
    return e.label


def build_prompt(template: Template, kind: str, demos: Sequence[Example], query: Example, *,
                 text_only: bool) -> str:
    """The whole few-shot prompt; ``text_only`` drops the demonstrations' image tokens (zero-shot)."""
    context = "".join(template.render_demo(d, demo_answer(kind, d)) for d in demos)
    if text_only:
        context = context.replace(IMAGE, "")
    return context + template.render_query(query)
