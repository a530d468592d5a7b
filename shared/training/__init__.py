"""Training agents on simulated dialogues: dataset building (rejection sampling), SFT with trl/peft, merging.

`dataset` needs only the standard library until it tokenises; `sft` and `merge` import torch,
transformers, peft and trl (the `train` extra) when called.
"""
