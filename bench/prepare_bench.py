#!/usr/bin/env python
"""Speed-up of `ecgnb prepare --workers 2` over `--workers 1` on real records (CinC 2017), as a user runs it.

    .venv/bin/python bench/prepare_bench.py [--records 1500] [--repeats 2] [--max-load 0.6] [--min-quality 0.5]

Takes the first `--records` records (by name) of ../shared/data/cinc2017 through a labels file in a temporary folder,
then runs `ecgnb prepare --force --quiet` with 1 and 2 workers back to back, `--repeats` times, in fresh processes
(with several `--ecgnb` commands, say the library before and after a change, each in turn within a repeat):
wall seconds (start-up and imports included), CPU seconds of the command and its workers, and the `seconds` of
report.json (from the labels to the report, imports excluded). Before each repeat it waits until the 1-minute load
average is below `--max-load` (other work on the machine would take the second core). All outputs must have the
same data hash (one pseudonym salt for all runs). Writes bench/results/prepare-<time>.json.
"""
from __future__ import annotations
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from service_bench import BIN, save_result

def labels_subset(n:int, tmp:Path, src:Path|None=None)->Path:
    "A labels file for the first `n` CinC 2017 records (by name) of `src` (default: the shared folder), pointing at them."
    from ecgnb.core import samples_dir
    from ecgnb.physionet import import_physionet
    src = src or samples_dir('cinc2017')
    if not src: raise SystemExit('no CinC 2017 samples (../shared/data/cinc2017)')
    lab, _, _ = import_physionet('cinc2017', src, tmp/'all'/'labels.json')
    recs = sorted(json.loads(lab.read_text())['records'], key=lambda e: e['file'])[:n]
    (tmp/'sub').mkdir()
    out = tmp/'sub'/'labels.json'
    out.write_text(json.dumps(dict(root=os.path.relpath(src, out.parent), records=recs)))
    return out

def wait_quiet(max_load:float, limit:float)->float:
    "Wait (up to `limit` s) for the 1-minute load average to fall below `max_load`; returns it."
    t0 = time.monotonic()
    while (load := os.getloadavg()[0]) >= max_load and time.monotonic() - t0 < limit: time.sleep(5)
    return load

def run(ecgnb:str, labels:Path, out:Path, workers:int, extra:list)->dict:
    "One `ecgnb prepare` in a fresh process: wall and CPU seconds, and what its report says."
    cmd = [ecgnb, 'prepare', '--input-dir', str(labels), '--out', str(out), '--workers', str(workers),
           '--force', '--quiet', '--salt-file', str(out.parent/'salt'), *extra]
    ru0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall, ru1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    rep = json.loads((out/'report.json').read_text())
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return dict(workers=workers, wall_s=round(wall, 2), cpu_s=round(cpu, 2), inner_s=rep['seconds'], data_hash=rep['data_hash'],
                n_windows=rep['n_windows'], peak_rss_mb=rep.get('peak_rss_mb'))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--records', type=int, default=1500); ap.add_argument('--repeats', type=int, default=2)
    ap.add_argument('--max-load', type=float, default=0.6); ap.add_argument('--wait', type=float, default=900)
    ap.add_argument('--min-quality', type=float, default=None)
    ap.add_argument('--ecgnb', action='append', help='command to time, repeatable: versions are timed in turn within each repeat '
                    '(default: this environment\'s ecgnb)')
    a = ap.parse_args()
    cmds, extra = a.ecgnb or [str(BIN/'ecgnb')], [] if a.min_quality is None else ['--min-quality', str(a.min_quality)]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d); labels = labels_subset(a.records, tmp)
        runs = []
        for rep in range(a.repeats):
            load = wait_quiet(a.max_load, a.wait)
            for cmd in cmds:
                pair = [run(cmd, labels, tmp/f'out{w}', w, extra) | dict(ecgnb=cmd, repeat=rep, load_before=round(load, 2),
                                                                         quiet=load < a.max_load) for w in (1, 2)]
                pair[1]['speedup_wall'] = round(pair[0]['wall_s']/pair[1]['wall_s'], 2)
                pair[1]['speedup_inner'] = round(pair[0]['inner_s']/pair[1]['inner_s'], 2)
                runs += pair
                print(*pair, sep='\n', flush=True)
        if len({r['data_hash'] for r in runs}) > 1: raise SystemExit('the runs wrote different data')   # one salt: same bytes
    save_result(dict(ecgnb=cmds, records=a.records, min_quality=a.min_quality, cpus=os.cpu_count(), max_load=a.max_load,
                     time=time.strftime('%Y-%m-%dT%H:%M:%S'), runs=runs), 'prepare')

if __name__ == '__main__': main()
