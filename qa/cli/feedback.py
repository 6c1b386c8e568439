"""`qa feedback export` and `qa feedback stats`: what readers said about the answers."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from .main import _settings, cli, friendly, index_option

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _lang(question: str) -> str:
    return "zh" if _CJK.search(question) else "en"


def _latest_votes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One vote per (question, passage): the latest (a reader may change their mind)."""
    latest: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        latest[(row["question"].strip(), row["passage_id"])] = row
    return sorted(latest.values(), key=lambda r: r["id"])


def seed_items(rows: list[dict[str, Any]], *, include_down: bool = False) -> list[dict[str, Any]]:
    """Votes as ``seed_qa.jsonl`` items ({id, question, lang, answerable, doc, evidence, answer}).

    * 👍 on a found answer: answerable, evidence = the answer sentence shown (else the passage text).
    * 👍 on a "not found" reply: the refusal was right, so an unanswerable item.
    * 👎 (only with ``include_down``): items to label by hand, marked ``"needs_review": true`` with the
      comment; a 👎 does not say where the right answer is, so ``evidence`` is empty.
    """
    items = []
    for row in _latest_votes(rows):
        question = row["question"].strip()
        item: dict[str, Any] = {
            "id": "fb-" + hashlib.sha256(f"{question}|{row['passage_id']}".encode()).hexdigest()[:10],
            "question": question, "lang": _lang(question),
        }
        if row["vote"] == "up" and row["passage_id"]:
            evidence = "".join((row["answer"] or row["passage_text"] or "").split())
            item.update(answerable=True, doc=row["source"], evidence=[evidence] if evidence else [],
                        answer=row["answer"] or "")
        elif row["vote"] == "up":
            item.update(answerable=False, doc=None, evidence=[], answer="")
        elif include_down:
            item.update(answerable=None, doc=row["source"], evidence=[], answer="",
                        needs_review=True, rejected_passage=row["passage_id"], comment=row["comment"])
        else:
            continue
        if not item.get("needs_review") and item["answerable"] and not item["evidence"]:
            continue
        items.append(item)
    return items


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts: votes, up/down, found/not-found replies, comments, questions, the first and last vote, and
    the questions voted down most."""
    votes = Counter(r["vote"] for r in rows)
    down = Counter(r["question"].strip() for r in rows if r["vote"] == "down")

    def day(ts: float | None) -> str | None:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else None

    return {
        "votes": len(rows), "up": votes["up"], "down": votes["down"],
        "up_share": round(votes["up"] / len(rows), 3) if rows else None,
        "on_answers": sum(1 for r in rows if r["passage_id"]),
        "on_not_found": sum(1 for r in rows if not r["passage_id"]),
        "with_comment": sum(1 for r in rows if r["comment"]),
        "questions": len({r["question"].strip() for r in rows}),
        "first": day(rows[0]["ts"]) if rows else None, "last": day(rows[-1]["ts"]) if rows else None,
        "most_down": [{"question": q, "down": n} for q, n in down.most_common(5)],
    }


def _store(index_dir: Path | None, db: Path | None):
    from ..serve.feedback import FeedbackStore, feedback_path

    settings = _settings(index_dir=index_dir, feedback_db=db)
    return FeedbackStore(feedback_path(settings))


db_option = click.option("--db", type=click.Path(path_type=Path), default=None,
                         help="Feedback file [default: QA_FEEDBACK_DB, or <index>.feedback.sqlite3 beside the index].")


@cli.group()
def feedback() -> None:
    """Readers' votes on answers (stored by `qa serve`)."""


@feedback.command()
@index_option
@db_option
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write here instead of stdout.")
@click.option("--include-down", is_flag=True, help="Also write 👎 votes, marked needs_review (label them first).")
@friendly
def export(index_dir: Path | None, db: Path | None, out: Path | None, include_down: bool) -> None:
    """Write votes as seed_qa.jsonl items, so real questions grow the evaluation set.

    \b
    Examples:
        qa feedback export --out feedback_qa.jsonl
        qa eval --queries feedback_qa.jsonl --answers
    """
    items = seed_items(_store(index_dir, db).rows(), include_down=include_down)
    text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    if out is None:
        sys.stdout.write(text)
        return
    if out.exists():
        raise click.ClickException(f"{out} exists; choose another --out (nothing was written)")
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {len(items)} items to {out}", err=True)


@feedback.command()
@index_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly
def stats(index_dir: Path | None, db: Path | None, as_json: bool) -> None:
    """How many votes, how many up and down, and the questions voted down most.

    \b
    Example:
        qa feedback stats
    """
    store = _store(index_dir, db)
    result = summary(store.rows())
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    share = f" ({result['up_share']:.0%} up)" if result["up_share"] is not None else ""
    click.echo(f"{result['votes']} votes{share}: {result['up']} up, {result['down']} down; "
               f"{result['on_answers']} on answers, {result['on_not_found']} on 'not found' replies; "
               f"{result['with_comment']} with a comment; {result['questions']} distinct questions")
    if result["first"]:
        click.echo(f"from {result['first']} to {result['last']}  ({store.path})")
    for row in result["most_down"]:
        click.echo(f"  👎 {row['down']}  {row['question']}")
