import os, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def ecgnb(*args, timeout=600, **kw):
    "Run the installed `ecgnb` command; returns the CompletedProcess (text)."
    return subprocess.run([str(BIN/'ecgnb'), *map(str, args)], capture_output=True, text=True, timeout=timeout, **kw)

@pytest.fixture(scope='session', autouse=True)
def _salt(tmp_path_factory):
    "Pseudonym salt of the tests in a temporary folder (inherited by every `ecgnb` run), never the user's home."
    os.environ['ECGNB_SALT_FILE'] = str(tmp_path_factory.getbasetemp()/'salt')

def sample(sub:str)->Path:
    "A folder of the small real sample committed in data/samples (every clone has it)."
    from ecgnb.core import repo_samples
    d = repo_samples(sub)
    assert d is not None, f"data/samples/{sub} is missing from this checkout"
    return d

def need(sub:str)->Path:
    "A full database ($ECGNB_SAMPLES or ../shared/data): skip with the reason when absent, fail under ECGNB_REQUIRE_SAMPLES."
    from ecgnb.core import need_samples
    return need_samples(sub, full=True, skip=pytest.skip)

@pytest.fixture(scope='session')
def chromium():
    "Path of a headless-capable Chromium, or skip."
    exe = shutil.which('chromium') or shutil.which('chromium-browser')
    if not exe: pytest.skip('chromium is not installed (make test installs it with apt-get when run as root)')
    return exe

def browse(exe, url, tmp_path, screenshot=None, timeout=60):
    "Load `url` in headless Chromium (`ecgnb.docs.headless`); returns the DOM after scripts ran (and writes a screenshot when asked)."
    from ecgnb.docs import headless
    if screenshot: headless(url, tmp_path, f'--screenshot={screenshot}', '--window-size=1200,900', exe=exe, timeout=timeout)
    return headless(url, tmp_path, '--dump-dom', exe=exe, timeout=timeout).stdout

def pytest_collection_modifyitems(items):
    "The quick study (minutes) goes first: under `-n 2 --dist loadscope` one worker runs it while the other starts on the rest."
    items.sort(key=lambda it: it.name != 'test_quick_study')
