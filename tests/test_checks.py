"`ecgnb fixtures` and `ecgnb check-waveforms` as a user runs them: files written, table printed, exit status."
import json
import numpy as np
import pytest
from conftest import ecgnb

@pytest.fixture(scope='module')
def fixtures(tmp_path_factory):
    "A small fixture folder written by the real command."
    out = tmp_path_factory.mktemp('fx')/'fixtures'
    r = ecgnb('fixtures', '--out', out, '--n-per-class', 2, '--duration', 8, '--seed', 3)
    assert r.returncode == 0, r.stderr
    return out

def test_fixtures_written(fixtures):
    m = json.loads((fixtures/'manifest.json').read_text())
    labels = json.loads((fixtures/'labels.json').read_text())
    assert len(m['files']) == len(labels) == 10
    assert m['parameters'] == dict(n_per_class=2, duration=8.0, fs=250.0, seed=3, leads=1, noise='medium')
    f = m['files'][0]
    import hashlib
    assert hashlib.sha256((fixtures/f['file']).read_bytes()).hexdigest() == f['sha256']
    x = np.load(fixtures/f['file'])
    assert x.shape == (1, 2000) and x.dtype == np.float32
    assert json.loads((fixtures/f['file'].replace('.npy', '.meta.json')).read_text())['fs'] == 250.0

def test_fixtures_deterministic(fixtures, tmp_path):
    r = ecgnb('fixtures', '--out', tmp_path/'again', '--n-per-class', 2, '--duration', 8, '--seed', 3)
    assert r.returncode == 0, r.stderr
    a = json.loads((fixtures/'manifest.json').read_text())['files']
    b = json.loads((tmp_path/'again'/'manifest.json').read_text())['files']
    assert [f['sha256'] for f in a] == [f['sha256'] for f in b]

def test_check_passes_on_fixtures(fixtures):
    r = ecgnb('check-waveforms', fixtures)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ['file', 'label', 'result']
    assert lines[-1] == '10 checks: 10 passed, 0 failed, 0 skipped'

def test_check_fails_on_wrong_labels(fixtures, tmp_path):
    import shutil
    d = tmp_path/'wrong'; shutil.copytree(fixtures, d)
    labels = json.loads((d/'labels.json').read_text())
    for e in labels:
        if e['label'] == ['normal']: e['label'] = ['afib']          # sinus rhythm is not AF
        elif e['label'] == ['afib']: e['label'] = ['normal']        # AF is not a regular rhythm
    (d/'labels.json').write_text(json.dumps(labels))
    r = ecgnb('check-waveforms', d, '--report', tmp_path/'rep.json')
    assert r.returncode == 1, r.stdout + r.stderr
    rows = json.loads((tmp_path/'rep.json').read_text())
    failed = {row['file'] for row in rows if row['status'] == 'FAIL'}
    assert failed == {e['file'] for e in labels if e['label'][0] in ('normal', 'afib')}

def test_bad_file_is_a_failure(fixtures, tmp_path):
    import shutil
    d = tmp_path/'bad'; shutil.copytree(fixtures, d)
    (d/'normal_00.npy').write_bytes(b'not an array')
    r = ecgnb('check-waveforms', d)
    assert r.returncode == 1
    row = next(l for l in r.stdout.splitlines() if l.startswith('normal_00.npy'))
    assert 'FAIL' in row and 'npy' in row

def test_user_errors(tmp_path):
    r = ecgnb('check-waveforms', tmp_path/'missing')
    assert r.returncode == 2 and 'folder not found' in r.stderr
    (tmp_path/'mine').mkdir(); (tmp_path/'mine'/'keep.csv').write_text('1\n2\n')
    r = ecgnb('fixtures', '--out', tmp_path/'mine')
    assert r.returncode == 2 and 'not empty' in r.stderr
    assert (tmp_path/'mine'/'keep.csv').read_text() == '1\n2\n'

def test_twelve_leads(tmp_path):
    "12-lead fixtures pass too: the ST criterion is read over contiguous leads."
    r = ecgnb('fixtures', '--out', tmp_path/'fx12', '--n-per-class', 1, '--duration', 8, '--leads', 12)
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path/'fx12'/'normal_00.npy').shape == (12, 2000)
    r = ecgnb('check-waveforms', tmp_path/'fx12')
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'in two inferior leads' in next(l for l in r.stdout.splitlines() if l.startswith('st_elevation_00'))
