"""``neuroreview-dicom``: echo, find, get, listen and send against DICOM nodes you name.

Nodes are written ``AE@HOST:PORT``; only the node given with ``--pacs`` is contacted, and the
listener binds 127.0.0.1 unless ``--bind`` says otherwise.  Every transfer goes to the audit log.

Exit status: 0 done, 1 the operation failed or was incomplete (the message says why), 2 usage
errors, 130 interrupted.  No Python traceback reaches the user.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from core.cli.args import parse_or_status
from core.network import (
    DEFAULT_AE_TITLE,
    DEFAULT_PORT,
    LOOPBACK,
    DicomNode,
    LocalStore,
    NetworkError,
    StorageListener,
    StoredInstance,
    StudyQuery,
    ae_title,
    default_store_root,
    echo,
    find_studies,
    move_study,
    retrieve_study,
    send_files,
)
from core.platform.progress import ProgressBar

PROG = "neuroreview-dicom"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MB = 1_000_000


def _node(text: str) -> DicomNode:
    try:
        return DicomNode.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _aet(text: str) -> str:
    try:
        return ae_title(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _aet_list(text: str) -> list[str]:
    return [_aet(part) for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--aet", type=_aet, default=DEFAULT_AE_TITLE, help=f"our AE title (default {DEFAULT_AE_TITLE})")
    common.add_argument("-v", "--verbose", action="store_true", help="also print pynetdicom's own log")
    remote = argparse.ArgumentParser(add_help=False, parents=[common])
    remote.add_argument("--pacs", type=_node, required=True, metavar="AE@HOST:PORT", help="the node to talk to")
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("echo", parents=[remote], help="C-ECHO: is the node there?")

    find = commands.add_parser("find", parents=[remote], help="C-FIND studies; prints a JSON list")
    find.add_argument("--patient-id", default="")
    find.add_argument("--patient-name", default="", help="wildcards * and ? allowed, e.g. 'DOE^*'")
    find.add_argument("--study-date", default="", help="YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
    find.add_argument("--modality", default="", help="e.g. MR")
    find.add_argument("--accession", default="")

    get = commands.add_parser("get", parents=[remote], help="retrieve one study (C-GET, or C-MOVE with --move)")
    get.add_argument("--study", required=True, metavar="UID", help="Study Instance UID")
    get.add_argument("--into", type=Path, help="folder to store into (default: the local store)")
    get.add_argument("--move", action="store_true", help="C-MOVE to our own listener instead of C-GET")
    get.add_argument("--port", type=int, default=DEFAULT_PORT, help="our listener's port for --move")
    get.add_argument("--bind", default=LOOPBACK, help="our listener's address for --move (default 127.0.0.1)")
    _store_options(get)

    listen = commands.add_parser("listen", parents=[common], help="receive images (Storage SCP) until stopped")
    listen.add_argument("--port", type=int, default=DEFAULT_PORT)
    listen.add_argument("--store", type=Path, help="folder to store into (default: the local store)")
    listen.add_argument("--allow", type=_aet_list, default=[], metavar="AE,...", help="only these calling AE titles")
    listen.add_argument("--bind", default=LOOPBACK, help="address to listen on (default 127.0.0.1)")
    listen.add_argument("--max-associations", type=int, default=4)
    _store_options(listen)

    send = commands.add_parser("send", parents=[remote], help="C-STORE files and folders (our SR/SC results too)")
    send.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    return parser


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-store-mb", type=int, default=None, help="refuse objects beyond this store size")
    parser.add_argument("--min-free-mb", type=int, default=512, help="disk space to keep free (default 512 MB)")
    parser.add_argument("--max-object-mb", type=int, default=1024, help="largest object accepted (default 1024 MB)")


def _store(folder: Path | None, args: argparse.Namespace) -> LocalStore:
    max_bytes = args.max_store_mb * MB if args.max_store_mb is not None else None
    return LocalStore(folder or default_store_root(), max_bytes=max_bytes, min_free_bytes=args.min_free_mb * MB)


def _limits(args: argparse.Namespace) -> Any:
    from core.network import NetworkLimits

    return NetworkLimits(
        max_dataset_bytes=getattr(args, "max_object_mb", 1024) * MB,
        max_associations=getattr(args, "max_associations", 4),
    )


def _cmd_echo(args: argparse.Namespace, out: TextIO, _err: TextIO) -> int:
    seconds = echo(args.pacs, args.aet)
    print(f"C-ECHO {args.pacs}: success, round trip {seconds * 1000:.1f} ms", file=out)
    return EXIT_OK


def _cmd_find(args: argparse.Namespace, out: TextIO, _err: TextIO) -> int:
    query = StudyQuery(args.patient_id, args.patient_name, args.study_date, args.modality, args.accession)
    studies = find_studies(args.pacs, args.aet, query)
    json.dump(studies, out, indent=2, ensure_ascii=False)
    out.write("\n")
    return EXIT_OK


def _cmd_get(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    store = _store(args.into, args)
    bar: ProgressBar | None = None

    def progress(done: int, total: int | None) -> None:
        nonlocal bar
        if bar is None and total:
            bar = ProgressBar(err, total, "retrieving", unit="files")
        if bar is not None:
            bar.update(done)

    try:
        if args.move:
            listener = StorageListener(
                store,
                our_ae=args.aet,
                port=args.port,
                bind=args.bind,
                allowed=[args.pacs.ae_title],
                limits=_limits(args),
            )
            result = move_study(args.pacs, args.aet, args.study, listener, progress=progress)
        else:
            result = retrieve_study(args.pacs, args.aet, args.study, store, limits=_limits(args), progress=progress)
    finally:
        if bar is not None:
            bar.close()
    print(f"{result.summary()} in {result.folder}", file=out)
    return EXIT_OK if not (result.refused or result.failed_on_node) else EXIT_FAILED


def _cmd_listen(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    store = _store(args.store, args)
    stop = threading.Event()
    lock = threading.Lock()

    def stored(instance: StoredInstance, peer: str) -> None:
        what = "already stored" if instance.duplicate else "stored"
        with lock:
            print(f"{what} {instance.sop_instance_uid} from {peer}: {instance.path}", file=out, flush=True)

    listener = StorageListener(
        store, our_ae=args.aet, port=args.port, bind=args.bind, allowed=args.allow, limits=_limits(args),
        on_stored=stored,
    )  # fmt: skip
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        listener.start()
        host, port = listener.address
        allowed = ", ".join(args.allow) or "any calling AE title"
        print(f"listening as {args.aet} on {host}:{port}, storing into {store.root} ({allowed})", file=err, flush=True)
        while not stop.wait(0.2):
            pass
        print("stopping", file=err, flush=True)
    finally:
        listener.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


def _cmd_send(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        raise NetworkError(f"no such file or folder: {', '.join(str(p) for p in missing)}")
    bar: ProgressBar | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = ProgressBar(err, total, "sending", unit="files")
        bar.update(done)

    try:
        result = send_files(args.pacs, args.aet, args.paths, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    for path, reason in result.failed:
        print(f"not sent: {path}: {reason}", file=err)
    print(f"sent {len(result.sent)} file(s) to {args.pacs}, {len(result.failed)} not sent", file=out)
    return EXIT_OK if not result.failed else EXIT_FAILED


COMMANDS = {"echo": _cmd_echo, "find": _cmd_find, "get": _cmd_get, "listen": _cmd_listen, "send": _cmd_send}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (see the module docstring)."""
    parser = build_parser()
    args = parse_or_status(parser, argv, EXIT_USAGE)
    if isinstance(args, int):
        return args
    with contextlib.suppress(OSError):  # logs under the platform log folder; never fatal
        from core.platform.app_logging import configure_logging

        configure_logging()
    if args.verbose:
        import logging

        from pynetdicom import debug_logger

        debug_logger()
        logging.getLogger("neuroreview").addHandler(logging.StreamHandler(sys.stderr))
    try:
        return COMMANDS[args.command](args, sys.stdout, sys.stderr)
    except NetworkError as exc:
        print(f"{PROG} {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ValueError) else EXIT_FAILED
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # last resort: a message, never a traceback
        print(f"{PROG} {args.command}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
