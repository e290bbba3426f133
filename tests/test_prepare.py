"`ecgnb prepare` and `ecgnb merge` as a user runs them: starter commands, reruns, interruptions, bad input, real data."
import errno, json, os, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
from conftest import ecgnb, BIN, sample
from ecgnb.core import STARTER_LABELS, file_sha256
from ecgnb.folders import DATA_FILES

@pytest.fixture(autouse=True)
def _salt(tmp_path, monkeypatch):
    "Pseudonym salt in the test folder, never in the home folder (the subprocesses inherit it)."
    monkeypatch.setenv('ECGNB_SALT_FILE', str(tmp_path/'salt'))

def synth_folder(folder:Path, n:int=2, duration:float=12.0, seed:int=0)->Path:
    "`n` synthetic records per starter class, two per patient, with a labels.json."
    from ecgnb.synth import synth_ecg, save_synth
    folder.mkdir(parents=True, exist_ok=True); ents = []
    for ci, lab in enumerate(STARTER_LABELS):
        for i in range(n):
            k = ci*n + i
            save_synth(synth_ecg(lab, duration, 250.0, seed=seed*1000 + k, patient=k//2, noise='low'), folder/f"{lab}_{i}")
            ents.append(dict(file=f"{lab}_{i}.npy", label=lab, patient_id=f"pt{k//2:02d}"))
    (folder/'labels.json').write_text(json.dumps(ents))
    return folder

def tree(folder:Path)->dict:
    return {p.relative_to(folder).as_posix(): file_sha256(p) for p in sorted(folder.rglob('*')) if p.is_file()}

def children(pid:int)->list[int]:
    "Process ids whose parent is `pid` (Linux /proc)."
    out = []
    for st in Path('/proc').glob('[0-9]*/stat'):
        try: fields = st.read_text().rsplit(')', 1)[1].split()
        except OSError: continue
        if int(fields[1]) == pid: out.append(int(st.parent.name))
    return out

def zombie(pid:int)->bool:
    try: return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError: return False

def ok(r):
    assert r.returncode == 0, r.stderr
    return r

def test_starter_commands(tmp_path):
    "The two starter commands, back to back, give a folder that training can open."
    from ecgnb.dataset import load_processed
    raw, out = tmp_path/'raw', tmp_path/'processed'
    r = ok(ecgnb('prepare', '--generate-synthetic', '--out', raw, '--n-samples', 2, '--duration', 10, '--sampling-rate', 250))
    assert r.stdout.startswith('wrote') and (raw/'labels.json').exists()
    r = ok(ecgnb('prepare', '--input-dir', raw, '--out', out, '--window-sec', 5, '--sr', 250, '--workers', 2))
    p = load_processed(out)
    assert p.X.shape[1:] == (1, 1250) and len(p.X) == 2*len(json.loads((raw/'labels.json').read_text()))
    assert set(p.labels[:5]) == set(STARTER_LABELS) and (p.y.sum(0)[:5] > 0).all()
    assert json.loads((out/'report.json').read_text())['records']['skipped'] == 0

def test_generate_rerun_is_a_noop_and_real_folders_are_refused(tmp_path):
    raw = tmp_path/'raw'
    ok(ecgnb('prepare', '--generate-synthetic', '--out', raw, '--n-samples', 1, '--duration', 6))
    before = {p.name: p.stat().st_mtime_ns for p in raw.iterdir()}
    r = ok(ecgnb('prepare', '--generate-synthetic', '--out', raw, '--n-samples', 1, '--duration', 6))
    assert r.stdout.startswith('up to date') and {p.name: p.stat().st_mtime_ns for p in raw.iterdir()} == before
    real = tmp_path/'real'; real.mkdir(); (real/'patient.csv').write_text('1\n2\n')
    r = ecgnb('prepare', '--generate-synthetic', '--out', real, '--n-samples', 1)
    assert r.returncode == 2 and 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert (real/'patient.csv').read_text() == '1\n2\n'

def test_workers_and_reruns_give_the_same_bytes(tmp_path):
    raw = synth_folder(tmp_path/'raw')
    before = tree(raw)
    ok(ecgnb('prepare', '--input-dir', raw, '--out', tmp_path/'w1', '--workers', 1))
    ok(ecgnb('prepare', '--input-dir', raw, '--out', tmp_path/'w2', '--workers', 2))
    for f in DATA_FILES: assert file_sha256(tmp_path/'w1'/f) == file_sha256(tmp_path/'w2'/f), f
    r = ok(ecgnb('prepare', '--input-dir', raw, '--out', tmp_path/'w1'))
    assert r.stdout.startswith('up to date')
    assert tree(raw) == before   # raw inputs never modified

def test_bad_records_are_skipped_or_stop_the_run(tmp_path):
    raw = synth_folder(tmp_path/'raw', n=1)
    (raw/'broken.npy').write_bytes(b'\x93NUMPY garbage')
    ents = json.loads((raw/'labels.json').read_text()) + [dict(file='broken.npy', label='afib', fs=250)]
    (raw/'labels.json').write_text(json.dumps(ents))
    out = tmp_path/'out'
    r = ok(ecgnb('prepare', '--input-dir', raw, '--out', out))
    rep = json.loads((out/'report.json').read_text())
    assert rep['records']['skipped'] == 1 and rep['skipped'][0]['file'] == 'broken.npy' and rep['skipped'][0]['reason']
    before = tree(out)
    r = ecgnb('prepare', '--input-dir', raw, '--out', out, '--strict', '--force')
    assert r.returncode == 2 and 'broken.npy' in r.stderr and 'Traceback' not in r.stderr
    assert tree(out) == before   # the previous output is untouched
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith('.')] == []

def test_user_errors_are_one_line(tmp_path):
    "A missing folder, a folder without labels.json, an output inside the input: one line each, exit status 2."
    raw = synth_folder(tmp_path/'raw', n=1)
    before = tree(raw)
    for args, msg in [(('--input-dir', tmp_path/'nowhere', '--out', tmp_path/'o'), 'no such input folder'),
                      (('--input-dir', raw, '--out', raw/'processed'), 'must not be, contain or lie inside')]:
        r = ecgnb('prepare', *args)
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    assert tree(raw) == before

def _blocking_record(folder:Path, name:str='m_pause.npy')->Path:
    "A FIFO listed in labels.json: `prepare` blocks when it opens it, until the test opens the other end."
    fifo = folder/name
    os.mkfifo(fifo)
    ents = json.loads((folder/'labels.json').read_text()) + [dict(file=name, label='afib', fs=250, patient_id='pt99')]
    (folder/'labels.json').write_text(json.dumps(ents))
    return fifo

def _open_when_read(fifo:Path, p:subprocess.Popen, limit:float=300)->int:
    "Open `fifo` for writing as soon as `p` opens it for reading (the event); fail if `p` exits first."
    t0 = time.monotonic()
    while True:
        try: return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno != errno.ENXIO: raise   # ENXIO: nobody reads it yet
        if p.poll() is not None: raise AssertionError(f"prepare exited ({p.returncode}) before it reached the paused record: {p.stderr.read()[-2000:]}")
        assert time.monotonic() - t0 < limit, 'prepare never opened the paused record'
        time.sleep(0.01)

def _default_sigint():
    "In the child before exec: SIGINT back to its default, so Python raises KeyboardInterrupt on it. A test suite run in the background (`make test &`) inherits SIGINT ignored, and so would `prepare`."
    signal.signal(signal.SIGINT, signal.SIG_DFL)

def test_interrupted_run_leaves_the_previous_output(tmp_path):
    """Killed mid-run (SIGINT, then SIGKILL), `prepare` leaves the earlier output as it was.
    The run is interrupted at a known point, on any machine: one of its records is a FIFO, and the signal is sent
    once `prepare` has opened it (records before it are already written to the temporary folder)."""
    raw = synth_folder(tmp_path/'raw', n=1, duration=10)
    out = tmp_path/'out'
    ok(ecgnb('prepare', '--input-dir', raw, '--out', out))
    before = tree(out)
    big = synth_folder(tmp_path/'big', n=6, duration=30, seed=1)
    fifo = _blocking_record(big)
    for sig, workers in ((signal.SIGINT, 1), (signal.SIGKILL, 2)):
        p = subprocess.Popen([str(BIN/'ecgnb'), 'prepare', '--input-dir', str(big), '--out', str(out), '--workers', str(workers)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
        fd = _open_when_read(fifo, p)
        assert len(list(tmp_path.glob('.out.*.tmp'))) == 1   # mid-run: the temporary output exists
        kids = children(p.pid)
        p.send_signal(sig)
        os.close(fd)   # a worker still reading the FIFO sees its end (and lets go of the pipes communicate reads)
        p.communicate(timeout=120)
        assert p.returncode != 0
        assert tree(out) == before
        # workers of a killed run notice that their parent is gone and exit (they check every 2 s)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 120 and any(Path(f'/proc/{k}').exists() and not zombie(k) for k in kids): time.sleep(0.05)
        assert not [k for k in kids if Path(f'/proc/{k}').exists() and not zombie(k)], kids
    assert len(list(tmp_path.glob('.out.*.tmp'))) == 1        # SIGKILL left its temporary folder (SIGINT did not)
    r = ok(ecgnb('prepare', '--input-dir', raw, '--out', out))
    assert r.stdout.startswith('up to date') and not list(tmp_path.glob('.out.*.tmp'))   # the next run removed it

_BIG_PARENT = """
import subprocess, sys
big = bytearray(600 * 2**20); big[::4096] = b'x' * len(big[::4096])   # 600 MB resident in the parent
sys.exit(subprocess.run(sys.argv[1:]).returncode)
"""

def test_peak_memory_is_the_runs_not_its_parents(tmp_path):
    "Started by a process holding 600 MB, `prepare` reports its own peak (about 110 MB here), not the parent's (`ru_maxrss` said 612)."
    raw = synth_folder(tmp_path/'raw', n=1)
    for w in (1, 2):
        out = tmp_path/f'out{w}'
        r = subprocess.run([sys.executable, '-c', _BIG_PARENT, str(BIN/'ecgnb'), 'prepare', '--input-dir', str(raw), '--out', str(out),
                            '--workers', str(w), '--quiet'], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        peak = json.loads((out/'report.json').read_text())['peak_rss_mb']
        assert 20 < peak['main'] < 300, peak
        assert (peak['workers'] is None) if w == 1 else (0 < peak['workers'] < 300), peak

def test_shards_merge_to_the_single_machine_output(tmp_path):
    raw = synth_folder(tmp_path/'raw', n=3)
    ok(ecgnb('prepare', '--input-dir', raw, '--out', tmp_path/'full'))
    for i in range(2): ok(ecgnb('prepare', '--input-dir', raw, '--out', tmp_path/f's{i}', '--shard', f'{i}/2', '--workers', 1))
    r = ok(ecgnb('merge', tmp_path/'s1', tmp_path/'s0', '--out', tmp_path/'merged'))
    assert r.stdout.startswith('wrote')
    for f in DATA_FILES: assert file_sha256(tmp_path/'full'/f) == file_sha256(tmp_path/'merged'/f), f

def test_real_cinc2017_records(tmp_path):
    "The committed CinC 2017 excerpt (34 records, 9-42 s at 300 Hz) through import-physionet's labels and two workers."
    from ecgnb.physionet import import_physionet
    from ecgnb.dataset import load_processed
    src = sample('cinc2017'); before = tree(src)
    lab, _, _ = import_physionet('cinc2017', src, tmp_path/'cinc'/'labels.json')
    ok(ecgnb('prepare', '--input-dir', lab.parent, '--out', tmp_path/'out', '--workers', 2))
    p = load_processed(tmp_path/'out')
    rep = p.report
    assert rep['records']['used'] + rep['records']['skipped'] == 34 and rep['records']['used'] >= 32, rep['records']
    assert p.X.shape[1:] == (1, 1250) and np.isfinite(p.X[:]).all()
    assert {'normal', 'afib', 'other_rhythm', 'noisy'} <= set(p.labels) and (p.y.sum(0)[[p.labels.index(l) for l in ('normal', 'afib')]] > 0).all()
    assert rep['hours'] > 34 * 9 / 3600
    assert tree(src) == before
