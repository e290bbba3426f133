"""The record model as a user runs it, on real records: `ecgnb train` on a folder of records (label names of the user's
own; twelve leads with several labels per record), then `evaluate`, `export`, `serve`, `audit` and `publish --dry-run`
on the model unchanged; /infer and /infer/file answer each record as `ecgnb evaluate` scored it; the service runs both
kinds of model with torch and scikit-learn unimportable, as in the image; what is not an ECG is `inconclusive`."""
import contextlib, io, json, os, subprocess, sys, zipfile
from pathlib import Path
import numpy as np, pandas as pd, pytest, httpx
from conftest import ecgnb, BIN, sample
from test_service import Server

NAMES = {'N': 'sinus', 'A': 'af', 'O': 'other', '~': 'noise'}   # CinC 2017's classes under names of the user's choosing

def ok(r):
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return r

def _pipeline(root:Path, labels:Path, *train):
    "train (two CNN epochs), evaluate the held-out fold, export: as a user runs them."
    ok(ecgnb('train', '--data', labels, '--epochs', 2, '--save', root/'r.pt', '--quiet', *train))
    ok(ecgnb('evaluate', '--checkpoint', root/'r.pt', '--data', labels, '--out', root/'r.eval-test', '--n-boot', 50))
    ok(ecgnb('export', '--checkpoint', root/'r.pt', '--out', root/'r.onnx'))
    return root

@pytest.fixture(scope='module')
def renamed(tmp_path_factory):
    "The 34 CinC 2017 records of the excerpt with a labels.json of other names (sinus, af, other, noise)."
    src, root = sample('cinc2017'), tmp_path_factory.mktemp('renamed')
    ref = [l.split(',') for l in (src/'REFERENCE.csv').read_text().split()]
    recs = [dict(file=f"{r}.hea", label=NAMES[c], patient_id=r) for r, c in ref]
    (root/'labels.json').write_text(json.dumps(dict(root=os.path.relpath(src, root), records=recs)))
    return _pipeline(root, root/'labels.json')

@pytest.fixture(scope='module')
def twelve(tmp_path_factory):
    "The 21 CPSC 2018 records of the excerpt (two with two diagnoses), twelve leads chosen by name."
    root = tmp_path_factory.mktemp('twelve')
    ok(ecgnb('import-physionet', '--kind', 'cinc2020', '--input-dir', sample('cpsc2018'), '--labels-out', root/'labels.json'))
    return _pipeline(root, root/'labels.json', '--lead', 'standard')

def test_any_label_names(renamed):
    m = json.loads((renamed/'r.metrics.json').read_text())
    assert m['kind'] == 'record' and m['labels'] == ['af', 'noise', 'other', 'sinus'] and not m['multilabel']
    run = m['runs'][0]
    assert run['test_records'] + run['train_records'] == m['records'] == 34 and 0 < m['params'] < 1_000_000
    ev = json.loads((renamed/'r.eval-test'/'metrics.json').read_text())
    assert ev['record']['n'] == run['test_records'] and abs(ev['record']['mean_f1'] - run['mean_f1']) < 1e-9   # the same fold, rescored

def test_twelve_leads_several_labels(twelve):
    m = json.loads((twelve/'r.metrics.json').read_text())
    assert m['multilabel'] and 'right_bundle_branch_block' in m['labels'] and m['records'] == 21
    c = _contract(twelve/'r.onnx')
    assert c['n_leads'] == 12 and c['leads'][:3] == ['I', 'II', 'III'] and all(0.05 <= t <= 0.95 for t in c['thresholds'])

def _contract(model:Path)->dict:
    from ecgnb.contract import ort_session, read_metadata
    return read_metadata(ort_session(model).get_modelmeta().custom_metadata_map)

def _served_like_evaluate(root:Path, src:Path, leads=None):
    "Every held-out record, sent whole to /infer (samples) and /infer/file (a zip of its WFDB files), gets evaluate's probabilities."
    from ecgnb.loaders import read_record
    rows = pd.read_csv(root/'r.eval-test'/'records.csv')
    labels = [c[2:] for c in rows.columns if c.startswith('p_')]
    s = Server([BIN/'ecgnb', 'serve', '--model', root/'r.onnx', '--port', '{port}', '--workers', 1], {}, root/'serve.log')
    try:
        assert httpx.get(s.url + '/model').json()['kind'] == 'record'
        for _, row in rows.iterrows():
            rec = read_record(src/row['record'], lead=leads)
            want = np.array([row[f"p_{l}"] for l in labels])
            body = {'signal': rec.signal.tolist(), 'fs': rec.fs} | ({'leads': rec.leads} if leads else {})
            r = httpx.post(s.url + '/infer', json=body, timeout=60).json()
            np.testing.assert_allclose([r['probabilities'][l] for l in labels], want, atol=1e-4, err_msg=row['record'])
            if r['status'] == 'ok': assert ';'.join(r['prediction']) == (row['predicted'] if isinstance(row['predicted'], str) else '')
            stem, buf = Path(row['record']).stem, io.BytesIO()
            with zipfile.ZipFile(buf, 'w') as z:
                for f in src.glob(stem + '.*'): z.write(f, f.name)
            rf = httpx.post(s.url + '/infer/file', files={'file': (stem + '.zip', buf.getvalue())}, timeout=60).json()
            assert rf['probabilities'] == r['probabilities'], row['record']
    finally: s.stop()

def test_served_answers_equal_evaluation(renamed):
    _served_like_evaluate(renamed, sample('cinc2017'))

def test_twelve_lead_served_answers_equal_evaluation(twelve):
    _served_like_evaluate(twelve, sample('cpsc2018'), leads='standard')

def test_audit_and_publish(renamed, tmp_path):
    for model in ('r.pt', 'r.onnx'):
        out = ok(ecgnb('audit', renamed/model)).stdout
        assert '34 records of 34 patients read whole from labels.json' in out and 'matches' in out and 'None' not in out, out
    r = ok(ecgnb('publish', '--model', renamed/'r.onnx', '--repo-id', 'someone/ecg-record', '--dry-run', '--out', tmp_path/'hf'))
    card = (tmp_path/'hf'/'README.md').read_text()
    assert 'whole-record ECG classifier' in card and 'record-model' in card and '`ecgnb evaluate` on' in card and 'F1 sinus (records)' in card

def _main(*args)->tuple[int, str]:
    "`ecgnb <args>` in this process (the command line's own `main`): exit status and standard error. A refusal needs no new process."
    from ecgnb.cli import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()): code = main([str(a) for a in args])
    return code, err.getvalue()

def test_flags_that_do_not_apply_are_refused(renamed):
    for args, flag in ((('train', '--data', renamed/'labels.json', '--patience', 3), '--patience'),
                       (('train', '--data', renamed/'labels.json', '--model', 'resnet'), '--model'),
                       (('evaluate', '--checkpoint', renamed/'r.pt', '--data', renamed/'labels.json', '--batch', 8), '--batch'),
                       (('export', '--checkpoint', renamed/'r.pt', '--format', 'torchscript'), '--format'),
                       (('export', '--checkpoint', renamed/'r.pt', '--quantize'), '--quantize')):
        code, err = _main(*args)
        assert code == 2 and f"{flag} does not apply to the record model" in err and len(err.strip().splitlines()) == 1, err
    code, err = _main('evaluate', '--checkpoint', renamed/'r.pt', '--data', renamed/'labels.json', '--split', 'val')
    assert code == 2 and "split 'test'" in err
    r = ecgnb('train', '--data', renamed/'labels.json', '--patience', 3)   # and once through the installed command, as a user meets it
    assert r.returncode == 2 and r.stderr.startswith('ecgnb train: error: --patience does not apply to the record model') and len(r.stderr.strip().splitlines()) == 1, r.stderr

def test_unreadable_records_are_named(tmp_path):
    "A truncated .mat, a garbage header and a REFERENCE.csv row without a file: each named, with its reason."
    src, d = sample('cinc2017'), tmp_path/'c'
    d.mkdir()
    names = sorted(p.stem for p in src.glob('*.hea'))
    for n in names:
        for ext in ('.hea', '.mat'): (d/f"{n}{ext}").write_bytes((src/f"{n}{ext}").read_bytes())
    (d/f"{names[0]}.mat").write_bytes((src/f"{names[0]}.mat").read_bytes()[:200])
    (d/f"{names[1]}.hea").write_text('this is not a header\n')
    (d/'REFERENCE.csv').write_text((src/'REFERENCE.csv').read_text() + 'A09999,N\n')
    r = ok(ecgnb('train', '--recipe', 'cinc2017', '--data', d, '--epochs', 1, '--save', tmp_path/'r.pt'))
    assert f"skipped {names[0]}.hea" in r.stdout and f"skipped {names[1]}.hea" in r.stdout, r.stdout[:3000]
    assert 'listed without a file (1): A09999' in r.stdout and '32 records' in r.stdout

NO_TORCH = """
import sys, json, importlib.abc
class NotInstalled(importlib.abc.MetaPathFinder):   # as in the service image: neither torch nor scikit-learn can be imported
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in ('torch', 'sklearn'): raise ImportError(f"{name} is not installed here")
sys.meta_path.insert(0, NotInstalled())
import numpy as np
from fastapi.testclient import TestClient
from ecgnb.service import create_app, Settings
out = {}
for name in sys.argv[1:]:
    with TestClient(create_app(Settings(model=name))) as c:
        x = np.load(name + '.signal.npy')
        r = c.post('/infer', json={'signal': x.tolist(), 'fs': 300}).json()
        out[name] = [c.get('/model').json()['kind'], r['status'], r['probabilities']]
assert not [m for m in sys.modules if m.split('.')[0] in ('torch', 'sklearn')]
print(json.dumps(out))
"""

def test_service_without_torch(renamed, tmp_path):
    "Both kinds of exported model serve with torch and scikit-learn unimportable, and answer as the full install does."
    from ecgnb.engine import demo_windows_model, Engine
    from ecgnb.loaders import read_record
    win = demo_windows_model(tmp_path/'w.onnx', ['II'])
    x = read_record(sample('cinc2017')/'A00254.hea').signal[0]
    for m in (win, renamed/'r.onnx'): np.save(f"{m}.signal.npy", x)
    r = subprocess.run([sys.executable, '-c', NO_TORCH, str(win), str(renamed/'r.onnx')], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert [got[str(win)][0], got[str(renamed/'r.onnx')][0]] == ['windows', 'record']
    for m in (win, renamed/'r.onnx'):
        want = Engine(m).infer(x[None], 300.0)
        assert got[str(m)][1] == want['status'] and got[str(m)][2] == want['probabilities']

def fakes(fs=300.0, n=9000):
    "What is not an ECG: a flat line, a lead off, a saturated trace, white noise, a sine, a square wave, a spike train."
    from ecgnb.loaders import read_record
    t, rng = np.arange(n)/fs, np.random.default_rng(0)
    ecg = read_record(sample('cinc2017')/'A00254.hea').signal[0, :n]
    return dict(flat=np.zeros(n), lead_off=np.where(t < 15, 0.0, 3.0) + 0.001*rng.standard_normal(n),
                saturated=np.clip(6*ecg + 3*np.sin(2*np.pi*0.3*t), -1, 1), noise=0.3*rng.standard_normal(n),
                sine=np.sin(2*np.pi*t), square=np.sign(np.sin(2*np.pi*1.2*t)), spikes=np.sin(2*np.pi*1.2*t)**15)

def test_what_is_not_an_ecg_is_inconclusive(renamed, tmp_path):
    "Both kinds, through /infer and /infer/file: every fake inconclusive with a reason; the real record is answered."
    from ecgnb.engine import demo_windows_model
    from ecgnb.loaders import read_record
    win = demo_windows_model(tmp_path/'w.onnx', ['II'])
    for model in (win, renamed/'r.onnx'):
        s = Server([BIN/'ecgnb', 'serve', '--model', model, '--port', '{port}', '--workers', 1], {}, tmp_path/f"{Path(model).stem}.log")
        try:
            for name, x in fakes().items():
                buf = io.BytesIO(); np.save(buf, x.astype(np.float32))
                for r in (httpx.post(s.url + '/infer', json={'signal': x.tolist(), 'fs': 300}, timeout=60).json(),
                          httpx.post(s.url + '/infer/file', files={'file': (f"{name}.npy", buf.getvalue())}, data={'fs': '300'}, timeout=60).json()):
                    assert r['status'] == 'inconclusive' and r['prediction'] == [] and r['reason'], (model, name, r.get('status'))
            real = read_record(sample('cinc2017')/'A00254.hea').signal[0]
            assert httpx.post(s.url + '/infer', json={'signal': real.tolist(), 'fs': 300}, timeout=60).json()['status'] == 'ok'
        finally: s.stop()

def test_twelve_lead_page_with_a_record_model(twelve, chromium, tmp_path):
    "The page takes a twelve-lead record for a record model too: it answers, and draws the 3 x 4 layout with the rhythm strip."
    import re
    from conftest import browse
    from test_service import ecg12
    x, fs, names = ecg12()
    k = int(fs//250)
    hash_ = f"#fs={fs/k:g}&leads={','.join(names)}&signal=" + '|'.join(','.join(f"{v:.3f}" for v in row[::k]) for row in x)
    s = Server([BIN/'ecgnb', 'serve', '--model', twelve/'r.onnx', '--port', '{port}', '--workers', 1], {}, tmp_path/'serve.log')
    try: dom = browse(chromium, s.url + '/' + hash_, tmp_path)
    finally: s.stop()
    m = re.search(r'<div id="result"[^>]*>([^<]*)</div>', dom)
    assert m and m.group(1).startswith(('Prediction: ', 'Inconclusive')), dom[-3000:]
    assert 'data-layout="3x4"' in re.search(r'<canvas id="plot"[^>]*>', dom).group(0)
