from __future__ import annotations

from agents.policy import load_policy
from agents.rules_doc import render
from tests.conftest import REPO


def test_docs_rules_md_is_generated_from_the_packs_and_current() -> None:
    assert (REPO / "docs" / "rules.md").read_text(encoding="utf-8") == render(load_policy()), "stale: run `make rules`"


def test_every_rule_appears_with_its_legal_basis_and_parameters() -> None:
    text = render(load_policy())
    for rule in load_policy().rules:
        assert f"### `{rule.id}` (version {rule.version})" in text
        assert rule.legal_basis in text and rule.action in text
    assert "`targets`: emergency: 15m, priority: 1h, scheduled: 48h" in text


def test_the_readme_counts_the_built_in_rules() -> None:
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    count = len(load_policy().rules)
    assert f"The {count} built-in rules" in readme and f"({count} rules," in readme
