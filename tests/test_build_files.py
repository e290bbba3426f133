"The build files tell the truth: the Makefile's .PHONY and help list its targets, the service image's requirements agree with settings.ini."
import configparser, re
from conftest import ROOT

def _make_targets()->set:
    "Targets defined in the Makefile (not file targets such as $(STAMP))."
    return {m.group(1) for l in (ROOT/'Makefile').read_text().splitlines() if (m := re.match(r'^([a-z][\w-]*):(?!=)', l))}

def test_makefile_phony_and_help_match_its_targets():
    text = (ROOT/'Makefile').read_text()
    phony = set(re.search(r'^\.PHONY:(.*)$', text, re.M).group(1).split())
    targets = _make_targets()
    assert {'study', 'test', 'help'} <= targets
    assert phony == targets, (phony ^ targets)
    helped = set(re.findall(r'@echo "make ([\w-]+)', text))
    assert helped == targets - {'help'}, (helped ^ (targets - {'help'}))

def _reqs(specs)->dict:
    "name -> full requirement spec, for requirement strings like 'numpy>=1.26' or 'uvicorn[standard]>=0.29'."
    return {re.split(r'[\[<>=!~ ]', s, 1)[0].lower(): s for s in specs}

def test_service_requirements_agree_with_settings():
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    lib = _reqs(cfg['DEFAULT']['requirements'].split())
    svc = _reqs(l.strip() for l in (ROOT/'docker'/'requirements-service.txt').read_text().splitlines() if l.strip() and not l.startswith('#'))
    assert 'torch' not in svc and 'onnxruntime' in svc and 'fastapi' in svc   # the service runs without torch
    wrong = {n: (s, lib.get(n)) for n, s in svc.items() if lib.get(n) != s}
    assert not wrong, f"docker/requirements-service.txt differs from settings.ini: {wrong}"
