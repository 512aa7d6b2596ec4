"""docs/rules.md, generated from the policy packs: one place to read every rule.

``watchkeeper rules --out docs/rules.md`` (``make rules``) writes it; ``--check`` (and a test)
fails when the file no longer matches the packs, so the reference can never drift from the
rules that run.
"""

from __future__ import annotations

from agents.durations import format_duration
from agents.policy import Policy, Rule, Selector

HEADER = """# Rules

Generated from the policy packs in [`agents/packs/`](../agents/packs/) by `make rules`
(`watchkeeper rules --out docs/rules.md`). Do not edit: change a pack and run it again (a
test fails while this file is out of date). A force changes the parameters marked *overridable* in its own override
file (see [policy.md](policy.md) and
[`deploy/policy/example-force-overrides.yaml`](../deploy/policy/example-force-overrides.yaml)).

Rules whose legal basis starts "local standard" have thresholds that no law fixes: the
defaults here are starting points for a force to set. Our reasoning about each rule sits in
[decisions.md](decisions.md) and [policy.md](policy.md); a legal basis cites only the
statute, the Code of Practice or the published guidance.

**How every rule reads at its edges.** "Not later than": an action recorded at a deadline's
exact instant is in time, for every stage of every rule (see policy.md, *The deadline
instant is compliant*). A stage fires at the first instant after its time. Its alerts close
as one of these:

- `satisfied`: the required action recorded in time, at the deadline instant included;
- `cleared`: the clock ended, or was extended, before its deadline passed;
- `closed`: the deadline was breached and the clock has since ended. The breach stands, and
  the reason says how it ended ("appropriate adult arrived … 16h late", "released from
  custody … still in breach");
- `retracted`: records entered late show it never happened, naming the record.

Immediate rules have no deadline and no warning: the record itself is the breach.
"""

GRADE = {
    "statute": "**statute**: an Act of Parliament",
    "code_of_practice": "**Code of Practice**: a statutory code (PACE Code C)",
    "guidance": "**guidance**: statutory or professional guidance, or Code C's notes for guidance",
    "local_standard": "**local standard**: a threshold no national text fixes, for a force to set",
}
KIND = {"deadline": "clock", "chain": "chain of deadlines", "immediate": "immediate: the event alone breaks it"}


def _events(label: str, types: list[str]) -> str:
    return f"| {label} | {', '.join(f'`{t}`' for t in types)} |" if types else ""


def _rule(rule: Rule) -> str:
    lines = [
        f"### `{rule.id}` (version {rule.version})",
        "",
        f"**{rule.title}.** {rule.explanation}",
        "",
        "| | |",
        "|---|---|",
        f"| kind | {KIND[rule.kind]} |",
        f"| legal basis | {rule.legal_basis} |",
        f"| grade | {GRADE[rule.grade]} |",
        f"| target | {rule.describe_target()} |",
    ]
    if rule.applies_when:
        conditions = "; ".join(c.describe() for c in rule.applies_when)
        lines.append(f"| applies when | {conditions} |")
    for label, selectors in (
        ("starts on", rule.start),
        ("required action", rule.required),
        ("ends on", rule.stop if rule.kind == "chain" else ()),
        ("cancelled by", rule.cancel),
        ("paused by", rule.pause),
        ("breaks on", rule.trigger),
    ):
        if selectors:
            lines.append(f"| {label} | {'; or '.join(_selector(s) for s in selectors)} |")
    if rule.extensions:
        text = "; or ".join(_selector(e.selector) for e in rule.extensions)
        cap = f"; never beyond {format_duration(rule.max)}" if rule.max else ""
        lines.append(f"| extended by | {text}{cap} |")
    if rule.kind == "immediate":
        lines.append(f"| severity | breach {rule.severity_breach} (no warning stage) |")
    else:
        lines.append(f"| severity | warning {rule.severity_warning}, breach {rule.severity_breach} |")
    if rule.on_breach:
        lines.append(f"| a breach says | {rule.on_breach} |")
    lines.append(f"| how it closes | {_closings(rule)} |")
    if rule.unless_in_place:
        placed, removed = rule.unless_in_place
        lines.append(f"| not started while in place | `{placed}` recorded and no `{removed}` since |")
    for label, types in (
        ("unless recorded", rule.unless_recorded),
        ("only where recorded", rule.only_if_recorded),
        ("shown in its alerts", rule.noted),
    ):
        line = _events(label, sorted(types))
        if line:
            lines.append(line)
    if rule.key_field:
        lines.append(f"| counted per | `{rule.key_field}` |")
    params = "; ".join(f"`{name}`: {value}" for name, value in rule.parameters)
    lines += [f"| parameters (overridable) | {params} |", f"| action | {rule.action} |", ""]
    return "\n".join(lines)


def _closings(rule: Rule) -> str:
    """The boundary and the closings of this rule, in the words its alerts use."""
    if rule.kind == "immediate":
        return (
            "the record is the breach: it stands once raised, and is retracted only if records "
            "entered later show it did not break the rule (an action recorded late that came before it)"
        )
    required = rule.required
    others = (*rule.cancel, *(rule.stop if rule.kind == "chain" else ()))
    action = " or ".join(f"`{s.type}`" for s in required)
    text = (
        f"*satisfied* by {action} at or before the deadline instant; *closed*, the breach standing, by {action} later"
    )
    if others:
        ended = " or ".join(f"`{s.type}`" for s in others)
        text += f", or by {ended} after the deadline; *cleared* by {ended} before it"
    if rule.extensions:
        text += "; an extension before the deadline clears its warnings, one after it closes the breach, which stands"
    return text


def _selector(selector: Selector) -> str:
    if not selector.when:
        return f"`{selector.type}`"
    return f"`{selector.type}` when " + ", ".join(c.describe() for c in selector.when)


def render(policy: Policy) -> str:
    sections = [HEADER]
    by_pack: dict[str, list[Rule]] = {}
    for rule in policy.rules:
        by_pack.setdefault(rule.id.split(".", 1)[0], []).append(rule)
    titles = {"custody": "Custody (PACE 1984)", "protection": "Police protection (Children Act 1989 s.46)"}
    titles |= {"missing": "Missing children", "incident": "Incidents"}
    sections.append("| rule | title | target | grade | legal basis |\n|---|---|---|---|---|")
    for rule in policy.rules:
        basis = "local standard" if rule.is_local_standard else rule.legal_basis.split(":")[0].strip()
        grade = rule.grade.replace("_", " ")
        sections[-1] += f"\n| [`{rule.id}`](#{rule.id.replace('.', '')}-version-{rule.version}) "
        sections[-1] += f"| {rule.title} | {rule.describe_target()} | {grade} | {basis} |"
    sections[-1] += "\n"
    for pack, rules in by_pack.items():
        sections.append(f"## {titles.get(pack, pack)}\n")
        sections += [_rule(rule) for rule in rules]
    return "\n".join(sections).rstrip() + "\n"
