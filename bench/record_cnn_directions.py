#!/usr/bin/env python
"""Directions for the record model's CNN, compared on an inner fold of one outer fold's training part.

    .venv/bin/python bench/record_cnn_directions.py --data ../shared/data/cinc2017 --oof bench/results/record_cv.oof.npz

A CNN direction needs the CNN trained again for every comparison (about 15 min per training on this 2-core
machine), so a full nested comparison (5 outer x 4 inner folds, each direction) is out of reach here. This script
does the part of it that fits: in the training part of one outer fold (`--outer`, the CV's own folds, read from the
`--cv` run's held-out file), it splits the patients into `--inner` folds, trains on all but one and scores on that
one. The outer fold's test records are never read. Every variant is scored on the same inner validation records, the
difference with a patient-level paired bootstrap interval.

Variants, each a training (`--variants`, default all):
- `base`: the recipe (30 epochs);
- `e45`: 45 epochs (the one-cycle schedule stretched; the training loss is still falling at epoch 30);
- `pair20`: two CNNs of 20 epochs each (seeds 0 and 1), their probabilities averaged: an ensemble inside the
  training budget (40 epochs in all), against the variance of one training.
- `res`, `se`: residual CNN stages (`RecordConfig.block`), without and with squeeze-and-excitation;
- `aug`: mild artefacts from `ecgnb.augment` on the training crops (`RecordConfig.augment`);
- `avg10`: the weights averaged over the last 10 epochs (`RecordConfig.average_last`). Its training is the recipe's
  epoch for epoch (same seed, same draws), so against `base` it differs by the averaging alone; the JSON says
  whether the per-epoch losses matched.

From each training, without training again:
- `crops`: the CNN's probabilities averaged over 30-s crops of the record (15-s hop) instead of taken once over the
  whole record (records of 30 s or less: whole);
- `no_noisy_trees`: the trees trained without the noisy records (they answer 0 for noisy; the CNN still models it):
  does modelling the noisy class in the trees help "other rhythm"?

Writes bench/results/record_cnn_directions.json and the validation probabilities beside it (.npz); `--append` adds
the variants a file lacks, its trees refitted and checked against the stored ones.
"""
from __future__ import annotations
import argparse, json, os, tempfile, time
from dataclasses import replace
from pathlib import Path
import numpy as np
from record_directions import mean_f1   # bench/ is the script's folder, so its sibling imports

RESULTS = Path(__file__).resolve().parent/'results'

def cnn_file(outer:int)->Path:
    "Where outer fold `outer`'s inner-fold CNN probabilities are kept (outer fold 1's without a suffix: the first run's name)."
    return RESULTS/f"record_cnn_directions{'' if outer == 1 else f'_outer{outer}'}.npz"

def stored_parts(outer:int, files)->tuple:
    "The recipe's CNN, trees and beat network kept for outer fold `outer`'s inner validation records `files` (checked)."
    z, c = np.load(RESULTS/f'record_beat_variants_outer{outer}.npz'), np.load(cnn_file(outer))
    assert np.array_equal(z['files'], np.asarray(files)) and np.array_equal(c['files'], z['files']), 'the stored runs had other records'
    return c['cnn_base'], z['trees'], z['beats_base']

VARIANTS = {'base': {}, 'e45': dict(epochs=45), 'pair20': dict(epochs=20, nets=2), 'res': dict(block='residual'), 'se': dict(block='se'), 'aug': dict(augment=True), 'avg10': dict(average_last=10)}   # nets: CNNs averaged, seeds from the preset's

def paired_ci(Y, Pa, Pb, labels, scored, n_boot=1000, seed=0)->list[float]:
    "95 % interval of mean F1(b) - mean F1(a) over records resampled together (CinC 2017: one record per patient)."
    from ecgnb.metrics import prf
    from ecgnb.core import decide
    sc, ones = [labels.index(l) for l in scored], [1.0]*len(labels)
    Da, Db, rng, d = decide(Pa, ones, False), decide(Pb, ones, False), np.random.default_rng(seed), []
    for _ in range(n_boot):
        ix = rng.integers(0, len(Y), len(Y))
        d.append(prf(Y[ix], Db[ix])[2][sc].mean() - prf(Y[ix], Da[ix])[2][sc].mean())
    return [float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))]

def crop_probabilities(net, rs, n:int)->np.ndarray:
    "Softmax of the CNN averaged over crops of n samples with a hop of n/2 (whole when the record is not longer)."
    import torch, torch.nn.functional as F
    out = np.zeros((len(rs), net.head[-1].out_features), np.float32)
    with torch.no_grad():
        for i, s in enumerate(rs.inputs):
            m = s.shape[-1]
            starts = [0] if m <= n else np.unique(np.linspace(0, m - n, int(np.ceil((m - n)/(n//2))) + 1).round().astype(int))
            x = torch.from_numpy(np.stack([s[:, a:a + n] for a in starts]))
            f = torch.from_numpy(np.repeat(rs.features[i:i + 1], len(starts), 0))
            out[i] = F.softmax(net(x, f), 1).mean(0).numpy()
    return out

def inner_fold(a, cfg):
    """The inner training and validation records (RecordSets) and the labels: outer fold `a.outer` of the `--cv` run
    behind `a.oof` left unread, the rest split by patient into `a.inner` folds, inner fold `a.val` the validation part."""
    from ecgnb.record import labels_source, read_labels, record_labels, load_records
    from ecgnb.splits import patient_kfold
    t0, o = time.time(), np.load(a.oof)
    fold_of = dict(zip((str(f) for f in o['files']), o['fold']))
    with tempfile.TemporaryDirectory() as tmp:
        src, _ = labels_source(a.data, tmp)
        ents = sorted(read_labels(src), key=lambda e: e.file)
    train = [e for e in ents if e.file in fold_of and fold_of[e.file] != a.outer - 1]   # the outer fold's test records stay unread
    labels, _ = record_labels(train, cfg)
    parts = patient_kfold([str(e.patient_id) for e in train], [list(e.labels) for e in train], a.inner, cfg.seed)
    inner_of = {p: j for j, ps in enumerate(parts) for p in ps}
    inner = np.array([inner_of[str(e.patient_id)] for e in train])
    rs = load_records(train, labels, False, cfg, a.workers)
    assert len(rs) == len(train), rs.skipped
    tr, va = rs.subset(np.flatnonzero(inner != a.val - 1)), rs.subset(np.flatnonzero(inner == a.val - 1))
    print(f"outer fold {a.outer}: {len(rs)} training records read in {time.time() - t0:.0f} s; inner train {len(tr)}, validation {len(va)}", flush=True)
    return tr, va, labels

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', required=True); ap.add_argument('--oof', required=True)
    ap.add_argument('--outer', type=int, default=1, help='outer fold (1-based) whose training part is used; its test records are never read')
    ap.add_argument('--inner', type=int, default=4); ap.add_argument('--val', type=int, default=1, help='inner fold (1-based) scored')
    ap.add_argument('--variants', default=','.join(VARIANTS)); ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--workers', type=int, default=os.cpu_count() or 1); ap.add_argument('--append', action='store_true')
    ap.add_argument('--out', default=str(cnn_file(1).with_suffix('.json')))
    a = ap.parse_args()
    import torch
    from ecgnb.record import PRESETS, fit_trees, fit_cnn, cnn_probabilities
    from ecgnb.metrics import prf
    from ecgnb.core import decide
    torch.set_num_threads(a.threads)
    cfg = PRESETS['cinc2017']; t0 = time.time()
    tr, va, labels = inner_fold(a, cfg)
    T = fit_trees(tr.features, tr.Y, False, cfg)[0].predict_proba(va.features)
    keep = np.flatnonzero(tr.Y[:, labels.index('noisy')] == 0); cols = [j for j, l in enumerate(labels) if l != 'noisy']
    Tn = np.zeros_like(T); Tn[:, cols] = fit_trees(tr.features[keep], tr.Y[keep][:, cols], False, replace(cfg, labels=tuple(labels[j] for j in cols)))[0].predict_proba(va.features)
    w, sc = cfg.cnn_weight, cfg.scored
    res = dict(data=a.data, oof=a.oof, outer=a.outer, inner=a.inner, val=a.val, train_records=len(tr), val_records=len(va),
               trees=mean_f1(va.Y, T, labels, sc), trees_no_noisy=mean_f1(va.Y, Tn, labels, sc), variants={})
    probs = dict(Y=va.Y, files=np.array(va.files), trees=T, trees_no_noisy=Tn)
    print(f"trees alone {res['trees']:.4f}; without the noisy records {res['trees_no_noisy']:.4f}", flush=True)
    if a.append and Path(a.out).exists():
        old, z = json.loads(Path(a.out).read_text()), np.load(Path(a.out).with_suffix('.npz'))
        assert np.array_equal(z['files'], probs['files']) and np.allclose(z['trees'], T, atol=1e-6), 'the stored run had other records or trees'
        res['variants'], probs = old['variants'], dict(z) | {k: v for k, v in probs.items() if k not in z}
    for name in [v for v in a.variants.split(',') if v not in res['variants']]:
        over = dict(VARIANTS[name]); nets = over.pop('nets', 1)
        c = replace(cfg, **over); t1 = time.time()
        fits = [fit_cnn(tr, replace(c, seed=c.seed + j)) for j in range(nets)]
        secs, hist = time.time() - t1, fits[0][1]
        C = np.mean([cnn_probabilities(net, va) for net, _ in fits], 0)
        Cc = np.mean([crop_probabilities(net, va, int(round(c.crop_sec*c.fs))) for net, _ in fits], 0)
        r = dict(epochs=c.epochs, nets=nets, cnn_seconds=round(secs), final_loss=hist[-1]['loss'], cnn=mean_f1(va.Y, C, labels, sc), cnn_crops=mean_f1(va.Y, Cc, labels, sc),
                 fused=mean_f1(va.Y, w*C + (1 - w)*T, labels, sc), fused_crops=mean_f1(va.Y, w*Cc + (1 - w)*T, labels, sc),
                 fused_no_noisy_trees=mean_f1(va.Y, w*C + (1 - w)*Tn, labels, sc),
                 per_class={l: float(v) for l, v in zip(labels, prf(va.Y, decide(w*C + (1 - w)*T, [1.0]*len(labels), False))[2])})
        probs[f'cnn_{name}'], probs[f'cnn_crops_{name}'] = C, Cc
        if 'base' in res['variants'] and name != 'base' and over.keys() <= {'average_last'}:   # a training that should be the recipe's
            r['same_training_as_base'] = hist[-1]['loss'] == res['variants']['base']['final_loss']   # JSON keeps floats exactly
        base = probs.get('cnn_base', C)   # the first variant is the reference when base is not run
        r['ci_vs_base'] = {k: paired_ci(va.Y, w*base + (1 - w)*T, P, labels, sc) for k, P in
                           (('fused', w*C + (1 - w)*T), ('fused_crops', w*Cc + (1 - w)*T), ('fused_no_noisy_trees', w*C + (1 - w)*Tn))}
        res['variants'][name] = r
        print(f"{name}: {secs:.0f} s; CNN {r['cnn']:.4f} (crops {r['cnn_crops']:.4f}); fused {r['fused']:.4f} (crops {r['fused_crops']:.4f}, "
              f"trees without noisy {r['fused_no_noisy_trees']:.4f}); vs base {r['ci_vs_base']}", flush=True)
        res['seconds'] = round(time.time() - t0)
        out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=1)); np.savez_compressed(out.with_suffix('.npz'), **probs)
    print(f"written {a.out} in {time.time() - t0:.0f} s")

if __name__ == '__main__': main()
