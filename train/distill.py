"""Knowledge distillation for fine-tuning (train/delta_finetune.py): torch only, so that
train/smoke.py can use it on a machine with just the test packages."""

import torch


def distillation_loss(hard, soft, weight, temperature):
    """Hard-label loss blended with the KL divergence from the teacher's softened scores
    (Hinton et al.), scaled by T^2 so its gradients keep their size as T changes."""
    def loss(logits, y):
        log_p = torch.log_softmax(logits / temperature, 1)
        kl = torch.nn.functional.kl_div(log_p, soft, reduction="batchmean") * temperature ** 2
        return (1 - weight) * hard(logits, y) + weight * kl
    return loss
