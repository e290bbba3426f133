"""Fail when the library, the notebooks or the README are out of step with what nbdev would write.

Runs `nbdev_export` and `nbdev_clean` (on nbs/ and reports/) and the README render, then compares file
contents before and after. What changed is left changed on disk, so `git diff` shows the fix to commit.
"""
import hashlib, subprocess, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
bin_ = Path(sys.executable).parent

def snapshot(*globs):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest()
            for g in globs for p in sorted(root.glob(g)) if p.is_file() and '.ipynb_checkpoints' not in p.parts}

def changed(before, after): return sorted(str(p.relative_to(root)) for p in set(before) | set(after) if before.get(p) != after.get(p))

def run(*cmd):
    r = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if r.returncode: sys.exit(f"{' '.join(cmd)} failed:\n{r.stdout}{r.stderr}")

problems = []
before = snapshot('ecgnb/**/*.py')
run(str(bin_/'nbdev_export'))
if d := changed(before, snapshot('ecgnb/**/*.py')): problems.append(f"nbdev_export changed the library (edit the notebooks, not ecgnb/): {d}")

before = snapshot('nbs/**/*.ipynb', 'reports/*.ipynb')
run(str(bin_/'nbdev_clean'))
run(str(bin_/'nbdev_clean'), '--fname', 'reports')
if d := changed(before, snapshot('nbs/**/*.ipynb', 'reports/*.ipynb')): problems.append(f"nbdev_clean changed notebooks (run nbdev_clean and commit): {d}")

before = snapshot('README.md')
run(str(bin_/'python'), '-m', 'ecgnb.docs', '--readme-only')
if d := changed(before, snapshot('README.md')): problems.append(f"README.md is out of step with nbs/index.ipynb: {d}")

if problems: sys.exit('\n'.join(problems))
print('library, notebooks and README are in sync')
