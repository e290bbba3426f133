#!/usr/bin/env python
"""Load benchmark of `ecgnb serve` on loopback, with a bare FastAPI + onnxruntime endpoint as the baseline.

    .venv/bin/python bench/service_bench.py --model models/model.onnx [--workers 2] [--seconds 10] [--soak 60]

Needs `wrk` (Debian: apt-get install wrk). Prints a table and writes bench/results/service-<time>.json.
Single requests are 5-s windows of real ECG (MIT-BIH record 100 at 360 Hz, so resampling is included; synthetic
ECG at 360 Hz when the samples are absent), sent to /infer, and to /infer/batch as one window (the same
preprocessing and model, without the heart-rate and quality measures). Numbers depend on what else runs on the
machine: say so with them.
"""
from __future__ import annotations
import argparse, io, json, os, re, shutil, socket, subprocess, sys, tempfile, threading, time
from pathlib import Path
import numpy as np, orjson, httpx

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent

# ---- the baseline: JSON in, onnxruntime, JSON out; no preprocessing, measures or validation --------------------------
from fastapi import FastAPI, Request
from fastapi.responses import Response

def bare_app():
    from ecgnb.contract import ort_session
    sess = ort_session(os.environ['ECGNB_MODEL'])
    app = FastAPI()
    @app.post('/infer')
    async def infer(request:Request):
        d = orjson.loads(await request.body())
        x = np.asarray(d['signal'], np.float32)[:1250].reshape(1, 1, -1)
        z = sess.run(None, {'x': x})[0]
        return Response(orjson.dumps({'logits': z[0].tolist()}), media_type='application/json')
    return app

def free_port()->int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def start(cmd:list[str], env:dict, url:str)->subprocess.Popen:
    p = subprocess.Popen(cmd, env=os.environ | env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=HERE)
    for _ in range(300):
        if p.poll() is not None: raise SystemExit(f"server exited: {' '.join(cmd)}")
        try:
            httpx.get(url + '/docs', timeout=1)
            time.sleep(3); return p  # the first worker answers; give the others time to load the model and kernels
        except httpx.HTTPError: time.sleep(0.2)
    p.kill(); raise SystemExit('server did not start')

def stop(p:subprocess.Popen):
    p.terminate()
    try: p.wait(15)
    except subprocess.TimeoutExpired: p.kill(); p.wait(5)

def rss_mb(pid:int)->float:
    "Resident memory of a process and its children (the uvicorn workers), MB, from /proc."
    def stat(q):
        try: return Path(f'/proc/{q}/stat').read_text().rsplit(')', 1)[1].split()
        except OSError: return None
    kids = [int(d.name) for d in Path('/proc').iterdir() if d.name.isdigit() and (st := stat(d.name)) and int(st[1]) == pid]
    total = 0
    for q in [pid, *kids]:
        try: total += int(re.search(r'VmRSS:\s+(\d+)', Path(f'/proc/{q}/status').read_text()).group(1))
        except (OSError, AttributeError): pass
    return total/1024

def save_result(res:dict, prefix:str)->Path:
    "Add the load after the run, write bench/results/<prefix>-<time>.json and print it."
    res['load_after'] = os.getloadavg()
    out = HERE/'results'/f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True); out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1)); print('written', out)
    return out

def wrk(url:str, body_file:Path, seconds:int, conns:int=16, threads:int=2)->dict:
    lua = body_file.with_suffix('.lua')
    lua.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                   f'local f = io.open("{body_file}", "rb"); wrk.body = f:read("*all"); f:close()\n'
                   'done = function(summary, latency, requests)\n'
                   '  io.write(string.format("JSON {\\"p50\\": %g, \\"p90\\": %g, \\"p99\\": %g, \\"max\\": %g, \\"requests\\": %d, \\"non2xx_or_errors\\": %d}\\n",\n'
                   '    latency:percentile(50)/1000, latency:percentile(90)/1000, latency:percentile(99)/1000, latency.max/1000, summary.requests,\n'
                   '    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status))\n'
                   'end\n')
    out = subprocess.run(['wrk', f'-t{threads}', f'-c{conns}', f'-d{seconds}s', '--latency', '-s', str(lua), url],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    r = json.loads(out.split('JSON ', 1)[1].splitlines()[0])
    r['rps'] = float(re.search(r'Requests/sec:\s+([\d.]+)', out).group(1))
    return r

def ecg_5s()->tuple[np.ndarray, float]:
    from ecgnb.core import samples_dir
    if samples_dir('mitdb'):
        import wfdb
        return wfdb.rdrecord(str(samples_dir('mitdb')/'100'), sampto=1800, channels=[0]).p_signal[:, 0].astype(np.float32), 360.0
    from ecgnb.synth import synth_ecg
    return synth_ecg('normal', duration=5.0, fs=360.0, seed=1).signal[0], 360.0

def stages(model:str, x:np.ndarray, fs:float, n:int=300)->dict:
    "Microseconds per stage of one /infer request, in this process: the numpy reference and the compiled twins."
    from ecgnb.service import Engine
    eng = Engine(model)
    run = getattr(eng, 'runner', eng)   # the window runner (before ecgnb.engine, the engine itself held its parts)
    body = orjson.dumps({'signal': np.round(x.astype(float), 4).tolist(), 'fs': fs})
    xx, f = eng.parse(body)
    y = run.pre.apply(xx, f); W = run.pre.windows(y); res = eng.infer(xx, f)
    jobs = {'parse+validate': lambda: eng.parse(body), 'Preprocess.apply (reference)': lambda: run.pre.apply(xx, f),
            'onnxruntime (1 window)': lambda: run.probabilities(W),
            'orjson response': lambda: orjson.dumps(res, option=orjson.OPT_SERIALIZE_NUMPY)}
    try:
        from ecgnb.measures import lead_likeness, detect_rpeaks
        pk = detect_rpeaks(xx[0], f)
        jobs['ECG likeness of the recording'] = lambda: lead_likeness(xx[0], f, pk)
    except ImportError: pass
    try:  # revisions before the compiled twins (bench/service_ab.py runs old ones) lack these
        from ecgnb.measures import recording_measures
        from ecgnb.compiled import apply_compiled, recording_measures_compiled
        ref, st, span = Engine(model, compiled=False), np.array([0]), int(round(run.pre.window_sec*f))
        jobs |= {'apply_compiled': lambda: apply_compiled(run.pre, xx, f),
                 'R-peaks + quality (reference)': lambda: recording_measures(xx[0], f, st, span),
                 'R-peaks + quality (compiled)': lambda: recording_measures_compiled(xx[0], f, st, span),
                 'Engine.infer, reference (all but parse)': lambda: ref.infer(xx, f)}
    except ImportError: pass
    jobs['Engine.infer (all but parse)'] = lambda: eng.infer(xx, f)
    return time_jobs(jobs, n)

def time_jobs(jobs:dict, n:int)->dict:
    "Microseconds per call of each job (name -> function of no arguments), after one warm-up call."
    out = {}
    for k, fn in jobs.items():
        fn(); t = time.perf_counter()
        for _ in range(n): fn()
        out[k] = round((time.perf_counter() - t)/n*1e6)
    return out

def batch_rate(url:str, x:np.ndarray, fs:float, n_windows:int=2000, clients:int=2, seconds:float=10.0)->dict:
    "Windows per second through /infer/batch (.npy bodies of raw windows at `fs`, preprocessing included)."
    rng = np.random.default_rng(0)
    W = (x[None] + 0.02*rng.standard_normal((n_windows, len(x)))).astype(np.float32)
    buf = io.BytesIO(); np.save(buf, W); body = buf.getvalue()
    done, errors, stop_at = [0], [0], time.time() + seconds
    def client():
        with httpx.Client(timeout=120) as c:
            while time.time() < stop_at:
                r = c.post(f'{url}/infer/batch?fs={fs:g}', content=body, headers={'content-type': 'application/octet-stream'})
                if r.status_code == 200: done[0] += n_windows
                else: errors[0] += 1
    t0 = time.time()
    ts = [threading.Thread(target=client) for _ in range(clients)]
    for t in ts: t.start()
    for t in ts: t.join()
    return dict(windows_per_s=round(done[0]/(time.time()-t0)), request_windows=n_windows, clients=clients, errors=errors[0])

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', required=True); ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--seconds', type=int, default=10); ap.add_argument('--soak', type=int, default=60)
    ap.add_argument('--conns', type=int, default=16); ap.add_argument('--skip-baseline', action='store_true')
    a = ap.parse_args()
    if not shutil.which('wrk'): raise SystemExit('wrk is not installed (apt-get install wrk)')
    model = str(Path(a.model).resolve())
    x, fs = ecg_5s()
    tmp = Path(tempfile.mkdtemp())
    body = tmp/'body.json'; body.write_bytes(orjson.dumps({'signal': np.round(x.astype(float), 4).tolist(), 'fs': fs}))
    res = dict(model=model, workers=a.workers, conns=a.conns, cpus=os.cpu_count(), load_before=os.getloadavg(),
               request=f"one 5-s window, {len(x)} samples at {fs:g} Hz, {body.stat().st_size} bytes of JSON", time=time.strftime('%Y-%m-%dT%H:%M:%S'))
    res['stages_us'] = stages(model, x, fs)
    env = {'ECGNB_MODEL': model, 'OMP_NUM_THREADS': '1', 'OPENBLAS_NUM_THREADS': '1'}
    if not a.skip_baseline:
        port = free_port(); url = f'http://127.0.0.1:{port}'
        p = start([str(BIN/'python'), '-m', 'uvicorn', 'service_bench:bare_app', '--factory', '--port', str(port),
                   '--workers', str(a.workers), '--no-access-log', '--log-level', 'warning'], env, url)
        try: res['baseline_bare_fastapi_ort'] = wrk(url + '/infer', body, a.seconds, a.conns)
        finally: stop(p)
    port = free_port(); url = f'http://127.0.0.1:{port}'
    p = start([str(BIN/'ecgnb'), 'serve', '--model', model, '--port', str(port), '--workers', str(a.workers)], env, url)
    try:
        res['ecgnb_infer'] = wrk(url + '/infer', body, a.seconds, a.conns)
        one = tmp/'one.json'; one.write_bytes(orjson.dumps({'windows': [np.round(x.astype(float), 4).tolist()], 'fs': fs}))
        res['ecgnb_batch_one_window'] = wrk(url + '/infer/batch', one, a.seconds, a.conns)   # preprocessing + model, no measures
        res['ecgnb_batch'] = batch_rate(url, x, fs)
        if a.soak:
            samples, stop_ev = [], threading.Event()
            def sample():
                while not stop_ev.is_set(): samples.append(round(rss_mb(p.pid), 1)); stop_ev.wait(5)
            th = threading.Thread(target=sample); th.start()
            try: soak = wrk(url + '/infer', body, a.soak, a.conns)
            finally: stop_ev.set(); th.join()
            res['soak'] = soak | dict(seconds=a.soak, rss_mb=samples)
    finally: stop(p)
    save_result(res, 'service')

if __name__ == '__main__': main()
