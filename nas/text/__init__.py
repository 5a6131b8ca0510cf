"""Text readers shared by the error proxy, pretraining and fine-tuning: corpus, WordNet, BPE."""
