"""Deployment as a user meets it (issue 17): the GHCR push in the service workflow, `ecgnb export --format torchscript`
loaded by torch alone in a process where ecgnb cannot be imported, and `ecgnb publish --dry-run` whose model card
parses and whose example runs against the published folder."""
import importlib.util, json, os, re, subprocess, sys
from pathlib import Path
import numpy as np, pytest, yaml
from conftest import ROOT, ecgnb
from ecgnb.core import file_sha256

WORKFLOW = ROOT/'.github'/'workflows'/'onnx-service-ci.yml'
MAIN_PUSH = "github.event_name == 'push' && github.ref == 'refs/heads/main'"

# --- GHCR -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def wf():
    w = yaml.safe_load(WORKFLOW.read_text())
    w['on'] = w.pop(True, w.get('on'))   # YAML 1.1 reads the key `on` as True
    return w

def _runs(job): return '\n'.join(s.get('run', '') for s in job['steps'])

def test_push_job_runs_on_main_pushes_only(wf):
    push = wf['jobs']['push']
    assert push['needs'] == 'smoke' and push['if'] == MAIN_PUSH
    assert 'pull_request' in wf['on']                          # PRs still run the smoke test ...
    assert 'docker push' not in _runs(wf['jobs']['smoke'])     # ... which never pushes
    assert 'docker build' not in _runs(push)                   # the pushed image is the tested one, loaded
    assert 'docker load' in _runs(push)
    save = [s for s in wf['jobs']['smoke']['steps'] if 'docker save' in s.get('run', '') or 'upload-artifact' in s.get('uses', '')]
    assert len(save) == 2 and all(s['if'] == MAIN_PUSH for s in save)

def test_packages_write_only_in_the_push_job(wf):
    assert wf['permissions'] == {'contents': 'read'}
    writers = [name for name, job in wf['jobs'].items() if (job.get('permissions') or {}).get('packages') == 'write']
    assert writers == ['push']
    assert wf['jobs']['push']['permissions'] == {'contents': 'read', 'packages': 'write'}

def test_login_with_github_token_and_tags(wf):
    push = wf['jobs']['push']
    login = next(s for s in push['steps'] if s.get('uses', '').startswith('docker/login-action'))
    assert login['with'] == {'registry': 'ghcr.io', 'username': '${{ github.actor }}', 'password': '${{ secrets.GITHUB_TOKEN }}'}
    run = _runs(push)
    assert 'image="ghcr.io/${GITHUB_REPOSITORY_OWNER,,}/ecgnb-service"' in run     # GHCR wants a lower-case owner
    assert re.search(r'for tag in "\$\{\{ github\.sha \}\}" latest', run) and 'docker push "$image:$tag"' in run

def test_oci_labels(wf):
    build = next(s['run'] for s in wf['jobs']['smoke']['steps'] if 'docker build' in s.get('run', ''))
    labels = dict(re.findall(r'--label "([\w.-]+)=([^"]*)"', build))
    assert labels['org.opencontainers.image.source'] == '${{ github.server_url }}/${{ github.repository }}'
    assert labels['org.opencontainers.image.revision'] == '${{ github.sha }}'
    assert labels['io.ecgnb.model.version'] == labels['org.opencontainers.image.version'] == '${{ steps.model.outputs.version }}'
    step = next(s['run'] for s in wf['jobs']['smoke']['steps'] if s.get('id') == 'model')
    assert "p.key == 'model_version'" in step and '>> "$GITHUB_OUTPUT"' in step

def test_readme_says_how_to_pull_and_run():
    readme = (ROOT/'README.md').read_text()
    assert 'docker pull ghcr.io/ecgnb/ecgnb-service:latest' in readme and 'docker run --rm -p 8000:8000 ghcr.io/ecgnb/ecgnb-service' in readme

# --- a small trained checkpoint, evaluated and exported through the command line -----------------------------

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A SmallCNN trained for a few seconds on the toy folder; `ecgnb evaluate` and `ecgnb export` (ONNX) run on it."
    import torch
    from ecgnb.dataset import toy_processed, load_processed
    from ecgnb.models import make_model, make_checkpoint, save_checkpoint
    root = tmp_path_factory.mktemp('deploy')
    P = load_processed(toy_processed(root/'toy', n_classes=3, patients_per_class=6, windows_per_record=4))
    tr = P.indices('train')
    X, y = torch.from_numpy(np.asarray(P.X[tr])), torch.from_numpy(P.y[tr].argmax(1)).long()
    torch.set_num_threads(1); torch.manual_seed(0)
    net = make_model('small', 1, 3, width=8).train()
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    for _ in range(25):
        for i in range(0, len(X), 32):
            opt.zero_grad(); torch.nn.functional.cross_entropy(net(X[i:i+32]), y[i:i+32]).backward(); opt.step()
    ck = make_checkpoint(net.eval(), 'small', {'width': 8}, P.labels, False, P.preprocess, P.window, data_hash=P.data_hash(),
                         epoch=25, config={'leads': ['MLII'], 'data': str(P.path)})
    ckpt = save_checkpoint(ck, root/'models'/'checkpoint.pt')
    for args in (('evaluate', '--checkpoint', ckpt, '--data', P.path, '--n-boot', 50),
                 ('export', '--checkpoint', ckpt, '--out', root/'models'/'model.onnx')):
        r = ecgnb(*args)
        assert r.returncode == 0, f"ecgnb {args[0]} failed: {r.stderr[-2000:]}"
    return root, P, ckpt

# --- TorchScript ----------------------------------------------------------------------------------------------

_CLEAN = """
import sys
sys.path.append(sys.argv[1])    # torch's site-packages as a plain folder: its .pth files (ecgnb's editable install) are not run
import importlib.util, json
assert importlib.util.find_spec('ecgnb') is None, 'ecgnb is importable'
import numpy as np, torch
extra = {'contract.json': ''}
model = torch.jit.load(sys.argv[2], _extra_files=extra)
with torch.no_grad(): out = model(torch.from_numpy(np.load(sys.argv[3]))).numpy()
np.save(sys.argv[4], out)
assert not [m for m in sys.modules if m.split('.')[0] == 'ecgnb']
print(extra['contract.json'].decode())
"""

def test_torchscript_runs_without_ecgnb(trained, tmp_path):
    import torch
    from ecgnb.models import load_checkpoint
    root, P, ckpt = trained
    r = ecgnb('export', '--checkpoint', ckpt, '--out', root/'models'/'model.ts', '--format', 'torchscript')
    assert r.returncode == 0, r.stderr
    assert re.search(r'wrote .*model\.ts \(TorchScript, \d+ kB', r.stdout), r.stdout
    worst = max(float(v) for v in re.findall(r'(?:random|real) ([0-9.e+-]+)', r.stdout))
    assert worst <= 1e-4 and 'real windows: 24 from' in r.stdout, r.stdout
    # a fresh interpreter: isolated (-I: no PYTHONPATH, no user site, no cwd), no site (-S), cwd outside the repository
    x = np.random.default_rng(1).standard_normal((9, 1, P.window)).astype(np.float32)
    np.save(tmp_path/'x.npy', x)
    env = {k: v for k, v in os.environ.items() if not k.startswith('PYTHON')}
    site = str(Path(torch.__file__).parent.parent)
    p = subprocess.run([sys.executable, '-I', '-S', '-c', _CLEAN, site, str(root/'models'/'model.ts'), str(tmp_path/'x.npy'),
                        str(tmp_path/'y.npy')], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    contract = json.loads(p.stdout.strip().splitlines()[-1])
    assert contract['labels'] == P.labels and contract['preprocess'] == P.preprocess and contract['window'] == P.window
    assert contract['format'] == 'torchscript' and contract['data_hash'] == P.data_hash()
    assert contract['checkpoint_sha256'] == file_sha256(ckpt)
    model, _ = load_checkpoint(ckpt)
    with torch.no_grad(): ref = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.load(tmp_path/'y.npy'), ref, atol=1e-5)

def test_ecgnb_is_not_importable_that_way(tmp_path):
    "The check above is not vacuous: the same interpreter without -I -S does import the editable ecgnb."
    code = "import importlib.util; print(importlib.util.find_spec('ecgnb') is not None)"
    assert subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True).stdout.strip() == 'True'

def test_torchscript_refusals(trained):
    root, _, ckpt = trained
    r = ecgnb('export', '--checkpoint', ckpt, '--out', root/'m.ts', '--format', 'torchscript', '--quantize')
    assert r.returncode == 2 and 'does not apply to TorchScript' in r.stderr and not (root/'m.ts').exists()
    r = ecgnb('export', '--checkpoint', ckpt, '--out', root/'m.onnx', '--format', 'torchscript')
    assert r.returncode == 2 and r.stderr.strip() == f"ecgnb export: error: {root/'m.onnx'}: the output file should end in .ts (format torchscript)"

def test_export_never_takes_data_relative_to_the_working_directory(trained, tmp_path):
    """A checkpoint that records only training's default `data/processed` (relative, no lineage), exported from a folder
    that has a `data/processed`: export says where its data is not recorded instead of taking that folder."""
    import torch
    from ecgnb.models import save_checkpoint
    root, P, ckpt = trained
    ck = torch.load(ckpt, map_location='cpu', weights_only=True)
    ck['config'] = dict(ck['config'], data='data/processed'); ck['lineage'] = None
    rel = save_checkpoint(ck, tmp_path/'rel.pt')
    (tmp_path/'data').mkdir(); (tmp_path/'data'/'processed').symlink_to(P.path)
    r = ecgnb('export', '--checkpoint', rel, '--out', tmp_path/'m.onnx', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "does not record where its training data is (only 'data/processed'" in r.stdout and '(test split)' not in r.stdout, r.stdout
    r = ecgnb('export', '--checkpoint', rel, '--out', tmp_path/'m.onnx', '--data', P.path, cwd=tmp_path)
    assert r.returncode == 0 and f'real windows: 24 from {P.path} (test split)' in r.stdout, r.stdout + r.stderr
    r = ecgnb('export', '--checkpoint', rel, '--out', tmp_path/'m2.onnx', '--data', tmp_path/'nowhere')
    assert r.returncode == 2 and 'nowhere: not a processed folder' in r.stderr and not (tmp_path/'m2.onnx').exists()

# --- Hugging Face ---------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def published(trained):
    root, P, ckpt = trained
    r = ecgnb('publish', '--model', root/'models'/'model.onnx', '--repo-id', 'demo-owner/ecg-demo', '--dry-run', '--out', root/'hf')
    assert r.returncode == 0, r.stderr
    return root/'hf', r.stdout

def _front(readme:str)->dict:
    m = re.match(r'---\n(.*?)\n---\n', readme, re.S)
    assert m, 'no YAML front matter'
    return yaml.safe_load(m.group(1))

def test_dry_run_folder(trained, published):
    root, P, ckpt = trained
    hf, out = published
    assert sorted(os.listdir(hf)) == ['README.md', 'config.json', 'model.onnx']
    assert file_sha256(hf/'model.onnx') == file_sha256(root/'models'/'model.onnx')
    cfg = json.loads((hf/'config.json').read_text())
    assert cfg['labels'] == P.labels and cfg['preprocess'] == P.preprocess and cfg['fs'] == 100.0 and cfg['window'] == P.window
    assert 'dry run: nothing uploaded' in out and 'scores of checkpoint.eval-test (test split)' in out

def test_model_card_front_matter(trained, published):
    root, P, _ = trained
    readme = (published[0]/'README.md').read_text()
    front = _front(readme)
    assert front['license'] == 'apache-2.0' and front['library_name'] == 'onnx'
    assert {'ecg', 'onnx'} <= set(front['tags'])
    assert front['labels'] == P.labels and front['training_data_hash'] == P.data_hash()
    ev = json.loads((root/'models'/'checkpoint.eval-test'/'metrics.json').read_text())
    res = front['model-index'][0]['results'][0]
    assert front['model-index'][0]['name'] == 'ecg-demo' and res['dataset']['split'] == 'test'
    assert res['dataset']['revision'] == P.data_hash()
    got = {m['name']: m['value'] for m in res['metrics']}
    assert got['macro F1 (records)'] == round(ev['record']['macro']['f1'], 4)
    assert got['macro AUROC (records)'] == round(ev['record']['macro']['auroc'], 4)
    assert all(got[f"F1 {l} (records)"] == round(ev['record']['per_class'][l]['f1'], 4) for l in P.labels)
    body = readme.split('---\n', 2)[2]
    for s in ('**Not a medical device.**', '## Intended use', '## Limitations', '## Evaluation', '## How to use', P.data_hash()):
        assert s in body, s
    assert str(root) not in readme + (published[0]/'config.json').read_text()          # no local path
    assert not re.search(r'\bp\d_\d\b', readme)                                          # no patient id of the toy folder

def test_model_card_example_runs(trained, published, tmp_path):
    "The card's Python example, run as written in a copy of the folder, gives the labels the checkpoint gives."
    import shutil, torch
    from ecgnb.models import load_checkpoint
    from ecgnb.signal import Preprocess
    from ecgnb.synth import synth_ecg
    from ecgnb.core import decide
    root, P, ckpt = trained
    hf = shutil.copytree(published[0], tmp_path/'ecg-demo')
    blocks = re.findall(r'```python\n(.*?)```', (hf/'README.md').read_text(), re.S)
    assert len(blocks) == 1 and 'onnxruntime' in blocks[0]
    r = subprocess.run([sys.executable, '-c', blocks[0]], cwd=hf, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    said = eval(r.stdout.strip().splitlines()[-1])                      # a printed list of label names
    model, ck = load_checkpoint(ckpt)
    w = Preprocess.from_dict(ck['preprocess'])(synth_ecg('normal', duration=10, fs=360, leads=1).signal[:1], fs=360)
    with torch.no_grad(): p = torch.softmax(model(torch.from_numpy(w)), 1).numpy()
    assert said == [P.labels[j] for j in decide(p, ck['thresholds'], False).argmax(1)] and len(said) == len(w)

def test_upload_without_hub_or_token_is_one_line(trained, tmp_path):
    root, _, _ = trained
    env = {k: v for k, v in os.environ.items() if not k.startswith('HF_')} | {'HF_HOME': str(tmp_path/'hf-home'), 'HF_HUB_OFFLINE': '1'}
    r = ecgnb('publish', '--model', root/'models'/'model.onnx', '--repo-id', 'demo-owner/ecg-demo', env=env)
    want = "pip install 'ecgnb[hub]'" if importlib.util.find_spec('huggingface_hub') is None else 'no Hugging Face token'
    assert r.returncode == 2 and want in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (root/'models'/'model-hf').exists()

def test_publish_refuses_bad_input(trained, tmp_path):
    root, _, ckpt = trained
    (tmp_path/'junk.onnx').write_bytes(b'not a model')
    r = ecgnb('publish', '--model', tmp_path/'junk.onnx', '--repo-id', 'a/b', '--dry-run')
    assert r.returncode == 2 and f"{tmp_path/'junk.onnx'}: not an ONNX model" in r.stderr
    r = ecgnb('publish', '--model', root/'models'/'model.onnx', '--repo-id', 'no-owner', '--dry-run', '--out', tmp_path/'x')
    assert r.returncode == 2 and "--repo-id 'no-owner': expected OWNER/NAME" in r.stderr
    other = tmp_path/'other.json'
    other.write_text(json.dumps(json.loads((root/'models'/'checkpoint.eval-test'/'metrics.json').read_text()) | {'checkpoint_sha256': '0'*64}))
    r = ecgnb('publish', '--model', root/'models'/'model.onnx', '--repo-id', 'a/b', '--dry-run', '--out', tmp_path/'y', '--metrics', other)
    assert r.returncode == 2 and f"{other}: evaluates another checkpoint" in r.stderr
    assert not (tmp_path/'x').exists() and not (tmp_path/'y').exists()

# --- the command line documents every command -----------------------------------------------------------------

def test_every_command_is_in_the_readme():
    from ecgnb.cli import COMMANDS
    readme = (ROOT/'README.md').read_text()
    assert [n for n in COMMANDS if f"`ecgnb {n}" not in readme] == []

# --- audit trail of consent and lineage (issue 17 item 4) -----------------------------------------------------

def test_audit_of_a_model_without_lineage(trained):
    "A checkpoint made before lineage existed: the audit says what is not recorded, and exits 0."
    root, P, ckpt = trained
    r = ecgnb('audit', root/'models'/'model.onnx')
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'lineage:      not recorded' in r.stdout and f"data hash:    {P.data_hash()}" in r.stdout
    r = ecgnb('audit', root/'nothing.pt')
    assert r.returncode != 0 and 'no such model file' in r.stderr

def test_consent_lineage_audit_from_the_command_line(tmp_path):
    "prepare --require-consent, train, export to TorchScript and audit, as a user runs them; no patient id anywhere."
    from ecgnb.core import STARTER_LABELS
    from ecgnb.synth import synth_ecg, save_synth
    raw, ents = tmp_path/'raw', []
    raw.mkdir()
    for k, cons in enumerate(['research', 'form:QQCONSENT-1'] * 10 + ['restricted', 'withdrawn', None]):
        save_synth(synth_ecg(STARTER_LABELS[k % 5], 12.0, 250.0, seed=k, patient=k, noise='low'), raw/f"QQPATIENT{k}")
        ents.append(dict(file=f"QQPATIENT{k}.npy", label=STARTER_LABELS[k % 5], patient_id=f"QQPATIENT{k}") | ({'consent': cons} if cons else {}))
    (raw/'labels.json').write_text(json.dumps(ents))
    P, m = tmp_path/'processed', tmp_path/'models'
    steps = [('prepare', '--input-dir', raw, '--out', P, '--require-consent', '--fractions', '0.5,0.25,0.25', '--salt-file', tmp_path/'salt', '--quiet'),
             ('train', '--data', P, '--epochs', 1, '--save', m/'m.pt', '--quiet', '--threads', 1),
             ('export', '--checkpoint', m/'m.pt', '--out', m/'m.ts', '--format', 'torchscript'),
             ('audit', m/'m.ts')]
    outs = []
    for s in steps:
        r = ecgnb(*s); outs.append(r.stdout + r.stderr)
        assert r.returncode == 0, f"ecgnb {s[0]}: {r.stderr[-2000:]}"
    assert 'left out 3 records without usable consent (restricted 1, withdrawn 1, missing 1)' in outs[0]
    assert f"lineage.json SHA-256 {file_sha256(P/'lineage.json')}: 20 records of 20 patients" in outs[3]
    assert f"{P.resolve()} matches" in outs[3]
    for text in [*outs, (P/'lineage.json').read_text(), (P/'report.json').read_text()]: assert 'QQ' not in text
    (P/'lineage.json').write_text((P/'lineage.json').read_text().replace('"format": 1', '"format": 1 '))
    r = ecgnb('audit', m/'m.pt')
    assert r.returncode == 1 and 'has CHANGED since training: lineage_hash now' in r.stdout, r.stdout
