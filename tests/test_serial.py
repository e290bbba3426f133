"`ecgnb convert-serial` as a user runs it: a messy Arduino log in, a clean recording out, and one-line errors."
import json
import numpy as np
import pytest
from conftest import ecgnb, sample
from ecgnb.loaders import read_record

def _log(path, fs=250, seconds=8, crlf=True, extra_col=False):
    "A serial-monitor dump: banner, cut first line, ms clock with jitter, junk lines, a stall."
    rng = np.random.default_rng(0)
    t = np.arange(0, seconds, 1 / fs); t = t[(t < 3) | (t > 3.3)]
    adc = (512 + 200 * np.sin(2 * np.pi * 1.1 * t)).round().astype(int)
    ms = (t * 1000 + rng.integers(-1, 2, len(t))).round().astype(int) + 5000
    lines = ['ets Jun  8 2016 00:22:57', 'rst:0x1 (POWERON_RESET)', 'Ready.', f'{ms[0]},{adc[0]}'[2:]]
    for i in range(1, len(t)):
        lines.append(f'{ms[i]},{adc[i]}' + (',0' if extra_col else ''))
        if i % 500 == 0: lines.append('!leads off')
    path.write_bytes(('\r\n' if crlf else '\n').join(lines).encode() + b'\xff\xfe garbage tail')
    return t, adc

def test_convert_a_messy_log(tmp_path):
    _log(tmp_path/'session1.txt')
    r = ecgnb('convert-serial', '--input', tmp_path/'session1.txt', '--out', tmp_path/'out')
    assert r.returncode == 0, r.stderr
    assert 'samples at 250 Hz' in r.stdout and '1 gap(s)' in r.stdout and 'non-numeric' in r.stdout
    names = sorted(p.name for p in (tmp_path/'out').iterdir())
    assert names == ['session1.meta.json', 'session1.npy', 'session1_preview.png']
    meta = json.loads((tmp_path/'out'/'session1.meta.json').read_text())
    assert meta['fs'] == 250 and meta['timing']['time_unit'] == 'ms' and meta['timing']['n_gaps'] == 1
    assert meta['dropped_lines']['non-numeric'] >= 5 and meta['adc_bits_guess'] == 10 and meta['source'] == 'session1.txt'
    rec = read_record(tmp_path/'out'/'session1.npy')
    assert rec.fs == 250 and rec.units == ['adu'] and abs(rec.duration - 8) < 0.1
    assert (tmp_path/'out'/'session1_preview.png').read_bytes()[:4] == b'\x89PNG'

def test_columns_and_rate_flags(tmp_path):
    _log(tmp_path/'three.txt', extra_col=True)
    r = ecgnb('convert-serial', '--input', tmp_path/'three.txt', '--out', tmp_path/'o', '--time-col', '0', '--value-col', '1', '--sr', '200', '--no-preview')
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path/'o'/'three.meta.json').read_text())['fs'] == 200
    assert not (tmp_path/'o'/'three_preview.png').exists()
    r = ecgnb('convert-serial', '--input', tmp_path/'three.txt', '--out', tmp_path/'o2', '--value-col', '7')
    assert r.returncode == 2 and 'out of range' in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path/'o2').exists()

@pytest.mark.parametrize('content,reason', [
    (b'', 'empty file'),
    (b'\x00\x01\x02' * 500, 'binary data'),
    (b'Ready.\r\nleads off\r\n', 'no numeric lines'),
    (b'512\n513\n514\n', 'no time column found: give the sampling rate with --sr'),
    (b'1000,5\n1000,6\n1000,7\n', 'only 1 samples with increasing time'),
])
def test_bad_logs_are_one_line(tmp_path, content, reason):
    (tmp_path/'bad.txt').write_bytes(content)
    extra = ['--time-col', '0'] if content.startswith(b'1000') else []
    r = ecgnb('convert-serial', '--input', tmp_path/'bad.txt', '--out', tmp_path/'out', *extra)
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert r.stderr.strip() == f"ecgnb convert-serial: error: {tmp_path/'bad.txt'}: {reason}" or (reason in r.stderr and len(r.stderr.splitlines()) == 1), r.stderr
    assert not (tmp_path/'out').exists()

def test_real_ecg_through_a_millisecond_clock(tmp_path):
    "A real CinC 2017 recording (300 Hz) logged as 10-bit ADC counts with Arduino millis() stamps (steps of 3 and 4 ms)."
    rec = read_record(sample('cinc2017')/'A00264.hea')   # in the committed excerpt
    x = rec.signal[0][:300 * 20]
    adc = np.clip(np.round(512 + 300 * x / np.abs(x).max()), 0, 1023).astype(int)
    ms = 7000 + np.arange(len(adc)) * 1000 // 300
    (tmp_path/'real.txt').write_text('Starting...\r\n' + '\r\n'.join(f'{m}\t{a}' for m, a in zip(ms, adc)) + '\r\n')
    r = ecgnb('convert-serial', '--input', tmp_path/'real.txt', '--out', tmp_path/'out')
    assert r.returncode == 0, r.stderr
    out = read_record(tmp_path/'out'/'real.npy')
    assert out.fs == 300 and abs(out.n_samples - len(adc)) <= 2
    n = min(out.n_samples, len(adc))
    assert np.corrcoef(out.signal[0][:n], adc[:n])[0, 1] > 0.99
