"The offline docs site opens in a real browser and links every library notebook."
import re
from pathlib import Path
from conftest import ROOT, browse
from ecgnb.docs import build_docs, doc_notebooks

def test_docs_site_in_chromium(chromium, tmp_path):
    index = build_docs(ROOT, tmp_path/'_docs')
    dom = browse(chromium, index.as_uri(), tmp_path, screenshot=tmp_path/'docs.png')
    assert '<title>ecgnb</title>' in dom and re.search(r'<h1[^>]*>ecgnb', dom)
    pages = [p for p in doc_notebooks(ROOT) if p.name != 'index.ipynb']
    assert len(pages) >= 3
    for p in pages:
        assert f'href="{p.stem}.html"' in dom, f'{p.name} is not linked from the front page'
        assert (index.parent/f'{p.stem}.html').stat().st_size > 1000
    assert (tmp_path/'docs.png').stat().st_size > 10_000
