"`ecgnb study --quick` runs every report with papermill and writes an index a browser opens."
import json
from conftest import ROOT, ecgnb, browse

def test_quick_study(tmp_path, chromium):
    r = ecgnb('study', '--quick', '--out', tmp_path/'out', cwd=ROOT, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    idx = json.loads((tmp_path/'out'/'index.json').read_text())
    names = [s['name'] for s in idx['reports']]
    assert names == sorted(names) and names[0] == '00_environment'
    assert all(s['status'] == 'ok' for s in idx['reports'])
    assert idx['env']['packages']['torch'].startswith('2.13.0')
    dom = browse(chromium, (tmp_path/'out'/'index.html').as_uri(), tmp_path)
    assert 'ecgnb study' in dom and '00_environment/00_environment.html' in dom

def test_notebooks_are_python3_and_reports_take_parameters():
    "Every kernelspec is python3 and every report keeps its papermill `parameters` cell after nbdev_clean."
    import nbformat
    from ecgnb.study import report_notebooks, _params
    for p in sorted((ROOT/'nbs').glob('*.ipynb')) + sorted((ROOT/'reports').glob('*.ipynb')):
        assert nbformat.read(p, as_version=4).metadata['kernelspec']['name'] == 'python3', p.name
    reports = report_notebooks(ROOT/'reports')
    assert len(reports) >= 5
    for p in reports: assert {'quick', 'seed', 'out_dir'} <= _params(p), p.name

def test_papermill_reads_every_report_parameter():
    "papermill's own parser reads every assignment of each `parameters` cell (a comment it cannot parse hides the line from `papermill --help-notebook`)."
    import ast, io, contextlib, nbformat
    from papermill.translators import PythonTranslator
    from ecgnb.study import report_notebooks
    for p in report_notebooks(ROOT/'reports'):
        src = next(c.source for c in nbformat.read(p, as_version=4).cells if 'parameters' in c.metadata.get('tags', []))
        names = [t.id for n in ast.parse(src).body if isinstance(n, ast.Assign) for t in n.targets]
        with contextlib.redirect_stdout(io.StringIO()): got = [q.name for q in PythonTranslator.inspect({'source': src})]
        assert got == names, (p.name, sorted(set(names) - set(got)))
