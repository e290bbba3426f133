#!/usr/bin/env python
"""A/B load benchmark: `ecgnb serve` of an earlier git revision beside the working tree's, and the bare baseline.

    .venv/bin/python bench/service_ab.py --model models/model.onnx --ref af49965 [--rounds 2] [--seconds 8]

On a shared machine the load changes from minute to minute, so one figure against another from an earlier run
says little. Here the three servers take turns (baseline, the old revision, the new one, then again), each
measured with the same `wrk` run of `service_bench.py`, and `/infer/batch` likewise. The old revision is
`git archive`d into a temporary folder and put first on PYTHONPATH. Writes bench/results/service-ab-<time>.json.
"""
from __future__ import annotations
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np, orjson
sys.path.insert(0, str(Path(__file__).resolve().parent))
from service_bench import BIN, HERE, batch_rate, ecg_5s, free_port, save_result, start, stop, wrk

def stages(pythonpath:str|None, model:str)->dict:
    "Per-stage microseconds of one /infer request, timed in a fresh process of that revision."
    env = os.environ | ({'PYTHONPATH': pythonpath} if pythonpath else {})
    code = ("import json, sys; sys.path.insert(0, %r); from service_bench import stages, ecg_5s; x, fs = ecg_5s(); "
            "print(json.dumps(stages(%r, x, fs)))") % (str(HERE), model)
    out = subprocess.run([str(BIN/'python'), '-c', code], env=env, cwd=HERE, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', required=True); ap.add_argument('--ref', required=True, help='git revision to compare with')
    ap.add_argument('--workers', type=int, default=2); ap.add_argument('--seconds', type=int, default=8)
    ap.add_argument('--rounds', type=int, default=2); ap.add_argument('--conns', type=int, default=16)
    a = ap.parse_args()
    model, tmp = str(Path(a.model).resolve()), Path(tempfile.mkdtemp())
    old = tmp/'old'; old.mkdir()
    arc = subprocess.run(['git', 'archive', a.ref, 'ecgnb'], cwd=HERE.parent, capture_output=True, check=True).stdout
    subprocess.run(['tar', '-x', '-C', str(old)], input=arc, check=True)
    x, fs = ecg_5s()
    body = tmp/'body.json'; body.write_bytes(orjson.dumps({'signal': np.round(x.astype(float), 4).tolist(), 'fs': fs}))
    res = dict(model=model, ref=a.ref, workers=a.workers, conns=a.conns, seconds=a.seconds, load_before=os.getloadavg(),
               time=time.strftime('%Y-%m-%dT%H:%M:%S'), rounds=[])
    res['stages_us'] = {'old': stages(str(old), model), 'new': stages(None, model)}
    base_env = {'ECGNB_MODEL': model, 'OMP_NUM_THREADS': '1', 'OPENBLAS_NUM_THREADS': '1'}
    for r in range(a.rounds):
        row = {'load': os.getloadavg()[0]}
        for name, env in [('baseline', {}), ('old', {'PYTHONPATH': str(old)}), ('new', {})]:
            port = free_port(); url = f'http://127.0.0.1:{port}'
            cmd = ([str(BIN/'python'), '-m', 'uvicorn', 'service_bench:bare_app', '--factory', '--port', str(port), '--workers',
                    str(a.workers), '--no-access-log', '--log-level', 'warning'] if name == 'baseline' else
                   [str(BIN/'ecgnb'), 'serve', '--model', model, '--port', str(port), '--workers', str(a.workers)])
            p = start(cmd, base_env | env, url)
            try:
                row[name] = wrk(url + '/infer', body, a.seconds, a.conns)
                if name != 'baseline': row[name + '_batch'] = batch_rate(url, x, fs, seconds=a.seconds)
            finally: stop(p)
            print(r, name, row[name]['rps'], row.get(name + '_batch', ''), flush=True)
        res['rounds'].append(row)
    save_result(res, 'service-ab')   # bench/results/ is made when absent (it is not kept in git)

if __name__ == '__main__': main()
