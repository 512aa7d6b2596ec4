"""``watchkeeper``: worker, replay, send, topics, users, schemas, rules.

Each subcommand has ``--help``; a bad argument exits with status 2 and a one-line reason,
a bad environment setting or policy file with status 2 naming the variable or the file.
Commands that write files write where ``--out`` says: an installed Watchkeeper has no
checkout to write into.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from streams.contract import DOMAINS
from worker.settings import Settings, SettingsError, settings_help

if TYPE_CHECKING:
    from agents.alert import Alert
    from agents.policy import Policy
    from agents.replay import Summary
    from alerts.export import Period
    from streams.contract import Event
    from streams.validation import InputLimits
    from watchkeeper.importing import Checkpoint

Command = Callable[[argparse.Namespace], int]
_LONDON: Final = ZoneInfo("Europe/London")


def _existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of at least 1: {text}")
    return int(text)


STDIN: Final = Path("-")
"""``-`` for FILE: read the events from standard input (``… | watchkeeper send -``)."""


EVENTS_FILE_HELP: Final = "JSON Lines file, one CloudEvent per line; - reads standard input"


def _events_file(text: str) -> Path:
    return STDIN if text == "-" else _existing_file(text)


def _replay_source(text: str) -> Path:
    if text != "-" and Path(text).is_dir():
        return Path(text)
    return _events_file(text)


def read_input(path: Path) -> bytes:
    return sys.stdin.buffer.read() if path == STDIN else path.read_bytes()


def shown(path: Path) -> str:
    return "stdin" if path == STDIN else str(path)


def read_events(path: Path, *, now: dt.datetime, limits: InputLimits) -> tuple[list[Event], int]:
    """Validate a JSONL file of events; report each invalid line as ``file:line: reason`` on stderr."""
    from watchkeeper.importing import validate

    return validate(read_input(path).splitlines(), shown(path), now, limits)


# ----------------------------------------------------------------------------- commands
def cmd_worker(args: argparse.Namespace) -> int:
    from worker.main import build, run
    from worker.settings import notify_config_of, policy_of
    from worker.topics import ensure_topics

    settings = Settings.from_env()
    policy = policy_of(settings)  # configuration errors before Kafka
    notify = notify_config_of(settings)  # keys and users too: a placeholder key stops start-up here
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    report = ensure_topics(settings)
    for warning in report.warnings:
        print(f"watchkeeper: {warning}", file=sys.stderr)
    if report.problems:
        for problem in report.problems:
            print(f"watchkeeper: {problem}", file=sys.stderr)
        return 1
    run(build(settings, policy=policy, notify=notify))
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    from alerts.tokens import credential_for, generate_token

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", args.name):
        print("watchkeeper users add: a name is letters, digits, '.', '_' and '-' (no spaces)", file=sys.stderr)
        return 2
    token = generate_token()
    credential = credential_for(token)
    print(f"token for {args.name} (give it to them; it is not stored anywhere): {token}")
    print(f'notification file:  - {{user: {args.name}, access: {args.access}, token_hash: "{credential}"}}')
    print(f"WATCHKEEPER_CONSOLE_USERS entry: {args.name}:{args.access}:{credential}")
    return 0


def cmd_users_revoke(args: argparse.Namespace) -> int:
    import msgspec
    from kafka import KafkaProducer

    from alerts.access import Revocation, record_key
    from worker.topics import access_topic, ensure_topics

    settings = Settings.from_env()
    ensure_topics(settings)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", **settings.kafka_python_options()
    )
    try:
        record = Revocation(args.name, dt.datetime.now(dt.UTC), args.by)
        key, value = record_key("user", args.name), msgspec.json.encode(record)
        producer.send(access_topic(settings), key=key, value=value).get(timeout=30)
    finally:
        producer.close()
    print(f"revoked every session of {args.name} started before now")
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from worker.topics import ensure_topics, topic_specs

    settings = Settings.from_env()
    report = ensure_topics(settings)
    for spec in topic_specs(settings):
        state = "created" if spec.name in report.created else "updated" if spec.name in report.updated else "present"
        print(
            f"{state:8} {spec.name:40} partitions={spec.partitions} rf={spec.replication_factor} "
            f"{' '.join(f'{k}={v}' for k, v in spec.config.items())}"
        )
    for warning in report.warnings:
        print(f"WARNING  {warning}", file=sys.stderr)
    for problem in report.problems:
        print(f"PROBLEM  {problem}", file=sys.stderr)
    return 1 if report.problems else 0


def cmd_send(args: argparse.Namespace) -> int:
    from kafka import KafkaProducer

    from streams.contract import domain_of
    from worker.settings import input_limits
    from worker.topics import input_topic

    settings = Settings.from_env()
    outgoing: list[tuple[str, bytes | None, bytes]] = []
    errors = 0
    if args.raw:
        lines = [line for line in read_input(args.file).splitlines() if line.strip()]
        outgoing = [(input_topic(settings, args.domain), None, line) for line in lines]
    else:
        events, errors = read_events(args.file, now=dt.datetime.now(dt.UTC), limits=input_limits(settings))
        for event in events:
            # Re-encode from the typed model: fields outside the contract are dropped here, at the edge.
            body = json.dumps(event.to_cloudevent(), separators=(",", ":")).encode()
            outgoing.append((input_topic(settings, domain_of(event.type)), event.subject.encode(), body))
    if errors and not args.skip_invalid:
        print(
            f"watchkeeper send: {errors} invalid event(s); nothing sent (use --skip-invalid to send the rest)",
            file=sys.stderr,
        )
        return 1
    if args.dry_run:
        print(f"{len(outgoing)} event(s) valid; dry run, nothing sent")
        return 0
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5, **settings.kafka_python_options()
    )
    try:
        sent = [producer.send(topic, key=key, value=value) for topic, key, value in outgoing]
        producer.flush(timeout=30)
        for future in sent:
            future.get(timeout=30)  # a send the broker refused raises here; flush() alone would not say
    finally:
        producer.close()
    print(f"sent {len(outgoing)} event(s)" + (f", skipped {errors} invalid" if errors else ""))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from watchkeeper import importing
    from worker.settings import input_limits

    settings = Settings.from_env()
    fmt = args.format or ("csv" if args.file.suffix.lower() == ".csv" else "jsonl")
    if fmt == "csv" and args.mapping is None:
        print("watchkeeper import: a CSV file needs --mapping (docs/integration.md)", file=sys.stderr)
        return 2
    try:
        mapping = importing.ColumnMapping.load(args.mapping) if fmt == "csv" else None
    except importing.MappingError as exc:
        print(f"watchkeeper import: {exc}", file=sys.stderr)
        return 2
    raw = read_input(args.file)
    try:
        lines = importing.read_lines(raw, fmt, mapping)
    except importing.MappingError as exc:
        print(f"watchkeeper import: {shown(args.file)}: {exc}", file=sys.stderr)
        return 2
    events, invalid = importing.validate(lines, shown(args.file), dt.datetime.now(dt.UTC), input_limits(settings))
    print(importing.summary(events, invalid))
    if invalid and not args.skip_invalid:
        print(
            f"watchkeeper import: {invalid} invalid; nothing sent (use --skip-invalid to send the rest)",
            file=sys.stderr,
        )
        return 1
    if args.dry_run:
        print("dry run: nothing sent")
        return 0
    if args.checkpoint is None and args.file == STDIN:
        print("watchkeeper import: reading stdin, give --checkpoint FILE to make it resumable", file=sys.stderr)
    checkpoint = importing.Checkpoint(
        args.checkpoint or Path(f"{args.file}.checkpoint" if args.file != STDIN else ".watchkeeper-import.checkpoint"),
        importing.digest(raw),
    )
    resumed = checkpoint.position()
    if resumed:
        print(f"resuming after {resumed} event(s) already sent ({checkpoint.path})")
    sent = _import_to_broker(settings, importing.in_subject_order(events), checkpoint, args.rate)
    print(f"imported {sent} event(s) in subject order; checkpoint {checkpoint.path}")
    return 0


def _import_to_broker(settings: Settings, ordered: list[Event], checkpoint: Checkpoint, rate: float) -> int:
    from kafka import KafkaProducer

    from streams.contract import domain_of
    from watchkeeper import importing
    from worker.topics import input_topic

    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5, **settings.kafka_python_options()
    )
    in_flight: list[Any] = []

    def send(event: Event) -> None:
        body = json.dumps(event.to_cloudevent(), separators=(",", ":")).encode()
        topic = input_topic(settings, domain_of(event.type))
        in_flight.append(producer.send(topic, key=event.subject.encode(), value=body))

    def flush() -> None:
        """The broker has every event sent so far, or this raises (and the checkpoint stays put)."""
        producer.flush(timeout=60)
        for sent in in_flight:
            sent.get(timeout=60)  # kafka-python reports a failed send here, not from flush()
        in_flight.clear()

    try:
        return importing.send_all(ordered, send, flush, checkpoint, rate=rate, progress=importing.bar)
    finally:
        producer.close()


def cmd_simulate(args: argparse.Namespace) -> int:
    from streams.simulate import ProfileError, load_profile, simulate

    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        print(f"watchkeeper: bad profile: {exc}", file=sys.stderr)
        return 2
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = args.start or today - dt.timedelta(days=args.days)
    events = simulate(profile, args.days, args.seed, start)
    lines = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)
    if args.out is None or str(args.out) == "-":
        sys.stdout.write(lines)
    else:
        args.out.write_text(lines, encoding="utf-8")
    cases = len({e["subject"] for e in events})
    print(f"simulated {len(events)} event(s) of {cases} case(s): {profile.force} force, {args.days} day(s) "
          f"from {start.date().isoformat()}, seed {args.seed}", file=sys.stderr)  # fmt: skip
    return 0


def _period(args: argparse.Namespace) -> Period | None:
    """``--from``/``--to`` (London days, ``--to`` included, or ISO times) and ``--area``; None after
    saying what is wrong."""
    from alerts.export import Period
    from watchkeeper.audit import day_or_time

    try:
        start, end = day_or_time(args.start), day_or_time(args.end, end=True)
    except ValueError as exc:
        print(f"watchkeeper: {exc}", file=sys.stderr)
        return None
    if end <= start:
        print("watchkeeper: --to must be after --from", file=sys.stderr)
        return None
    return Period(start, end, args.area)


def cmd_report(args: argparse.Namespace) -> int:
    from agents.policy import load_policy
    from reports.figures import report
    from reports.html import render
    from worker.settings import input_limits

    period = _period(args)
    if period is None:
        return 2
    policy = load_policy(args.policy or None, args.overrides)
    far_future = dt.datetime.max.replace(tzinfo=dt.UTC) - dt.timedelta(days=1)
    events, invalid = read_events(args.file, now=far_future, limits=input_limits(Settings.from_env()))
    figures = report(events, policy, period)
    page = render(figures, policy, case_ids=not args.no_case_ids, source=shown(args.file))
    args.out.write_text(page, encoding="utf-8")
    print(f"report of {len(events)} event(s) ({invalid} invalid) written to {args.out}", file=sys.stderr)
    if args.pdf:
        from watchkeeper.pdf import print_to_pdf

        pdf = args.out.with_suffix(".pdf")
        print_to_pdf(args.out, pdf)
        print(f"and printed to {pdf}", file=sys.stderr)
    return 0


def _sweep(text: str) -> tuple[str, str, list[str]]:
    """``RULE.FIELD=FROM..TO/STEP`` (durations): the rule, the field and every value to try."""
    from agents.durations import format_duration, parse_duration

    found = re.fullmatch(r"([a-z0-9_.]+)\.([a-z_]+)=(\w+)\.\.(\w+)/(\w+)", text.strip())
    if found is None:
        raise argparse.ArgumentTypeError(
            f"not RULE.FIELD=FROM..TO/STEP (e.g. custody.appropriate_adult.arrival.target=1h..4h/30m): {text}"
        )
    rule, field, low, high, step = found.groups()
    try:
        first, last, by = parse_duration(low), parse_duration(high), parse_duration(step)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if by <= dt.timedelta(0) or last < first or (last - first) / by > 48:
        raise argparse.ArgumentTypeError("a sweep goes up from FROM to TO in at most 48 steps of STEP")
    values, at = [], first
    while at <= last:
        values.append(format_duration(at))
        at += by
    return rule, field, values


def cmd_backtest(args: argparse.Namespace) -> int:
    import tempfile

    from agents.policy import load_policy
    from alerts.export import Period
    from reports.backtest import backtest, only, sweep
    from reports.html import render_backtest
    from watchkeeper.audit import day_or_time
    from worker.settings import input_limits

    if not args.overrides and args.sweep is None:
        print("watchkeeper: give a what-if (--overrides FILE) or a --sweep", file=sys.stderr)
        return 2
    baseline = load_policy(args.policy or None, args.baseline)
    candidate = load_policy(args.policy or None, [*args.baseline, *args.overrides])
    far_future = dt.datetime.max.replace(tzinfo=dt.UTC) - dt.timedelta(days=1)
    events, _ = read_events(args.file, now=far_future, limits=input_limits(Settings.from_env()))
    if not events:
        print(f"watchkeeper: no valid events in {shown(args.file)}", file=sys.stderr)
        return 1
    first, last = min(e.time for e in events), max(e.time for e in events)
    start = day_or_time(args.start) if args.start else day_or_time(first.astimezone(_LONDON).date().isoformat())
    end = day_or_time(args.end or last.astimezone(_LONDON).date().isoformat(), end=True)
    period = Period(start, end, args.area)
    result = backtest(events, baseline, candidate, period)
    swept = None
    if args.sweep is not None:
        rule, field, values = args.sweep
        with tempfile.TemporaryDirectory() as folder:
            policies: list[tuple[str, Policy]] = []
            for value in values:
                path = Path(folder) / f"sweep-{len(policies)}.yaml"
                path.write_text(f"force: sweep\noverrides:\n  {rule}:\n    {field}: {value}\n", encoding="utf-8")
                policies.append((value, only(load_policy(args.policy or None, [*args.baseline, path]), rule)))
        swept = (f"{rule} {field}", sweep(events, policies, rule, period))
    page = render_backtest(result, baseline, candidate, swept, case_ids=not args.no_case_ids, source=shown(args.file))
    args.out.write_text(page, encoding="utf-8")
    print(f"backtest of {len(events)} event(s): {len(result.changed)} case verdict(s) change; written to {args.out}",
          file=sys.stderr)  # fmt: skip
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    from streams.schemas import render_all, write_all

    if args.check:
        stale = [
            name
            for name, text in render_all().items()
            if not (args.out / name).is_file() or (args.out / name).read_text(encoding="utf-8") != text
        ]
        for name in stale:
            print(f"stale or missing: {args.out / name}", file=sys.stderr)
        return 1 if stale else 0
    names = write_all(args.out)
    print(f"wrote {len(names)} schema files to {args.out}")
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    from agents.policy import load_policy
    from agents.rules_doc import render

    policy = load_policy()
    text = render(policy)
    if args.check:
        if args.out is None:
            print("watchkeeper rules --check: name the file with --out", file=sys.stderr)
            return 2
        if args.out.is_file() and args.out.read_text(encoding="utf-8") == text:
            return 0
        print(f"stale: {args.out} (run: watchkeeper rules --out {args.out})", file=sys.stderr)
        return 1
    if args.out is None:
        sys.stdout.write(text)
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {len(policy.rules)} rules to {args.out}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from agents.policy import load_policy
    from agents.replay import Replay, Summary

    policy = load_policy(args.policy or None, args.overrides)
    summary = Summary()
    report = sys.stdout if args.out else sys.stderr
    out = args.out.open("wb") if args.out else sys.stdout.buffer
    try:
        for source, events, invalid, until in _replay_inputs(args):
            if not events:
                print(f"watchkeeper replay: no valid events in {source}", file=sys.stderr)
                return 1
            run = Replay(policy, decoded_cases=args.decoded_cases)
            for event in sorted(events, key=lambda e: e.recordedtime):
                _write_alerts(run.feed(event, event.recordedtime), out, summary)
            _write_alerts(run.advance(until), out, summary)
            print(
                f"replayed {len(events)} event(s) from {source} to {until.isoformat()} "
                f"({invalid} invalid, {run.duplicates} duplicate, {run.conflicts} id conflict, "
                f"{run.late_entries} late entries, {run.rebuilds} out of order)",
                file=report,
            )
    finally:
        if args.out:
            out.close()
    print(summary.table(), file=report)
    return 0


def _write_alerts(alerts: Iterable[Alert], out: IO[bytes], summary: Summary) -> None:
    from agents.alert import ALERT_ENCODER

    for alert in alerts:
        summary.add(alert)
        out.write(ALERT_ENCODER.encode(alert) + b"\n")


def _replay_inputs(args: argparse.Namespace) -> Iterator[tuple[str, list[Event], int, dt.datetime]]:
    """(what, its events, invalid lines, when to stop the clock) for a JSONL file, a scenario
    (YAML: it says when to stop), or every scenario in a directory."""
    from agents.durations import parse_duration
    from agents.scenario import load
    from watchkeeper.importing import validate
    from worker.settings import input_limits

    limits = input_limits(Settings.from_env())
    far_future = dt.datetime.max.replace(tzinfo=dt.UTC) - dt.timedelta(days=1)  # replay has no "now" of its own
    path: Path = args.file
    scenarios = sorted(path.glob("*.yaml")) if path.is_dir() else [path] if path.suffix in (".yaml", ".yml") else []
    for file in scenarios:
        scenario = load(file)
        lines = [json.dumps(e).encode() for e in scenario.cloudevents()]
        events, invalid = validate(lines, str(file), far_future, limits)
        yield str(file), events, invalid, args.until or scenario.until
    if not scenarios:
        events, invalid = read_events(path, now=far_future, limits=limits)
        last = max((e.recordedtime for e in events), default=far_future)
        yield shown(path), events, invalid, args.until or last + parse_duration(args.horizon)


def _timestamp(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a UTC offset, e.g. {text}+00:00") from None
    return value


# ----------------------------------------------------------------------------- the parser
Subparsers = Any
"""argparse's subparsers action (its class is private)."""


def _add_worker(sub: Subparsers) -> None:
    p = sub.add_parser(
        "worker",
        help="run a Faust worker (the monitor itself)",
        description="Run a worker: consume the input topics, keep the clocks, raise alerts. "
        "Creates missing topics first.",
    )
    p.set_defaults(func=cmd_worker)


def _add_replay(sub: Subparsers) -> None:
    p = sub.add_parser(
        "replay",
        help="run events through the engine on a simulated clock, no Kafka",
        description="Feed the events in FILE to the engine in the order they were recorded, ticking a simulated "
        "clock at every deadline, and write the alerts as JSONL (stdout, or --out). A summary per rule follows. "
        "FILE is JSON Lines (docs/examples/night-in-custody.jsonl), a scenario (YAML, tests/scenarios/), or a "
        "directory of scenarios.",
    )
    p.add_argument(
        "file",
        type=_replay_source,
        metavar="FILE",
        help="JSON Lines, one CloudEvent per line (- reads standard input); or a scenario YAML, or a directory of them",
    )
    p.add_argument(
        "--policy", type=_existing_file, action="append", help="policy pack; repeat for several (default: built-in)"
    )
    p.add_argument(
        "--overrides",
        type=_existing_file,
        action="append",
        default=[],
        metavar="FILE",
        help="force override file; repeat for several, later files win",
    )
    p.add_argument("--out", type=Path, help="write alerts here instead of stdout (the summary then goes to stdout)")
    p.add_argument("--until", type=_timestamp, help="run the clock to this time (ISO 8601 with offset)")
    p.add_argument(
        "--decoded-cases",
        type=_positive_int,
        metavar="N",
        help="hold at most N cases decoded and the rest compressed, as the worker's tables store them: "
        "a fraction of the memory for a very large history, slower (default: every case decoded)",
    )
    p.add_argument(
        "--horizon",
        default="7d",
        help="without --until: run this long past the last record, so open clocks resolve (default 7d)",
    )
    p.set_defaults(func=cmd_replay)


def _add_import(sub: Subparsers) -> None:
    p = sub.add_parser(
        "import",
        help="load history: validate everything, then send in subject order at a bounded rate, resumably",
        description="Validate every event of FILE (JSON Lines, or CSV with --mapping) and print a summary; then send "
        "them case by case, at --rate events a second, saving the position after each batch the broker has, so that "
        "running it again resumes. Alerts raised from history are historical: they page nobody.",
    )
    p.add_argument("file", type=_events_file, metavar="FILE", help="JSON Lines or CSV file; - reads standard input")
    p.add_argument("--format", choices=("jsonl", "csv"), help="default: by the file's extension (.csv), else jsonl")
    p.add_argument("--mapping", type=_existing_file, metavar="FILE", help="CSV column mapping (YAML)")
    p.add_argument("--dry-run", action="store_true", help="validate and summarise only")
    p.add_argument("--skip-invalid", action="store_true", help="send the valid events even if some are invalid")
    p.add_argument("--rate", type=float, default=500.0, help="events a second at most (default 500)")
    p.add_argument(
        "--checkpoint", type=Path, metavar="FILE", help="where the position is kept (default FILE.checkpoint)"
    )
    p.set_defaults(func=cmd_import)


def _add_send(sub: Subparsers) -> None:
    p = sub.add_parser(
        "send",
        help="validate the events in a JSONL file and publish them",
        description="Validate each line of FILE as a CloudEvent of the contract and publish it to "
        "its domain's input topic, keyed by subject. Unknown fields are dropped. "
        "If any line is invalid nothing is sent, unless --skip-invalid.",
    )
    p.add_argument("file", type=_events_file, metavar="FILE", help=EVENTS_FILE_HELP)
    p.add_argument("--dry-run", action="store_true", help="validate only")
    p.add_argument("--skip-invalid", action="store_true", help="send the valid lines even if some are invalid")
    p.add_argument(
        "--raw",
        action="store_true",
        help="send lines unvalidated and unkeyed to --domain's topic (for testing the dead-letter path)",
    )
    p.add_argument(
        "--domain",
        choices=DOMAINS,
        default="custody",
        help="input topic for --raw (default custody)",
    )
    p.set_defaults(func=cmd_send)


def _add_users(sub: Subparsers) -> None:
    p = sub.add_parser(
        "users",
        help="make a console/ack user's token, or revoke a user's sessions",
        description="add: generate a high-entropy bearer token and print it once, with the credential "
        "(salted hash) to put in the notification file's users list or WATCHKEEPER_CONSOLE_USERS. "
        "revoke: end every console session of a user on every worker within seconds.",
    )
    users = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = users.add_parser("add", help="generate a token and its stored credential")
    q.add_argument("name", help="the user's name (letters, digits, '.', '_', '-')")
    q.add_argument(
        "--access",
        choices=("viewer", "inspector", "admin", "ingest"),
        default="inspector",
        help="what they may do: viewer sees, inspector also acknowledges, admin also revokes; ingest (a force "
        "system, not a person) only posts events to POST /events (default inspector)",
    )
    q.set_defaults(func=cmd_users_add)
    q = users.add_parser("revoke", help="end every session of a user (on the broker's access log)")
    q.add_argument("name")
    q.add_argument("--by", default="cli", help="who is revoking, for the record (default cli)")
    q.set_defaults(func=cmd_users_revoke)


def cmd_audit_export(args: argparse.Namespace) -> int:
    from watchkeeper.audit import main_export

    period = _period(args)
    if period is None:
        return 2
    if args.out is None:
        return main_export(Settings.from_env(), period, args.format, sys.stdout)
    with args.out.open("w", encoding="utf-8", newline="") as out:
        return main_export(Settings.from_env(), period, args.format, out)


def _add_audit(sub: Subparsers) -> None:
    p = sub.add_parser(
        "audit",
        help="export the record of a period for an inspection",
        description="export: every alert, its lifecycle, acknowledgements with who and how, deliveries, "
        "silences and case views in a period, from the topics, in time order (docs/operations.md).",
    )
    audit = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = audit.add_parser("export", help="write the period's record as JSON Lines or CSV")
    q.add_argument("--from", dest="start", required=True, metavar="WHEN", help="a date (London) or an ISO time")
    q.add_argument("--to", dest="end", required=True, metavar="WHEN", help="a date (included) or an ISO time")
    q.add_argument("--area", help="only this area or custody suite (and the silences that could hold it)")
    q.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="default jsonl")
    q.add_argument("--out", type=Path, metavar="FILE", help="write here instead of stdout")
    q.set_defaults(func=cmd_audit_export)


def _add_topics(sub: Subparsers) -> None:
    p = sub.add_parser(
        "topics",
        help="create and verify the topics",
        description="Create missing topics with explicit partitions, replication and retention, "
        "and verify existing ones. Exit 1 if a topic's partition count is wrong.",
    )
    p.set_defaults(func=cmd_topics)


def _add_simulate(sub: Subparsers) -> None:
    p = sub.add_parser(
        "simulate",
        help="write a simulated force's events (every domain) as JSON Lines",
        description="Realistic events for a period, in the contract: what happens to children (arrests by "
        "hour, appropriate adults with a long tail, reviews late or by telephone, police protection, missing "
        "episodes and repeats, domestic abuse with children, investigations) and how records arrive (some late). "
        "The same profile, seed and start give the same events (docs/simulation.md).",
    )
    p.add_argument("--days", type=int, default=30, help="how many days (default 30)")
    p.add_argument("--seed", type=int, default=7, help="the random seed (default 7)")
    p.add_argument(
        "--profile", default="medium", help="small, medium or large, or a profile YAML file (default medium)"
    )
    p.add_argument("--start", type=_timestamp, help="the first day (ISO 8601 with offset); default: --days ago")
    p.add_argument("--out", type=Path, metavar="FILE", help="write here instead of stdout (- is stdout)")
    p.set_defaults(func=cmd_simulate)


def _add_report(sub: Subparsers) -> None:
    p = sub.add_parser(
        "report",
        help="a compliance report for a period, as one HTML page (and a PDF)",
        description="Replay EVENTS with the live engine and policy and write, per rule and per suite or area: "
        "warnings and breaches, time to act (median, 90th percentile, worst), reviews, police protection, "
        "high-risk missing children overnight, each against the period before and linked to its rule and legal "
        "basis. Dates are London days; --to includes its day.",
    )
    p.add_argument("file", type=_events_file, metavar="EVENTS", help=EVENTS_FILE_HELP)
    p.add_argument("--from", dest="start", required=True, metavar="WHEN", help="a date (London) or an ISO time")
    p.add_argument("--to", dest="end", required=True, metavar="WHEN", help="a date (included) or an ISO time")
    _add_page_options(p, "report.html")
    p.add_argument("--pdf", action="store_true", help="also print it to a PDF beside it, with headless Chromium")
    p.add_argument("--overrides", type=_existing_file, action="append", default=[], metavar="FILE",
                   help="force override file; repeat for several")  # fmt: skip
    p.set_defaults(func=cmd_report)


def _add_backtest(sub: Subparsers) -> None:
    p = sub.add_parser(
        "backtest",
        help="replay a history under two policies (or a swept target) and show what changes",
        description="Replay EVENTS under the baseline (the packs, plus --baseline) and the what-if (plus "
        "--overrides), and write one HTML page: per rule and suite, how breaches, warnings and pages change, a "
        "chart of how one rule's alerts answer its target swept across a range (--sweep), and the cases whose "
        "verdict changes. This is how a force sets a local standard with evidence.",
    )
    p.add_argument("file", type=_events_file, metavar="EVENTS", help=EVENTS_FILE_HELP)
    p.add_argument("--overrides", type=_existing_file, action="append", default=[], metavar="FILE",
                   help="the what-if: a force override file; repeat for several")  # fmt: skip
    p.add_argument("--baseline", type=_existing_file, action="append", default=[], metavar="FILE",
                   help="override files both policies start from (default: the packs as shipped)")  # fmt: skip
    p.add_argument("--sweep", type=_sweep, metavar="RULE.FIELD=FROM..TO/STEP",
                   help="e.g. custody.appropriate_adult.arrival.target=1h..4h/30m")  # fmt: skip
    p.add_argument("--from", dest="start", metavar="WHEN", help="default: the first record's London day")
    p.add_argument("--to", dest="end", metavar="WHEN", help="default: the last record's London day")
    _add_page_options(p, "backtest.html")
    p.set_defaults(func=cmd_backtest)


def _add_page_options(p: argparse.ArgumentParser, out: str) -> None:
    """What a report and a backtest share: the area, the page, case references, the packs."""
    p.add_argument("--area", help="only this custody suite or area")
    p.add_argument("--out", type=Path, default=Path(out), help=f"the page to write (default {out})")
    p.add_argument("--no-case-ids", action="store_true", help="leave out even pseudonymous case references")
    p.add_argument("--policy", type=_existing_file, action="append", help="policy pack; repeat for several")


def _add_generators(sub: Subparsers) -> None:
    p = sub.add_parser(
        "schemas",
        help="write the JSON Schema of every event type",
        description="Write <type>.json for every event type in the contract, and an index, into DIR.",
    )
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="where to write (docs/schemas in a checkout)")
    p.add_argument("--check", action="store_true", help="exit 1 if what is in DIR is not current")
    p.set_defaults(func=cmd_schemas)
    p = sub.add_parser(
        "rules",
        help="write the rule reference from the built-in policy packs",
        description="Write the rule reference (every rule, its legal basis, defaults and parameters) as Markdown.",
    )
    p.add_argument(
        "--out", type=Path, metavar="FILE", help="where to write (default stdout; docs/rules.md in a checkout)"
    )
    p.add_argument("--check", action="store_true", help="exit 1 if --out is not current")
    p.set_defaults(func=cmd_rules)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("watchkeeper")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="watchkeeper",
        description="Streaming compliance monitor for police child protection: keeps every legal and policy clock "
        "running for a child and raises alerts before and when one is breached.",
        epilog="Settings come from environment variables:\n" + settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"watchkeeper {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = [_add_worker, _add_replay, _add_send, _add_import, _add_simulate, _add_report, _add_backtest]
    commands += [_add_users, _add_audit]
    for add in (*commands, _add_topics, _add_generators):
        add(sub)
    return parser


YOUNG_COLLECTION_THRESHOLD = 10_000
"""Allocations between collections of the youngest generation (CPython's default is 700)."""


def tune_collector() -> None:
    """Collect the young generation less often. Applying a record allocates thousands of short-lived
    objects, nearly all freed by their reference counts, while held cases are long-lived: at
    CPython's default a replay spent about a fifth of its time in the collector (engine
    benchmark, 20k cases: 9,930 -> 12,298 events/s opening, 8,996 -> 9,613 held;
    docs/performance.md). Cycles are still collected, only in larger steps."""
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, 10, 10)


def main(argv: Sequence[str] | None = None) -> int:
    tune_collector()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "send" and args.raw is False and args.domain != "custody":
        parser.error("--domain is only used with --raw")
    from agents.policy import PolicyError
    from alerts.config import ConfigError

    try:
        Settings.from_env()
        command: Command = args.func
        return command(args)
    except SettingsError as exc:
        print(f"watchkeeper: bad setting: {exc}", file=sys.stderr)
        return 2
    except PolicyError as exc:
        print(f"watchkeeper: bad policy: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"watchkeeper: bad notification config: {exc}", file=sys.stderr)
        return 2
    except ConnectionError as exc:
        print(f"watchkeeper: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
