"""The deployment smoke sequence without Docker: train -> export -> `ecgnb serve` on 127.0.0.1 -> HTTP.
Then the contract of every route, the page in headless Chromium, and schemathesis against the OpenAPI schema.
Real recordings come from the excerpt committed in data/samples (conftest's `sample`), so these tests run the same
in every clone, with or without the full databases."""
import io, json, os, re, shutil, socket, subprocess, sys, time, zipfile
from pathlib import Path
import numpy as np, pytest, httpx
from filelock import FileLock
from conftest import ecgnb, browse, sample, BIN

def free_port()->int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture(scope='session')
def model(tmp_path_factory):
    "A model trained for one epoch on synthetic records and exported: built once, shared by the xdist workers."
    base = tmp_path_factory.getbasetemp()                    # under xdist, its parent is this run's (shared) folder
    root = (base.parent if os.environ.get('PYTEST_XDIST_WORKER') else base) / 'ecgnb-service-model'
    root.mkdir(exist_ok=True)
    with FileLock(str(root/'.lock')):
        if not (root/'model.onnx').exists():
            steps = [('prepare', '--generate-synthetic', '--out', root/'raw', '--n-samples', 8, '--duration', 10, '--quiet'),
                     ('prepare', '--input-dir', root/'raw', '--out', root/'processed', '--workers', 1, '--quiet'),
                     ('train', '--data', root/'processed', '--epochs', 1, '--save', root/'ckpt.pt', '--quiet'),
                     ('export', '--checkpoint', root/'ckpt.pt', '--out', root/'model.onnx', '--quantize')]
            for args in steps:
                r = ecgnb(*args)
                assert r.returncode == 0, f"ecgnb {args[0]} failed: {r.stderr[-2000:]}"
            (root/'export.txt').write_text(r.stdout)
    return root/'model.onnx'

class Server:
    "A service process on 127.0.0.1 with its output in a file."
    def __init__(self, cmd, env, log:Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.p = subprocess.Popen([str(c).replace('{port}', str(self.port)) for c in cmd], env=os.environ | env,
                                  stdout=open(log, 'w'), stderr=subprocess.STDOUT)
        deadline = time.time() + 600   # a fail-safe only: the loop ends when /health answers
        while time.time() < deadline:
            if self.p.poll() is not None: raise AssertionError(f"the server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + '/health', timeout=2).status_code == 200: return
            except httpx.HTTPError: pass
            time.sleep(0.3)
        self.stop(); raise AssertionError(f"the server did not come up: {log.read_text()[-2000:]}")
    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try: self.p.wait(15)
            except subprocess.TimeoutExpired: self.p.kill(); self.p.wait(5)

@pytest.fixture(scope='module')
def server(model, tmp_path_factory):
    log = tmp_path_factory.mktemp('serve') / 'serve.log'
    s = Server([BIN/'ecgnb', 'serve', '--model', model, '--port', '{port}'], {}, log)
    yield s
    s.stop()

def ecg(seconds=10.0):
    "A real ECG (MIT-BIH record 100 of the committed excerpt, lead MLII, 360 Hz) in mV."
    import wfdb
    rec = wfdb.rdrecord(str(sample('mitdb')/'100'), sampto=int(seconds*360), channels=[0])
    return rec.p_signal[:, 0].astype(np.float32), 360.0

def test_export_prints_parity_and_contract(model):
    out = (model.parent/'export.txt').read_text()
    worst = max(float(v) for v in re.findall(r'(?:random|real) ([0-9.e+-]+)', out))
    assert worst <= 1e-4, out
    assert "contract: labels ['normal', 'st_elevation', 'arrhythmia', 'afib', 'tachycardia'], fs 250 Hz" in out
    assert re.search(r'int8: wrote .*model\.int8\.onnx .*decisions agree .*accuracy', out), out

def test_smoke_infer(server):
    x, fs = ecg(10.0)
    assert httpx.get(server.url + '/health').json()['status'] == 'ok'
    r = httpx.post(server.url + '/infer', json={'signal': x.tolist(), 'fs': fs, 'units': 'mV'}, timeout=30)
    assert r.status_code == 200, r.text
    d = r.json()
    labels = httpx.get(server.url + '/model').json()['labels']
    assert d['labels'] == labels and set(d['prediction']) <= set(labels) and d['n_windows'] == 2
    assert abs(sum(d['probabilities'].values()) - 1) < 1e-3
    assert 60 <= d['heart_rate_bpm'] <= 90 and d['status'] == 'ok', d   # record 100 is ~75 bpm sinus

def test_model_metadata(server):
    m = httpx.get(server.url + '/model').json()
    assert m['fs'] == 250.0 and m['window'] == 1250 and m['n_leads'] == 1 and len(m['data_hash']) == 64
    assert m['preprocess']['band'] == [0.5, 40.0] and m['opset'] == 18

SIG = [0.01]*1250
@pytest.mark.parametrize('body,msg', [
    (b'not json', 'not valid JSON'), (b'[]', 'JSON object'), (b'{"fs": 250}', 'signal'),
    (json.dumps({'signal': SIG}).encode(), 'fs'), (json.dumps({'signal': SIG, 'fs': 99}).encode(), 'between 100 and 1000'),
    (json.dumps({'signal': SIG, 'fs': 1001}).encode(), 'between 100 and 1000'),
    (json.dumps({'signal': SIG[:500], 'fs': 250}).encode(), 'at least one 5-s window'),
    (json.dumps({'signal': [0.0]*(100*601), 'fs': 100}).encode(), 'at most 600 s'),
    (json.dumps({'signal': SIG[:-1] + ['1.0'], 'fs': 250}).encode(), 'numbers only'),
    (json.dumps({'signal': [SIG, SIG[:9]], 'fs': 250}).encode(), 'equal length|numbers only'),
    (json.dumps({'signal': [[SIG]], 'fs': 250}).encode(), 'dimensions'),
    (b'{"signal": [Infinity, 1.0], "fs": 250}', 'not valid JSON'),
    (json.dumps({'signal': SIG[:-1] + [1e300], 'fs': 250}).encode(), 'NaN, infinite or out-of-range'),
    (json.dumps({'signal': SIG, 'fs': 250, 'units': 'furlongs'}).encode(), 'units'),
    (json.dumps({'signal': [SIG, SIG], 'fs': 250}).encode(), 'lead'),
])
def test_bad_requests_are_422_with_a_message(server, body, msg):
    r = httpx.post(server.url + '/infer', content=body, headers={'content-type': 'application/json'})
    assert r.status_code == 422, (r.status_code, r.text)
    assert re.search(msg, r.json()['detail'][0]['msg']), r.text

def raw_post(url:str, path:str, headers:str, body:bytes=b'')->str:
    "Status line of a hand-written POST (a client library would insist on sending the body it announced)."
    host, port = url.split('//')[1].split(':')
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{headers}\r\n".encode() + body)
        return s.recv(4096).decode('latin-1').split('\r\n')[0]

def test_size_limit_and_content_types(server):
    assert ' 413 ' in raw_post(server.url, '/infer', 'Content-Length: 999999999\r\n')
    chunks = [b' '*(1 << 20)]*16 + [b' '*4096]   # 16 MiB + 4 KiB: over the default limit by the last chunk
    chunked = b''.join(b'%x\r\n%s\r\n' % (len(c), c) for c in chunks) + b'0\r\n\r\n'
    assert ' 413 ' in raw_post(server.url, '/infer', 'Transfer-Encoding: chunked\r\n', chunked)
    assert httpx.post(server.url + '/infer/batch', content=b'x', headers={'content-type': 'text/plain'}).status_code == 422
    assert httpx.get(server.url + '/no/such/route').status_code == 404

def test_batch_json_and_npy(server):
    x, fs = ecg(30.0)
    W = x[:len(x)//1800*1800].reshape(-1, 1800)
    r = httpx.post(server.url + '/infer/batch', json={'windows': W.tolist(), 'fs': fs}, timeout=30)
    assert r.status_code == 200 and r.json()['n_windows'] == len(W)
    buf = io.BytesIO(); np.save(buf, W)
    r2 = httpx.post(server.url + f'/infer/batch?fs={fs:g}', content=buf.getvalue(), headers={'content-type': 'application/octet-stream'}, timeout=30)
    assert r2.status_code == 200 and r2.json()['prediction'] == r.json()['prediction']
    assert np.allclose(r2.json()['probabilities'], r.json()['probabilities'], atol=1e-4)

def zip_of(files)->bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w') as z:
        for f in files: z.write(f, f"rec/{f.name}")
    return b.getvalue()

def test_file_uploads(server, tmp_path):
    x, fs = ecg(12.0)
    np.save(tmp_path/'ecg.npy', x)
    r = httpx.post(server.url + '/infer/file', files={'file': ('ecg.npy', (tmp_path/'ecg.npy').read_bytes())}, data={'fs': str(fs)}, timeout=30)
    assert r.status_code == 200 and r.json()['n_windows'] == 2, r.text
    np.savetxt(tmp_path/'ecg.csv', np.c_[np.arange(len(x))/fs, x], delimiter=',', header='time,ecg', comments='')
    r = httpx.post(server.url + '/infer/file', files={'file': ('ecg.csv', (tmp_path/'ecg.csv').read_bytes())}, timeout=30)
    assert r.status_code == 200 and r.json()['n_windows'] == 2, r.text
    rec = sorted(sample('cinc2017').glob('*.hea'))[0]
    r = httpx.post(server.url + '/infer/file', files={'file': ('r.zip', zip_of(rec.parent.glob(rec.stem + '.*')))}, timeout=30)
    assert r.status_code == 200 and r.json()['fs'] == 300.0, r.text
    for name, data in [('x.exe', b'MZ'), ('x.zip', b'PK'), ('x.csv', b'a,b\nc,d\n'), ('x.edf', b'0'*300)]:
        r = httpx.post(server.url + '/infer/file', files={'file': (name, data)}, timeout=30)
        assert r.status_code == 422, (name, r.status_code, r.text)

def test_no_signal_values_in_logs(server):
    marker = 0.7316529
    httpx.post(server.url + '/infer', json={'signal': [marker]*1250 + ['oops'], 'fs': 250})
    httpx.post(server.url + '/infer', json={'signal': [marker]*1250, 'fs': 250})
    # no wait needed: whatever a request logs is written (and flushed) before its response is sent
    text = server.log.read_text()
    assert str(marker) not in text and 'oops' not in text

def test_page_in_chromium(server, chromium, tmp_path):
    x, fs = ecg(10.0)
    url = server.url + '/#fs=' + str(fs) + '&signal=' + ','.join(f"{v:.3f}" for v in x)
    shot = tmp_path/'page.png'
    dom = browse(chromium, url, tmp_path, screenshot=shot)
    m = re.search(r'<div id="result"[^>]*>([^<]*)</div>', dom)
    assert m and m.group(1).startswith('Prediction: '), dom[-3000:]
    assert 'heart rate' in m.group(1) and '<canvas' in dom
    assert shot.exists() and shot.stat().st_size > 10_000

def test_api_docs_work_offline(server, chromium, tmp_path):
    "Swagger UI's scripts come from the package, not a CDN: the page renders with the network off (the browser has none)."
    html = httpx.get(server.url + '/docs').text
    assert '/docs-assets/swagger-ui-bundle.js' in html and 'cdn.' not in html
    assert httpx.get(server.url + '/docs-assets/swagger-ui-bundle.js').status_code == 200
    dom = browse(chromium, server.url + '/docs', tmp_path)
    assert 'opblock' in dom and '/infer/batch' in dom, dom[-2000:]

def test_uvicorn_app_with_api_key(model, tmp_path):
    s = Server([sys.executable, '-m', 'uvicorn', 'ecgnb.service:app', '--host', '127.0.0.1', '--port', '{port}'],
               {'ECGNB_MODEL': str(model), 'ECGNB_API_KEY': 'k3y', 'ECGNB_CORS_ORIGINS': 'https://ward.example'}, tmp_path/'log')
    try:
        body = {'signal': ecg(5.0)[0].tolist(), 'fs': 360}
        assert httpx.post(s.url + '/infer', json=body).status_code == 401
        assert httpx.post(s.url + '/infer', json=body, headers={'X-API-Key': 'k3y'}).status_code == 200
        assert httpx.get(s.url + '/model').status_code == 401
        assert httpx.get(s.url + '/docs-assets/swagger-ui.css').status_code == 200   # the docs' assets stay open, like /docs
        pre = httpx.options(s.url + '/infer', headers={'Origin': 'https://ward.example', 'Access-Control-Request-Method': 'POST'})
        assert pre.headers.get('access-control-allow-origin') == 'https://ward.example'
    finally: s.stop()

def test_schemathesis_finds_no_server_errors(server, tmp_path):
    st = shutil.which('schemathesis', path=str(BIN))
    if not st: pytest.skip('schemathesis is not installed (pip install schemathesis)')
    # a fixed amount of work (seed, examples per operation), not a time budget: under load a budget would leave routes untested
    r = subprocess.run([st, 'run', server.url + '/openapi.json', '--checks', 'not_a_server_error', '--max-examples', '10',
                        '--seed', '1', '--phases', 'coverage,fuzzing', '--request-timeout', '60', '--workers', '1',
                        '--report', 'junit', '--report-dir', str(tmp_path)], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert 'POST /infer' in r.stdout, r.stdout[-2000:]

def request_schema(spec:dict, path:str, ctype:str='application/json')->dict:
    "The schema of a route's request body in an OpenAPI document."
    return spec['paths'][path]['post']['requestBody']['content'][ctype]

def test_schema_states_what_the_service_refuses(server):
    "The three requests schemathesis 4.32 found allowed by the schema and refused (422) are outside the schema now."
    from jsonschema import Draft202012Validator
    spec = httpx.get(server.url + '/openapi.json').json()
    allows = lambda path, body: Draft202012Validator(request_schema(spec, path)['schema']).is_valid(body)
    assert not allows('/infer', {'signal': [], 'fs': 100.0}) and not allows('/infer/batch', {'windows': [], 'fs': 100.0})
    cd = request_schema(spec, '/infer/file', 'multipart/form-data')['encoding']['file']['headers']['Content-Disposition']
    assert cd['required'] and not re.search(cd['schema']['pattern'], 'form-data; name="file"; filename="file"')
    assert re.search(cd['schema']['pattern'], cd['example'])
    upload = spec['components']['schemas']['Body_infer_file_infer_file_post']
    assert upload['required'] == ['file'] and upload['properties']['file']['minLength'] == 1
    assert [v.get('type') for v in upload['properties'].values()] == ['string', 'number', 'string', 'string', 'boolean']   # no null in a form
    # this model: 5-s windows at 250 Hz, so a signal needs 500 samples at 100 Hz; one unnamed lead, so one row and one name
    assert [allows('/infer', {'signal': [0.1]*n, 'fs': 100.0}) for n in (499, 500)] == [False, True]
    assert httpx.post(server.url + '/infer', json={'signal': [0.1]*500, 'fs': 100.0}).status_code == 200
    assert not allows('/infer', {'signal': [[0.1]*500]*2, 'fs': 100.0}) and not allows('/infer', {'signal': [0.1]*500, 'fs': 100.0, 'leads': ['a', 'b']})
    assert [allows('/infer/batch', {'windows': [[0.1]*n], 'fs': 100.0}) for n in (499, 500, 5002, 5003)] == [False, True, True, False]

# What a schema cannot state: the service refuses these for a reason that depends on another field (the rate, the
# units, the names of the rows), on the rows being equally long, or on the content of a file or .npy body.
CANNOT_STATE = {
    '/infer': [r'the model needs at least one [\d.]+-s window', r'at most [\d.]+ s per request',   # length: the rate decides
               r'values beyond .* are not an ECG',                                             # size: the units decide
               r'leads must be a list of \d+ names, one per signal row', r'^missing leads? ', r'appears more than once',
               r'takes \d+ lead\(s\)', r'rows must be lists of numbers of equal length'],
    '/infer/batch': [r'each window must last', r'preprocessed windows must have \d+ samples', r'`fs` is required unless',
                     r'values beyond .* are not an ECG', r'rows must be lists of numbers of equal length',
                     r'not a NumPy \.npy array|an \.npz archive|\.npy array must be numbers|NaN or infinite'],   # .npy bodies
    '/infer/file': [r'^recording\.csv: ', r'the model needs at least one [\d.]+-s window', r'at most [\d.]+ s per request',
                    r"the recording's rate .* is outside", r'values beyond .* not a voltage', r'^missing leads? '],   # the file's content
}

def test_schema_valid_requests_are_refused_only_for_what_a_schema_cannot_state(server):
    "Requests that schemathesis generates from the schema (positive mode): no 5xx, and every 422 for a reason in CANNOT_STATE."
    schemathesis = pytest.importorskip('schemathesis')
    from hypothesis import given, settings, HealthCheck, Phase
    schema = schemathesis.openapi.from_url(server.url + '/openapi.json')
    for path, reasons in CANNOT_STATE.items():
        seen, stray = {}, []
        @given(case=schema[path]['POST'].as_strategy())
        @settings(max_examples=40, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def send(case):
            r = case.call(base_url=server.url, timeout=30)
            assert r.status_code in (200, 422), (path, r.status_code, r.text[:500])
            msg = r.json()['detail'][0]['msg'] if r.status_code == 422 else 'ok'
            seen[msg[:80]] = seen.get(msg[:80], 0) + 1
            if msg != 'ok' and not any(re.search(p, msg) for p in reasons): stray.append(msg)
        send()
        assert not stray, (path, stray[:5])
        if path == '/infer': assert seen.get('ok', 0) > 0, seen   # some reach the model (a batch window fits its rate, or a file is a recording, by rare luck)

# Twelve leads: a model whose contract names the standard leads, served like the one-lead one.
from ecgnb.core import LEADS_12

@pytest.fixture(scope='session')
def model12(tmp_path_factory):
    "12-lead synthetic fixtures -> prepare --lead standard -> one epoch -> export: the lead names travel into the contract."
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get('PYTEST_XDIST_WORKER') else base) / 'ecgnb-service-model12'
    root.mkdir(exist_ok=True)
    with FileLock(str(root/'.lock')):
        if not (root/'model12.onnx').exists():
            steps = [('fixtures', '--out', root/'raw', '--leads', 12, '--n-per-class', 4),
                     ('prepare', '--input-dir', root/'raw', '--out', root/'processed', '--lead', 'standard', '--workers', 1, '--quiet'),
                     ('train', '--data', root/'processed', '--epochs', 1, '--save', root/'ckpt12.pt', '--quiet'),
                     ('export', '--checkpoint', root/'ckpt12.pt', '--out', root/'model12.onnx')]
            for args in steps:
                r = ecgnb(*args)
                assert r.returncode == 0, f"ecgnb {args[0]} failed: {r.stderr[-2000:]}"
    return root/'model12.onnx'

@pytest.fixture(scope='module')
def server12(model12, tmp_path_factory):
    s = Server([BIN/'ecgnb', 'serve', '--model', model12, '--port', '{port}', '--workers', 1], {}, tmp_path_factory.mktemp('serve12')/'serve.log')
    yield s
    s.stop()

def ecg12(seconds=10.0):
    "A real 12-lead ECG (CPSC 2018 record A0001 of the committed excerpt, 500 Hz) in mV with its lead names."
    from ecgnb.loaders import read_record
    rec = read_record(sample('cpsc2018')/'A0001.hea', lead='all')
    return rec.signal[:, :int(seconds*rec.fs)], rec.fs, list(rec.leads)

def detail(r)->str: return r.json()['detail'][0]['msg']

def test_12_lead_contract_and_json(server12):
    m = httpx.get(server12.url + '/model').json()
    assert (m['n_leads'], m['leads']) == (12, list(LEADS_12))
    x, fs, names = ecg12()
    assert names == list(LEADS_12)
    ok = httpx.post(server12.url + '/infer', json={'signal': x.tolist(), 'fs': fs, 'leads': names}, timeout=30)
    assert ok.status_code == 200 and ok.json()['n_windows'] == 2, ok.text
    order = np.random.default_rng(1).permutation(12)   # any order, 'ECG '/'Lead ' prefixes, any case
    r = httpx.post(server12.url + '/infer', json={'signal': x[order].tolist(), 'fs': fs, 'leads': [f"Lead {names[i].lower()}" for i in order]}, timeout=30)
    assert r.status_code == 200 and r.json()['probabilities'] == ok.json()['probabilities'], r.text
    keep = [i for i, n in enumerate(names) if n not in ('aVL', 'V3')]
    r = httpx.post(server12.url + '/infer', json={'signal': x[keep].tolist(), 'fs': fs, 'leads': [names[i] for i in keep]})
    assert r.status_code == 422 and detail(r).startswith('missing leads aVL, V3: the model needs I, II'), r.text
    r = httpx.post(server12.url + '/infer', json={'signal': x[keep].tolist(), 'fs': fs})
    assert r.status_code == 422 and 'takes 12 lead(s)' in detail(r) and 'got 10 rows' in detail(r), r.text

def zip_named(files:dict)->bytes:
    "A zip of {name: bytes}."
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w') as z:
        for n, data in files.items(): z.writestr(n, data)
    return b.getvalue()

def edf_bytes(x, fs, names, path:Path)->bytes:
    "(leads, n) mV as an EDF+ file with these channel labels."
    import pyedflib
    f = pyedflib.EdfWriter(str(path), len(names), file_type=pyedflib.FILETYPE_EDFPLUS)
    f.setSignalHeaders([dict(label=n, dimension='mV', sample_frequency=fs, physical_max=10.0, physical_min=-10.0,
                             digital_max=32767, digital_min=-32768) for n in names])
    f.writeSamples([np.asarray(r, np.float64) for r in x]); f.close()
    return path.read_bytes()

def upload(server, name, data, **form):
    return httpx.post(server.url + '/infer/file', files={'file': (name, data)}, data=form, timeout=60)

def test_12_lead_files(server12, tmp_path):
    x, fs, names = ecg12()
    order = np.random.default_rng(2).permutation(12)
    edf = edf_bytes(x[order], int(fs), [f"ECG {names[i]}" for i in order], tmp_path/'twelve.edf')
    r = upload(server12, 'twelve.edf', edf, preview='true')
    assert r.status_code == 200 and r.json()['n_windows'] == 2, r.text
    pv = r.json()['preview']['leads']
    assert pv['names'] == list(LEADS_12) and len(pv['signals']) == 12 and len(pv['signals'][0]) == int(10*pv['fs'])
    np.testing.assert_allclose(pv['signals'][1][:50], np.round(x[1, :int(50*fs/pv['fs']):int(fs/pv['fs'])], 4), atol=1e-3)   # lead II is lead II
    r = upload(server12, 'eleven.edf', edf_bytes(x[:11], int(fs), names[:11], tmp_path/'eleven.edf'))
    assert r.status_code == 422 and detail(r).startswith('missing lead V6: ') and 'eleven.edf has I, II' in detail(r), r.text
    assert upload(server12, 'twelve.edf', edf, lead='II').status_code == 422
    d = sample('cpsc2018')
    hea, mat = (d/'A0001.hea').read_text(), (d/'A0001.mat').read_bytes()
    r = upload(server12, 'A0001.zip', zip_named({'A0001/A0001.hea': hea, 'A0001/A0001.mat': mat}), preview='true')
    assert r.status_code == 200 and r.json()['fs'] == 500.0 and r.json()['preview']['leads']['names'] == list(LEADS_12), r.text
    bad = {'no .mat': ({'A0001.hea': hea}, r'A0001\.zip: signal file A0001\.mat is missing'),
           '.mat cut short': ({'A0001.hea': hea, 'A0001.mat': mat[:5000]}, r'A0001\.zip: (truncated|unreadable)'),
           'V4R for V4': ({'A0001.hea': hea.replace(' 0 V4\n', ' 0 V4R\n'), 'A0001.mat': mat}, r'^missing lead V4: .* V3, V4R, V5'),
           'no V5 channel': ({'A0001.hea': hea.replace(' 12 500 ', ' 11 500 ', 1).replace([l for l in hea.splitlines() if l.endswith(' V5')][0] + '\n', ''),
                              'A0001.mat': mat}, r'missing lead V5'),
           'not a header': ({'A0001.hea': 'hello\n', 'A0001.mat': mat}, r'A0001\.zip: .*header'),
           'two records': ({'A0001.hea': hea, 'A0001.mat': mat, 'B.hea': hea.replace('A0001', 'B'), 'B.mat': mat}, r'holds 2 records'),
           'not a zip': (None, r'not a readable zip')}
    for what, (files, msg) in bad.items():
        r = upload(server12, 'A0001.zip', zip_named(files) if files else b'PK\x03\x04 not a zip')
        assert r.status_code == 422 and re.search(msg, detail(r)), (what, r.status_code, r.text)
    assert httpx.get(server12.url + '/health').status_code == 200   # still serving

def panel_traces(png:Path, rows:int=4, cols:int=4)->np.ndarray:
    "For each panel of the ECG paper in a screenshot: (dark pixels, their vertical extent in px, their median height in the row 0-1)."
    from PIL import Image
    a = np.asarray(Image.open(png).convert('RGB')).astype(int)
    pink = (a[..., 0] > 200) & (a[..., 0] - a[..., 1] > 25) & (a[..., 0] - a[..., 2] > 25)   # the grid
    ys, xs = np.nonzero(pink)
    top, bottom, left, right = ys.min(), ys.max(), xs.min(), xs.max()
    dark = (a < 60).all(-1)
    row_h = (bottom - top)/(rows*30 + 6)*30   # rows of 30 mm and a 6-mm footer, as the page draws them
    out = np.zeros((rows, cols, 3))
    for r in range(rows):
        for c in range(cols):
            y0, x0 = int(top + r*row_h), int(left + c*(right - left)/cols)
            ty, tx = np.nonzero(dark[y0:int(y0 + row_h), x0 + 3:int(x0 + (right - left)/cols) - 3])
            out[r, c] = (len(ty), np.ptp(ty) if len(ty) else 0, np.median(ty)/row_h if len(ty) else -1)
    return out

def test_12_lead_page_in_chromium(server12, chromium, tmp_path):
    """A real record, whose twelve leads all have waves: the smallest (aVL) spans 0.6 mV, twice what the 12-px check
    below needs. A synthetic 12-lead record would not do: `synth_ecg` draws the QRS axis in 15-75 degrees, and near
    60 degrees its aVL (at -30 degrees) is all but flat (0.24 mV with seed 1, 9 px here), as in people with that axis."""
    x, fs, names = ecg12()
    assert np.ptp(x, 1).min() > 0.5, dict(zip(names, np.ptp(x, 1).round(2)))
    k = int(fs//250)   # 250 Hz keeps the address short (still about 180 kB: `headless` opens it through a local page)
    hash_ = f"#fs={fs/k:g}&leads={','.join(names)}&signal=" + '|'.join(','.join(f"{v:.3f}" for v in row[::k]) for row in x)
    shot = tmp_path/'page12.png'
    dom = browse(chromium, server12.url + '/' + hash_, tmp_path, screenshot=shot)
    m = re.search(r'<div id="result"[^>]*>([^<]*)</div>', dom)
    assert m and m.group(1).startswith('Prediction: '), dom[-3000:]
    c = re.search(r'<canvas id="plot"[^>]*>', dom).group(0)
    assert 'data-layout="3x4"' in c and 'data-panels="I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6,II"' in c, c
    assert 'id="leadrow"' in dom and '12 lead(s) (I, II, III, aVR' in dom
    p = panel_traces(shot)
    assert (p[..., 0] > 80).all() and (p[..., 1] > 12).all(), p[..., :2]   # a trace with waves in each of the 12 panels and the strip
    assert (abs(p[..., 2] - 0.5) < 0.3).all(), p[..., 2]                   # each drawn around the middle of its own row

def test_one_lead_page_keeps_its_plot(server, chromium, tmp_path):
    x, fs = ecg(6.0)
    dom = browse(chromium, server.url + '/#fs=' + str(fs) + '&signal=' + ','.join(f"{v:.3f}" for v in x), tmp_path)
    c = re.search(r'<canvas id="plot"[^>]*>', dom).group(0)
    assert 'data-layout="1"' in c and 'height="260"' in c and re.search(r'<div id="leadrow" hidden', dom), c
