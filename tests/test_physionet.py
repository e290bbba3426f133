"`ecgnb import-physionet` from the command line: real CinC 2017 and MIT-BIH samples, a PTB-XL-shaped fixture, bad folders."
import json, stat
import pytest
from conftest import ecgnb
from ecgnb.core import samples_dir
from ecgnb.loaders import read_labels, load_folder
from ecgnb.physionet import ptbxl_fixture

def test_cinc2017_real(tmp_path):
    if not samples_dir('cinc2017-dev'): pytest.skip('../shared/data/cinc2017-dev is absent')
    r = ecgnb('import-physionet', '--kind', 'cinc2017', '--input-dir', samples_dir('cinc2017-dev'), '--labels-out', tmp_path/'labels.json')
    assert r.returncode == 0, r.stderr
    assert '800 records, 800 patients' in r.stdout and 'afib 150' in r.stdout and 'noisy 50' in r.stdout
    ents = read_labels(tmp_path)
    assert len(ents) == 800 and all(e.patient_id == e.file[:-4] for e in ents)

def test_mitdb_real_segments(tmp_path):
    if not samples_dir('mitdb'): pytest.skip('../shared/data/mitdb is absent')
    r = ecgnb('import-physionet', '--kind', 'mitdb', '--input-dir', samples_dir('mitdb'), '--labels-out', tmp_path/'m.json')
    assert r.returncode == 0, r.stderr
    (e,) = read_labels(tmp_path/'m.json')
    assert e.segments[0]['start'] == 0 and e.segments[-1]['end'] == 650000 and ['arrhythmia'] in [s['label'] for s in e.segments]

def test_read_only_input_is_refused(tmp_path):
    if not samples_dir('mitdb') or samples_dir('mitdb').stat().st_mode & 0o222: pytest.skip('needs the read-only shared samples')
    r = ecgnb('import-physionet', '--kind', 'mitdb', '--input-dir', samples_dir('mitdb'))
    assert r.returncode == 2 and 'read-only' in r.stderr and 'Traceback' not in r.stderr
    assert not (samples_dir('mitdb')/'labels.json').exists()

def test_ptbxl_fixture_pseudonymized(tmp_path):
    d = ptbxl_fixture(tmp_path/'ptbxl', n=10)
    salt = tmp_path/'keys'/'salt'
    r = ecgnb('import-physionet', '--kind', 'ptbxl', '--input-dir', d, '--pseudonymize', '--salt-file', salt)
    assert r.returncode == 0, r.stderr
    assert salt.exists() and stat.S_IMODE(salt.stat().st_mode) == 0o600
    text = (d/'labels.json').read_text()
    assert '"150' not in text and 'strat_fold' in text
    recs, errs = load_folder(d)
    assert len(recs) == 10 and not errs and all(len(r.patient_id) == 17 for r in recs)
    again = tmp_path/'again.json'
    ecgnb('import-physionet', '--kind', 'ptbxl', '--input-dir', d, '--pseudonymize', '--salt-file', salt, '--labels-out', again)
    assert [e.patient_id for e in read_labels(again)] == [e.patient_id for e in read_labels(d)]   # same salt, same pseudonyms

@pytest.mark.parametrize('kind,setup,reason', [
    ('cinc2017', lambda d: (d/'REFERENCE.csv').write_text('A00001,Z\n'), "line 1: unknown label 'Z'"),
    ('cinc2017', lambda d: (d/'REFERENCE.csv').write_text('A00001;N;x\n'), 'expected record,label'),
    ('cinc2017', lambda d: None, 'REFERENCE.csv: not found'),
    ('mitdb', lambda d: None, r'no WFDB headers'),
    ('ptbxl', lambda d: (d/'ptbxl_database.csv').write_text('ecg_id,patient_id\n1,2\n'), 'scp_statements.csv: not found'),
])
def test_bad_folders_are_one_line(tmp_path, kind, setup, reason):
    d = tmp_path/'in'; d.mkdir(); setup(d)
    r = ecgnb('import-physionet', '--kind', kind, '--input-dir', d)
    assert r.returncode == 2 and 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert reason in r.stderr, r.stderr
    assert not (d/'labels.json').exists()

def test_ptbxl_bad_scp_codes(tmp_path):
    d = ptbxl_fixture(tmp_path/'p', n=3)
    db = d/'ptbxl_database.csv'
    db.write_text(db.read_text().replace("{'NORM': 100.0, 'SR': 0.0}", 'NORM=100', 1).replace('"NORM=100"', 'NORM=100'))
    r = ecgnb('import-physionet', '--kind', 'ptbxl', '--input-dir', d)
    assert r.returncode in (0, 2) and 'Traceback' not in r.stderr
