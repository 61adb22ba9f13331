"""Delta-aware fine-tuning: trains a model file further while it runs as the delta forward pass.

    /usr/bin/python3 train/delta_finetune.py --model models/kwt-base.safetensors \
        --thresholds @thresholds.json --distill 0.7 --minutes 25 --out /tmp/kwt.safetensors

The delta forward pass (Go's infer.Delta) holds every element of a site's input at its
reference value until it changes by more than the site's threshold. A model trained densely
has never seen those held values, so past a point its accuracy falls off a cliff. Here each
training batch runs through kwt.held at the target thresholds times a random scale (or, for
a share of the batches, densely), so the weights learn to tolerate the held inputs while the
dense pass stays accurate. The checkpoint with the best selection score is kept. With
--select ranking (the default) that is each keyword's recall above the --select-top-th highest
score that any keyword-free window of the selection split gives it (every window at
--select-hop frames, scored densely), averaged over the keywords: a checkpoint wins by what
survives a strict threshold, the regime of a low false-alarm budget. Ties go to the argmax
balanced accuracy of one window per selection clip, averaged over the target thresholds times
each of --select-scales (1 and 1.5: the target and the room above it that a later sweep may
use), which --select balanced uses alone; it stops improving long before false alarms do.

The output is a model file with the input file's detection settings and the target
thresholds as its delta metadata, and golden vectors with the PyTorch delta logits at those
thresholds (`delta_logits`), which the Go tests compare with infer.Delta. Choose the final
thresholds with `go run ./bench/sweep --model M --write-model M DIR` (bench/model-eval.sh).
"""

import argparse
import copy
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch

from common import CACHE, CLASSES, Timer, git_commit, save_json, setup_logging
from dataset import KEYWORD_IDS, Packed, Sampler, eval_windows, spec_augment
from distill import distillation_loss
from evaluate import negative_windows, predict, ranking_score, selection_score, validate
from export import export, load_model, unfold_normalisation
from mining import HardNegatives, mix_into
from ranking import ranking_loss
from train import lr_at, make_optimizer, normalisation, train_step

log = logging.getLogger("delta_finetune")


def parse_thresholds(text, depth, known):
    """{site: [theta per layer]} from the model file's delta JSON ({"sites": {...}} or the
    bare map), given inline or as @file; known: the model's delta sites (its file's
    "delta_sites")."""
    if text.startswith("@"):
        text = Path(text[1:]).read_text()
    sites = json.loads(text)
    sites = sites.get("sites", sites)
    for name, th in sites.items():
        if name not in known:
            raise SystemExit(f"delta_finetune: unknown delta site {name!r} (want one of {known})")
        if len(th) != depth or any(not (0 <= float(v) < 1e6) for v in th):
            raise SystemExit(f"delta_finetune: site {name}: want {depth} thresholds in [0, 1e6), got {th}")
    return {k: [float(v) for v in th] for k, th in sites.items()}


def parse_weights(text):
    """{"silence": 0.15, "unknown": 0.4} from "silence=0.15,unknown=0.4"."""
    out = {}
    for part in filter(None, text.split(",")):
        name, _, v = part.partition("=")
        if name not in ("silence", "unknown") or not 0 <= float(v) < 1:
            raise argparse.ArgumentTypeError(f"want silence=W,unknown=W with W in [0, 1), got {part!r}")
        out[name] = float(v)
    return out


def scaled(sites, f):
    return {k: [v * f for v in th] for k, th in sites.items()}


def keeps_final(score, best_score, keep):
    """Whether the run ends on its final weights rather than its best checkpoint: when they
    score higher on the selection share, or always with --keep last."""
    return keep == "last" or score > best_score


@torch.no_grad()
def average_into(ema, state, decay):
    """One step of the exponential moving average of a state dict: ema = decay * ema +
    (1 - decay) * state for the floating-point tensors; the rest (step counters, masks)
    are left as the average started."""
    for k, v in state.items():
        if v.dtype.is_floating_point:
            ema[k].mul_(decay).add_(v, alpha=1 - decay)


def finetune(args):
    t_all = Timer()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model, meta = load_model(args.model)
    depth = model.cfg.depth
    target = (parse_thresholds(args.thresholds, depth, model.delta_sites) if args.thresholds
              else meta.get("delta", {}).get("sites"))
    if not target:
        raise SystemExit(f"delta_finetune: {args.model} has no delta thresholds; give --thresholds")
    feats = Path(args.cache) / "features"
    tr, sel, val = (Packed(feats / f"{s}.npz") for s in ("train", "selection", "validation"))
    mean, std = normalisation(tr)
    unfold_normalisation(model, mean, std)
    frames = model.cfg.frames
    sampler = Sampler(tr, frames, rng, class_weights=args.class_weights, recent_share=args.recent_share)
    sx, sy, _ = eval_windows(sel, frames, variants=(0, 1))
    nx = negative_windows(sel, frames, args.select_hop) if args.select == "ranking" else None
    pool = HardNegatives(tr, frames, rng) if args.mine_every > 0 else None
    log.info("fine-tuning %s at %s, scale %.2f-%.2f, dense share %.2f, distillation %.2f at T=%.1f, %s",
             args.model, json.dumps(target), args.scale_min, args.scale_max, args.dense_share,
             args.distill, args.temperature,
             f"{args.steps} steps" if args.steps else f"{args.minutes} min")

    def score(sites):
        model.set_delta(sites)
        return selection_score(model, sx, sy)

    def ranked():
        """The ranking score, densely: the held pass over every negative window would take
        longer than the training between two checkpoints."""
        if nx is None:
            return (), {}
        model.set_delta(None)
        r, recalls = ranking_score(predict(model, sx), sy, predict(model, nx), args.select_top)
        return (r,), {"ranking": round(r, 4), "ranking_per_keyword": recalls}

    ema = None  # the weight average (--ema), from the first step on

    def robust_score():
        """Selection score averaged over the target thresholds times --select-scales; the
        report is the target's. With --ema, of the averaged weights (the model's own are put
        back after)."""
        own = None
        if ema is not None:
            own = copy.deepcopy(model.state_dict())
            model.load_state_dict(ema)
        results = [score(scaled(target, f)) for f in args.select_scales]
        r, rep = ranked()
        if own is not None:
            model.load_state_dict(own)
        return r + tuple(float(np.mean(v)) for v in zip(*(s for s, _ in results))), dict(results[0][1], **rep)

    def current():
        return copy.deepcopy(ema if ema is not None else model.state_dict())

    _, dense0 = score(None)
    s0, delta0 = robust_score()
    if args.ema > 0:
        # Weights averaged over the last ~1/(1-ema) steps: a flatter point than any single
        # step's, which tends to carry better to speakers never trained on.
        ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    log.info("before: selection balanced %.4f dense, %.4f delta (score %.4f over scales %s)%s",
             dense0["balanced_accuracy"], delta0["balanced_accuracy"], s0[0], args.select_scales,
             f"; {len(nx)} negative windows, ranking per keyword {delta0['ranking_per_keyword']}" if nx is not None else "")

    opt = make_optimizer(model, args.lr, args.weight_decay)
    hard = torch.nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    # The dense starting model as a teacher keeps each class's scores where the detection
    # defaults were tuned; labels alone let them drift (a class's streaming recall can fall
    # while window accuracy holds).
    teacher = None
    if args.distill > 0 and args.teacher:
        # Another model as the teacher, e.g. the window KWT for a streaming one.
        teacher, _ = load_model(args.teacher)
        unfold_normalisation(teacher, mean, std)
        teacher.eval()
    elif args.distill > 0:
        teacher = copy.deepcopy(model).eval()
        teacher.set_delta(None)
    mean_t, std_t = mean[None, None, :], std[None, None, :]
    best = {"score": s0, "step": 0, "state": copy.deepcopy(model.state_dict()), "report": delta0}
    budget = args.minutes * 60.0
    step, run_loss, run_acc, t0 = 0, 0.0, 0.0, time.time()
    mined_at, rounds = None, []
    while True:
        progress = step / args.steps if args.steps else (time.time() - t0) / budget
        if progress >= 1.0:
            break
        if pool is not None and (mined_at is None or time.time() - mined_at >= args.mine_every * 60):
            model.set_delta(None)
            rounds.append(pool.mine(model, mean_t, std_t, args.mine_windows, args.mine_keep))
            mined_at = time.time()
        for g in opt.param_groups:
            g["lr"] = lr_at(progress, args.lr, args.warmup)
        dense = rng.random() < args.dense_share
        model.set_delta(None if dense else scaled(target, rng.uniform(args.scale_min, args.scale_max)))
        x, y = sampler.batch(args.batch)
        x, y = mix_into(x, y, pool, args.hard_share, rng)
        x = spec_augment((x - mean_t) / std_t, rng)
        lossf = hard
        if teacher is not None:
            with torch.no_grad():
                soft = torch.softmax(teacher.forward_normalised(torch.from_numpy(x)) / args.temperature, 1)
            lossf = distillation_loss(hard, soft, args.distill, args.temperature)
        if args.rank_weight > 0:
            lossf = ranking_loss(lossf, args.rank_weight, args.rank_margin, KEYWORD_IDS)
        loss, acc = train_step(model, opt, lossf, x, y)
        if ema is not None:
            average_into(ema, model.state_dict(), args.ema)
        step += 1
        run_loss += loss
        run_acc += acc
        if step % args.log_every == 0:
            log.info("step %d  progress %.1f%%  loss %.3f  acc %.3f", step, 100 * progress,
                     run_loss / args.log_every, run_acc / args.log_every)
            run_loss, run_acc = 0.0, 0.0
        if step % args.eval_every == 0:
            s, rep = robust_score()
            better = s > best["score"]
            if better:
                best.update(score=s, step=step, state=current(), report=rep)
            log.info("selection @%d: score %.4f; at the target balanced %.4f nll %.3f%s per class %s%s", step,
                     s[0], rep["balanced_accuracy"], rep["nll"], "  (best)" if better else "", rep["per_class"],
                     f" ranking per keyword {rep['ranking_per_keyword']}" if "ranking" in rep else "")
    train_s = time.time() - t0
    s, rep = robust_score()
    if keeps_final(s, best["score"], args.keep):
        best.update(score=s, step=step, state=current(), report=rep)
    model.load_state_dict(best["state"])
    _, dense1 = score(None)
    log.info("after %d steps in %.1f min: best step %d; selection balanced %.4f dense, %.4f delta",
             step, train_s / 60, best["step"], dense1["balanced_accuracy"], best["report"]["balanced_accuracy"])

    reports = {}
    for name, sites in (("dense", None), ("delta", target)):
        model.set_delta(sites)
        reports[name], (vx, vy, _) = validate(model, val, frames)
        w = reports[name]["windows"]
        log.info("validation %s: keyword clips %.4f, all windows %.4f, per class %s", name,
                 reports[name]["keyword_accuracy"], w["accuracy"], w["per_class"])

    training = dict(meta.get("training", {}))
    training["delta_finetune"] = {
        "from": Path(args.model).name, "teacher": Path(args.teacher or args.model).name, "thresholds": target, "scale": [args.scale_min, args.scale_max],
        "dense_share": args.dense_share, "distill": args.distill, "label_smoothing": args.label_smoothing, "temperature": args.temperature, "select_scales": args.select_scales, "steps": step, "best_step": best["step"], "lr": args.lr,
        "minutes": round(train_s / 60, 1), "seed": args.seed, "git_commit": git_commit(),
        "class_weights": args.class_weights,
        "ranking_loss": {"weight": args.rank_weight, "margin": args.rank_margin} if args.rank_weight > 0 else None,
        "ema": args.ema or None,
        "recent_share": args.recent_share or None,
        "keep": args.keep,
        "hard_negatives": {"every_minutes": args.mine_every, "windows": args.mine_windows,
                           "keep": args.mine_keep, "share": args.hard_share,
                           "false_accept_share_per_round": rounds} if pool is not None else None,
        "selection_balanced_accuracy": {"dense": dense1["balanced_accuracy"],
                                        "delta": best["report"]["balanced_accuracy"]},
        "select": {"metric": args.select, "top": args.select_top, "hop": args.select_hop,
                   "ranking_per_keyword": best["report"].get("ranking_per_keyword")},
    }
    w = reports["dense"]["windows"]
    validation = {"accuracy": w["accuracy"], "per_class": w["per_class"],
                  "keyword_accuracy": reports["dense"]["keyword_accuracy"],
                  "balanced_accuracy": w["balanced_accuracy"],
                  "noisy_keyword_accuracy": reports["dense"]["noisy_keywords"]["accuracy"],
                  "sliding_detection_rate": reports["dense"]["sliding"]["detection_rate"],
                  "delta_accuracy": reports["delta"]["windows"]["accuracy"],
                  "delta_per_class": reports["delta"]["windows"]["per_class"],
                  "method": "window-level, best-energy window of each held-out clip"}
    golden = []
    for c in range(len(CLASSES)):
        golden += list(np.flatnonzero(vy == c)[:2])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.set_delta(None)
    export(model, out, meta["classes"], vx[golden], training=training, validation=validation,
           detection=meta.get("detection"), delta=target)
    stem = out.name[:-len(".safetensors")] if out.name.endswith(".safetensors") else out.name
    save_json(out.with_name(stem + ".finetune.json"), {"model": out.name, "training": training,
                                                       "validation": reports})
    log.info("wrote %s in %.1f min total", out, t_all() / 60)


def main():
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/kwt-base.safetensors", help="model file to start from")
    ap.add_argument("--out", required=True)
    ap.add_argument("--thresholds", default="",
                    help="target thresholds, JSON or @file in the model file's delta format "
                         "(default: the model's own)")
    ap.add_argument("--scale-min", type=float, default=0.5, help="smallest random scale of the thresholds")
    ap.add_argument("--scale-max", type=float, default=2.0, help="largest random scale of the thresholds")
    ap.add_argument("--select-scales", type=lambda v: [float(f) for f in v.split(",")], default=[1.0, 1.5],
                    help="checkpoint choice: mean selection score at the target thresholds times these")
    ap.add_argument("--select", choices=("ranking", "balanced"), default="ranking",
                    help="checkpoint choice: keyword recall above the worst negatives, or argmax "
                         "balanced accuracy")
    ap.add_argument("--keep", choices=("best", "last"), default="best",
                    help="the checkpoint with the best selection score, or the last one (when the "
                         "score is blind to what the run changes, such as how soon the score peaks "
                         "in a stream; compare the results with bench/accuracy on the selection share)")
    ap.add_argument("--select-top", type=int, default=3,
                    help="ranking: the threshold is the score of the n-th highest negative window")
    ap.add_argument("--select-hop", type=int, default=40,
                    help="ranking: frames between the keyword-free windows scored")
    ap.add_argument("--dense-share", type=float, default=0.2, help="share of batches run densely")
    ap.add_argument("--distill", type=float, default=0.0,
                    help="weight of distillation from the dense starting model (0: labels only)")
    ap.add_argument("--teacher", default="",
                    help="model file to distil from instead of the starting model (same classes and frames)")
    ap.add_argument("--temperature", type=float, default=2.0, help="distillation temperature")
    ap.add_argument("--class-weights", type=parse_weights, default=None,
                    help="share of batch windows per negative class, e.g. silence=0.15,unknown=0.4 "
                         "(default 0.12 and 0.28; the keywords share the rest)")
    ap.add_argument("--mine-every", type=float, default=0.0,
                    help="hard-negative mining every this many minutes, from the start (0: off)")
    ap.add_argument("--mine-windows", type=int, default=20000, help="negative windows scored per round")
    ap.add_argument("--mine-keep", type=int, default=2000, help="highest-scoring windows kept per round")
    ap.add_argument("--hard-share", type=float, default=0.2, help="share of each batch drawn from the mined pool")
    ap.add_argument("--label-smoothing", type=float, default=0.1,
                    help="label smoothing of the loss; 0 lets a confident posterior approach 1, so "
                         "thresholds near the top still separate keywords from the worst negatives")
    ap.add_argument("--rank-weight", type=float, default=0.0,
                    help="weight of the pairwise ranking loss (train/ranking.py) added to the "
                         "cross-entropy (0: off)")
    ap.add_argument("--rank-margin", type=float, default=1.0,
                    help="ranking loss: how far, in log-posterior, each keyword window should "
                         "score above every other window")
    ap.add_argument("--recent-share", type=float, default=0.0,
                    help="share of keyword windows that end 2-12 frames after the keyword (the window "
                         "scored right after it is said), so that the score peaks sooner")
    ap.add_argument("--ema", type=float, default=0.0,
                    help="checkpoints are an exponential moving average of the weights with this "
                         "decay per step, e.g. 0.999 (0: the weights as they are)")
    ap.add_argument("--cache", default=str(CACHE))
    ap.add_argument("--minutes", type=float, default=float(env("MINUTES", 30)))
    ap.add_argument("--steps", type=int, default=int(env("STEPS", 0)),
                    help="fixed number of steps instead of a time budget")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--warmup", type=float, default=0.05)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--seed", type=int, default=int(env("SEED", 1)))
    ap.add_argument("--threads", type=int, default=int(env("THREADS", 1)))
    ap.add_argument("--log", default=env("LOG"))
    args = ap.parse_args()
    if args.rank_weight < 0 or args.rank_margin < 0:
        ap.error("--rank-weight and --rank-margin must not be negative")
    if not 0 <= args.recent_share <= 1:
        ap.error("--recent-share must be within 0 and 1")
    if not 0 <= args.ema < 1:
        ap.error(f"--ema: want a decay in [0, 1), got {args.ema}")
    setup_logging(args.log)
    torch.set_num_threads(args.threads)
    finetune(args)


if __name__ == "__main__":
    main()
