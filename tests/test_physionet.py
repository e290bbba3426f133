"`ecgnb import-physionet` from the command line: real CinC 2017 and MIT-BIH samples, PTB-XL-shaped fixtures, bad folders."
import json, stat
import pytest
from conftest import ecgnb, sample, need
from ecgnb.labels import read_labels, load_folder
from ecgnb.physionet import ptbxl_fixture, ptbxl_split

def test_cinc2017_real(tmp_path):
    "The committed CinC 2017 excerpt: 34 records of the four classes, one patient each."
    r = ecgnb('import-physionet', '--kind', 'cinc2017', '--input-dir', sample('cinc2017'), '--labels-out', tmp_path/'labels.json')
    assert r.returncode == 0, r.stderr
    assert '34 records, 34 patients' in r.stdout and 'normal 12, afib 8, noisy 6, other_rhythm 8' in r.stdout, r.stdout
    ents = read_labels(tmp_path)
    assert len(ents) == 34 and all(e.patient_id == e.file[:-4] for e in ents)
    assert {e.file[:-4]: e.labels for e in ents}['A00264'] == ['afib']

def test_cinc2017_dev_full(tmp_path):
    "The full 800-record CinC 2017 dev set and its class counts."
    r = ecgnb('import-physionet', '--kind', 'cinc2017', '--input-dir', need('cinc2017-dev'), '--labels-out', tmp_path/'labels.json')
    assert r.returncode == 0, r.stderr
    assert '800 records, 800 patients' in r.stdout and 'afib 150' in r.stdout and 'noisy 50' in r.stdout
    ents = read_labels(tmp_path)
    assert len(ents) == 800 and all(e.patient_id == e.file[:-4] for e in ents)

def test_mitdb_real_segments(tmp_path):
    "The committed excerpt (first 10 minutes of record 100) is one normal segment over its 216 000 samples."
    r = ecgnb('import-physionet', '--kind', 'mitdb', '--input-dir', sample('mitdb'), '--labels-out', tmp_path/'m.json')
    assert r.returncode == 0, r.stderr
    (e,) = read_labels(tmp_path/'m.json')
    assert [(s['start'], s['end'], s['label']) for s in e.segments] == [(0, 216000, ['normal'])]

def test_mitdb_full_record_segments(tmp_path):
    "The whole record 100: its premature ventricular beat becomes an arrhythmia segment."
    r = ecgnb('import-physionet', '--kind', 'mitdb', '--input-dir', need('mitdb'), '--labels-out', tmp_path/'m.json')
    assert r.returncode == 0, r.stderr
    (e,) = read_labels(tmp_path/'m.json')
    assert e.segments[0]['start'] == 0 and e.segments[-1]['end'] == 650000 and ['arrhythmia'] in [s['label'] for s in e.segments]

def test_read_only_input_is_refused(tmp_path):
    "A read-only copy of the committed MIT-BIH excerpt: labels.json cannot go beside the records (also for root)."
    import shutil
    ro = shutil.copytree(sample('mitdb'), tmp_path/'mitdb')
    ro.chmod(0o555)
    try:
        r = ecgnb('import-physionet', '--kind', 'mitdb', '--input-dir', ro)
        assert r.returncode == 2 and 'read-only' in r.stderr and 'Traceback' not in r.stderr
        assert not (ro/'labels.json').exists()
    finally: ro.chmod(0o755)

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
    ('cinc2020', lambda d: None, r'no WFDB headers'),
    ('cinc2020', lambda d: (d/'A1.hea').write_text('A1 1 500 10\nA1.mat 16+24 1000/mV 16 0 0 0 0 I\n#Dx: AF\n'), 'no usable record (1 skipped: A1.hea (signal file A1.mat not found))'),
    ('ptbxl', lambda d: (d/'ptbxl_database.csv').write_text('ecg_id,patient_id\n1,2\n'), 'scp_statements.csv: not found'),
])
def test_bad_folders_are_one_line(tmp_path, kind, setup, reason):
    d = tmp_path/'in'; d.mkdir(); setup(d)
    r = ecgnb('import-physionet', '--kind', kind, '--input-dir', d)
    assert r.returncode == 2 and 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert reason in r.stderr, r.stderr
    assert not (d/'labels.json').exists()

@pytest.mark.parametrize('spoil,reason', [
    (lambda d: (d/'ptbxl_database.csv').write_text((d/'ptbxl_database.csv').read_text().replace('"{\'NORM\': 100.0, \'SR\': 0.0}"', 'NORM=100', 1)),
     "ptbxl_database.csv: ecg_id 1: scp_codes must be a dict of statements and likelihoods 0-100"),
    (lambda d: (d/'ptbxl_database.csv').write_text((d/'ptbxl_database.csv').read_text().replace(',strat_fold,', ',fold,', 1)),
     "ptbxl_database.csv: missing column 'strat_fold'"),
    (lambda d: (d/'records100/00000/00002_lr.hea').unlink(), 'records100/00000/00002_lr.hea: not found, but ptbxl_database.csv lists it'),
])
def test_ptbxl_bad_input_is_one_line(tmp_path, spoil, reason):
    d = ptbxl_fixture(tmp_path/'p', n=3)
    spoil(d)
    r = ecgnb('import-physionet', '--kind', 'ptbxl', '--input-dir', d)
    assert r.returncode == 2 and 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert reason in r.stderr, r.stderr
    assert not (d/'labels.json').exists()

def test_ptbxl_folder_end_to_end(tmp_path):
    "A PTB-XL-shaped folder through the command: labels, strat_fold kept, folds 9 and 10 as validation and test, patients in one fold."
    d = ptbxl_fixture(tmp_path/'ptbxl', n=22, high_rate=True)
    r = ecgnb('import-physionet', '--kind', 'ptbxl', '--input-dir', d, '--labels-out', tmp_path/'out'/'labels.json')
    assert r.returncode == 0, r.stderr
    assert '22 records, 12 patients' in r.stdout and 'normal 8, st_elevation 2, arrhythmia 4, afib 2, tachycardia 4, abnormal_qrs 4' in r.stdout, r.stdout
    assert 'strat_fold kept: 1-8 train 16, 9 val 3, 10 test 3 records' in r.stdout, r.stdout
    ents = read_labels(tmp_path/'out'/'labels.json')
    assert ents[0].file == 'records100/00000/00001_lr.hea' and ents[0].labels == ['normal', 'sinus_rhythm'] and ents[0].strat_fold == 10
    assert [e.labels for e in ents[2:8:5]] == [['afib', 'abnormal_qrs'], ['arrhythmia', 'anteroseptal_myocardial_infarction', 'subendocardial_injury_in_anteroseptal_leads']]
    folds = {}
    for e in ents: folds.setdefault(e.patient_id, set()).add(e.strat_fold)
    assert all(len(f) == 1 for f in folds.values()) and {f for fs in folds.values() for f in fs} == set(range(1, 11))
    split = ptbxl_split([e.patient_id for e in ents], [e.strat_fold for e in ents])
    assert {k: sorted({e.strat_fold for e in ents if e.patient_id in v}) for k, v in split.items()} == dict(train=list(range(1, 9)), val=[9], test=[10])
    assert all(e.age is None and e.sex is None for e in ents)
    recs, errs = load_folder(tmp_path/'out'/'labels.json')
    assert len(recs) == 22 and not errs and recs[0].fs == 100 and recs[0].meta['strat_fold'] == 10

def test_ptbxl_high_rate_demographics_likelihood(tmp_path):
    d = ptbxl_fixture(tmp_path/'ptbxl', n=6, high_rate=True)
    r = ecgnb('import-physionet', '--kind', 'ptbxl', '--input-dir', d, '--labels-out', tmp_path/'hr.json', '--high-rate',
              '--keep-demographics', '--min-likelihood', '50')
    assert r.returncode == 0, r.stderr
    assert 'statements below min likelihood: 1' in r.stdout and 'age and sex kept' in r.stdout and '300' not in r.stdout, r.stdout
    ents = read_labels(tmp_path/'hr.json')
    assert [e.file for e in ents][:2] == ['records500/00000/00001_hr.hea', 'records500/00000/00002_hr.hea']
    assert [(e.age, e.sex) for e in ents][:5] == [(56, 'male'), (19, 'female'), (19, 'female'), (90, 'male'), (90, 'male')]
    assert 'inferior_myocardial_infarction' not in ents[5].labels and 'sinus_rhythm' in ents[5].labels
    recs, errs = load_folder(tmp_path/'hr.json')
    assert not errs and recs[0].fs == 500
    (d/'records500/00000/00003_hr.dat').unlink()
    r = ecgnb('import-physionet', '--kind', 'ptbxl', '--input-dir', d, '--labels-out', tmp_path/'hr2.json', '--high-rate')
    assert r.returncode == 2 and 'records500/00000/00003_hr.dat: not found' in r.stderr and 'Traceback' not in r.stderr, r.stderr

def _cinc2020_record(folder, name, comments):
    "A 12-lead 500 Hz record written by wfdb whose header then reads like another institution's: `16x1+24` .mat samples, given comments."
    import numpy as np, wfdb
    folder.mkdir(parents=True, exist_ok=True)
    sig = np.sin(np.arange(1000)[:, None] / (20 + np.arange(12))) * 0.5
    wfdb.wrsamp(name, fs=500, units=['mV'] * 12, sig_name=['I', 'II', 'III', 'aVR', 'aVL', 'aVF'] + [f'V{i}' for i in range(1, 7)],
                p_signal=sig, fmt=['16'] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(folder))
    dat, hea = folder/f'{name}.dat', folder/f'{name}.hea'
    (folder/f'{name}.mat').write_bytes(b'\0' * 24 + dat.read_bytes()); dat.unlink()
    lines = [l.replace(f'{name}.dat 16 ', f'{name}.mat 16x1+24 ') for l in hea.read_text().splitlines() if l.strip() and not l.startswith('#')]
    hea.write_text('\n'.join(lines + comments) + '\n')

def test_cinc2020_cpsc2018_real(tmp_path):
    "The committed CPSC 2018 excerpt (21 12-lead records) as the 2020 challenge distributes it: diagnoses read, age and sex left out."
    r = ecgnb('import-physionet', '--kind', 'cinc2020', '--input-dir', sample('cpsc2018'), '--labels-out', tmp_path/'labels.json')
    assert r.returncode == 0, r.stderr
    assert '21 records, 21 patients' in r.stdout and 'normal 4, st_elevation 2, arrhythmia 2, afib 5' in r.stdout, r.stdout
    assert 'right_bundle_branch_block 4' in r.stdout and 'skipped' not in r.stdout and 'unknown' not in r.stdout
    text = (tmp_path/'labels.json').read_text()
    assert '"age"' not in text and '"sex"' not in text and 'Male' not in r.stdout
    recs, errs = load_folder(tmp_path/'labels.json')
    assert len(recs) == 21 and not errs and recs[0].fs == 500

def test_cinc2020_cpsc2018_full(tmp_path):
    "The 150 CPSC 2018 records of the full folder and their label counts."
    r = ecgnb('import-physionet', '--kind', 'cinc2020', '--input-dir', need('cpsc2018'), '--labels-out', tmp_path/'labels.json')
    assert r.returncode == 0, r.stderr
    assert '150 records, 150 patients' in r.stdout and 'normal 20, st_elevation 13, arrhythmia 31, afib 24' in r.stdout, r.stdout
    assert 'right_bundle_branch_block 32' in r.stdout and 'skipped' not in r.stdout and 'unknown' not in r.stdout
    recs, errs = load_folder(tmp_path/'labels.json')
    assert len(recs) == 150 and not errs and recs[0].fs == 500

def test_cinc2020_variants_and_bad_records(tmp_path):
    d = tmp_path/'in'
    _cinc2020_record(d/'ga', 'E00001', ['#Age: 61', '#Sex: Female', '#Dx: 426783006,59118001,164931005'])
    _cinc2020_record(d/'ga', 'E00002', ['# Age: 35', '# Sex: Male', '# Dx: 164889003, 17338001, 999999999'])
    _cinc2020_record(d, 'X1', ['#Age: 50', '#Sex: Male'])
    (d/'X2.hea').write_text('not a header\n#Dx: 426783006\n')
    r = ecgnb('import-physionet', '--kind', 'cinc2020', '--input-dir', d, '--labels-out', tmp_path/'l.json')
    assert r.returncode == 0, r.stderr
    assert 'skipped records 2: X1.hea (no diagnosis (#Dx: line)); X2.hea (unreadable header' in r.stdout, r.stdout
    assert 'unknown codes (kept as labels): snomed:999999999 x1' in r.stdout and '61' not in r.stdout and 'emale' not in r.stdout
    ents = {e.file: e for e in read_labels(tmp_path/'l.json')}
    assert ents['ga/E00001.hea'].labels == ['normal', 'st_elevation', 'right_bundle_branch_block']
    assert ents['ga/E00002.hea'].labels == ['arrhythmia', 'afib', 'snomed:999999999'] and ents['ga/E00002.hea'].age is None
    r = ecgnb('import-physionet', '--kind', 'cinc2020', '--input-dir', d, '--labels-out', tmp_path/'k.json', '--keep-demographics')
    assert r.returncode == 0 and 'age and sex kept' in r.stdout and '61' not in r.stdout, r.stdout
    assert [(e.age, e.sex) for e in read_labels(tmp_path/'k.json')] == [(61, 'female'), (35, 'male')]
    recs, errs = load_folder(tmp_path/'k.json')
    assert len(recs) == 2 and not errs and recs[0].fs == 500
