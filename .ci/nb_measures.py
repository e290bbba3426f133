"""Print how the library notebooks read, measured as issue 16 measures the nbdev projects we hold up as models.

Code cell lines (median, p90, max, cells over 45), functions per exported cell, exported functions followed by a
cell that uses them, cells with saved output, and function lengths (p90, longest, those over 60 lines).
Exits 1 when a cell tagged `figure` has no saved picture; `--check` also when a target of issue 16 is missed (median <= 5, p90 <= 20, no cell over 45, no function over 60).
"""
import ast, json, sys
from pathlib import Path
import numpy as np

root = Path(__file__).resolve().parent.parent
cells, funcs, exported, followed, with_out, per_cell = [], [], 0, 0, 0, []
for nb_path in sorted((root/'nbs').glob('[0-9]*.ipynb')):
    nb = json.loads(nb_path.read_text())
    code = [c for c in nb['cells'] if c['cell_type'] == 'code']
    for i, c in enumerate(code):
        src = ''.join(c['source'])
        lines = [l for l in src.splitlines() if l.strip() and not l.lstrip().startswith('#|')]
        cells.append(len(lines)); with_out += bool(c.get('outputs'))
        try: tree = ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('#|', '%', '!'))))
        except SyntaxError: continue
        defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        for n in ast.walk(tree):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)): funcs.append((n.end_lineno - n.lineno + 1, f"{nb_path.stem}:{n.name}"))
        if src.lstrip().startswith('#| export'):
            pub = [n.name for n in defs if not n.name.startswith('_')]
            per_cell.append(len(defs))
            nxt = ''.join(code[i + 1]['source']) if i + 1 < len(code) else ''
            exported += len(pub); followed += sum(1 for n in pub if n in nxt and not nxt.lstrip().startswith('#| export'))
lens = sorted(l for l, _ in funcs)
long = sorted(((l, n) for l, n in funcs if l > 60), reverse=True)
m = dict(cells=len(cells), median=float(np.median(cells)), p90=float(np.percentile(cells, 90)), max=max(cells),
         over_45=sum(c > 45 for c in cells), defs_per_exported_cell=round(float(np.mean(per_cell)), 2),
         exported_followed_pct=round(100*followed/max(exported, 1), 1), cells_with_output_pct=round(100*with_out/len(cells), 1),
         function_p90=float(np.percentile(lens, 90)), function_max=lens[-1], functions_over_60=len(long))
print('notebook measures over nbs/ (issue 16):')
for k, v in m.items(): print(f"  {k:<26} {v}")
if long: print('  functions over 60 lines: ' + ', '.join(f"{n} ({l})" for l, n in long))
sys.path.insert(0, str(root))
from ecgnb.docs import missing_figures
n_fig = sum(1 for p in (root/'nbs').glob('*.ipynb') for c in json.loads(p.read_text())['cells'] if 'figure' in (c.get('metadata', {}).get('tags') or []))
print(f"  figure cells               {n_fig} (saved pictures, shown by the docs without running anything)")
if miss := missing_figures(root): sys.exit('figure cells without a saved picture (run `make figures`): ' + ', '.join(miss))
if '--check' in sys.argv and (m['median'] > 5 or m['p90'] > 20 or m['over_45'] or m['functions_over_60']): sys.exit(1)
