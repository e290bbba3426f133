#!/usr/bin/env python
"""Load benchmark of a record model (`ecgnb train --recipe cinc2017`, `ecgnb export`) behind `ecgnb serve`, beside the
peer a user would write: FastAPI + neurokit2 (`ecg_process`: cleaning, R-peaks, rate, quality) + onnxruntime.

    .venv/bin/python bench/record_bench.py --model models/record.onnx [--workers 2] [--seconds 10]

`ecgnb serve` runs twice: with its compiled twins (the default) and with the numpy reference (ECGNB_COMPILED=0).

Needs `wrk` (Debian: apt-get install wrk). The request is the first 30 s of a real CinC 2017 record at 300 Hz (JSON, mV).
The peer runs the same ONNX file once per request on its own 150-Hz resampling of the signal with the record
features left missing (neurokit2 does not compute them): its answers are not the record model's, the comparison is of
cost. Writes bench/results/record-<time>.json. Numbers depend on what else runs on the machine: say so with them.
"""
from __future__ import annotations
import argparse, json, os, sys, time, tempfile
from pathlib import Path
import numpy as np, orjson
sys.path.insert(0, str(Path(__file__).resolve().parent))
from service_bench import BIN, free_port, save_result, start, stop, time_jobs, wrk

from fastapi import FastAPI, Request
from fastapi.responses import Response

def peer_app():
    "What a user would write: neurokit2 for the signal, onnxruntime for the model, FastAPI around them."
    import neurokit2 as nk, onnxruntime as ort
    from scipy.signal import resample_poly
    so = ort.SessionOptions(); so.intra_op_num_threads = 1
    sess = ort.InferenceSession(os.environ['ECGNB_MODEL'], so, providers=['CPUExecutionProvider'])
    meta = sess.get_modelmeta().custom_metadata_map
    labels, n_feat = json.loads(meta['labels']), len(json.loads(meta['features']))
    app = FastAPI()
    @app.post('/infer')
    async def infer(request:Request):
        d = orjson.loads(await request.body())
        x, fs = np.asarray(d['signal'], np.float64), float(d['fs'])
        sig, info = nk.ecg_process(x, sampling_rate=int(fs))
        clean = resample_poly(sig['ECG_Clean'].to_numpy(), 1, 2)
        s = ((clean - np.median(clean))/(clean.std() + 1e-6)).astype(np.float32)
        p = sess.run(None, {'signal': s[None, None], 'features': np.full((1, n_feat), np.nan, np.float32)})[0][0]
        out = dict(prediction=labels[int(p.argmax())], probabilities=dict(zip(labels, np.round(p, 4).tolist())),
                   heart_rate_bpm=float(np.nanmean(sig['ECG_Rate'])), quality=float(np.nanmean(sig['ECG_Quality'])))
        return Response(orjson.dumps(out), media_type='application/json')
    return app

def record_30s()->tuple[np.ndarray, float, str]:
    "The first 30 s of the first CinC 2017 record (by name) that lasts that long: the full database's, or the excerpt's."
    from ecgnb.core import samples_dir
    from ecgnb.loaders import read_record
    for d in ('cinc2017-dev', 'cinc2017'):
        if (f := samples_dir(d)):
            for h in sorted(f.glob('*.hea')):
                r = read_record(h)
                if r.duration >= 30: return r.signal[0, :int(30*r.fs)], r.fs, h.stem
    raise SystemExit('no CinC 2017 records found (../shared/data, $ECGNB_SAMPLES or data/samples)')

def stages(model:str, x:np.ndarray, fs:float, n:int=100)->dict:
    "Microseconds per stage of one record request in this process: each part of the record runner, then the whole."
    from ecgnb.engine import Engine
    from ecgnb.features import record_view, record_input, record_features, record_quality, beat_sequence
    from ecgnb.features_compiled import record_features_compiled, warm_up
    import neurokit2 as nk
    eng = Engine(model)
    body = orjson.dumps({'signal': np.round(x.astype(float), 4).tolist(), 'fs': fs})
    xx, f = eng.parse(body)
    peaks = eng.runner._peaks(np.ascontiguousarray(xx[0]), f)
    v = record_view(xx, f, 0, peaks)
    s, feats = record_input(v, eng.runner.rate), record_features(v)
    feed = {'signal': s[None], 'features': feats[None]}
    if eng.runner.beats: b, r = beat_sequence(v); feed |= {'beats': b[None], 'beat_context': r[None]}
    warm_up()
    fresh = lambda: record_view(xx, f, 0, peaks)   # a view computes its beats and spectrum on first use: time them on a new one
    jobs = {'parse+validate': lambda: eng.parse(body), 'R-peaks (compiled)': lambda: eng.runner._peaks(np.ascontiguousarray(xx[0]), f),
            'view (band-pass every lead)': fresh, 'record_features (numpy reference)': lambda: record_features(fresh()),
            'record_features (compiled rhythm features)': lambda: record_features_compiled(fresh()),
            'record_input (CNN view)': lambda: record_input(v, eng.runner.rate), 'record_quality': lambda: record_quality(fresh()),
            **({'beat_sequence (beat network view)': lambda: beat_sequence(v)} if eng.runner.beats else {}),
            'onnxruntime (CNN + trees' + (' + beat network)' if eng.runner.beats else ')'): lambda: eng.sess.run(None, feed),
            'Engine.infer (all but parse)': lambda: eng.infer(xx, f),
            'peer: neurokit2 ecg_process': lambda: nk.ecg_process(xx[0].astype(np.float64), sampling_rate=int(f))}
    return time_jobs(jobs, n)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', required=True); ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--seconds', type=int, default=10); ap.add_argument('--conns', type=int, default=16)
    a = ap.parse_args()
    model = str(Path(a.model).resolve())
    x, fs, name = record_30s()
    tmp = Path(tempfile.mkdtemp())
    body = tmp/'body.json'; body.write_bytes(orjson.dumps({'signal': np.round(x.astype(float), 4).tolist(), 'fs': fs}))
    res = dict(model=model, workers=a.workers, conns=a.conns, cpus=os.cpu_count(), load_before=os.getloadavg(),
               request=f"CinC 2017 record {name}: {len(x)} samples at {fs:g} Hz ({len(x)/fs:g} s), {body.stat().st_size} bytes of JSON",
               time=time.strftime('%Y-%m-%dT%H:%M:%S'), stages_us=stages(model, x, fs))
    env = {'ECGNB_MODEL': model, 'OMP_NUM_THREADS': '1', 'OPENBLAS_NUM_THREADS': '1'}
    serve = [str(BIN/'ecgnb'), 'serve', '--model', model, '--port', '{port}', '--workers', str(a.workers)]
    for key, cmd, extra in (('ecgnb_serve', serve, {}), ('ecgnb_serve_numpy_reference', serve, {'ECGNB_COMPILED': '0'}),
                            ('peer_fastapi_neurokit2_ort', [str(BIN/'python'), '-m', 'uvicorn', 'record_bench:peer_app', '--factory', '--port', '{port}',
                                                     '--workers', str(a.workers), '--no-access-log', '--log-level', 'warning'], {})):
        port = free_port(); url = f'http://127.0.0.1:{port}'
        p = start([c.replace('{port}', str(port)) for c in cmd], env | extra, url)
        try: res[key] = wrk(url + '/infer', body, a.seconds, a.conns)
        finally: stop(p)
    save_result(res, 'record')

if __name__ == '__main__': main()
