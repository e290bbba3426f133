"Command-line tests of `ecgnb score-rpeaks` on real MIT-BIH annotations and on a broken folder."
import shutil
import pytest
from conftest import ecgnb
from ecgnb.core import samples_dir

def test_score_rpeaks_mitdb():
    if not samples_dir('mitdb'): pytest.skip('../shared/data/mitdb is absent')
    r = ecgnb('score-rpeaks', samples_dir('mitdb'))
    assert r.returncode == 0, r.stderr
    total = [l for l in r.stdout.splitlines() if l.startswith('total')][0].split()
    assert total[1] == 'ecgnb' and int(total[2]) == 2273
    assert float(total[8]) >= 99.9   # F1 % on record 100

def test_score_rpeaks_bad_folder(tmp_path):
    r = ecgnb('score-rpeaks', tmp_path/'nope')
    assert r.returncode != 0 and 'not a folder' in (r.stderr + r.stdout)
    r = ecgnb('score-rpeaks', tmp_path)
    assert r.returncode != 0 and 'no WFDB records' in (r.stderr + r.stdout)

def test_score_rpeaks_unreadable_record(tmp_path):
    (tmp_path/'bad.hea').write_text('garbage'); (tmp_path/'bad.atr').write_bytes(b'\x01\x02')
    r = ecgnb('score-rpeaks', tmp_path)
    assert r.returncode == 1 and 'skipped: cannot read' in r.stdout
