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
from pathlib import Path
import numpy as np
from record_directions import mean_f1   # bench/ is the script's folder, so its sibling imports

RESULTS = Path(__file__).resolve().parent/'results'

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
    rows, res = [], dict(stage=a.stage, data=a.data, oof=a.oof, weights=dict(cnn=(1 - cfg.beat_weight)*cfg.cnn_weight, trees=(1 - cfg.beat_weight)*(1 - cfg.cnn_weight), beats=cfg.beat_weight))
    if a.stage == 'inner':
        row = {f: i for i, f in enumerate(files)}
        for k in (1, 2, 3, 4):
            c = np.load(RESULTS/f"record_cnn_directions{'' if k == 1 else f'_outer{k}'}.npz")
            va = np.array([row[str(f)] for f in c['files']])
            tr = np.setdiff1d(np.flatnonzero(fold != k - 1), va)   # the inner training part: neither the inner validation nor the outer test records
            assert not np.isin(va, np.flatnonzero(fold == k - 1)).any()
            t1 = time.time(); net, _ = fit_beats(rs.subset(tr), cfg); B = beat_probabilities(net, rs.subset(va)); secs = time.time() - t1
            cnn, trees = c['cnn_base'], c['trees']
            r = dict(outer=k, train=len(tr), val=len(va), beats=f1(va, B), cnn=f1(va, cnn), trees=f1(va, trees), fused=f1(va, mix(cfg, cnn, trees)),
                     fused_beats=f1(va, mix(cfg, cnn, trees, B)), trees_beats=f1(va, (trees + B)/2), seconds=round(secs))
            rows.append(r); print(' '.join(f"{n} {v:.4f}" if isinstance(v, float) else f"{n} {v}" for n, v in r.items()), flush=True)
        res |= dict(folds=rows, gain=float(np.mean([r['fused_beats'] - r['fused'] for r in rows])), higher=sum(r['fused_beats'] > r['fused'] for r in rows))
    elif a.stage == 'seeds':
        for seed in (1, 2):   # the preset's fixed split trained with other seeds (other folds too): the stored CNN and trees, a beat network of the same seed
            so = np.load(RESULTS/f'record_seed{seed}.oof.npz'); assert [str(f) for f in so['files']] == files
            tr, te = np.flatnonzero(so['fold'] == -1), np.flatnonzero(so['fold'] == 0)
            t1 = time.time(); net, _ = fit_beats(rs.subset(tr), replace(cfg, seed=seed)); B = beat_probabilities(net, rs.subset(te)); secs = time.time() - t1
            r = dict(seed=seed, fused_beats=f1(te, mix(cfg, so['cnn'][te], so['trees'][te], B)), preset=f1(te, mix(cfg, so['cnn'][te], so['trees'][te])),
                     beats=f1(te, B), train_seconds=round(secs))
            rows.append(r); print(' '.join(f"{n} {v:.4f}" if isinstance(v, float) else f"{n} {v}" for n, v in r.items()), flush=True)
        res |= dict(folds=rows)
    else:
        Pb = np.full(rs.Y.shape, np.nan)
        for k in range(int(fold.max()) + 1):
            tr, te = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
            t1 = time.time(); net, _ = fit_beats(rs.subset(tr), cfg); Pb[te] = beat_probabilities(net, rs.subset(te)); secs = time.time() - t1
            fused = mix(cfg, o['cnn'][te], o['trees'][te], Pb[te])
            r = dict(fold=k + 1, fused_beats=f1(te, fused), preset=f1(te, mix(cfg, o['cnn'][te], o['trees'][te])), beats=f1(te, Pb[te]),
                     per_class={l: float(v) for l, v in zip(labels, prf(rs.Y[te], decide(fused, [1.0]*len(labels), False))[2])}, train_seconds=round(secs))
            rows.append(r); print(f"fold {k + 1}: with beats {r['fused_beats']:.4f} (preset {r['preset']:.4f}), beats alone {r['beats']:.4f}, "
                                  + ' '.join(f"{l} {v:.3f}" for l, v in r['per_class'].items()) + f"; {secs:.0f} s", flush=True)
        raw = mix(cfg, o['cnn'], o['trees'], Pb)
        cf = crossfit_calibration(raw, rs.Y, fold, labels, False)
        ece = lambda P: calibration_error(P, rs.Y, labels, False)['ece']
        res |= dict(folds=rows, mean=float(np.mean([r['fused_beats'] for r in rows])), sd=float(np.std([r['fused_beats'] for r in rows], ddof=1)),
                    preset_mean=float(np.mean([r['preset'] for r in rows])), beats_mean=float(np.mean([r['beats'] for r in rows])),
                    ece_before=ece(raw), ece_after=ece(cf['calibrated']), temperatures={int(k) + 1: v['temperature'] for k, v in cf['folds'].items()},
                    temperature_all=fit_temperature(raw, rs.Y, False))
        np.savez(RESULTS/'record_cv_beats.oof.npz', **{k: o[k] for k in o.files}, beats=Pb)
        print(f"5-fold CV with the beat network: {res['mean']:.4f} ± {res['sd']:.4f} (preset {res['preset_mean']:.4f}); ECE {res['ece_before']:.4f} -> {res['ece_after']:.4f}; temperature on all {res['temperature_all']:.3f}")
    res['seconds'] = round(time.time() - t0)
    (RESULTS/f"record_beats_{a.stage}.json").write_text(json.dumps(res, indent=1, default=float))

if __name__ == '__main__': main()
