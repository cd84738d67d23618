"""The scrape journals: append-only JSON lines that survive a run killed mid-write."""

import json

from roomgrid.sources.scrape.state import Journal


def test_line_cut_short_by_a_kill_does_not_swallow_the_next_record(tmp_path):
    path = tmp_path / "photos.jsonl"
    first = {"file": "a.jpg", "status": "ok", "sha256": "1" * 64}
    cut = json.dumps({"file": "b.jpg", "status": "ok", "sha256": "2" * 64}, sort_keys=True)
    path.write_text(json.dumps(first, sort_keys=True) + "\n" + cut[:25])  # killed mid-write

    journal = Journal(path, key="file")
    assert journal.records == {"a.jpg": first}  # b.jpg was never completely recorded: redone
    redone = {"file": "b.jpg", "status": "ok", "sha256": "3" * 64}
    journal.add(redone)

    again = Journal(path, key="file")
    assert again.records == {"a.jpg": first, "b.jpg": redone}
    assert [json.loads(line) for line in path.read_text().splitlines()] == [first, redone]


def test_complete_journal_is_left_as_it_is(tmp_path):
    path = tmp_path / "listings.jsonl"
    text = '{"status": "ok", "url": "u1"}\n{"status": "gone", "url": "u2"}\n'
    path.write_text(text)
    assert set(Journal(path, key="url").records) == {"u1", "u2"}
    assert path.read_text() == text
