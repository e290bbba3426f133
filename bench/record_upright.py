#!/usr/bin/env python
"""Records turned QRS-up before the beat network and the trees read them, compared on an inner fold of one outer fold.

    .venv/bin/python bench/record_upright.py --data ../shared/data/cinc2017 --oof bench/results/record_cv.oof.npz --outer 1

CinC 2017's handheld device records lead I when held one way and its negative when held the other; about a fifth of
the records have a median beat whose QRS points down. The preset reads them as they are: the beat network sees the
beats in units of the median beat's amplitude, sign kept, and the trees' morphology features (R and S amplitude,
T-wave and P-wave measures) are measured on the signal as recorded. So the parts learn two versions of each shape
from fewer examples each. This direction negates every record whose median beat's larger QRS deflection (within
70 ms of the R-peak) is negative, before the beats and the features are taken (the R-peaks stay where they were
found).

Two steps:
- without training (`--outer 0`): each record's polarity against the preset's held-out probabilities of the `--cv`
  run: per class, the recall of the fused model and of each part on upright and on inverted records;
- `--outer K`: the inner fold of `record_beat_variants.py` (the training part of outer fold K split by patient into 4,
  the first scored; the outer test records are never read): the beat network and the trees trained on the upright
  records, scored alone, together and as two of the three parts beside the recipe's CNN of the same inner fold
  (stored by `record_cnn_directions.py`; the CNN keeps reading records as they are, so the three-part score asks what
  turning the other two parts' inputs brings), against the stored preset parts on the same records; with `--cnn`
  the CNN is trained on the upright records as well, and all three parts read them turned.

Writes bench/results/record_upright.json (the polarity table, and one entry per outer fold run).
"""
from __future__ import annotations
import argparse, json, tempfile, time
import numpy as np
from record_directions import mean_f1   # bench/ is the script's folder, so its sibling imports
from record_cnn_directions import inner_fold, stored_parts, RESULTS
QRS_HALF = 0.07   # s either side of the R-peak where the QRS's larger deflection is looked for

def polarity(v)->int:
    "+1 when the larger QRS deflection of the record's median beat points up, -1 when down (+1 below 3 beats)."
    from ecgnb.features import BEFORE
    if (t := v.template) is None: return 1
    i, h = int(round(BEFORE*v.fs)), int(round(QRS_HALF*v.fs)); w = t[i - h:i + h + 1]
    return 1 if w.max() >= -w.min() else -1

def upright_view(x, fs, rhythm=0, peaks=None):
    "`ecgnb.features.record_view`, the record negated first when its QRS points down (R-peaks kept)."
    from ecgnb.features import record_view
    v = record_view(x, fs, rhythm, peaks)
    return v if polarity(v) > 0 else record_view(-np.asarray(x), fs, rhythm, v.peaks)

def polarity_table(a, cfg)->dict:
    "Per class, recall of the fused model and of each part on upright and on inverted records, out of fold."
    from ecgnb.record import labels_source, read_labels, read_record, record_view, rhythm_index, mix, PARTS
    o = np.load(a.oof)
    with tempfile.TemporaryDirectory() as tmp:
        src, _ = labels_source(a.data, tmp); path = {e.file: e.path for e in read_labels(src)}
    sign = np.array([polarity(record_view((r := read_record(path[str(f)], annotations=False)).signal, r.fs, rhythm_index(r.leads)))
                     for f in o['files']])
    y, labels = o['Y'].argmax(1), [str(l) for l in o['labels']]
    parts = dict(fused=mix(cfg, *[o[k] for k in PARTS if k in o.files])) | {k: o[k] for k in PARTS if k in o.files}
    rec = lambda P, c, s: float((P[(y == c) & (sign == s)].argmax(1) == c).mean())
    return dict(records=len(y), inverted=int((sign < 0).sum()), inverted_per_class={l: int(((y == c) & (sign < 0)).sum()) for c, l in enumerate(labels)},
                recall={k: {l: dict(upright=rec(P, c, 1), inverted=rec(P, c, -1)) for c, l in enumerate(labels)} for k, P in parts.items()})

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', required=True); ap.add_argument('--oof', required=True)
    ap.add_argument('--outer', type=int, default=0, help='outer fold (1-based) whose training part is used; 0: the polarity table only')
    ap.add_argument('--inner', type=int, default=4); ap.add_argument('--val', type=int, default=1); ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--cnn', action='store_true', help="also train the recipe's CNN on the upright records (15-19 min)")
    a = ap.parse_args()
    import torch
    import ecgnb.record as R
    torch.set_num_threads(a.threads)
    cfg, t0, out = R.PRESETS['cinc2017'], time.time(), RESULTS/'record_upright.json'
    if a.outer == 0:
        new = dict(polarity=(t := polarity_table(a, cfg)))
        print(f"{t['inverted']} of {t['records']} records inverted; recall upright/inverted: " + '; '.join(
              f"{k} " + ', '.join(f"{l} {v['upright']:.3f}/{v['inverted']:.3f}" for l, v in r.items()) for k, r in t['recall'].items()), flush=True)
    else:
        R.record_view = upright_view; a.workers = 1   # load_records, in this process, reads every record through it
        tr, va, labels = inner_fold(a, cfg)
        t1 = time.time(); T = R.fit_trees(tr.features, tr.Y, False, cfg)[0].predict_proba(va.features)
        net, _ = R.fit_beats(tr, cfg); B = R.beat_probabilities(net, va); secs = time.time() - t1
        C, T0, B0 = stored_parts(a.outer, va.files)
        f1 = lambda P: mean_f1(va.Y, P, labels, cfg.scored)
        r = dict(train_records=len(tr), val_records=len(va), seconds=round(secs),
                 trees=[f1(T), f1(T0)], beats=[f1(B), f1(B0)], trees_beats=[f1((T + B)/2), f1((T0 + B0)/2)],
                 three_parts=[f1(R.mix(cfg, C, T, B)), f1(R.mix(cfg, C, T0, B0))], three_parts_upright_beats=f1(R.mix(cfg, C, T0, B)),
                 three_parts_upright_trees=f1(R.mix(cfg, C, T, B0)))
        if a.cnn:   # the recipe's CNN on the upright records too: every part reads them turned
            t1 = time.time(); net, _ = R.fit_cnn(tr, cfg); Cu = R.cnn_probabilities(net, va)
            r |= dict(cnn=[f1(Cu), f1(C)], cnn_trees=[f1(R.mix(cfg, Cu, T)), f1(R.mix(cfg, C, T0))], three_parts_all_upright=f1(R.mix(cfg, Cu, T, B)), cnn_seconds=round(time.time() - t1))
            print(f"outer fold {a.outer}: CNN upright {r['cnn'][0]:.4f} (as is {r['cnn'][1]:.4f}); all three parts upright {r['three_parts_all_upright']:.4f}", flush=True)
        new = dict(outer={str(a.outer): r})
        print(f"outer fold {a.outer} (upright, as is): " + '; '.join(f"{k} {v[0]:.4f}, {v[1]:.4f}" if isinstance(v, list) else f"{k} {v}" for k, v in r.items()), flush=True)
    res = json.loads(out.read_text()) if out.exists() else {}   # read at the end: runs of other outer folds may have written meanwhile
    res |= {k: (res.get(k, {}) | v if k == 'outer' else v) for k, v in new.items()}
    out.write_text(json.dumps(res, indent=1))
    print(f"written {out} in {time.time() - t0:.0f} s")

if __name__ == '__main__': main()
