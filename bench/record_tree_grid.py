#!/usr/bin/env python
"""The trees' size and pace, a grid compared on the inner folds of the beat-network directions.

    .venv/bin/python bench/record_tree_grid.py --data ../shared/data/cinc2017 --oof bench/results/record_cv.oof.npz [--outers 1,2,3,4]

The recipe's trees (300 rounds of 31-leaf trees at learning rate 0.05, at least 20 records per leaf) were set on the
fixed split before the beat network existed. Trees fit in about 12 s, so their settings can be compared on every
stored inner fold at once: for each outer fold, the inner fold of `record_beat_variants.py` (the training part split
by patient into 4, the first scored; the outer test records are never read). Each setting's trees are scored alone
and as the trees of the preset's three parts, beside the recipe's CNN and beat network stored for the same inner fold
(`record_cnn_directions.py`, `record_beat_variants.py`), so a setting is judged by what the model gains.

Writes bench/results/record_tree_grid.json: per setting, its scores per outer fold and their means.
"""
from __future__ import annotations
import argparse, json, time
import numpy as np
from record_directions import mean_f1   # bench/ is the script's folder, so its sibling imports
from record_cnn_directions import inner_fold, stored_parts, RESULTS
# HistGradientBoostingClassifier settings over the recipe's ('recipe': none)
GRID = {'recipe': {}, 'rounds600': dict(max_iter=600), 'lr0.1': dict(learning_rate=0.1),
        'rounds600_lr0.025': dict(max_iter=600, learning_rate=0.025), 'rounds1000_lr0.02': dict(max_iter=1000, learning_rate=0.02),
        'leaves15': dict(max_leaf_nodes=15), 'rounds600_leaves15': dict(max_iter=600, max_leaf_nodes=15), 'leaves63': dict(max_leaf_nodes=63),
        'leaf10': dict(min_samples_leaf=10), 'features0.5': dict(max_features=0.5), 'rounds600_features0.5': dict(max_iter=600, max_features=0.5)}

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', required=True); ap.add_argument('--oof', required=True); ap.add_argument('--outers', default='1,2,3,4')
    ap.add_argument('--inner', type=int, default=4); ap.add_argument('--val', type=int, default=1); ap.add_argument('--workers', type=int, default=2)
    a = ap.parse_args()
    from ecgnb.record import PRESETS, fit_trees, mix
    cfg, t0, res = PRESETS['cinc2017'], time.time(), dict(data=a.data, oof=a.oof, grid=GRID, outer={})
    for k in map(int, a.outers.split(',')):
        a.outer = k; tr, va, labels = inner_fold(a, cfg)
        C, T0, B = stored_parts(k, va.files); f1 = lambda P: mean_f1(va.Y, P, labels, cfg.scored)
        res['outer'][k] = r = {}
        for name, over in GRID.items():
            t1 = time.time(); T = fit_trees(tr.features, tr.Y, False, cfg, **over)[0].predict_proba(va.features)
            r[name] = dict(trees=f1(T), three_parts=f1(mix(cfg, C, T, B)), seconds=round(time.time() - t1, 1))
            if name == 'recipe': assert np.allclose(T, T0, atol=1e-6), "the recipe's trees differ from the stored ones"
            print(f"outer fold {k}, {name}: trees {r[name]['trees']:.4f}, three parts {r[name]['three_parts']:.4f} ({r[name]['seconds']} s)", flush=True)
    res['mean'] = {n: {s: float(np.mean([res['outer'][k][n][s] for k in res['outer']])) for s in ('trees', 'three_parts')} for n in GRID}
    res['higher_than_recipe'] = {n: int(sum(res['outer'][k][n]['three_parts'] > res['outer'][k]['recipe']['three_parts'] for k in res['outer'])) for n in GRID}
    res['seconds'] = round(time.time() - t0)
    out = RESULTS/'record_tree_grid.json'; out.write_text(json.dumps(res, indent=1))
    print(f"written {out} in {res['seconds']} s")

if __name__ == '__main__': main()
