"""The whole-record recipe as a user runs it on real CinC 2017 records: `ecgnb train --recipe`, `ecgnb evaluate`,
`ecgnb export`, `ecgnb serve`; /infer and /infer/file answer each record as `ecgnb evaluate` scored it."""
import io, json, zipfile
from pathlib import Path
import numpy as np, pandas as pd, pytest, httpx
from conftest import ecgnb, BIN, sample
from test_service import Server

PER_CLASS = dict(normal=10, afib=6, other_rhythm=6, noisy=5)   # small, with every class in each of the 5 folds

@pytest.fixture(scope='module')
def recipe(tmp_path_factory):
    "A 2-epoch cinc2017 recipe trained on 27 real records, evaluated on its held-out fold and exported."
    src = sample('cinc2017')   # the excerpt committed in data/samples: the same records on every machine
    from ecgnb.physionet import import_physionet
    root = tmp_path_factory.mktemp('recipe')
    lab, _, _ = import_physionet('cinc2017', src, root/'labels.json')
    data = json.loads(lab.read_text()); left = dict(PER_CLASS); keep = []
    for e in data['records']:
        l = e['label'] if isinstance(e['label'], str) else e['label'][0]
        if left.get(l, 0) > 0: keep.append(e); left[l] -= 1
    data['records'] = keep; lab.write_text(json.dumps(data))
    steps = [('train', '--recipe', 'cinc2017', '--data', lab, '--epochs', 2, '--save', root/'r.pt', '--quiet'),
             ('evaluate', '--checkpoint', root/'r.pt', '--data', lab, '--split', 'test', '--out', root/'eval', '--n-boot', 50),
             ('export', '--checkpoint', root/'r.pt', '--out', root/'r.onnx')]
    for args in steps:
        r = ecgnb(*args)
        assert r.returncode == 0, f"ecgnb {args[0]} failed: {r.stderr[-3000:]}"
    return root, src

def test_training_writes_scores_on_the_held_out_fold(recipe):
    root, _ = recipe
    m = json.loads((root/'r.metrics.json').read_text())
    assert m['records'] == sum(PER_CLASS.values()) and m['test_fold'] == 0 and len(m['runs']) == 1
    run = m['runs'][0]
    assert run['test_records'] + run['train_records'] == m['records'] and set(run['per_class']) == set(PER_CLASS)
    assert 0 < m['params'] < 1_000_000
    ev = json.loads((root/'eval'/'metrics.json').read_text())
    assert ev['n'] == run['test_records'] and abs(ev['mean_f1'] - run['mean_f1']) < 1e-9   # evaluate rescored the same fold

def test_served_answers_equal_evaluation(recipe):
    "Each held-out record, sent whole to /infer (samples) and /infer/file (WFDB zip), gets evaluate's probabilities."
    from ecgnb.loaders import read_record
    root, src = recipe
    rows = pd.read_csv(root/'eval'/'records.csv')
    s = Server([BIN/'ecgnb', 'serve', '--model', root/'r.onnx', '--port', '{port}', '--workers', 1], {}, root/'serve.log')
    try:
        assert httpx.get(s.url + '/model').json()['kind'] == 'record'
        for _, row in rows.iterrows():
            rec = read_record(src/row['record'])
            want = np.array([row[f"p_{l}"] for l in ('normal', 'afib', 'other_rhythm', 'noisy')])
            r = httpx.post(s.url + '/infer', json={'signal': rec.signal[0].tolist(), 'fs': rec.fs}, timeout=60).json()
            got = np.array([r['probabilities'][l] for l in ('normal', 'afib', 'other_rhythm', 'noisy')])
            np.testing.assert_allclose(got, want, atol=2e-4, err_msg=row['record'])
            assert r['prediction'] == [row['predicted']] and r['status'] == 'ok'
            stem = Path(row['record']).stem
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, 'w') as z:
                for f in src.glob(stem + '.*'): z.write(f, f.name)
            rf = httpx.post(s.url + '/infer/file', files={'file': (stem + '.zip', buf.getvalue())}, timeout=60).json()
            assert rf['probabilities'] == r['probabilities'], row['record']
        short = httpx.post(s.url + '/infer', json={'signal': [0.0]*600, 'fs': 300}).json()
        assert 'at least 5 s' in json.dumps(short)
        batch = httpx.post(s.url + '/infer/batch', json={'windows': [[0.0]*1500], 'fs': 300})
        assert batch.status_code == 422 and 'whole records' in batch.text
    finally: s.stop()
