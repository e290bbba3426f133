"""Cut the small real sample in this folder from the full PhysioNet databases (run from the project root).

    python data/samples/make_samples.py ../shared/data

Writes mitdb/ (the first 10 minutes of MIT-BIH record 100 and its beat annotations), cinc2017/ (34 whole CinC 2017
records and their REFERENCE.csv rows) and cpsc2018/ (21 whole CPSC 2018 12-lead records). The records are chosen by
name below, so the sample is the same every time it is made.
"""
import shutil, sys
from pathlib import Path
import numpy as np, wfdb

HERE = Path(__file__).resolve().parent
MITDB_SECONDS = 600
# CinC 2017: every class (N, A, O, ~), records of 9-32 s (A00264: 42 s); A00264 is the serial-log example's source.
CINC = dict(N=['A00254', 'A00256', 'A00257', 'A00258', 'A00262', 'A00263', 'A00265', 'A00266', 'A00269', 'A00274', 'A00277', 'A00279'],
            A=['A00264', 'A00282', 'A00404', 'A00567', 'A00589', 'A00592', 'A00614', 'A00621'],
            O=['A00243', 'A00246', 'A00255', 'A00259', 'A00270', 'A00278', 'A00286', 'A00288'],
            **{'~': ['A00307', 'A00370', 'A00445', 'A00474', 'A00591', 'A00619']})
# CPSC 2018: 12 leads at 500 Hz; every diagnosis of the database, two ST-elevation records that the J-point rule calls,
# and two records with two diagnoses each (AF and RBBB), so that the excerpt is multi-label as the database is.
CPSC = ['A0001', 'A0002', 'A0029', 'A0037', 'A0041', 'A0003', 'A0007', 'A0023', 'A0021', 'A0034', 'A0100', 'A0106',
        'A0044', 'A0131', 'A0010', 'A0039', 'A0102', 'A0025', 'A0049', 'A0079', 'A0112']

def mitdb(src:Path, out:Path):
    "The first MITDB_SECONDS of record 100, in its own format 212, with the annotations that fall inside."
    rec = wfdb.rdrecord(str(src/'100'), sampto=MITDB_SECONDS*360, physical=False)
    ann = wfdb.rdann(str(src/'100'), 'atr', sampto=MITDB_SECONDS*360)
    out.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp('100', fs=rec.fs, units=rec.units, sig_name=rec.sig_name, d_signal=rec.d_signal, fmt=rec.fmt, adc_gain=rec.adc_gain,
                baseline=rec.baseline, comments=rec.comments, write_dir=str(out))
    wfdb.wrann('100', 'atr', ann.sample, np.array(ann.symbol), subtype=ann.subtype, chan=ann.chan, num=ann.num,
               aux_note=ann.aux_note, fs=rec.fs, write_dir=str(out))

def copy_records(src:Path, out:Path, names, reference:dict|None=None):
    out.mkdir(parents=True, exist_ok=True)
    for n in names:
        for ext in ('.hea', '.mat'): shutil.copyfile(src/f"{n}{ext}", out/f"{n}{ext}")
    if reference is not None:
        (out/'REFERENCE.csv').write_text(''.join(f"{n},{reference[n]}\n" for n in names))

if __name__ == '__main__':
    full = Path(sys.argv[1] if len(sys.argv) > 1 else '../shared/data')
    mitdb(full/'mitdb', HERE/'mitdb')
    ref = dict(l.strip().split(',') for l in (full/'cinc2017'/'REFERENCE.csv').read_text().split())
    copy_records(full/'cinc2017', HERE/'cinc2017', [n for v in CINC.values() for n in v], ref)
    copy_records(full/'cpsc2018', HERE/'cpsc2018', CPSC)
    print(sum(f.stat().st_size for f in HERE.rglob('*') if f.is_file())/1e6, 'MB')
