#!/usr/bin/env python
"""How the record model's trees and beat network grow with training records: a learning curve on the inner folds.

    .venv/bin/python bench/record_learning_curve.py --data ../shared/data/cinc2017 --oof bench/results/record_cv.oof.npz --outer 1

Every direction tried for the preset lands within what one more training moves the score. Is the model short of
ideas or short of records? On the inner fold of `record_beat_variants.py` (the training part of outer fold `--outer`
split by patient into 4, the first scored; the outer test records are never read), the trees and the beat network
are trained on a quarter, a half and three quarters of the 4,200 inner training records (patients drawn at random
within each class, the same draw for both parts; the smaller sets inside the larger ones) and scored on the same
1,400 validation records; the whole 4,200 are the stored preset parts. The CNN is left out: at 15-19 minutes a fit it
would take hours. The slope of mean F1 per doubling of records says what more labelled data could bring, and the
5,600 records of an outer training part are one third more than these 4,200.

Writes bench/results/record_learning_curve.json (one entry per outer fold run).
"""
from __future__ import annotations
import argparse, json, time
import numpy as np
from record_directions import mean_f1   # bench/ is the script's folder, so its sibling imports
from record_cnn_directions import inner_fold, stored_parts, RESULTS

FRACTIONS = (0.25, 0.5, 0.75)

def nested_draws(groups:list, y:np.ndarray, fractions, seed:int=0)->dict:
    "Record indices of each fraction of the patients, drawn within each class (a patient's: its first record's); smaller draws inside larger ones."
    first, rng = {}, np.random.default_rng(seed)
    for g, c in zip(groups, y): first.setdefault(g, int(c))
    order = [rng.permutation(sorted(p for p, k in first.items() if k == c)) for c in sorted(set(first.values()))]
    return {f: np.flatnonzero(np.isin(groups, [p for ps in order for p in ps[:int(round(f*len(ps)))]])) for f in fractions}

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', required=True); ap.add_argument('--oof', required=True); ap.add_argument('--outer', type=int, default=1)
    ap.add_argument('--inner', type=int, default=4); ap.add_argument('--val', type=int, default=1)
    ap.add_argument('--threads', type=int, default=2); ap.add_argument('--workers', type=int, default=2)
    a = ap.parse_args()
    import torch
    from ecgnb.record import PRESETS, fit_trees, fit_beats, beat_probabilities
    torch.set_num_threads(a.threads)
    cfg, t0, out = PRESETS['cinc2017'], time.time(), RESULTS/'record_learning_curve.json'
    tr, va, labels = inner_fold(a, cfg)
    C, T, B = stored_parts(a.outer, va.files)
    f1 = lambda P: mean_f1(va.Y, P, labels, cfg.scored)
    rows = {1.0: dict(records=len(tr), trees=f1(T), beats=f1(B), trees_beats=f1((T + B)/2))}
    for f, idx in nested_draws([str(g) for g in tr.groups], tr.y, FRACTIONS, cfg.seed).items():
        sub, t1 = tr.subset(idx), time.time()
        Tf = fit_trees(sub.features, sub.Y, False, cfg)[0].predict_proba(va.features)
        Bf = beat_probabilities(fit_beats(sub, cfg)[0], va)
        rows[f] = dict(records=len(sub), trees=f1(Tf), beats=f1(Bf), trees_beats=f1((Tf + Bf)/2), seconds=round(time.time() - t1))
        print(f"outer fold {a.outer}, {len(sub)} records: " + ', '.join(f"{k} {v:.4f}" for k, v in rows[f].items() if k not in ('records', 'seconds')), flush=True)
    rows = dict(sorted(rows.items()))
    lx = np.log2([r['records'] for r in rows.values()])
    slope = {k: float(np.polyfit(lx, [r[k] for r in rows.values()], 1)[0]) for k in ('trees', 'beats', 'trees_beats')}   # mean F1 per doubling
    res = json.loads(out.read_text()) if out.exists() else {}   # read at the end: runs of other outer folds may have written meanwhile
    res[str(a.outer)] = dict(train_records=len(tr), val_records=len(va), curve={str(k): v for k, v in rows.items()}, per_doubling=slope)
    out.write_text(json.dumps(res, indent=1))
    print(f"outer fold {a.outer}: mean F1 per doubling of training records: " + ', '.join(f"{k} {v:+.4f}" for k, v in slope.items()))
    print(f"written {out} in {time.time() - t0:.0f} s")

if __name__ == '__main__': main()
