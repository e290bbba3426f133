"The `ecgnb` entry point as a user meets it: help, version, and one-line errors."
import re
from conftest import ecgnb

def test_help_lists_subcommands():
    r = ecgnb('--help')
    assert r.returncode == 0
    assert 'commands:' in r.stdout and 'study' in r.stdout

def test_no_arguments_prints_help():
    r = ecgnb()
    assert r.returncode == 0 and 'usage: ecgnb' in r.stdout

def test_version():
    import ecgnb as lib
    r = ecgnb('--version')
    assert r.returncode == 0 and r.stdout.strip() == f'ecgnb {lib.__version__}'

def test_unknown_command_is_one_clear_error():
    r = ecgnb('frobnicate')
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr and 'Traceback' not in r.stderr

def test_bad_flag_is_rejected_without_traceback():
    r = ecgnb('study', '--no-such-flag')
    assert r.returncode == 2 and 'unrecognized arguments' in r.stderr and 'Traceback' not in r.stderr

def test_user_error_is_one_line(tmp_path):
    r = ecgnb('study', '--reports', tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == f'ecgnb study: error: {tmp_path}: no report notebooks (NN_name.ipynb) to run'

def test_every_command_is_in_the_readme():
    "A command the README does not mention is one users never find."
    from conftest import ROOT
    from ecgnb.cli import COMMANDS
    readme = (ROOT/'README.md').read_text()
    assert not [n for n in COMMANDS if f'`ecgnb {n}' not in readme]

def test_export_help_says_int8_buys_size_not_speed():
    "int8 is smaller but, on CPUs without fast integer convolution, slower than float (reports/04_benchmarks times both)."
    r = ecgnb('export', '--help')
    text = ' '.join(r.stdout.split())
    assert r.returncode == 0 and 'buys file size (about 3x smaller), not speed' in text and 'without fast integer convolution' in text
