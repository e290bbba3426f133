"`ecgnb fixtures` and `ecgnb check-waveforms` as a user runs them: files written, table printed, exit status."
import json
import numpy as np
import pytest
from conftest import ecgnb, need, sample

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
    "12-lead fixtures pass too: ST elevation is judged by the J-point criteria over contiguous leads."
    r = ecgnb('fixtures', '--out', tmp_path/'fx12', '--n-per-class', 1, '--duration', 8, '--leads', 12)
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path/'fx12'/'normal_00.npy').shape == (12, 2000)
    r = ecgnb('check-waveforms', tmp_path/'fx12')
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'J-point elevation in II-III, II-aVF, III-aVF' in next(l for l in r.stdout.splitlines() if l.startswith('st_elevation_00'))

def test_cpsc_st_elevation_with_and_without_demographics(tmp_path):
    "Real 12-lead records: the V2-V3 threshold follows age and sex when the import kept them, the strictest otherwise; neither is printed."
    import shutil
    src = need('cpsc2018')                                   # these four records are not all in the committed excerpt
    d = tmp_path/'cpsc'; d.mkdir()
    for n in ('A0147', 'A0032', 'A0133', 'A0002'):        # STE man 52 (V2-V3), STE man 30 (V4-V6), normal with J 0.11 mV in V2-V3, normal
        for ext in ('.hea', '.mat'): shutil.copy(src/f'{n}{ext}', d)
    def run(*flags):
        r = ecgnb('import-physionet', '--kind', 'cinc2020', '--input-dir', d, *flags)
        assert r.returncode == 0, r.stderr
        r = ecgnb('check-waveforms', d, '--report', tmp_path/'rep.json')
        rows = json.loads((tmp_path/'rep.json').read_text())
        assert not {'age', 'sex'} & {k for row in rows for k in row} and 'male' not in r.stdout
        return {row['file'].split('.')[0]: (row['status'], row['reason']) for row in rows}
    kept = run('--keep-demographics')
    assert {k: s for k, (s, _) in kept.items()} == dict(A0147='PASS', A0032='PASS', A0133='PASS', A0002='PASS'), kept
    assert 'V2-V3' in kept['A0147'][1] and 'V2-V3 0.20 mV' in kept['A0147'][1]
    assert run() == kept                                     # not in labels.json: check-waveforms reads the headers' #Age and #Sex
    for n in ('A0147', 'A0032', 'A0133', 'A0002'):        # headers without them: the strictest V2-V3 threshold
        h = d/f'{n}.hea'; h.write_text(''.join(l for l in h.read_text().splitlines(True) if not l.startswith(('#Age', '#Sex'))))
    strict = run()
    assert strict['A0147'][0] == 'FAIL' and 'the strictest' in strict['A0147'][1], strict['A0147']
    assert strict['A0032'][0] == 'PASS'

def _st_calls(src, tmp_path, *flags):
    "check-waveforms on a labels.json that import-physionet wrote beside (not into) `src`: {(file, label): (status, ST call, reason)}."
    lab, rep = tmp_path/f'labels{len(flags)}.json', tmp_path/f'rep{len(flags)}.json'
    r = ecgnb('import-physionet', '--kind', 'cinc2020', '--input-dir', src, '--labels-out', lab, *flags)
    assert r.returncode == 0, r.stderr
    assert ('"age"' in lab.read_text()) == bool(flags)
    r = ecgnb('check-waveforms', lab, '--report', rep)
    rows = json.loads(rep.read_text())
    assert not {'age', 'sex'} & {k for row in rows for k in row} and 'male' not in r.stdout.lower()
    return {(row['file'], row['label']): (row['status'], row.get('st_elevated'), row['reason']) for row in rows}

@pytest.mark.parametrize('where', ['excerpt', 'full'])
def test_cpsc_demographics_from_headers(where, tmp_path):
    "A labels.json without age and sex gives the ST calls of one with them: check-waveforms reads #Age and #Sex from the headers."
    src = sample('cpsc2018') if where == 'excerpt' else need('cpsc2018')
    without, kept = _st_calls(src, tmp_path), _st_calls(src, tmp_path, '--keep-demographics')
    assert without == kept
    called = {f.split('.')[0] for (f, lab), (s, _, _) in kept.items() if lab == 'st_elevation' and s == 'PASS'}
    n_ste = sum(lab == 'st_elevation' for _, lab in kept)
    if where == 'excerpt': assert (called, n_ste) == ({'A0021', 'A0034'}, 2)
    else: assert (len(called), n_ste) == (10, 13), sorted(called)
