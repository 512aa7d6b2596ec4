from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from agents.durations import format_duration, parse_duration
from agents.policy import PACKS_DIR, PolicyError, load_policy
from tests.conftest import REPO
from worker.settings import Settings, policy_of

RULE = "custody.appropriate_adult.arrival"
CUSTODY_PACK = PACKS_DIR / "custody.yaml"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_built_in_packs_load_one_per_domain_and_label_local_standards() -> None:
    assert sorted(p.stem for p in PACKS_DIR.glob("*.yaml")) == [
        "custody",
        "first_contact",
        "incidents",
        "investigations",
        "missing",
        "offenders",
        "protection",
    ]
    policy = load_policy()
    rule = policy.rule(RULE)
    assert rule is not None and rule.is_local_standard
    assert rule.target == dt.timedelta(hours=2)
    assert rule.stage_seconds(rule.target.total_seconds()) == (
        ("warning-1", dt.timedelta(hours=1).total_seconds()),
        ("warning-2", dt.timedelta(minutes=105).total_seconds()),
        ("breach", dt.timedelta(hours=2).total_seconds()),
    )


def test_the_example_force_file_overrides_without_editing_the_pack() -> None:
    policy = load_policy(overrides=[REPO / "deploy" / "policy" / "example-force-overrides.yaml"])
    rule = policy.rule(RULE)
    assert rule is not None and rule.target == dt.timedelta(hours=1)
    assert rule.overridden == ("target", "warnings") and rule.override_source is not None
    assert load_policy().rule(RULE).target == dt.timedelta(hours=2)  # type: ignore[union-attr]


def test_settings_point_at_override_files(tmp_path: Path) -> None:
    override = write(tmp_path, "o.yaml", f"force: x\noverrides:\n  {RULE}:\n    target: 7s\n")
    policy = policy_of(Settings.from_env({"WATCHKEEPER_POLICY_OVERRIDES": str(override)}))
    assert policy.rule(RULE).target == dt.timedelta(seconds=7)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("target: 2 hours", f"o.yaml: rule '{RULE}': field 'target': not a duration"),
        ("warnings: ['150%']", f"rule '{RULE}': field 'warnings[0]': a percentage warning must be between"),
        ("severity: {breach: apocalyptic}", f"rule '{RULE}': field 'severity.breach'"),
        ("title: renamed", f"o.yaml: rule '{RULE}': field 'title': cannot be overridden"),
        ("applies_when: [{fact: age_years}]", "field 'applies_when[0]': each condition needs exactly one of"),
    ],
)
def test_override_errors_name_the_file_the_rule_and_the_field(tmp_path: Path, override: str, expected: str) -> None:
    path = write(tmp_path, "o.yaml", f"force: x\noverrides:\n  {RULE}:\n    {override}\n")
    with pytest.raises(PolicyError, match=None) as info:
        load_policy(overrides=[path])
    assert expected in str(info.value)


def test_an_override_that_breaks_a_limit_with_a_pack_field_blames_the_overridden_field(tmp_path: Path) -> None:
    path = write(tmp_path, "o.yaml", "force: x\noverrides:\n  custody.detention.limit:\n    target: 200h\n")
    with pytest.raises(PolicyError) as info:
        load_policy(overrides=[path])
    said = str(info.value)
    assert said.startswith(f"{path}: rule 'custody.detention.limit': field 'target':"), said
    assert "shorter than the target 200h" in said and "custody.yaml" in said


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "o.yaml", "force: x\noverrides:\n  a: [\n")
    with pytest.raises(PolicyError) as info:
        load_policy(overrides=[path])
    assert f'in "{path}", line' in str(info.value) and "<unicode string>" not in str(info.value)


def test_an_override_of_a_rule_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "o.yaml", "force: x\noverrides:\n  custody.no_such_rule:\n    target: 1h\n")
    with pytest.raises(PolicyError, match=r"o.yaml: rule 'custody.no_such_rule': no such rule"):
        load_policy(overrides=[path])


def test_a_pack_with_an_unknown_event_type_names_the_clock_field(tmp_path: Path) -> None:
    text = CUSTODY_PACK.read_text().replace("stop: [custody.appropriate_adult.arrived]", "stop: [custody.aa.arived]")
    pack = write(tmp_path, "pack.yaml", text)
    with pytest.raises(PolicyError, match=r"pack.yaml: rule '.*': field 'clock.stop\[0\]': unknown event type"):
        load_policy(pack)


def test_a_pack_with_an_unknown_field_is_refused(tmp_path: Path) -> None:
    pack = write(
        tmp_path, "pack.yaml", CUSTODY_PACK.read_text().replace("    target: 2h", "    target: 2h\n    targte: 3h")
    )
    with pytest.raises(PolicyError, match=r"pack.yaml: rule '.*'.*targte"):
        load_policy(pack)


def test_a_legal_basis_is_required(tmp_path: Path) -> None:
    text = CUSTODY_PACK.read_text()
    start = text.index("    legal_basis:")
    end = text.index("    explanation:")
    pack = write(tmp_path, "pack.yaml", text[:start] + "    legal_basis: ''\n" + text[end:])
    with pytest.raises(PolicyError, match=r"field 'legal_basis'"):
        load_policy(pack)


def test_a_rule_that_is_not_a_local_standard_must_say_how_binding_its_basis_is(tmp_path: Path) -> None:
    text = CUSTODY_PACK.read_text().replace("    grade: statute\n", "", 1)
    with pytest.raises(PolicyError, match=r"rule 'custody.detention_review.schedule'.*field 'grade'"):
        load_policy(write(tmp_path, "pack.yaml", text))


def test_a_local_standard_cannot_be_graded_as_statute(tmp_path: Path) -> None:
    text = CUSTODY_PACK.read_text()
    start = text.index("    title: Appropriate adult not requested promptly\n")
    with pytest.raises(PolicyError, match=r"rule 'custody.appropriate_adult.request'.*field 'grade'"):
        load_policy(write(tmp_path, "pack.yaml", text[:start] + "    grade: statute\n" + text[start:]))


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"bad.yaml: not valid YAML"):
        load_policy(write(tmp_path, "bad.yaml", "pack: [unclosed\n"))


@pytest.mark.parametrize(
    ("text", "seconds"), [("45s", 45), ("1m30s", 90), ("30m", 1800), ("4h", 14400), ("1h30m", 5400), ("72h", 259200)]
)
def test_durations_parse_and_print_back(text: str, seconds: int) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)
    assert format_duration(parse_duration(text)) == text


def test_days_parse_and_print_as_hours() -> None:
    assert format_duration(parse_duration("3d")) == "72h"


@pytest.mark.parametrize("text", ["", "2 hours", "h", "1x", "-5m"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_a_rule_id_in_two_packs_is_an_error_naming_both(tmp_path: Path) -> None:
    copy = write(tmp_path, "copy.yaml", CUSTODY_PACK.read_text())
    with pytest.raises(PolicyError, match=r"copy.yaml: rule '.*': field 'id': duplicate rule id \(also in .*custody"):
        load_policy([CUSTODY_PACK, copy])


def test_two_packs_with_different_calendars_are_an_error(tmp_path: Path) -> None:
    other = write(
        tmp_path,
        "other.yaml",
        "pack: other\ncalendar: {timezone: Europe/London, school_holidays: [[2026-12-19, 2027-01-04]]}\nrules: []\n",
    )
    with pytest.raises(PolicyError, match=r"other.yaml: field 'calendar': differs from .*incidents.yaml"):
        load_policy([PACKS_DIR / "incidents.yaml", other])


def test_settings_can_name_several_packs(tmp_path: Path) -> None:
    policy = policy_of(Settings.from_env({"WATCHKEEPER_POLICY": f"{CUSTODY_PACK}:{PACKS_DIR / 'missing.yaml'}"}))
    assert {r.domain for r in policy.rules} == {"custody", "incidents"}
    assert policy.rule("protection.police_protection.limit") is None


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        ("threshold", "threshold: {count: 1, within: 90d}", "field 'threshold.count': must be at least 2"),
        ("targets", "target_by: grade", "field 'target_by': target_by and targets go together"),
        ("due_field", "due_field: next_review_at", "field 'due_field': a deadline taken from a field needs target"),
        ("grace", "deadline: {working_days: 1, grace: 1h}", "field 'deadline.grace': only a window or same-day"),
    ],
)
def test_new_constructs_are_validated_with_the_field_named(
    tmp_path: Path, field: str, text: str, expected: str
) -> None:
    rule = (
        "pack: p\nrules:\n  - id: r\n    version: 1\n    title: t\n    domain: custody\n"
        "    legal_basis: local standard\n    explanation: e\n    action: a\n"
    )
    if field == "threshold":
        rule += "    kind: immediate\n    trigger: [custody.released]\n"
    else:
        rule += "    clock: {start: [custody.detention.authorised], stop: [custody.released]}\n"
    if field == "targets":
        rule += "    target: 1h\n"
    pack = write(tmp_path, "p.yaml", rule + f"    {text}\n")
    with pytest.raises(PolicyError) as info:
        load_policy(pack)
    assert f"p.yaml: rule 'r': {expected}" in str(info.value)
