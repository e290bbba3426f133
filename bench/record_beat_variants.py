#!/usr/bin/env python
"""Directions for the record model's beat-sequence network, compared on an inner fold of one outer fold's training part.

    .venv/bin/python bench/record_beat_variants.py --data ../shared/data/cinc2017 --oof bench/results/record_cv.oof.npz --outer 1 [--variants base,seed1,h128] [--append]

The same inner fold as `record_cnn_directions.py` (the training part of outer fold `--outer`, its patients split into
`--inner` folds, the first scored): the outer fold's test records are never read. The CNN is not trained here (13-16
minutes a fit): each beat-network variant is trained on the inner training records, scored on the inner validation
records alone and fused with the trees of the same training records (half each), so a variant is judged by what it
adds to a part it is fused with, at a cost of minutes. Where `record_cnn_directions.py` has stored the recipe's CNN
for the same inner fold (`record_cnn_directions[_outer<K>].npz`, variant `base`), every variant is also scored as
the third part of the preset's model (each part a third).

Variants that average several networks (`pair`: `base` and `seed1`; `three`: and `seed2`) are scored from the
stored probabilities of their members, without training. `stack` cross-fits the beat network over 3 folds of the
training records and gives its held-out probabilities to the trees as 4 more features (stacking); the 3 networks'
mean is its beat part. Every variant is also fused by the geometric mean (the parts' log-probabilities averaged)
instead of the arithmetic one, a fusion rule compared on the same records. `--append` trains only the variants not
yet stored and scores all of them again (`--append --variants ''`: scores only).

Writes bench/results/record_beat_variants_outer<K>.json and .npz (every variant's inner validation probabilities).
"""
from __future__ import annotations
import argparse, json, os, time
from dataclasses import replace
import numpy as np
from record_directions import mean_f1   # bench/ is the script's folder, so its sibling imports
from record_cnn_directions import paired_ci, inner_fold, cnn_file, RESULTS

# each variant's settings over the preset's (`seed`: the beat network's own seed; the CNN and trees keep theirs)
VARIANTS = dict(base={}, seed1=dict(seed=1), seed2=dict(seed=2), h128=dict(beat_hidden=128))
# averaged variants: the mean of their members' probabilities
ENSEMBLES = dict(pair=('base', 'seed1'), three=('base', 'seed1', 'seed2'))

STACK = 3   # `stack`: beat networks cross-fitted over this many folds of the training records

def stacked(tr, va, cfg, log):
    """`stack`: the beat network cross-fitted over `STACK` folds of the training records (each network trained on the
    others), its held-out probabilities added to the trees' features; the validation records get the mean of the
    `STACK` networks, as beats and as the trees' extra features. No network is trained on all of `tr`."""
    from ecgnb.record import fit_trees, fit_beats, beat_probabilities
    from ecgnb.splits import patient_kfold
    parts = patient_kfold([str(g) for g in tr.groups], [[tr.labels[j]] for j in tr.y], STACK, cfg.seed)
    of = {p: j for j, ps in enumerate(parts) for p in ps}; k = np.array([of[str(g)] for g in tr.groups])
    oof, Bv = np.zeros(tr.Y.shape), []
    for j in range(STACK):
        net, _ = fit_beats(tr.subset(np.flatnonzero(k != j)), cfg)
        oof[k == j] = beat_probabilities(net, tr.subset(np.flatnonzero(k == j))); Bv.append(beat_probabilities(net, va)); log(f"stack: network {j + 1} of {STACK}")
    Bv = np.mean(Bv, 0)
    Ts = fit_trees(np.hstack([tr.features, oof]), tr.Y, False, cfg)[0].predict_proba(np.hstack([va.features, Bv]))
    return Bv, Ts

def geometric(*Ps):
    "The normalised geometric mean of probabilities (each part's log-probabilities averaged): a part sure that a class is wrong vetoes it."
    g = np.exp(np.mean([np.log(np.clip(P, 1e-6, 1)) for P in Ps], 0))
    return g/g.sum(1, keepdims=True)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', required=True); ap.add_argument('--oof', required=True)
    ap.add_argument('--outer', type=int, default=1, help='outer fold (1-based) whose training part is used; its test records are never read')
    ap.add_argument('--inner', type=int, default=4); ap.add_argument('--val', type=int, default=1, help='inner fold (1-based) scored')
    ap.add_argument('--variants', default='base,seed1,h128'); ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--workers', type=int, default=os.cpu_count() or 1); ap.add_argument('--append', action='store_true')
    a = ap.parse_args()
    import torch
    from ecgnb.record import PRESETS, fit_trees, fit_beats, beat_probabilities, mix
    torch.set_num_threads(a.threads)
    cfg, t0 = PRESETS['cinc2017'], time.time()
    tr, va, labels = inner_fold(a, cfg)
    T, sc = fit_trees(tr.features, tr.Y, False, cfg)[0].predict_proba(va.features), cfg.scored
    f1 = lambda P: mean_f1(va.Y, P, labels, sc)
    res = dict(data=a.data, oof=a.oof, outer=a.outer, inner=a.inner, val=a.val, train_records=len(tr), val_records=len(va), trees=f1(T), variants={})
    probs = dict(Y=va.Y, files=np.array(va.files), trees=T)
    out = RESULTS/f'record_beat_variants_outer{a.outer}.json'
    if a.append and out.exists():
        old, z = json.loads(out.read_text()), np.load(out.with_suffix('.npz'))
        assert np.array_equal(z['files'], probs['files']) and np.allclose(z['trees'], T, atol=1e-6), 'the stored run had other records or trees'
        res['variants'], probs = old['variants'], dict(z) | {k: v for k, v in probs.items() if k not in z}
    print(f"trees alone {res['trees']:.4f}", flush=True)
    C, cf = None, cnn_file(a.outer)
    if cf.exists():   # the recipe's CNN trained on the same inner training records (record_cnn_directions.py): the three parts
        c = np.load(cf)
        if np.array_equal(c['files'], probs['files']) and 'cnn_base' in c.files:
            C = c['cnn_base']; res['cnn'] = f1(C); res['cnn_trees'] = f1(mix(cfg, C, T)); print(f"CNN alone {res['cnn']:.4f}, with the trees {res['cnn_trees']:.4f}", flush=True)
    def score(name, B, extra):
        "Scores of beat probabilities B: alone, averaged with the trees, and their geometric mean with the trees (the log-probabilities averaged)."
        r = dict(extra, beats=f1(B), fused=f1((T + B)/2), fused_geometric=f1(geometric(T, B)))
        if 'beats_base' in probs and name != 'base':
            r['ci_vs_base'] = paired_ci(va.Y, (T + probs['beats_base'])/2, (T + B)/2, labels, sc)
        r['ci_geometric'] = paired_ci(va.Y, (T + B)/2, geometric(T, B), labels, sc)
        if C is not None:   # the three parts, each a third as in the preset, and their geometric mean
            r |= dict(three_parts=f1(mix(cfg, C, T, B)), three_parts_geometric=f1(geometric(C, T, B)))
            if 'beats_base' in probs and name != 'base': r['ci_three_vs_base'] = paired_ci(va.Y, mix(cfg, C, T, probs['beats_base']), mix(cfg, C, T, B), labels, sc)
        if name == 'stack':   # the stacked trees alone and with the networks' mean, against the trees and the base network
            Ts = probs['trees_stack']
            r |= dict(trees_stack=f1(Ts), stack_fused=f1((Ts + B)/2), stack_fused_geometric=f1(geometric(Ts, B)))
            if 'beats_base' in probs: r['ci_stack_vs_base'] = paired_ci(va.Y, (T + probs['beats_base'])/2, (Ts + B)/2, labels, sc)
            if C is not None: r['stack_three_parts'] = f1(mix(cfg, C, Ts, B))   # the CNN, the stacked trees and the networks' mean
            print(f"stack: stacked trees alone {r['trees_stack']:.4f}, with the networks' mean {r['stack_fused']:.4f} (geometric {r['stack_fused_geometric']:.4f})", flush=True)
        res['variants'][name] = r
        print(f"{name}: beats alone {r['beats']:.4f}, with the trees {r['fused']:.4f} (geometric {r['fused_geometric']:.4f})"
              + (f", three parts {r['three_parts']:.4f} (geometric {r['three_parts_geometric']:.4f})" if C is not None else '')
              + (f"; vs base {r['ci_vs_base']}" if 'ci_vs_base' in r else '') + (f"; {r['seconds']} s" if 'seconds' in r else ''), flush=True)
    for name in [v for v in a.variants.split(',') if v and v not in res['variants']]:
        if name in ENSEMBLES: continue   # scored below from their members
        t1 = time.time()
        if name == 'stack':
            probs['beats_stack'], probs['trees_stack'] = stacked(tr, va, cfg, lambda m: print(m, flush=True)); hist = [dict(loss=None)]
        else: net, hist = fit_beats(tr, replace(cfg, **VARIANTS[name])); probs[f'beats_{name}'] = beat_probabilities(net, va)
        res['variants'][name] = dict(settings=VARIANTS.get(name, dict(stack=STACK)), seconds=round(time.time() - t1), final_loss=hist[-1]['loss'])
        print(f"{name}: trained in {res['variants'][name]['seconds']} s", flush=True)
        res['seconds'] = round(time.time() - t0)   # kept after each training, scored below
        out.write_text(json.dumps(res, indent=1)); np.savez_compressed(out.with_suffix('.npz'), **probs)
    for name, r in list(res['variants'].items()):   # every stored variant scored (the stored ones again, with today's scores)
        if name in ENSEMBLES: continue
        score(name, probs[f'beats_{name}'], {k: r[k] for k in ('settings', 'seconds', 'final_loss') if k in r})
    for name, members in ENSEMBLES.items():   # whatever ensembles the stored members allow
        if all(f'beats_{m}' in probs for m in members): score(name, np.mean([probs[f'beats_{m}'] for m in members], 0), dict(members=list(members)))
    res['seconds'] = round(time.time() - t0)
    out.write_text(json.dumps(res, indent=1)); np.savez_compressed(out.with_suffix('.npz'), **probs)
    print(f"written {out} in {time.time() - t0:.0f} s")

if __name__ == '__main__': main()
