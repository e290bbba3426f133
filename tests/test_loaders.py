"Loaders under stress: a corpus of malformed files, labels.json mistakes, and properties of the patient splits."
import json, os, re
from pathlib import Path
import numpy as np
import pytest
import wfdb
import pyedflib
from hypothesis import given, settings, strategies as st, HealthCheck
from conftest import ecgnb, sample, need
from ecgnb.core import ECGDataError, ECGError
from ecgnb.loaders import read_record, Record
from ecgnb.labels import read_labels, load_folder, pseudonymize
from ecgnb.splits import patient_split, patient_kfold, split_report

# ---------------------------------------------------------------- the bad-file corpus
def _npy(path, arr, **sidecar):
    np.save(path, arr, allow_pickle=arr.dtype == object)
    if sidecar: path.with_name(path.stem + '.meta.json').write_text(json.dumps(sidecar))

def _wfdb(d, name, sig=None, fmt='16', **kw):
    sig = np.sin(np.arange(500) / 10)[:, None] if sig is None else sig
    wfdb.wrsamp(name, fs=250, units=['mV'] * sig.shape[1], sig_name=['II', 'V1'][:sig.shape[1]], p_signal=sig, fmt=[fmt] * sig.shape[1],
                adc_gain=[200.0] * sig.shape[1], baseline=[0] * sig.shape[1], write_dir=str(d), **kw)
    return d/f'{name}.hea'

def _edf(path, n=2500):
    h = [pyedflib.highlevel.make_signal_header('ECG', 'uV', 250, -5000, 5000)]
    pyedflib.highlevel.write_edf(str(path), [np.sin(np.arange(n) / 10) * 1000], h)
    return path

def _corpus(d:Path)->list[tuple[str, dict, str]]:
    "Write malformed files into `d`; returns (file name, read_record kwargs, expected reason regex)."
    rng = np.random.default_rng(0)
    C = []
    def add(name, reason, **kw): C.append((name, kw, reason))
    for ext in ('csv', 'npy', 'edf', 'hea', 'txt', 'tsv'):
        (d/f'empty.{ext}').write_bytes(b''); add(f'empty.{ext}', 'empty file', fs=250)
    (d/'junk.csv').write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes() + b'\0'); add('junk.csv', 'binary data')
    (d/'latin.csv').write_bytes(b'1\n2\n\xe9\xff\n'); add('latin.csv', 'not UTF-8', fs=250)
    (d/'words.csv').write_text('hello\nworld\n'); add('words.csv', r'line 2: not numeric', fs=250)
    (d/'hdronly.csv').write_text('time,value\n'); add('hdronly.csv', 'a header but no data lines')
    (d/'comments.csv').write_text('# exported\n# nothing else\n'); add('comments.csv', 'no data lines', fs=250)
    (d/'nan.csv').write_text('1\n2\nnan\n4\n'); add('nan.csv', 'NaN or infinite', fs=250)
    (d/'inf.csv').write_text('time,ii\n0,1\n0.004,inf\n0.008,2\n'); add('inf.csv', 'NaN or infinite')
    (d/'ragged.csv').write_text('1,2\n3,4\n5\n6,7\n'); add('ragged.csv', r'malformed table|not numeric', fs=250)
    (d/'midjunk.csv').write_text('1;2\n3;4\n5;x\n'); add('midjunk.csv', r'line 3: not numeric', fs=250)
    (d/'backtime.csv').write_text('time,ecg\n0,1\n0.004,2\n0.002,3\n0.006,4\n'); add('backtime.csv', 'time does not increase')
    (d/'cols.csv').write_text('a,b,c\n1,2\n3,4\n'); add('cols.csv', 'header has 3 columns')
    (d/'norate.csv').write_text('1\n2\n3\n'); add('norate.csv', 'sampling rate unknown')
    (d/'zerofs.csv').write_text('1\n2\n3\n'); add('zerofs.csv', 'not a positive number', fs=0)
    np.save(d/'trunc.npy', np.arange(1000.0)); (d/'trunc.npy').write_bytes((d/'trunc.npy').read_bytes()[:300]); add('trunc.npy', 'not a valid .npy', fs=250)
    (d/'junk.npy').write_bytes(rng.integers(0, 256, 500, dtype=np.uint8).tobytes()); add('junk.npy', 'not a valid .npy', fs=250)
    _npy(d/'object.npy', np.array([{'a': 1}], dtype=object)); add('object.npy', 'not a valid .npy|not numeric', fs=250)
    _npy(d/'cube.npy', np.zeros((2, 3, 4))); add('cube.npy', r'shape \(2, 3, 4\)', fs=250)
    _npy(d/'zero.npy', np.zeros(0)); add('zero.npy', 'no samples', fs=250)
    _npy(d/'nan.npy', np.r_[np.zeros(10), np.nan]); add('nan.npy', 'NaN or infinite', fs=250)
    _npy(d/'cplx.npy', np.zeros(10, complex)); add('cplx.npy', 'not numeric', fs=250)
    _npy(d/'nofs.npy', np.zeros(100)); add('nofs.npy', 'sampling rate unknown')
    _npy(d/'leads.npy', np.zeros((2, 100)), fs=250, leads=['I', 'II', 'III']); add('leads.npy', 'sidecar names 3 leads')
    np.save(d/'badside.npy', np.zeros(100)); (d/'badside.meta.json').write_text('{fs: 250'); add('badside.npy', 'unreadable JSON sidecar')
    _npy(d/'nolead.npy', np.zeros((2, 100)), fs=250, leads=['I', 'II']); add('nolead.npy', "no lead named 'V7'", lead='V7')
    (d/'junk.edf').write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()); add('junk.edf', 'not a readable EDF')
    _edf(d/'trunc.edf'); b = (d/'trunc.edf').read_bytes(); (d/'trunc.edf').write_bytes(b[:len(b) // 2 + 7]); add('trunc.edf', 'not a readable EDF')
    _edf(d/'disc.edf'); b = bytearray((d/'disc.edf').read_bytes()); b[192:197] = b'EDF+D'; (d/'disc.edf').write_bytes(b); add('disc.edf', 'discontinuous')
    (d/'hdrtext.edf').write_text('0       this is just text pretending to be EDF\n' * 10); add('hdrtext.edf', 'not a readable EDF')
    (d/'garbage.hea').write_text('this is not a header at all\n'); add('garbage.hea', 'unreadable WFDB')
    _wfdb(d, 'nodat'); (d/'nodat.dat').unlink(); add('nodat.hea', 'signal file nodat.dat is missing')
    _wfdb(d, 'trunc'); (d/'trunc.dat').write_bytes((d/'trunc.dat').read_bytes()[:300]); add('trunc.hea', 'truncated|unreadable WFDB')
    _wfdb(d, 'twosig'); (d/'twosig.hea').write_text((d/'twosig.hea').read_text().replace('twosig 1 250', 'twosig 2 250')); add('twosig.hea', 'unreadable WFDB')
    _wfdb(d, 'fmt'); (d/'fmt.hea').write_text(re.sub(r'fmt\.dat 16', 'fmt.dat 999', (d/'fmt.hea').read_text())); add('fmt.hea', 'unreadable WFDB')
    _wfdb(d, 'zerofs'); (d/'zerofs.hea').write_text((d/'zerofs.hea').read_text().replace('zerofs 1 250', 'zerofs 1 0')); add('zerofs.hea', 'no rate|unreadable WFDB|not a positive')
    _wfdb(d, 'gap', sig=None); dd = np.fromfile(d/'gap.dat', '<i2'); dd[100:110] = -32768; dd.tofile(d/'gap.dat'); add('gap.hea', 'NaN or infinite')
    (d/'strange.xyz').write_text('1,2,3'); add('strange.xyz', "unknown extension '.xyz'")
    (d/'noext').write_text('1\n2\n'); add('noext', "unknown extension '\\(none\\)'")
    (d/'lonely.mat').write_bytes(b'MATLAB 5.0 MAT-file' + bytes(200)); add('lonely.mat', 'needs its WFDB .hea header')
    (d/'adir.csv').mkdir(); add('adir.csv', 'is a folder')
    add('missing.csv', 'file not found', fs=250)
    return C

@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp('bad')
    return d, _corpus(d)

def test_corpus_is_big_enough(corpus):
    assert len(corpus[1]) >= 30

def test_every_bad_file_names_itself_and_the_reason(corpus):
    d, C = corpus
    wrong = []
    for name, kw, reason in C:
        try: read_record(d/name, **kw); wrong.append((name, 'no error')); continue
        except ECGDataError as e: err = e
        stem = name.split('.')[0]
        if not (err.path and stem in Path(err.path).name and re.search(reason, err.reason) and str(err).startswith(err.path)
                and '\n' not in str(err)): wrong.append((name, str(err)))
    assert not wrong, wrong

def test_unreadable_permissions(tmp_path):
    if os.geteuid() == 0: pytest.skip('running as root: file permissions do not stop reads (see the test below)')
    p = tmp_path/'locked.csv'; p.write_text('1\n2\n'); p.chmod(0)
    with pytest.raises(ECGDataError, match='permission denied'): read_record(p, fs=250)

def test_unreadable_permissions_as_root(tmp_path, monkeypatch):
    "Root reads every file, so here the refusal is simulated where the loader opens the file."
    import builtins, ecgnb.loaders as L
    p = tmp_path/'locked.csv'; p.write_text('1\n2\n')
    def deny(f, *a, **kw):
        if str(f) == str(p): raise PermissionError(13, 'Permission denied', str(f))
        return builtins.open(f, *a, **kw)
    monkeypatch.setattr(L, 'open', deny, raising=False)
    with pytest.raises(ECGDataError) as e: read_record(p, fs=250)
    assert e.value.path == str(p) and e.value.reason == 'cannot be read (permission denied)'

def test_load_folder_collects_or_stops(corpus, tmp_path):
    d, C = corpus
    use = [(n, kw) for n, kw, _ in C if (d/n).is_file() and 'lead' not in kw and kw.get('fs') != 0]
    files = [n for n, _ in use]
    entries = [dict(file=n, label='normal', **({'fs': kw['fs']} if 'fs' in kw else {})) for n, kw in use]
    np.save(d/'good.npy', np.zeros((1, 500), np.float32))
    entries.append(dict(file='good.npy', label='afib', fs=250, patient_id='p9'))
    (d/'labels.json').write_text(json.dumps(entries))
    try:
        recs, errs = load_folder(d)
        assert [r.patient_id for r in recs] == ['p9'] and recs[0].label == ['afib']
        assert len(errs) == len(entries) - 1
        assert {Path(e.path).name.split('.')[0] for e in errs} >= {n.split('.')[0] for n in files}
        with pytest.raises(ECGDataError): load_folder(d, strict=True)
    finally: (d/'labels.json').unlink()

def test_folder_without_labels_reads_every_recording(tmp_path):
    _wfdb(tmp_path, 'r1'); _npy(tmp_path/'r2.npy', np.zeros(300), fs=100)
    (tmp_path/'README.md').write_text('notes'); (tmp_path/'r3.csv').write_text('a\nb\n')
    recs, errs = load_folder(tmp_path)
    assert sorted(r.patient_id for r in recs) == ['r1', 'r2'] and all(r.label is None for r in recs)
    assert len(errs) == 1 and errs[0].path.endswith('r3.csv')

# ---------------------------------------------------------------- labels.json mistakes
BAD_LABELS = [
    ('[{"file": "a.npy", "label": "x",}]', 'unreadable JSON: .*line 1'),
    ('{"file": "a.npy"}', "unknown top-level keys"),
    ('"a.npy"', 'expected a list of entries'),
    ('[]', 'no entries'),
    ('["a.npy"]', 'entry 0: expected an object'),
    ('[{"file": "a.npy", "label": "x", "birthdate": "1950-01-01"}]', "unknown key 'birthdate'"),   # age and sex are known keys (import-physionet --keep-demographics)
    ('[{"label": "x"}]', "missing 'file'"),
    ('[{"file": "a.npy", "filename": "a.npy", "label": "x"}]', "both 'file' and 'filename'"),
    ('[{"file": "b.npy", "label": "x"}]', 'file not found'),
    ('[{"file": "a.npy", "label": "x"}, {"file": "a.npy", "label": "y"}]', 'entry 1 .*duplicate of entry 0'),
    ('[{"file": "a.npy", "label": ""}]', 'empty label'),
    ('[{"file": "a.npy", "label": ["x", 3]}]', 'label must be a string or a list of strings'),
    ('[{"file": "a.npy"}]', "missing 'label'"),
    ('[{"file": "../a.npy", "label": "x"}]', 'leaves the dataset folder'),
    ('[{"file": "sub/../../a.npy", "label": "x"}]', 'leaves the dataset folder'),
    ('[{"file": "/etc/passwd", "label": "x"}]', 'absolute paths'),
    ('[{"file": "a.npy", "label": "x", "fs": "fast"}]', 'fs must be a positive number'),
    ('[{"file": "a.npy", "label": "x", "patient_id": ""}]', 'patient_id must be'),
    ('[{"file": "a.npy", "label": "x", "lead": [1]}]', 'lead must be an index or a name'),
    ('[{"file": "a.npy", "label": "x", "segments": [{"start": 5, "end": 2, "label": "x"}]}]', 'segment 0 needs integer samples'),
    ('[{"file": "a.npy", "label": "x", "segments": [{"start": 0, "end": 5}]}]', 'segment 0 must have exactly'),
    ('{"root": "nowhere", "records": [{"file": "a.npy", "label": "x"}]}', 'root folder .* not found'),
]

@pytest.mark.parametrize('text,reason', BAD_LABELS)
def test_labels_json_mistakes(tmp_path, text, reason):
    _npy(tmp_path/'a.npy', np.zeros(100), fs=100)
    (tmp_path/'labels.json').write_text(text)
    with pytest.raises(ECGDataError) as e: read_labels(tmp_path)
    assert e.value.path.endswith('labels.json') and re.search(reason, e.value.reason), e.value.reason

def test_labels_json_not_utf8(tmp_path):
    (tmp_path/'labels.json').write_bytes(b'[{"file": "\xff"}]')
    with pytest.raises(ECGDataError, match='not UTF-8'): read_labels(tmp_path)

def test_labels_root_and_defaults(tmp_path):
    data = tmp_path/'data'; data.mkdir(); _npy(data/'a.npy', np.zeros(100), fs=100); _wfdb(data, 'rec')
    (tmp_path/'labels.json').write_text(json.dumps(dict(root='data', records=[dict(file='a.npy', label=' afib '), dict(filename='rec', label=['n', 'n'])])))
    a, r = read_labels(tmp_path)
    assert (a.labels, a.patient_id, r.labels, r.patient_id, r.path.name) == (['afib'], 'a', ['n'], 'rec', 'rec.hea')

def test_segment_past_end_of_record_is_an_error(tmp_path):
    _npy(tmp_path/'a.npy', np.zeros(100), fs=100)
    (tmp_path/'labels.json').write_text(json.dumps([dict(file='a.npy', label='x', segments=[dict(start=0, end=101, label='x')])]))
    recs, errs = load_folder(tmp_path)
    assert not recs and 'after the record' in errs[0].reason

# ---------------------------------------------------------------- CLI: bad input never shows a traceback
@pytest.mark.parametrize('name', ['empty.csv', 'junk.csv', 'words.csv', 'comments.csv', 'adir.csv', 'missing.csv'])
def test_cli_bad_serial_input_is_one_line(corpus, tmp_path, name):
    d, _ = corpus
    r = ecgnb('convert-serial', '--input', d/name, '--out', tmp_path/'out', '--sr', '250')
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and name in r.stderr
    assert not (tmp_path/'out').exists() or not any((tmp_path/'out').iterdir())

# ---------------------------------------------------------------- property-based tests of the splits
records = st.lists(st.tuples(st.integers(0, 40).map(lambda i: f'p{i}'),
                             st.lists(st.sampled_from(['normal', 'afib', 'tachycardia', 'st_elevation', 'noisy']), max_size=3)),
                   min_size=1, max_size=120)
fractions = st.sampled_from([(0.7, 0.15, 0.15), (0.8, 0.1, 0.1), (0.5, 0.5, 0.0), (1.0, 0.0, 0.0), (0.34, 0.33, 0.33)])
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

@FAST
@given(records, fractions, st.integers(0, 3))
def test_split_is_a_patient_partition(recs, fr, seed):
    pats, labs = [p for p, _ in recs], [l for _, l in recs]
    sp = patient_split(pats, labs, fr, seed)
    parts = [set(sp[k]) for k in ('train', 'val', 'test')]
    assert set().union(*parts) == set(pats)
    assert sum(map(len, parts)) == len(set(pats))                  # no patient in two parts
    assert all(sp[k] == sorted(sp[k]) for k in sp)
    assert sp == patient_split(pats, labs, fr, seed)                 # deterministic
    for k, f in zip(('train', 'val', 'test'), fr):
        if f == 0: assert not sp[k]
    if len(set(pats)) >= sum(f > 0 for f in fr): assert all(sp[k] for k, f in zip(('train', 'val', 'test'), fr) if f > 0)

@FAST
@given(records, st.integers(2, 6), st.integers(0, 3))
def test_kfold_is_a_patient_partition(recs, k, seed):
    pats, labs = [p for p, _ in recs], [l for _, l in recs]
    if len(set(pats)) < k:
        with pytest.raises(ECGError): patient_kfold(pats, labs, k, seed)
        return
    folds = patient_kfold(pats, labs, k, seed)
    assert len(folds) == k and all(folds)
    assert sorted(p for f in folds for p in f) == sorted(set(pats))

def test_split_sizes_and_stratification_on_a_large_set():
    rng = np.random.default_rng(3)
    pats = [f'p{i}' for i in range(400) for _ in range(rng.integers(1, 4))]
    lab = {p: list(rng.choice(['normal', 'afib', 'st_elevation'], rng.integers(1, 3), replace=False, p=[.7, .2, .1])) for p in set(pats)}
    labs = [lab[p] for p in pats]
    sp = patient_split(pats, labs)
    rep = split_report(pats, labs, sp)
    n = len(pats)
    for k, f in zip(('train', 'val', 'test'), (0.7, 0.15, 0.15)): assert abs(rep.loc[k, 'records'] / n - f) < 0.02, rep
    for l in ('normal', 'afib', 'st_elevation'): assert rep[l].max() - rep[l].min() < 0.05, rep
    folds = patient_kfold(pats, labs, k=5)
    fr = split_report(pats, labs, folds)
    assert fr['records'].max() - fr['records'].min() <= 0.02 * n, fr
    for l in ('normal', 'afib', 'st_elevation'): assert fr[l].max() - fr[l].min() < 0.05, fr

def test_split_rejects_bad_input():
    with pytest.raises(ECGError, match='fractions'): patient_split(['a'], None, (0.5, 0.6, 0.1))
    with pytest.raises(ECGError, match='no patients'): patient_split([], None)
    with pytest.raises(ECGError, match='label lists'): patient_split(['a', 'b'], [['x']])

@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20), st.binary(min_size=16, max_size=32))
def test_pseudonyms_are_stable_and_distinct(a, b, salt):
    assert pseudonymize(a, salt) == pseudonymize(a, salt)
    assert (pseudonymize(a, salt) == pseudonymize(b, salt)) == (a == b)
    assert re.fullmatch(r'p[0-9a-f]{16}', pseudonymize(a, salt))

# ---------------------------------------------------------------- CSV round trips
@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-10, 10, allow_nan=False, width=32), min_size=3, max_size=200), st.sampled_from([',', ';', '\t', ' ']),
       st.booleans(), st.booleans())
def test_csv_round_trip(tmp_path_factory, vals, sep, header, with_time):
    p = tmp_path_factory.mktemp('csv')/'x.csv'
    rows = [(f'{i * 4}', f'{v:.6f}') if with_time else (f'{v:.6f}',) for i, v in enumerate(vals)]
    head = [sep.join(('time_ms', 'ecg_mv') if with_time else ('ecg_mv',))] if header else []
    p.write_text('\r\n'.join(head + [sep.join(r) for r in rows]) + '\n')
    kw = {} if with_time and header else dict(fs=250)
    if with_time and not header and len(vals) > 2 and np.all(np.diff(vals) > 0): return   # a rising signal looks like a clock
    r = read_record(p, **kw)
    assert r.fs == 250 and r.n_samples == len(vals)
    np.testing.assert_allclose(r.signal[0], np.round(vals, 6), atol=2e-6)
    if header: assert r.units == ['mV']

# ---------------------------------------------------------------- a truncated EDF
def _cut_edf(d:Path)->Path:
    "An EDF file missing its last 3000 bytes: pyedflib refuses it, and EDFlib printf's the file sizes to fd 1."
    full = _edf(d/'full.edf'); b = full.read_bytes()
    (d/'cut.edf').write_bytes(b[:len(b) - 3000])
    return d/'cut.edf'

def test_truncated_edf_is_one_error_and_prints_nothing(tmp_path, capfd):
    cut = _cut_edf(tmp_path)
    capfd.readouterr()
    with pytest.raises(ECGDataError) as e: read_record(cut)
    msg = str(e.value)
    assert msg.startswith(f'{cut}: not a readable EDF/BDF file') and 'filesize' in msg and '\n' not in msg
    assert capfd.readouterr().out == ''       # EDFlib's printf went into the message, not to file descriptor 1

def test_truncated_edf_through_the_cli_leaves_stdout_empty(tmp_path):
    raw = tmp_path/'raw'; raw.mkdir(); _cut_edf(raw)
    (raw/'labels.json').write_text(json.dumps([dict(file='cut.edf', label='normal', patient_id='p1')]))
    r = ecgnb('prepare', '--input-dir', raw, '--out', tmp_path/'out', '--strict', '--workers', 1)
    assert r.returncode == 2 and r.stdout == '', r.stdout
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and 'cut.edf: not a readable EDF/BDF file' in err[0] and 'filesize' in err[0], r.stderr

# ---------------------------------------------------------------- real data
def test_privacy_of_real_headers_in_the_committed_sample():
    "MIT-BIH 100's header names the patient's medication, CPSC 2018's age and sex: out of `meta` unless asked for."
    for f, secret in ((sample('mitdb')/'100.hea', 'Aldomet'), (sample('cpsc2018')/'A0001.hea', 'Age: 74')):
        assert secret not in json.dumps(read_record(f).meta, default=str), f
        assert secret in json.dumps(read_record(f, keep_phi=True).meta['phi']), f

def test_lead_choice_on_the_committed_sample():
    m, c = sample('mitdb')/'100.hea', sample('cpsc2018')/'A0001.hea'
    assert read_record(m).leads == ['MLII'] and read_record(m, lead=1).leads == ['V5'] and read_record(m, lead='all').n_leads == 2
    assert read_record(c).leads == ['I'] and read_record(c, lead='V1').leads == ['V1'] and read_record(c, lead='all').n_leads == 12

def test_privacy_of_real_headers():
    "PTB's s0010_re (full `wfdb` folder): diagnosis, birth year and sex stay out of `meta`."
    s0010 = need('wfdb')/'s0010_re.hea'
    r = read_record(s0010)
    blob = json.dumps(r.meta, default=str)
    assert 'infarction' not in blob.lower() and '1990' not in blob and 'female' not in blob
    assert '01/10/1990' in json.dumps(read_record(s0010, keep_phi=True).meta['phi'])

def test_lead_choice_on_real_records():
    "MIMIC's a103l (full `wfdb` folder): ECG leads first, a named non-ECG channel on request."
    a = need('wfdb')/'a103l.hea'
    assert read_record(a).leads == ['II'] and read_record(a, lead='PLETH').units == ['NU']
    assert read_record(a, lead=1).leads == ['V'] and read_record(a, lead='all').n_leads == 3
