"""The methodology note: docs/metrics.md, a Chinese digest first, a digest without the docs."""

from __future__ import annotations

import pytest

from dashboard import methodology
from dashboard.methodology import METRICS_DOC, methodology_lines, methodology_text


def test_methodology_comes_from_docs_metrics_md():
    assert METRICS_DOC.is_file()
    assert methodology_text("en") == METRICS_DOC.read_text(encoding="utf-8")
    assert methodology_text("zh").startswith("# 统计口径")
    assert "docs/metrics.md" in methodology_text("zh", brief=True)


def test_the_chinese_note_is_the_digest_then_the_whole_english_text():
    full = METRICS_DOC.read_text(encoding="utf-8")
    zh = methodology_text("zh")
    digest, _, rest = zh.partition("\n\n完整说明（英文原文）：\n\n")
    assert rest == full
    assert "在线人数" in digest and "观看人次" in digest
    brief = methodology_text("zh", brief=True)
    assert brief.startswith(digest) and full not in brief
    assert methodology_text("en", brief=True) == full


def test_the_lines_keep_blank_lines_for_a_spreadsheet_column():
    lines = methodology_lines("zh")
    assert lines == methodology_text("zh").splitlines()
    assert "" in lines and lines[0] == "# 统计口径（摘要）"


@pytest.fixture
def without_docs(monkeypatch, tmp_path):
    """The package as the Docker image has it: no docs directory beside it."""
    monkeypatch.setattr(methodology, "METRICS_DOC", tmp_path / "docs" / "metrics.md")
    methodology._metrics_doc.cache_clear()
    yield
    methodology._metrics_doc.cache_clear()


def test_without_the_docs_a_built_in_digest_says_where_the_full_text_is(without_docs):
    en = methodology_text("en")
    assert en.startswith("# How livetally counts (methodology, digest)")
    assert en.endswith("The full text is docs/metrics.md in the livetally source.")
    assert methodology_text("zh").endswith(en)
    assert methodology_text("zh").startswith("# 统计口径")
