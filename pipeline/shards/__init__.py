"""The shard format and everything that reads or writes it. Imports neither Beam nor torch.

``format`` owns every member and field name; ``writer`` writes shards atomically with their
parquet index and manifest. The trainer imports from ``pipeline`` only this package.
"""
