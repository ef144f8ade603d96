import os, pytest
from zerofl_profiler.traces.atomic import atomic_write, atomic_open, clean_stale_temporaries, TMP_PREFIX
from zerofl_profiler.errors import OutputError
def test_atomic(tmp_path):
    p = tmp_path/"a.txt"; atomic_write(p, "x"); assert p.read_text()=="x"
    atomic_write(p, b"yy"); assert p.read_bytes()==b"yy"
    with pytest.raises(RuntimeError):
        with atomic_open(p) as fh:
            fh.write("zzz"); raise RuntimeError
    assert p.read_text()=="yy" and os.listdir(tmp_path)==["a.txt"]
def test_atomic_enospc(tmp_path, monkeypatch):
    p = tmp_path/"b.txt"
    real=os.fsync
    def bad(fd): raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", bad)
    with pytest.raises(OutputError, match="No space left"):
        atomic_write(p, "data")
    assert os.listdir(tmp_path)==[]
def test_notadir(tmp_path):
    (tmp_path/"f").write_text("")
    with pytest.raises(OutputError, match="cannot write"):
        atomic_write(tmp_path/"f"/"x", "d")
def test_clean(tmp_path):
    (tmp_path/(TMP_PREFIX+"x")).write_text("")
    assert len(clean_stale_temporaries(tmp_path))==1
