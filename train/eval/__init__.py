"""Few-shot evaluation as Flamingo (Alayrac et al., 2022) and OpenFlamingo report it.

``metrics`` (CIDEr-D, VQA accuracy, ROC-AUC, the PTB tokenisation), ``tasks`` (readers of the
benchmarks' own files), ``prompts`` (pinned templates), ``demos`` (random and RICES
demonstrations), ``runner`` (one evaluation: shots x trials over the queries, split across
ranks), ``results`` (JSON, table, predictions), ``checkpoints`` (the one function that turns a
directory into a model), ``synthetic`` (the learns-to-see benchmark).
"""
