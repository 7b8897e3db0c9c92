import os

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "WANDB_MODE": "disabled",
               "NO_ALBUMENTATIONS_UPDATE": "1"}.items():
    os.environ.setdefault(_k, _v)
