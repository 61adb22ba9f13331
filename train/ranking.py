"""A pairwise ranking loss for fine-tuning (train/delta_finetune.py): torch only.

Cross-entropy asks each window for its own label; a detector at a low false-alarm budget
needs an order instead: every keyword window must score that keyword above every window that
is not it (real speech, noise, the other keywords), because the threshold sits just above
the worst of those. This adds, per keyword in the batch, the mean softplus of
(negative's log-posterior - positive's log-posterior + margin) over all such pairs, so the
pairs that break the order, the mined hard negatives above all, carry the gradient.
"""

import torch


def ranking_loss(base, weight, margin, keyword_ids):
    """base(logits, y) plus `weight` times the pairwise ranking term."""
    ids = list(keyword_ids)

    def loss(logits, y):
        out = base(logits, y)
        if weight <= 0:
            return out
        return out + weight * pairwise_term(torch.log_softmax(logits, 1), y, ids, margin)
    return loss


def pairwise_term(log_p, y, keyword_ids, margin):
    """Mean over the keywords present in y of mean softplus(log_p[neg, k] - log_p[pos, k] +
    margin), where pos are the windows labelled k and neg all the others; 0 when no keyword
    has both."""
    terms = []
    for k in keyword_ids:
        pos = y == k
        if not pos.any() or pos.all():
            continue
        sp, sn = log_p[pos, k], log_p[~pos, k]
        terms.append(torch.nn.functional.softplus(sn[None, :] - sp[:, None] + margin).mean())
    return torch.stack(terms).mean() if terms else log_p.sum() * 0.0
