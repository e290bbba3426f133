"`ecgnb train` / `ecgnb evaluate` as a user runs them: CLI runs, a killed run resumed, and 2-process DDP with torchrun."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import numpy as np, pytest, torch
from conftest import ecgnb, BIN
from ecgnb.dataset import toy_processed, load_processed, write_processed
from ecgnb.models import load_checkpoint

@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    "72 windows of 3 toy classes, 18 patients split 4:1:1: enough to exercise the commands."
    return toy_processed(tmp_path_factory.mktemp('data')/'toy', n_classes=3, patients_per_class=6, windows_per_record=2)

@pytest.fixture(scope='module')
def toy_learnable(tmp_path_factory):
    "192 windows of 3 toy classes, 24 patients: enough for a model to learn them."
    return toy_processed(tmp_path_factory.mktemp('data')/'toy', n_classes=3, patients_per_class=8, windows_per_record=4)

def test_train_then_evaluate(toy, tmp_path):
    r = ecgnb('train', '--data', toy, '--epochs', 2, '--batch', 16, '--save', tmp_path/'m.pt', '--log-dir', tmp_path/'runs',
              '--use-wandb', '--project', 'ecgnb-test', '--seed', 1)
    assert r.returncode == 0, r.stderr
    assert (tmp_path/'m.pt').exists() and (tmp_path/'m.last.pt').exists()
    mj = json.loads((tmp_path/'runs'/'metrics.json').read_text())
    assert [h['epoch'] for h in mj['history']] == [0, 1] and mj['config']['project'] == 'ecgnb-test'
    assert set(mj['test']['record']['per_class']) == {'class0', 'class1', 'class2'}
    assert any(p.name.startswith('events.out.tfevents') for p in (tmp_path/'runs').iterdir())
    _, ck = load_checkpoint(tmp_path/'m.pt')
    assert ck['epoch'] == mj['best']['epoch'] and ck['thresholds'] == mj['thresholds']
    r = ecgnb('evaluate', '--checkpoint', tmp_path/'m.pt', '--data', toy, '--out', tmp_path/'ev', '--n-boot', 100)
    assert r.returncode == 0, r.stderr
    ev = json.loads((tmp_path/'ev'/'metrics.json').read_text())
    assert {'confusion_window.png', 'curves_record.png', 'records.csv'} <= {p.name for p in (tmp_path/'ev').iterdir()}
    # the training run scored the same checkpoint on the same test split with the same thresholds
    assert abs(ev['record']['macro']['f1'] - mj['test']['record']['macro']['f1']) < 1e-9
    lo, hi = ev['record']['ci']['macro_f1']; assert lo <= ev['record']['macro']['f1'] <= hi
    # an external set whose windows carry a label the model does not know: one clear error, no column shift
    pr = load_processed(toy)
    ext = write_processed(tmp_path/'ext', pr.X, np.concatenate([pr.y, pr.y[:, :1]], 1), pr.labels + ['noisy'],
                          pr.meta, pr.splits, pr.preprocess)
    r = ecgnb('evaluate', '--checkpoint', tmp_path/'m.pt', '--data', ext, '--split', 'all', '--n-boot', 10)
    assert r.returncode == 2 and "labels ['noisy'] occur in the data but the model does not know them" in r.stderr
    assert 'Traceback' not in r.stderr

def _history(p):
    mj = json.loads(Path(p).read_text())
    return [(h['epoch'], h['train_loss'], h['val_loss']) for h in mj['history']], mj['test']['window']['macro']['f1']

def test_killed_run_resumes_to_the_same_result(toy, tmp_path):
    args = ['--data', toy, '--epochs', 3, '--batch', 16, '--seed', 3, '--quiet', '--patience', 99]
    r = ecgnb('train', *args, '--save', tmp_path/'a.pt')
    assert r.returncode == 0, r.stderr
    env = os.environ | {'ECGNB_PAUSE_AT': 'train epoch 1'}   # held right after epoch 1's checkpoints: killed there on any machine
    p = subprocess.Popen([str(BIN/'ecgnb'), 'train', *map(str, args), '--save', str(tmp_path/'b.pt')], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    said = []
    for line in p.stderr:   # blocks until the run announces its pause (or exits)
        if line == 'ecgnb: paused at train epoch 1\n': break
        said.append(line)
    else: p.wait(); raise AssertionError(f"the run ended ({p.returncode}) before its pause point: {''.join(said)[-2000:]}")
    p.send_signal(signal.SIGKILL); p.wait(); p.stderr.close()
    last = tmp_path/'b.last.pt'
    done = torch.load(last, weights_only=True)['epoch']
    assert done == 0 and not (tmp_path/'b.metrics.json').exists()
    r = ecgnb('train', *args, '--save', tmp_path/'b.pt', '--resume')
    assert r.returncode == 0, r.stderr
    (ha, fa), (hb, fb) = _history(tmp_path/'a.metrics.json'), _history(tmp_path/'b.metrics.json')
    assert [h[0] for h in hb] == list(range(3))
    np.testing.assert_allclose(np.array(ha)[:, 1:], np.array(hb)[:, 1:], atol=1e-6)
    assert fa == fb

def test_torchrun_two_processes(toy_learnable, tmp_path):
    torchrun = BIN/'torchrun'
    if not torchrun.exists(): pytest.skip('torchrun is not installed in this environment')
    env = os.environ | {'OMP_NUM_THREADS': '1', 'PYTHONFAULTHANDLER': '1'}   # a rank that aborts prints where each of its threads was
    r = subprocess.run([str(torchrun), '--standalone', '--nproc_per_node=2', '-m', 'ecgnb.cli', 'train', '--data', str(toy_learnable),
                        '--epochs', '8', '--batch', '8', '--save', str(tmp_path/'d.pt'), '--seed', '1', '--quiet'],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr[-8000:]}"
    mj = json.loads((tmp_path/'d.metrics.json').read_text())
    assert mj['world_size'] == 2
    assert mj['test']['window']['macro']['f1'] >= 0.9, mj['test']['window']['macro']
    model, ck = load_checkpoint(tmp_path/'d.pt')
    assert ck['labels'] == ['class0', 'class1', 'class2'] and not any(k.startswith('module.') for k in ck['state_dict'])
