#!/usr/bin/env python
"""Directions for the record model's trees, compared by nested cross-validation.

    .venv/bin/python bench/record_directions.py --data ../shared/data/cinc2017 --oof bench/results/record_cv.oof.npz [--set atrial|trees|clean|regularised]

Reads the held-out probabilities of a `--cv` run (`<save>.oof.npz`: its records, labels, folds and CNN
probabilities), featurises every record again, then for each outer fold chooses among the set's tree
configurations by their mean F1 (N, A, O) on inner folds of the training part only (trees alone, 4 inner
patient-level folds). The chosen trees are fitted on the whole training part and fused with the stored CNN
probabilities of the test fold, which were made by a model that never saw it. Every configuration is also scored on
the test fold for the record, never for the choice. `A`, the recipe's trees, is in every set; refitting it must
reproduce the run's stored trees, which checks the harness.

Sets (`--set`; each writes bench/results/record_directions[_SET].json, the atrial set without the suffix):
- `atrial`, B: the 83 features plus atrial-activity candidates, which the 83 see only through P-wave shape and R-R
  irregularity: `p_wave_snr` (`ecgnb.measures`: how far the median beat's P wave stands out of the beat-to-beat
  scatter); and, with each beat's median QRST subtracted from the rhythm lead (average beat subtraction), the
  residual's 4-9 Hz share of the 0.5-40 Hz power and the frequency of its largest peak in 3-12 Hz, where
  fibrillatory waves lie.
- `trees`: the same 83 features, other tree ensembles. E: each split drawn from a random half of the features
  (`max_features=0.5`, scikit-learn's per-node feature subsampling), which decorrelates the boosted trees; R: the
  recipe's boosted trees averaged with a random forest (300 trees, the same class weights), a learner of another
  kind whose errors differ.
- `clean`: the same 83 features and trees, fitted without the training records whose label their own
  cross-fitted trees contradict (4 patient-level folds inside whatever training part is being fitted; the record's
  held-out probability of its own label below 0.1 for C1, 0.2 for C2). CinC 2017's labels are noisy, and 68 % of the
  fused model's errors are both parts wrong alike; dropping the records that look mislabelled from *training* asks
  whether they teach the trees the wrong boundary. Test labels are never changed or read for it: the cleaning of an
  inner fit sees only its inner training records.
- `regularised`: the same 83 features, trees held back from small leaves (M: at least 40 records per leaf instead of
  scikit-learn's 20, L2 penalty 5 instead of 1). 300 iterations of 31-leaf trees fit the 5,600 training records
  closely; with labels this noisy, coarser leaves may generalise better.
"""
from __future__ import annotations
import argparse, json, os, time
from pathlib import Path
import numpy as np

CANDIDATES = ('p_wave_snr', 'abs_share_4_9', 'abs_peak_hz')

def atrial(v)->list[float]:
    "The candidate features of one record's view (NaN where undefined)."
    from ecgnb.measures import p_wave_snr, welch_psd, beat_matrix
    from ecgnb.features import BEFORE, AFTER
    fs, nan = v.fs, float('nan')
    snr = p_wave_snr(v.x[v.rhythm], fs, v.peaks) if len(v.peaks) >= 3 else nan
    tpl = v.template
    if tpl is None: return [snr, nan, nan]
    b, r = int(round(BEFORE*fs)), v.y.copy()
    for p in beat_matrix(v.y, v.peaks, fs, BEFORE, AFTER)[1]: r[p - b:p - b + len(tpl)] -= tpl   # the beats the median was built from
    f, pw = welch_psd(r, fs)
    band = (f > 0.5) & (f < 40); tot = pw[band].sum() + 1e-12
    fw = (f >= 3) & (f <= 12)
    return [snr, pw[(f >= 4) & (f < 9)].sum()/tot, float(f[fw][np.argmax(pw[fw])]) if fw.any() else nan]

def featurise(path:str)->tuple[np.ndarray, list[float]]:
    from ecgnb.loaders import read_record
    from ecgnb.features import record_view
    from ecgnb.features_compiled import record_features_compiled
    from ecgnb.compiled import detect_rpeaks_compiled
    r = read_record(path)
    v = record_view(r.signal[:1], r.fs, 0, detect_rpeaks_compiled(np.ascontiguousarray(r.signal[0], np.float32), r.fs))
    return record_features_compiled(v), atrial(v)

# name: (uses the atrial candidates, HistGradientBoostingClassifier settings over the recipe's, 'forest', or ('clean', threshold)); A is fit_trees itself
SETS = {'atrial': {'A': (False, None), 'B': (True, None)},
        'trees': {'A': (False, None), 'E': (False, dict(max_features=0.5)), 'R': (False, 'forest')},
        'clean': {'A': (False, None), 'C1': (False, ('clean', 0.1)), 'C2': (False, ('clean', 0.2))},
        'regularised': {'A': (False, None), 'M': (False, dict(min_samples_leaf=40, l2_regularization=5.0))}}

_held_out, dropped = {}, {}   # rows -> their cross-fitted probabilities (shared by the thresholds); threshold -> records dropped per fit

def clean_rows(X, Y, rows, cfg, tau, k=4)->np.ndarray:
    "The rows whose held-out probability of their own label, from trees cross-fitted on `rows` (k patient-level folds), is at least tau."
    from ecgnb.splits import patient_kfold
    key = rows.tobytes()
    if key not in _held_out:
        y = Y[rows].argmax(1)
        parts = patient_kfold([str(i) for i in rows], [[int(c)] for c in y], k, cfg.seed)   # CinC 2017: one record per patient
        of = {p: j for j, ps in enumerate(parts) for p in ps}; f = np.array([of[str(i)] for i in rows])
        P = np.zeros((len(rows), Y.shape[1]))
        for j in range(k): P[f == j] = trees_proba(X[rows[f != j]], Y[rows[f != j]], X[rows[f == j]], cfg)
        _held_out[key] = P[np.arange(len(rows)), y]
    keep = rows[_held_out[key] >= tau]
    dropped.setdefault(tau, []).append(len(rows) - len(keep))
    return keep

def forest_proba(X, Y, Xt, cfg)->np.ndarray:
    "A random forest's probabilities (300 trees, sqrt of the features per split, the recipe's class weights)."
    from sklearn.ensemble import RandomForestClassifier
    from ecgnb.record import class_weights
    y = Y.argmax(1)
    m = RandomForestClassifier(n_estimators=300, min_samples_leaf=2, n_jobs=os.cpu_count(), random_state=cfg.seed)
    return m.fit(X, y, sample_weight=class_weights(Y, False)[y]).predict_proba(Xt)

def trees_proba(X, Y, Xt, cfg, over=None)->np.ndarray:
    "Probabilities of trees fitted on (X, Y) for Xt: `fit_trees` of the recipe, with its settings in `over` changed."
    from ecgnb.record import fit_trees
    return fit_trees(X, Y, False, cfg, **(over or {}))[0].predict_proba(Xt)

def mean_f1(Y, P, labels, scored)->float:
    from ecgnb.record import record_scores
    return record_scores(Y, P, labels, [1.0]*len(labels), False, scored, n_boot=0)['mean_f1']

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', required=True); ap.add_argument('--oof', required=True)
    ap.add_argument('--workers', type=int, default=os.cpu_count() or 1); ap.add_argument('--inner', type=int, default=4)
    ap.add_argument('--set', default='atrial', choices=list(SETS)); ap.add_argument('--out', default=None)
    a = ap.parse_args()
    configs = SETS[a.set]
    out = Path(a.out or Path(__file__).resolve().parent/'results'/f"record_directions{'' if a.set == 'atrial' else '_' + a.set}.json")
    from ecgnb.record import PRESETS, mix
    from ecgnb.parallel import ordered_map
    from ecgnb.splits import patient_kfold
    o = np.load(a.oof); cfg = PRESETS['cinc2017']
    files, labels, Y, fold = [str(f) for f in o['files']], [str(l) for l in o['labels']], o['Y'], o['fold']
    t0 = time.time()
    feats = list(ordered_map(featurise, [str(Path(a.data)/f) for f in files], a.workers, chunk=16))
    XA = np.stack([f for f, _ in feats]).astype(np.float32); XB = np.hstack([XA, np.array([c for _, c in feats], np.float32)])
    t_feat, rows = time.time() - t0, []
    print(f"{len(files)} records featurised in {t_feat:.0f} s", flush=True)
    for k in sorted(set(fold) - {-1}):
        tr, te = np.flatnonzero((fold != k) & (fold >= 0)), np.flatnonzero(fold == k)
        inner_of = {p: j for j, ps in enumerate(patient_kfold([files[i] for i in tr], [[labels[Y[i].argmax()]] for i in tr], a.inner, cfg.seed)) for p in ps}
        inner = np.array([inner_of[files[i]] for i in tr])   # CinC 2017: one record per patient
        score, test = {}, {}
        for name, (atr, over) in configs.items():   # A first: R averages A's probabilities with the forest's
            X, P = (XB if atr else XA), np.zeros((len(tr), len(labels)))
            fit = (lambda i, t: (PA[t] + forest_proba(X[i], Y[i], X[t], cfg))/2) if over == 'forest' else \
                  (lambda i, t: (c := clean_rows(X, Y, i, cfg, over[1]), trees_proba(X[c], Y[c], X[t], cfg))[1]) if isinstance(over, tuple) else \
                  (lambda i, t: trees_proba(X[i], Y[i], X[t], cfg, over))
            for j in range(a.inner): P[inner == j] = fit(tr[inner != j], tr[inner == j])
            score[name] = mean_f1(Y[tr], P, labels, cfg.scored)
            T = fit(tr, te)
            if name == 'A': PA = np.zeros((len(Y), len(labels))); PA[tr], PA[te] = P, T   # inner held-out and test probabilities of A
            test[name] = dict(trees=mean_f1(Y[te], T, labels, cfg.scored),
                              fused=mean_f1(Y[te], mix(cfg, o['cnn'][te], T), labels, cfg.scored),
                              same_as_stored_trees=float(np.abs(T - o['trees'][te]).max()) if name == 'A' else None)
        chosen = max(score, key=score.get)
        rows.append(dict(fold=int(k) + 1, inner_trees=score, chosen=chosen, chosen_fused=test[chosen]['fused'], test=test))
        print(f"fold {k + 1}: inner trees " + ' '.join(f"{n} {v:.4f}" for n, v in score.items()) + f" -> {chosen}; test fused {test[chosen]['fused']:.4f} ("
              + ', '.join(f"{n} {t['fused']:.4f}" for n, t in test.items()) + f"); {time.time() - t0:.0f} s", flush=True)
    means = {n: float(np.mean([r['test'][n]['fused'] for r in rows])) for n in configs}
    res = dict(set=a.set, configs={n: dict(atrial=atr, over=over) for n, (atr, over) in configs.items()}, candidates=CANDIDATES if a.set == 'atrial' else None, data=a.data, oof=a.oof, records=len(files), featurise_seconds=round(t_feat), seconds=round(time.time() - t0),
               folds=rows, chosen_mean=float(np.mean([r['chosen_fused'] for r in rows])), chosen_sd=float(np.std([r['chosen_fused'] for r in rows], ddof=1)),
               means=means, inner_means={n: float(np.mean([r['inner_trees'][n] for r in rows])) for n in configs},
               trees_means={n: float(np.mean([r['test'][n]['trees'] for r in rows])) for n in configs},
               a_mean=means['A'], b_mean=means.get('B'), dropped={str(t): n for t, n in dropped.items()})
    out.parent.mkdir(parents=True, exist_ok=True); out.write_text(json.dumps(res, indent=1))
    print(f"nested choice, fused with the CNN: {res['chosen_mean']:.4f} ± {res['chosen_sd']:.4f}; always " + ', '.join(f"{n} {v:.4f}" for n, v in means.items()) + f"; written {out}")

if __name__ == '__main__': main()
