#!/usr/bin/env python
"""The beat-sequence network (`BeatNet`) as a third part of the record model: inner folds first, then the 5-fold CV.

    .venv/bin/python bench/record_beats.py --data ../shared/data/cinc2017 --oof bench/results/record_cv.oof.npz --stage inner|outer|seeds

The CNN and the trees of a record model do not change when the beat network is added (each part draws from its own
seeded generators), so a preset run's stored held-out probabilities of those two parts are what a run with the beat
network would make; only the beat network has to be trained here, about 5 minutes per fit on the 2 cores.

- `--stage inner`: the decision. In the inner folds that `record_cnn_directions.py` used (one inner fold of the
  training part of each of outer folds 1-4, `record_cnn_directions[_outerK].npz`, which hold that fold's CNN and
  trees probabilities), the beat network is trained on the inner training records and the fused model with it is
  compared with the fused model without it, on the inner validation records. The outer test records are never read.
  It also scores a grid of fusion weights (`WEIGHTS`: the beat network's weight, the CNN's share of the rest) on the
  same inner records and names the best, ties going to the preset's; the outer stage reports it beside the preset.
- `--stage outer`: the record. In each fold of the `--cv` run behind `--oof`, the beat network is trained on the
  other four folds and scored on it; fused with the stored CNN and trees, weights fixed beforehand (each part 1/3).
  Writes the held-out probabilities with the beats part (`record_cv_beats.oof.npz`, as `ecgnb train --cv` writes
  them) and the per-fold table with the calibration (cross-fitted temperature, ECE before and after).
- `--stage seeds`: the seed spread. The preset's fixed split trained with seeds 1 and 2 (`record_seed1/2.oof.npz`,
  each seed its own folds): a beat network of the same seed on the same training records, fused with the stored parts.

Writes bench/results/record_beats_<stage>.json.
"""
from __future__ import annotations
import argparse, json, os, tempfile, time
from dataclasses import replace
import numpy as np
from record_directions import mean_f1   # bench/ is the script's folder, so its sibling imports
from record_cnn_directions import cnn_file, RESULTS
# the fusion weights the inner stage compares: the beat network's weight, the CNN's share of the rest (0: trees and beats only)
WEIGHTS = [(bw, cw) for bw in (0.0, 0.2, 0.25, 1/3, 0.4, 0.5, 0.6) for cw in (0.0, 0.25, 0.5, 0.75) if bw > 0 or cw > 0]

def read_set(data:str, files:list, workers:int):
    "The records of `files` as a RecordSet (CNN inputs, features and beat sequences), as `ecgnb train` reads them."
    from ecgnb.record import PRESETS, labels_source, read_labels, record_labels, load_records
    cfg = PRESETS['cinc2017']
    with tempfile.TemporaryDirectory() as tmp:
        src, _ = labels_source(data, tmp)
        ents = {e.file: e for e in read_labels(src)}
    ents = [ents[f] for f in files]
    labels, _ = record_labels(ents, cfg)
    rs = load_records(ents, labels, False, cfg, workers)
    assert rs.files == files, rs.skipped
    return rs, labels

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', required=True); ap.add_argument('--oof', required=True)
    ap.add_argument('--stage', required=True, choices=('inner', 'outer', 'seeds')); ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    ap.add_argument('--reuse', action='store_true', help='outer, seeds: score the stored beat probabilities (record_cv_beats.oof.npz, record_beats_seeds.npz) again, with the preset as it is now, instead of training')
    a = ap.parse_args()
    import torch
    from ecgnb.record import PRESETS, fit_beats, beat_probabilities, mix
    from ecgnb.metrics import crossfit_calibration, calibration_error, fit_temperature, prf
    from ecgnb.core import decide
    torch.set_num_threads(a.threads)
    cfg, o, t0 = PRESETS['cinc2017'], np.load(a.oof), time.time()
    assert cfg.beats, "the preset has no beat network"
    files, fold = [str(f) for f in o['files']], o['fold']
    rs, labels = read_set(a.data, files, a.workers)
    assert (rs.Y == o['Y']).all() and labels == [str(l) for l in o['labels']]
    print(f"{len(rs)} records read in {time.time() - t0:.0f} s", flush=True)
    f1 = lambda m, P: mean_f1(rs.Y[m], P, labels, cfg.scored)
    rows, res = [], dict(stage=a.stage, data=a.data, oof=a.oof, weights=dict(zip(('cnn', 'trees', 'beats'), cfg.mix_weights())))
    if a.stage == 'inner':
        row, kept = {f: i for i, f in enumerate(files)}, []
        for k in (1, 2, 3, 4):
            c = np.load(cnn_file(k))
            va = np.array([row[str(f)] for f in c['files']])
            tr = np.setdiff1d(np.flatnonzero(fold != k - 1), va)   # the inner training part: neither the inner validation nor the outer test records
            assert not np.isin(va, np.flatnonzero(fold == k - 1)).any()
            t1 = time.time(); net, _ = fit_beats(rs.subset(tr), cfg); B = beat_probabilities(net, rs.subset(va)); secs = time.time() - t1
            cnn, trees = c['cnn_base'], c['trees']
            r = dict(outer=k, train=len(tr), val=len(va), beats=f1(va, B), cnn=f1(va, cnn), trees=f1(va, trees), fused=f1(va, mix(cfg, cnn, trees)),
                     fused_beats=f1(va, mix(cfg, cnn, trees, B)), trees_beats=f1(va, (trees + B)/2), seconds=round(secs))
            rows.append(r); print(' '.join(f"{n} {v:.4f}" if isinstance(v, float) else f"{n} {v}" for n, v in r.items()), flush=True)
            kept.append((va, cnn, trees, B))
        res |= dict(folds=rows, gain=float(np.mean([r['fused_beats'] - r['fused'] for r in rows])), higher=sum(r['fused_beats'] > r['fused'] for r in rows))
        grid = {f"{bw:.3f}/{cw:.2f}": float(np.mean([f1(va, mix(replace(cfg, beat_weight=bw, cnn_weight=cw), cnn, trees, B)) for va, cnn, trees, B in kept]))
                for bw, cw in WEIGHTS}
        best = max(grid, key=lambda k: (round(grid[k], 4), k == f"{cfg.beat_weight:.3f}/{cfg.cnn_weight:.2f}"))   # ties to the preset's
        res |= dict(grid=grid, chosen=dict(beat_weight=float(best.split('/')[0]), cnn_weight=float(best.split('/')[1]), inner_mean=grid[best]))
        print(f"weights chosen on the inner folds: beat {best.split('/')[0]}, CNN's share of the rest {best.split('/')[1]} ({grid[best]:.4f}; the preset's {grid[f'{cfg.beat_weight:.3f}/{cfg.cnn_weight:.2f}']:.4f})")
        np.savez(RESULTS/'record_beats_inner.npz', **{f'beats_outer{k}': B for k, (_, _, _, B) in zip((1, 2, 3, 4), kept)})
    elif a.stage == 'seeds':
        kept = {}
        for seed in (1, 2):   # the preset's fixed split trained with other seeds (other folds too): the stored CNN and trees, a beat network of the same seed
            so = np.load(RESULTS/f'record_seed{seed}.oof.npz'); assert [str(f) for f in so['files']] == files
            tr, te = np.flatnonzero(so['fold'] == -1), np.flatnonzero(so['fold'] == 0)
            t1 = time.time()
            if a.reuse: B = np.load(RESULTS/'record_beats_seeds.npz')[f'seed{seed}']; secs = {r['seed']: r['train_seconds'] for r in json.loads((RESULTS/'record_beats_seeds.json').read_text())['folds']}[seed]
            else: net, _ = fit_beats(rs.subset(tr), replace(cfg, seed=seed)); B = beat_probabilities(net, rs.subset(te)); secs = time.time() - t1
            kept[f'seed{seed}'] = B
            r = dict(seed=seed, fused_beats=f1(te, mix(cfg, so['cnn'][te], so['trees'][te], B)), preset=f1(te, mix(cfg, so['cnn'][te], so['trees'][te])),
                     beats=f1(te, B), train_seconds=round(secs))
            rows.append(r); print(' '.join(f"{n} {v:.4f}" if isinstance(v, float) else f"{n} {v}" for n, v in r.items()), flush=True)
        res |= dict(folds=rows)
        if not a.reuse: np.savez(RESULTS/'record_beats_seeds.npz', **kept)
    else:
        Pb, stored = np.full(rs.Y.shape, np.nan), RESULTS/'record_cv_beats.oof.npz'
        chosen = json.loads((RESULTS/'record_beats_inner.json').read_text())['chosen'] if (RESULTS/'record_beats_inner.json').exists() else None
        if a.reuse: Pb[:] = np.load(stored)['beats']; old = {r['fold']: r['train_seconds'] for r in json.loads((RESULTS/'record_beats_outer.json').read_text())['folds']}
        for k in range(int(fold.max()) + 1):
            tr, te = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
            t1 = time.time()
            if not a.reuse: net, _ = fit_beats(rs.subset(tr), cfg); Pb[te] = beat_probabilities(net, rs.subset(te))
            secs = old[k + 1] if a.reuse else time.time() - t1
            fused = mix(cfg, o['cnn'][te], o['trees'][te], Pb[te])
            r = dict(fold=k + 1, fused_beats=f1(te, fused), preset=f1(te, mix(cfg, o['cnn'][te], o['trees'][te])), beats=f1(te, Pb[te]),
                     per_class={l: float(v) for l, v in zip(labels, prf(rs.Y[te], decide(fused, [1.0]*len(labels), False))[2])}, train_seconds=round(secs),
                     equal_thirds=f1(te, mix(replace(cfg, beat_weight=1/3, cnn_weight=0.5), o['cnn'][te], o['trees'][te], Pb[te])),
                     inner_chosen=f1(te, mix(replace(cfg, **{k: chosen[k] for k in ('beat_weight', 'cnn_weight')}), o['cnn'][te], o['trees'][te], Pb[te])) if chosen else None)
            rows.append(r); print(f"fold {k + 1}: with beats {r['fused_beats']:.4f} (preset {r['preset']:.4f}), beats alone {r['beats']:.4f}, "
                                  + ' '.join(f"{l} {v:.3f}" for l, v in r['per_class'].items()) + f"; {secs:.0f} s", flush=True)
        raw = mix(cfg, o['cnn'], o['trees'], Pb)
        cf = crossfit_calibration(raw, rs.Y, fold, labels, False)
        ece = lambda P: calibration_error(P, rs.Y, labels, False)['ece']
        res |= dict(folds=rows, mean=float(np.mean([r['fused_beats'] for r in rows])), sd=float(np.std([r['fused_beats'] for r in rows], ddof=1)),
                    preset_mean=float(np.mean([r['preset'] for r in rows])), beats_mean=float(np.mean([r['beats'] for r in rows])),
                    ece_before=ece(raw), ece_after=ece(cf['calibrated']), temperatures={int(k) + 1: v['temperature'] for k, v in cf['folds'].items()},
                    temperature_all=fit_temperature(raw, rs.Y, False))
        if chosen: res |= dict(inner_chosen=chosen, inner_chosen_mean=float(np.mean([r['inner_chosen'] for r in rows])))
        res['equal_thirds_mean'] = float(np.mean([r['equal_thirds'] for r in rows]))
        if not a.reuse: np.savez(stored, **{k: o[k] for k in o.files}, beats=Pb)
        print(f"5-fold CV with the beat network: {res['mean']:.4f} ± {res['sd']:.4f} (preset {res['preset_mean']:.4f}); ECE {res['ece_before']:.4f} -> {res['ece_after']:.4f}; temperature on all {res['temperature_all']:.3f}")
    res['seconds'] = round(time.time() - t0)
    (RESULTS/f"record_beats_{a.stage}.json").write_text(json.dumps(res, indent=1, default=float))

if __name__ == '__main__': main()
