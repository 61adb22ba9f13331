"""Trains a KWT on the packed features of prepare.py and exports the model file.

    /usr/bin/python3 train/train.py --depth 6 --minutes 45 --out models/kwt.safetensors

Training windows are drawn on the fly (dataset.Sampler) with SpecAugment; AdamW with
linear warmup and a cosine decay, label smoothing 0.1, batch 64. The schedule runs on
wall-clock time (`--minutes`) unless `--steps` fixes the number of steps. The
checkpoint with the best balanced accuracy on the selection split is kept; the
validation split is only evaluated once, at the end.

Outputs, beside `--out` (e.g. models/kwt.safetensors):
  kwt.safetensors, kwt.golden.safetensors   the model file and its golden vectors
  kwt.summary.json, kwt.summary.md          validation accuracy, confusion matrix, data counts
  kwt.split.json                            the split lists of the keyword recordings
"""

import argparse
import copy
import json
import logging
import math
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from common import (CACHE, CLASSES, NOISE_TRAIN_FRACTION, SELECTION_BELOW, VALIDATION_BELOW,
                    Timer, git_commit, save_json, setup_logging)
from dataset import Packed, Sampler, eval_windows, spec_augment
from evaluate import selection_score, validate
from export import export
from kwt import KWT, KWTConfig, count_parameters

log = logging.getLogger("train")


def lr_at(progress, peak, warmup):
    """Linear warmup to `peak`, then cosine decay to 1 % of it; progress in [0, 1]."""
    if progress < warmup:
        return peak * max(progress / warmup, 0.01)
    p = min((progress - warmup) / max(1e-9, 1.0 - warmup), 1.0)
    return peak * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * p)))


def make_optimizer(model, lr, weight_decay):
    """AdamW with weight decay on the weight matrices only (not biases, norms, cls, pos)."""
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim < 2 or n in ("cls", "pos") or n.endswith(".rel") else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98))


def train_step(model, opt, lossf, x, y):
    """One clipped optimiser step on normalised frames x [B, T, K] and labels y; returns
    the batch's loss and accuracy."""
    model.train()
    logits = model.forward_normalised(torch.from_numpy(x))
    yt = torch.from_numpy(y)
    loss = lossf(logits, yt)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return float(loss), float((logits.argmax(1) == yt).float().mean())


def normalisation(train):
    """Per-coefficient mean and std over all training frames."""
    f = train.feats.astype(np.float64)
    mean = f.mean(0)
    std = np.sqrt(np.maximum(f.var(0), 1e-8))
    return mean.astype(np.float32), std.astype(np.float32)


def data_counts(items_path):
    """Clip and variant counts per split, class and source (for the model card)."""
    items = json.loads(Path(items_path).read_text())
    out = {}
    for it in items:
        d = out.setdefault(it["split"], {}).setdefault(it["label"], Counter())
        d[it["source_tag"] + " clips"] += 1
        d[it["source_tag"] + " variants"] += len(it.get("variants", []))
    return {s: {c: dict(sorted(v.items())) for c, v in sorted(d.items())} for s, d in out.items()}


def split_lists(items_path):
    items = json.loads(Path(items_path).read_text())
    lists = {"validation": [], "selection": [], "train": []}
    for it in items:
        if it["id"].startswith("keywords/"):
            lists[it["split"]].append(it["rel"])
    return {
        "rule": (f"keyword recordings: sha1('<word>/<file>') mod 100 < {VALIDATION_BELOW} -> validation, "
                 f"< {SELECTION_BELOW} -> selection (checkpoint choice), else train; synthetic negatives: "
                 "sha1(id) mod 100 < 8 -> validation, < 13 -> selection; noise recordings: first "
                 f"{int(NOISE_TRAIN_FRACTION * 100)} % train, the rest validation"),
        **{k: sorted(v) for k, v in lists.items()},
    }


def markdown_summary(name, summary):
    v = summary["validation"]
    w = v["windows"]
    lines = [f"# {name}", "",
             f"KWT depth {summary['architecture']['depth']}, dim {summary['architecture']['dim']}, "
             f"{summary['training']['parameters']} parameters, {summary['training']['steps']} steps in "
             f"{summary['training']['minutes']} min (best selection step {summary['training']['best_step']}).",
             "",
             "## Validation (held-out recordings, best-energy window)", "",
             f"- recorded keyword clips: **{v['keyword_accuracy']:.2%}**",
             f"- all windows (keywords, held-out synthetic negatives, unseen noise): {w['accuracy']:.2%} "
             f"(balanced {w['balanced_accuracy']:.2%}, {w['windows']} windows)",
             f"- keyword clips with unseen noise at 10 dB SNR: {v['noisy_keywords']['accuracy']:.2%}",
             "", "| class | accuracy |", "| --- | --- |"]
    lines += [f"| {c} | {a:.2%} |" for c, a in w["per_class"].items()]
    lines += ["", "Confusion matrix (rows: truth, columns: prediction):", "",
              "| | " + " | ".join(CLASSES) + " |", "|---" * (len(CLASSES) + 1) + "|"]
    for c, row in zip(CLASSES, w["confusion"]):
        lines.append(f"| {c} | " + " | ".join(str(n) for n in row) + " |")
    s = v["sliding"]
    lines += ["", f"## Sliding windows (hop {s['hop_frames'] * 10} ms, threshold {s['threshold']}, no smoothing)", "",
              f"- keyword clips detected: {s['detection_rate']:.2%} "
              f"({s['wrong_keyword_clips']} of {s['keyword_clips']} as the wrong keyword)",
              "- per keyword: " + ", ".join(f"{k} {a:.1%}" for k, a in s["per_keyword"].items()),
              f"- held-out negative clips with a false accept: {s['negative_clips_false_accept']} of {s['negative_clips']}",
              f"- unseen-noise windows with a false accept: {s['noise_windows_false_accept']} of {s['noise_windows']}",
              "", "## Training data (clips and augmented variants)", "", "```",
              json.dumps(summary["training"]["data"]["train"], indent=1), "```", ""]
    return "\n".join(lines)


def train(args):
    t_all = Timer()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    feats = Path(args.cache) / "features"
    tr, sel, val = (Packed(feats / f"{s}.npz") for s in ("train", "selection", "validation"))
    log.info("train %d / selection %d / validation %d clip variants", len(tr), len(sel), len(val))

    cfg = KWTConfig(dim=args.dim, depth=args.depth, heads=args.heads, mlp_dim=args.mlp_dim,
                    frames=args.frames, classes=len(CLASSES), context=args.context)
    model = KWT(cfg, dropout=args.dropout)
    mean, std = normalisation(tr)
    model.set_normalisation(mean, std)
    log.info("KWT %s: %d parameters", cfg.to_json(), count_parameters(model))

    sampler = Sampler(tr, cfg.frames, rng)
    sx, sy, _ = eval_windows(sel, cfg.frames, variants=(0, 1))
    log.info("selection: %d windows, per class %s", len(sy), np.bincount(sy, minlength=len(CLASSES)).tolist())

    opt = make_optimizer(model, args.lr, args.weight_decay)
    lossf = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    mean_t, std_t = mean[None, None, :], std[None, None, :]

    budget = args.minutes * 60.0
    best = {"score": None, "step": 0, "state": None, "report": None}
    stale, step, seen = 0, 0, 0
    t0 = time.time()
    run_loss, run_acc, last_log = 0.0, 0.0, time.time()
    while True:
        progress = step / args.steps if args.steps else (time.time() - t0) / budget
        if progress >= 1.0:
            break
        lr = lr_at(progress, args.lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = sampler.batch(args.batch)
        loss, acc = train_step(model, opt, lossf, spec_augment((x - mean_t) / std_t, rng), y)
        step += 1
        seen += len(y)
        run_loss += loss
        run_acc += acc
        if step % args.log_every == 0:
            now = time.time()
            log.info("step %d  progress %.1f%%  lr %.2e  loss %.3f  acc %.3f  %.0f samples/s",
                     step, 100 * progress, lr, run_loss / args.log_every, run_acc / args.log_every,
                     args.log_every * args.batch / (now - last_log))
            run_loss, run_acc, last_log = 0.0, 0.0, now
        if step % args.eval_every == 0:
            score, rep = selection_score(model, sx, sy)
            better = best["score"] is None or score > best["score"]
            if better:
                best.update(score=score, step=step, state=copy.deepcopy(model.state_dict()), report=rep)
                stale = 0
            else:
                stale += 1
            log.info("selection @%d: balanced %.4f acc %.4f nll %.3f%s per class %s", step,
                     rep["balanced_accuracy"], rep["accuracy"], rep["nll"], "  (best)" if better else "",
                     rep["per_class"])
            if args.patience and stale >= args.patience and progress > 0.5:
                log.info("no selection improvement in %d evaluations; stopping", stale)
                break
    train_s = time.time() - t0
    score, rep = selection_score(model, sx, sy)
    if best["score"] is None or score > best["score"]:
        best.update(score=score, step=step, state=copy.deepcopy(model.state_dict()), report=rep)
    model.load_state_dict(best["state"])
    log.info("trained %d steps in %.1f min; best selection step %d (balanced %.4f)",
             step, train_s / 60, best["step"], best["report"]["balanced_accuracy"])

    report, (vx, vy, _) = validate(model, val, cfg.frames)
    w = report["windows"]
    log.info("validation: keyword clips %.4f, all windows %.4f, per class %s", report["keyword_accuracy"],
             w["accuracy"], w["per_class"])
    log.info("validation noisy keywords (10 dB unseen noise): %.4f", report["noisy_keywords"]["accuracy"])
    log.info("validation sliding: %s", {k: v for k, v in report["sliding"].items()})

    items = feats / "items.json"
    training = {
        "data": data_counts(items),
        "steps": step, "best_step": best["step"], "batch": args.batch, "seed": args.seed,
        "minutes": round(train_s / 60, 1), "samples_per_s": round(seen / max(train_s, 1e-9), 1),
        "parameters": count_parameters(model), "lr": args.lr, "weight_decay": args.weight_decay,
        "label_smoothing": 0.1, "optimizer": "AdamW, warmup + cosine",
        "augmentation": "tempo, pitch, reverb (sox), gain, noise 0-20 dB SNR, random shift, SpecAugment",
        "selection": {"balanced_accuracy": best["report"]["balanced_accuracy"],
                      "per_class": best["report"]["per_class"]},
        "window_frames": cfg.frames, "git_commit": git_commit(),
        "normalisation": "per-coefficient mean/std of training frames, folded into embed",
    }
    validation = {"accuracy": w["accuracy"], "per_class": w["per_class"],
                  "keyword_accuracy": report["keyword_accuracy"],
                  "balanced_accuracy": w["balanced_accuracy"],
                  "noisy_keyword_accuracy": report["noisy_keywords"]["accuracy"],
                  "sliding_detection_rate": report["sliding"]["detection_rate"],
                  "method": "window-level, best-energy window of each held-out clip"}

    golden = []
    for c in range(len(CLASSES)):
        golden += list(np.flatnonzero(vy == c)[:2])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _, err = export(model, out, CLASSES, vx[golden], training=training, validation=validation)
    stem = out.name[:-len(".safetensors")] if out.name.endswith(".safetensors") else out.name
    summary = {"model": out.name, "architecture": cfg.to_json(), "classes": CLASSES, "training": training,
               "validation": report, "selection": best["report"], "export_numpy_error": err}
    save_json(out.with_name(stem + ".summary.json"), summary)
    out.with_name(stem + ".summary.md").write_text(markdown_summary(out.name, summary))
    save_json(out.with_name(stem + ".split.json"), split_lists(items))
    log.info("wrote %s (+ golden, summary, split) in %.1f min total", out, t_all() / 60)
    return summary


def main():
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=env("OUT", "models/kwt.safetensors"))
    ap.add_argument("--cache", default=str(CACHE))
    ap.add_argument("--depth", type=int, default=int(env("DEPTH", 6)))
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--heads", type=int, default=1)
    ap.add_argument("--mlp-dim", type=int, default=256)
    ap.add_argument("--frames", type=int, default=148, help="window length in 10 ms frames (148 = 1.5 s)")
    ap.add_argument("--context", type=int, default=int(env("CONTEXT", 0)),
                    help="streaming KWT: tokens each token attends to, itself included (0: class-token KWT)")
    ap.add_argument("--minutes", type=float, default=float(env("MINUTES", 45)),
                    help="training time budget (the schedule follows wall-clock time)")
    ap.add_argument("--steps", type=int, default=int(env("STEPS", 0)),
                    help="fixed number of steps instead of a time budget")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=float(env("LR", 1e-3)))
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--warmup", type=float, default=0.05, help="warmup share of the schedule")
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--eval-every", type=int, default=int(env("EVAL_EVERY", 250)))
    ap.add_argument("--patience", type=int, default=0,
                    help="stop after this many evaluations without improvement (0 = never)")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--seed", type=int, default=int(env("SEED", 1)))
    ap.add_argument("--threads", type=int, default=int(env("THREADS", 1)))
    ap.add_argument("--log", default=env("LOG"))
    args = ap.parse_args()
    setup_logging(args.log)
    torch.set_num_threads(args.threads)
    train(args)


if __name__ == "__main__":
    main()
