"""Accuracy of a KWT on packed splits: window-level accuracy, confusion matrix, sliding-window
detection of the keyword clips and false accepts on keyword-free audio."""

import numpy as np
import torch

from common import CLASSES, KEYWORDS
from dataset import KEYWORD_IDS, SILENCE, eval_windows, sliding_windows


def predict(model, x, batch=256):
    """Softmax posteriors [N, C] for raw frames [N, T, K]."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(torch.softmax(model(torch.from_numpy(x[i:i + batch])), -1).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


def window_report(y, post):
    """Accuracy, balanced accuracy, per-class recall and the confusion matrix (rows = truth)."""
    pred = post.argmax(1)
    n = len(CLASSES)
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (y, pred), 1)
    per_class = {CLASSES[c]: round(float(cm[c, c] / cm[c].sum()), 4) for c in range(n) if cm[c].sum()}
    nll = float(-np.mean(np.log(post[np.arange(len(y)), y] + 1e-9))) if len(y) else 0.0
    return {"accuracy": round(float(np.mean(pred == y)), 4) if len(y) else None,
            "balanced_accuracy": round(float(np.mean(list(per_class.values()))), 4) if per_class else None,
            "per_class": per_class, "windows": int(len(y)), "nll": round(nll, 4),
            "confusion": cm.tolist()}


def selection_score(model, x, y):
    """Checkpoint-selection score: balanced accuracy, then lower NLL."""
    r = window_report(y, predict(model, x))
    return (r["balanced_accuracy"], -r["nll"]), r


def negative_windows(data, frames, hop):
    """Every window at `hop` frames of each keyword-free clip (speech and noise, all
    variants): the stretches a stream's false alarms come from, not just each clip's best."""
    xs = [sliding_windows(data.clip(i), frames, hop) for i in range(len(data))
          if int(data.labels[i]) not in KEYWORD_IDS]
    return np.concatenate(xs) if xs else np.zeros((0, frames, data.feats.shape[1]), np.float32)


def ranking_score(pos_post, pos_y, neg_post, top):
    """Recall of each keyword's windows above the `top`-th highest score any negative window
    gives that keyword, averaged over the keywords: how many keywords survive a threshold
    strict enough for a handful of false alarms. Unlike argmax accuracy, it rewards pushing
    the worst negatives down and the keywords up, which is what a low false-alarm budget needs.
    Ties with the threshold count as misses."""
    recalls = {}
    for k in KEYWORD_IDS:
        pos = pos_post[pos_y == k, k]
        if not len(pos):
            continue
        neg = np.sort(neg_post[:, k])[::-1]
        bar = neg[min(top, len(neg)) - 1] if len(neg) else -np.inf
        recalls[CLASSES[k]] = round(float(np.mean(pos > bar)), 4)
    return (float(np.mean(list(recalls.values()))) if recalls else 0.0), recalls


def validate(model, val, frames, threshold=0.5, hop=10):
    """Full validation report on the validation split (never trained on or used for selection).

    * `windows`: best-energy window of each recorded keyword clip, each held-out synthetic
      negative, and windows of the unseen 30 % of each noise recording (every 50 frames);
    * `noisy_keywords`: the keyword clips with unseen noise at 10 dB SNR;
    * `sliding`: every window at `hop` frames (the daemon's 100 ms) over each keyword clip:
      detected when the keyword's posterior reaches `threshold` in some window and no
      other keyword's posterior is higher; false accepts on negatives and noise windows.
    """
    x, y, idx = eval_windows(val, frames, variants=(0,), background_hop=50)
    post = predict(model, x)
    report = {"windows": window_report(y, post)}
    kw_mask = np.isin(y, KEYWORD_IDS)
    report["keyword_accuracy"] = round(float(np.mean(post[kw_mask].argmax(1) == y[kw_mask])), 4)

    xn, yn, _ = eval_windows(val, frames, variants=(1,))
    keep = np.isin(yn, KEYWORD_IDS)
    report["noisy_keywords"] = window_report(yn[keep], predict(model, xn[keep]))

    report["sliding"] = sliding_report(model, val, frames, threshold, hop)
    return report, (x, y, post)


def sliding_report(model, val, frames, threshold=0.5, hop=10):
    det = {k: [0, 0] for k in KEYWORDS}  # correct, clips
    wrong = 0
    neg_clips = neg_fa = noise_windows = noise_fa = 0
    fa_by_keyword = {k: 0 for k in KEYWORDS}
    for i in range(len(val)):
        if val.variants[i] != 0:
            continue
        post = predict(model, sliding_windows(val.clip(i), frames, hop))
        kw_post = post[:, KEYWORD_IDS]
        best = kw_post.max(0)
        label = int(val.labels[i])
        if label in KEYWORD_IDS:
            name = CLASSES[label]
            det[name][1] += 1
            k = int(best.argmax())
            if best[k] >= threshold:
                if KEYWORD_IDS[k] == label:
                    det[name][0] += 1
                else:
                    wrong += 1
        elif label == SILENCE:
            hits = kw_post.max(1) >= threshold
            noise_windows += len(hits)
            noise_fa += int(hits.sum())
            for k in np.flatnonzero((kw_post >= threshold).any(0)):
                fa_by_keyword[KEYWORDS[k]] += int((kw_post[:, k] >= threshold).sum())
        else:
            neg_clips += 1
            if best.max() >= threshold:
                neg_fa += 1
                fa_by_keyword[KEYWORDS[int(best.argmax())]] += 1
    clips = sum(v[1] for v in det.values())
    return {
        "threshold": threshold, "hop_frames": hop,
        "detection_rate": round(sum(v[0] for v in det.values()) / max(clips, 1), 4),
        "per_keyword": {k: round(v[0] / v[1], 4) for k, v in det.items() if v[1]},
        "wrong_keyword_clips": wrong, "keyword_clips": clips,
        "negative_clips": neg_clips, "negative_clips_false_accept": neg_fa,
        "noise_windows": noise_windows, "noise_windows_false_accept": noise_fa,
        "false_accepts_by_keyword": fa_by_keyword,
    }
