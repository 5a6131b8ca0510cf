"""Fine-tuning an extracted architecture: Agora (teacher-labelled augmentation, Θ search) and the
plain baseline, with their tasks, hyperparameter sets and text generators."""
