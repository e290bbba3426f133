"Command-line tests of `ecgnb score-rpeaks` on real MIT-BIH annotations and on a broken folder."
import pytest
from conftest import ecgnb, sample, need

@pytest.mark.parametrize('where, beats', [('excerpt', 760), ('full', 2273)])
def test_score_rpeaks_mitdb(where, beats):
    "Record 100: the committed 10-minute excerpt in every clone, the whole record where the database is."
    folder = sample('mitdb') if where == 'excerpt' else need('mitdb')
    r = ecgnb('score-rpeaks', folder)
    assert r.returncode == 0, r.stderr
    total = [l for l in r.stdout.splitlines() if l.startswith('total')][0].split()
    assert total[1] == 'ecgnb' and int(total[2]) == beats
    assert int(total[4]) + int(total[5]) <= 1 and float(total[8]) >= 99.9   # FP + FN, F1 % on lead MLII

def test_score_rpeaks_bad_folder(tmp_path):
    r = ecgnb('score-rpeaks', tmp_path/'nope')
    assert r.returncode != 0 and 'not a folder' in (r.stderr + r.stdout)
    r = ecgnb('score-rpeaks', tmp_path)
    assert r.returncode != 0 and 'no WFDB records' in (r.stderr + r.stdout)

def test_score_rpeaks_unreadable_record(tmp_path):
    (tmp_path/'bad.hea').write_text('garbage'); (tmp_path/'bad.atr').write_bytes(b'\x01\x02')
    r = ecgnb('score-rpeaks', tmp_path)
    assert r.returncode == 1 and 'skipped: cannot read' in r.stdout
