"""docs/teaching.md's narrative follows the model: every direction a sentence states holds in the
generated figures it quotes (tools/teaching_numbers.py; tests/test_docs.py checks the figures themselves)."""

from __future__ import annotations

import json

from sim.docnumbers import NUMBERS
from tools.teaching_numbers import broken_claims


def test_the_lesson_says_what_the_model_does():
    numbers = json.loads((NUMBERS / "teaching.json").read_text())["numbers"]
    assert broken_claims(numbers) == [], "rerun python -m tools.teaching_numbers, then rewrite these sentences"


def test_a_claim_the_figures_contradict_is_caught():
    numbers = json.loads((NUMBERS / "teaching.json").read_text())["numbers"]
    numbers["ex1.0.5.cpm_jan"] = "0.1"  # impressions cheaper when there are few
    numbers["game.share_leader"] = numbers["game.winner"]
    broken = broken_claims(numbers)
    assert len(broken) == 2 and "dearer" in broken[0] and "Share is not profit" in broken[1]
