"""Tokenization, loss masks, packing, the shard format, and DeepSpeed CPT/SFT/RL training.

No Dagster import: assets/ wires these into the training group.
"""
