"""The stages' progress bars: tqdm on stderr, off with SHORTLISTER_NO_PROGRESS=1."""

from __future__ import annotations

from shortlister.core.progress import NO_PROGRESS_ENV, progress, progress_enabled


def test_a_bar_goes_to_stderr_even_without_a_terminal(capsys, monkeypatch):
    monkeypatch.delenv(NO_PROGRESS_ENV, raising=False)
    assert list(progress(range(5), desc="embed sbert", unit="pool")) == [0, 1, 2, 3, 4]
    out, err = capsys.readouterr()
    assert out == ""
    assert "embed sbert" in err and "5/5" in err and "pool" in err


def test_no_progress_turns_bars_off_and_the_loop_runs_the_same(capsys, monkeypatch):
    for value in ("1", "true", "yes"):
        monkeypatch.setenv(NO_PROGRESS_ENV, value)
        assert not progress_enabled()
        assert list(progress(range(3), desc="rank")) == [0, 1, 2]
        with progress(total=4, desc="llm") as bar:  # updated by hand
            bar.update(4)
    assert capsys.readouterr() == ("", "")
    for value in ("", "0", "false", "no"):
        monkeypatch.setenv(NO_PROGRESS_ENV, value)
        assert progress_enabled()
    monkeypatch.delenv(NO_PROGRESS_ENV)
    assert list(progress(range(2), enabled=False)) == [0, 1]
    assert capsys.readouterr().err == ""
