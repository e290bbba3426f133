"""Third-party private functions ecgnb relies on (each use says why in its notebook): these tests fail when a release
of scipy or wfdb moves or changes one, before users meet a silent fallback or different numbers."""
import numpy as np, scipy.signal as ss

def test_scipy_odd_ext_is_sosfiltfilts_padding():
    from scipy.signal._arraytools import odd_ext          # ecgnb.signal: bandpass reproduces sosfiltfilt
    np.testing.assert_array_equal(odd_ext(np.arange(5.), 2), [-2, -1, 0, 1, 2, 3, 4, 5, 6])

def test_scipy_sosfilt_loop_matches_sosfilt():
    from scipy.signal._sosfilt import _sosfilt             # ecgnb.signal: the filter loop without sosfilt's checks
    import ecgnb.signal
    assert ecgnb.signal._sosfilt is _sosfilt
    sos = ss.butter(2, [0.5, 40], 'bandpass', fs=250, output='sos')
    y = np.random.default_rng(0).standard_normal((3, 500))
    zi = np.zeros((3, len(sos), 2))
    ref = ss.sosfilt(sos, y, axis=-1, zi=zi.transpose(1, 0, 2))[0]
    out = np.ascontiguousarray(y.copy()); _sosfilt(sos, out, zi.copy())
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)

def test_scipy_upfirdn_helpers_give_resample_polys_length():
    from scipy.signal._upfirdn import _pad_h, _output_len   # ecgnb.compiled: resample_poly's plan, bit for bit
    h = ss.firwin(21, 0.2)
    assert len(_pad_h(h, 5)) % 5 == 0
    assert _output_len(len(h), 100, 5, 2) == len(ss.upfirdn(h, np.zeros(100), 5, 2))

def test_wfdb_digi_nan():
    from wfdb.io._signal import _digi_nan                    # ecgnb.loaders: WFDB's 'no sample' value per format
    assert int(_digi_nan('16')) == -32768 and int(_digi_nan('212')) == -2048
