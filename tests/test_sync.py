"`make test` refuses a library edited by hand and an uncleaned notebook (.ci/check_sync.py)."
import json, shutil, subprocess, sys
from pathlib import Path
import pytest
from conftest import ROOT

@pytest.fixture
def project(tmp_path):
    "A copy of the project's sources in a temporary folder."
    dst = tmp_path/'proj'
    for name in ('nbs', 'ecgnb', '.ci'): shutil.copytree(ROOT/name, dst/name, ignore=shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints'))
    for name in ('settings.ini', 'setup.py', 'README.md'): shutil.copy(ROOT/name, dst/name)
    return dst

def check(project): return subprocess.run([sys.executable, str(project/'.ci'/'check_sync.py')], cwd=project, capture_output=True, text=True)

def test_in_sync(project):
    r = check(project)
    assert r.returncode == 0, r.stdout + r.stderr

def test_hand_edited_library_fails(project):
    with open(project/'ecgnb'/'core.py', 'a') as f: f.write('\ndef sneaky(): pass\n')
    r = check(project)
    assert r.returncode != 0 and 'nbdev_export changed the library' in r.stderr and 'core.py' in r.stderr

def test_uncleaned_notebook_fails(project):
    p = project/'nbs'/'00_core.ipynb'
    nb = json.loads(p.read_text())
    nb['cells'][0]['metadata']['collapsed'] = True          # metadata that nbdev_clean removes
    nb['metadata']['widgets'] = {'state': {}}
    p.write_text(json.dumps(nb, indent=1))
    r = check(project)
    assert r.returncode != 0 and 'nbdev_clean changed notebooks' in r.stderr and '00_core.ipynb' in r.stderr
