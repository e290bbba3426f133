"`ecgnb download` as a user runs it, against a PhysioNet-like server on 127.0.0.1 (no internet needed)."
import os
import pytest
from conftest import ecgnb, sample
from ecgnb.core import file_sha256
from ecgnb.download import PhysioNetMirror, mirror_tree

RECORDS = ('101', '102', '104')

@pytest.fixture
def mirror(tmp_path):
    """Three records served like PhysioNet's mitdb/1.0.0, made of real MIT-BIH bytes on every machine: the committed
    excerpt of record 100 under three names (the transfer, not the content, is under test; its .dat is 648 kB)."""
    src = sample('mitdb')
    files = {f'{r}.{e}': src/f'100.{e}' for r in RECORDS for e in ('hea', 'dat', 'atr')}
    mirror_tree(tmp_path/'mirror', 'mitdb', {**files, 'RECORDS': ''.join(f'{r}\n' for r in RECORDS).encode(), '101.xws': b'wave'})
    with PhysioNetMirror(tmp_path/'mirror') as m: yield m

def served(tmp_path, name): return tmp_path/'mirror'/'files'/'mitdb'/'1.0.0'/name

def test_download_resumes_a_dropped_connection_and_prints_the_data_dir(mirror, tmp_path):
    mirror.drop_after['mitdb/1.0.0/102.dat'] = 70_000
    r = ecgnb('download', 'mitdb', '--out', tmp_path/'data', '--base-url', mirror.base_url, timeout=120)
    assert r.returncode == 0, r.stderr
    d = (tmp_path/'data'/'mitdb').resolve()
    assert f'data_dir: {d}\n' in r.stdout and '10 files' in r.stdout and '9 fetched, 1 resumed, 0 already there' in r.stdout
    assert '102.dat: connection lost' in r.stderr and 'resuming at byte' in r.stderr and 'mitdb: 10/10 files' in r.stderr
    assert f'ECGNB_SAMPLES={d.parent} ecgnb study' in r.stdout
    assert [g is None for g in mirror.gets('mitdb/1.0.0/102.dat')] == [True, False]
    for r_ in RECORDS:
        for e in ('hea', 'dat', 'atr'): assert file_sha256(d/f'{r_}.{e}') == file_sha256(served(tmp_path, f'{r_}.{e}'))
    assert not (d/'101.xws').exists() and not list(d.glob('.*.part'))
    again = ecgnb('download', 'mitdb', '--out', tmp_path/'data', '--base-url', mirror.base_url, timeout=120)
    assert again.returncode == 0 and '0 fetched, 0 resumed, 10 already there' in again.stdout

def test_a_file_that_stays_corrupt_is_one_clear_error(mirror, tmp_path):
    mirror.corrupt['mitdb/1.0.0/104.dat'] = 2
    env = {**os.environ, 'ECGNB_PHYSIONET_URL': mirror.base_url}     # the base URL from the environment
    r = ecgnb('download', 'mitdb', '--out', tmp_path/'data', env=env, timeout=120)
    d = (tmp_path/'data'/'mitdb')
    err = r.stderr.strip().splitlines()[-1]
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert err.startswith('ecgnb download: error: 1 of 10 files failed') and f'{d}/104.dat: SHA256' in err and 'twice' in err
    assert not (d/'104.dat').exists() and not list(d.glob('.*.part')) and (d/'104.hea').exists()
    assert mirror.gets('mitdb/1.0.0/104.dat') == [None, None]
    fixed = ecgnb('download', 'mitdb', '--out', tmp_path/'data', env=env, timeout=120)     # the server serves it right now
    assert fixed.returncode == 0 and '1 fetched, 0 resumed, 9 already there' in fixed.stdout
    assert file_sha256(d/'104.dat') == file_sha256(served(tmp_path, '104.dat'))
