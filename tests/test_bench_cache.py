"""The training scripts' row caches (.cache/decision/) are keyed by the code that collected them: rows of other
code are never trained on (a reverted rule once left its rows there, ready for the next model)."""

from __future__ import annotations

import bench.decision as decision


def test_the_code_stamp_follows_the_code_and_the_named_models(tmp_path, monkeypatch):
    (tmp_path / "qa" / "search" / "models").mkdir(parents=True)
    (tmp_path / "bench" / "data").mkdir(parents=True)
    (tmp_path / "qa" / "rule.py").write_text("RULE = 1\n")
    (tmp_path / "bench" / "_common.py").write_text("")
    (tmp_path / "bench" / "data" / "junk.txt").write_text("x\n")
    (tmp_path / "qa" / "search" / "models" / "sentence.json").write_text("{}")
    monkeypatch.setattr(decision, "ROOT", tmp_path)
    monkeypatch.setattr(decision, "DATA", tmp_path / "bench" / "data")
    first = decision.code_stamp("sentence")
    assert decision.code_stamp("sentence") == first and decision.code_stamp() != first
    (tmp_path / "qa" / "rule.py").write_text("RULE = 2\n")
    assert decision.code_stamp("sentence") != first
    (tmp_path / "qa" / "rule.py").write_text("RULE = 1\n")
    assert decision.code_stamp("sentence") == first  # the same code again: the cached rows are good again
    (tmp_path / "qa" / "search" / "models" / "sentence.json").write_text('{"trees": 1}')
    assert decision.code_stamp("sentence") != first


def test_the_code_stamp_follows_the_collecting_functions():
    def collect_a(): return 1  # noqa: E704
    def collect_b(): return 2  # noqa: E704

    assert decision.code_stamp(collectors=(collect_a,)) != decision.code_stamp(collectors=(collect_b,))
    assert decision.code_stamp(collectors=(collect_a,)) == decision.code_stamp(collectors=(collect_a,))
