"""The ``xolver memory`` command group: stats, search, import, export, forget.

`add_memory_parser` registers the group on the main parser's subparsers; `run_memory_command` runs
a parsed command and returns an exit code (0 ok, 1 user error with a one-line message on stderr).
Output goes to the consoles passed in; nothing here prints on its own.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from xolver.errors import UserError
from xolver.memory.base import SEARCH_MODES
from xolver.memory.records import RecordKind

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from xolver.memory.chroma import ChromaExperienceStore

__all__ = ["add_memory_parser", "run_memory_command"]

_KINDS = list(get_args(RecordKind))


def add_memory_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``memory`` and its subcommands on an argparse subparsers object; return its parser."""
    memory = subparsers.add_parser(
        "memory",
        help="inspect and manage the experience memory",
        description="Inspect and manage the experience memory.",
    )
    commands = memory.add_subparsers(dest="memory_command", metavar="COMMAND", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--path", type=Path, default=None, help="memory folder (default: $XOLVER_HOME/memory)")
        p.add_argument(
            "--memory-url", default=None, metavar="URL", help="a Chroma server (http://HOST:PORT) instead of --path"
        )
        p.add_argument("--namespace", default=None, help="namespace (tenant); default: 'default'")
        p.add_argument(
            "--embedder", default=None, help="sentence-transformers model name or path (default: all-MiniLM-L6-v2)"
        )

    stats = commands.add_parser("stats", help="count records by kind, namespace, domain and source")
    common(stats)
    stats.add_argument("--json", action="store_true", help="print JSON")

    search = commands.add_parser("search", help="search the memory (hybrid: dense + BM25)")
    common(search)
    search.add_argument("query", help="free text")
    search.add_argument("--kind", choices=_KINDS, default=None, help="only this kind of record")
    search.add_argument("--domain", default=None, help="only this domain")
    search.add_argument("--k", type=int, default=5, help="number of hits (default 5)")
    search.add_argument("--mode", choices=SEARCH_MODES, default="hybrid", help="retriever")
    search.add_argument("--json", action="store_true", help="print JSON lines")

    imp = commands.add_parser("import", help="import a JSONL file")
    common(imp)
    imp.add_argument("file", type=Path, help="JSONL file, one record per line")
    imp.add_argument("--kind", choices=_KINDS, default="problem", help="kind of every record (default problem)")
    imp.add_argument("--domain", default="general", help="domain of every record, e.g. math or code")
    imp.add_argument("--source", default=None, help="provenance label (default import:<file name>)")
    imp.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="TARGET=KEY",
        help="map a record field to a JSON key, e.g. problem=question (repeatable)",
    )
    imp.add_argument("--batch-size", type=int, default=256, help="records per atomic write (default 256)")
    imp.add_argument("--limit", type=int, default=None, help="import at most this many lines")

    exp = commands.add_parser("export", help="write records to a JSONL file")
    common(exp)
    exp.add_argument("file", type=Path, help="output JSONL file")
    exp.add_argument("--kind", choices=_KINDS, default=None, help="only this kind of record")

    history = commands.add_parser("history", help="a record's track record, merges and retirement")
    common(history)
    history.add_argument("record_id", metavar="ID", help="the record id")
    history.add_argument("--json", action="store_true", help="print the record as JSON")

    forget = commands.add_parser(
        "forget",
        help="delete records: by --id or --source (inside --namespace if given), or a whole --namespace",
    )
    common(forget)
    which = forget.add_mutually_exclusive_group()
    which.add_argument("--id", dest="record_id", default=None, help="one record id")
    which.add_argument("--source", default=None, help="every record with this source")
    return memory  # type: ignore[no-any-return]


def _open(args: argparse.Namespace) -> ChromaExperienceStore:
    from xolver.memory.stores import StoreSpec, open_chroma_store

    # With --namespace the store is bound to it, so no command can touch another tenant.
    url = getattr(args, "memory_url", None)
    return open_chroma_store(StoreSpec(path=args.path, url=url, embedder=args.embedder, namespace=args.namespace))


def run_memory_command(args: argparse.Namespace, console: Console, err_console: Console) -> int:
    """Run a parsed ``xolver memory ...`` command; return the exit code.

    Args:
        args: from a parser that `add_memory_parser` extended.
        console: where results go.
        err_console: where progress and errors go.
    """
    try:
        return _run(args, console, err_console)
    except UserError as e:
        err_console.print(f"[red]error:[/red] {e}", markup=True, highlight=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        err_console.print("interrupted", highlight=False)
        return 130


def _run(args: argparse.Namespace, console: Console, err_console: Console) -> int:
    command = args.memory_command
    namespace = args.namespace or "default"
    if command == "import":
        return _import(args, namespace, console, err_console)
    if command == "forget" and args.record_id is None and args.source is None and args.namespace is None:
        raise UserError("forget needs --id, --source or --namespace")
    store = _open(args)
    try:
        if command == "stats":
            return _stats(store, args, console)
        if command == "search":
            return _search(store, args, namespace, console)
        if command == "history":
            return _history(store, args, console)
        if command == "export":
            from xolver.memory.importer import export_jsonl

            n = export_jsonl(store, args.file, namespace=args.namespace, kind=args.kind)
            err_console.print(f"exported {n} records to {args.file}", highlight=False)
            return 0
        if command == "forget":
            if args.record_id is not None:
                n = store.forget(ids=[args.record_id])
            elif args.source is not None:
                n = store.forget(source=args.source)
            else:
                n = store.forget(namespace=args.namespace)
            err_console.print(f"forgot {n} records", highlight=False)
            return 0
        raise UserError(f"unknown memory command {command!r}")
    finally:
        store.close()


def _stats(store: ChromaExperienceStore, args: argparse.Namespace, console: Console) -> int:
    data = store.stats(namespace=args.namespace)
    if args.json:
        console.print_json(data.model_dump_json())
        return 0
    from rich.table import Table

    console.print(f"memory at {data.path}  (embedder {data.embedder})", highlight=False)
    table = Table("group", "value", "records", box=None)
    table.add_row("total", "", str(data.total))
    groups = {"kind": data.by_kind, "namespace": data.by_namespace, "domain": data.by_domain, "source": data.by_source}
    for group, counts in groups.items():
        for key, value in counts.items():
            table.add_row(group, key, str(value))
    console.print(table)
    return 0


def _search(store: ChromaExperienceStore, args: argparse.Namespace, namespace: str, console: Console) -> int:
    if args.k < 1:
        raise UserError(f"--k must be at least 1, got {args.k}")
    hits = store.search(args.query, k=args.k, kind=args.kind, domain=args.domain, namespace=namespace, mode=args.mode)
    if args.json:
        for hit in hits:
            console.print_json(json.dumps({"score": hit.score, **hit.record.model_dump()}), indent=None)
        return 0
    if not hits:
        console.print("no matching records", highlight=False)
        return 0
    from rich.markup import escape

    for i, hit in enumerate(hits, start=1):
        r = hit.record
        console.print(
            f"[bold]{i}.[/bold] [dim]{r.kind} · {r.domain} · {r.source} · {r.id} · score {hit.score:.4f}[/dim]",
            highlight=False,
        )
        console.print(escape(_short(r.text, 400)), highlight=False)
        if r.answer:
            console.print(f"[green]answer:[/green] {escape(_short(r.answer, 120))}", highlight=False)
        if r.code:
            console.print(escape(_short(r.code, 400)), highlight=False)
        console.print()
    return 0


def _history(store: ChromaExperienceStore, args: argparse.Namespace, console: Console) -> int:
    found = store.get([args.record_id])
    if not found:
        raise UserError(f"no record with id {args.record_id!r}")
    (r,) = found
    if args.json:
        console.print_json(r.model_dump_json())
        return 0
    import datetime

    from xolver.memory.curation import usefulness

    def when(t: float) -> str:
        return datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")

    status = "retired" if r.retired else "live"
    console.print(f"{r.id}  {r.kind} · {r.namespace} · {r.domain} · {status}", highlight=False)
    console.print(_short(r.text, 400), highlight=False, markup=False)
    console.print(
        f"written {when(r.created_at)} from {r.source}; verified {r.verified}; evidence {r.evidence}",
        highlight=False,
    )
    console.print(
        f"shown in {r.helped + r.hurt} grounded solves: helped {r.helped}, hurt {r.hurt}, "
        f"usefulness {usefulness(r):.2f}",
        highlight=False,
    )
    for event in r.history:
        console.print(f"{when(event.at)}  {event.action}: {event.detail}", highlight=False, markup=False)
    return 0


def _short(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _import(args: argparse.Namespace, namespace: str, console: Console, err_console: Console) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from xolver.memory.importer import import_jsonl, parse_field_map

    # Validated before the (slow) model load, so a typo fails fast.
    parse_field_map(args.field)
    if not args.file.is_file():
        raise UserError(f"no such file: {str(args.file)!r}")
    store = _open(args)
    try:
        with Progress(
            TextColumn("importing {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task(args.file.name, total=None)

            def update(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = import_jsonl(
                store,
                args.file,
                kind=args.kind,
                domain=args.domain,
                namespace=namespace,
                source=args.source,
                fields=args.field or None,
                batch_size=args.batch_size,
                limit=args.limit,
                progress=update,
            )
    finally:
        store.close()
    for line, reason in report.malformed:
        err_console.print(f"{args.file}:{line}: skipped: {reason}", highlight=False)
    if report.malformed_count > len(report.malformed):
        err_console.print(
            f"... and {report.malformed_count - len(report.malformed)} more malformed lines", highlight=False
        )
    console.print(
        f"imported {report.imported} records from {report.lines} lines in {report.seconds:.1f}s "
        f"({report.skipped_duplicates} duplicates, {report.malformed_count} malformed)",
        highlight=False,
    )
    return 0
