"""Failure cases against pynetdicom's own SCP/SCU in this process: each ends in a readable error or a
DIMSE failure status, keeps what arrived complete, and leaves no partial file."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dicom_factory import BASIC_TEXT_SR, make_dataset, write
from pydicom.uid import MRImageStorage
from pynetdicom import AE, evt

from core.network import DicomNode, LocalStore, NetworkError, NetworkLimits, StorageListener, echo, retrieve_study
from core.network import send_files as send
from core.network.sop_classes import STUDY_ROOT_GET, VERIFICATION

from .helpers import leftovers, mr_slice, transfers

LOCAL = "127.0.0.1"
FAST = NetworkLimits(acse_timeout_s=2, dimse_timeout_s=5, network_timeout_s=5, connect_timeout_s=2)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[StorageListener]:
    """Our listener on a free loopback port, storing into tmp_path/store, accepting SCANNER only."""
    server = StorageListener(
        LocalStore(tmp_path / "store", min_free_bytes=0), our_ae="NRTEST", port=0, allowed=["SCANNER"], limits=FAST
    )
    server.start()
    yield server
    server.stop()


def _node(listener: StorageListener, title: str = "NRTEST") -> DicomNode:
    return DicomNode(title, LOCAL, listener.address[1])


def _files(folder: Path, *datasets) -> list[Path]:
    return [write(ds, folder / f"{n:03d}.dcm") for n, ds in enumerate(datasets)]


def test_calling_ae_not_allowed_is_rejected_and_audited(listener: StorageListener, tmp_path: Path) -> None:
    files = _files(tmp_path / "out", mr_slice())
    with pytest.raises(NetworkError, match="rejected the association: our AE title is not known"):
        send(_node(listener), "INTRUDER", files, limits=FAST)
    with pytest.raises(NetworkError, match="does not answer to the AE title we called"):
        send(_node(listener, "SOMEONE"), "SCANNER", files, limits=FAST)
    assert list(listener.store.files()) == []
    assert any(e["details"]["outcome"] == "rejected" for e in transfers())
    assert echo(_node(listener), "SCANNER", FAST) < 5  # the listener still answers the allowed node


def test_no_answer_times_out_and_refused_connections_say_so(tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind((LOCAL, 0))
    silent.listen(1)  # accepts the connection, never answers the A-ASSOCIATE-RQ
    try:
        with pytest.raises(NetworkError, match="no answer within 2 s"):
            echo(DicomNode("SILENT", LOCAL, silent.getsockname()[1]), "NRTEST", FAST)
    finally:
        silent.close()
    closed = socket.socket()
    closed.bind((LOCAL, 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(NetworkError, match=r"no connection to NOBODY@127\.0\.0\.1:[0-9]+: connection refused"):
        echo(DicomNode("NOBODY", LOCAL, port), "NRTEST", FAST)


def test_a_sop_class_we_do_not_accept_is_refused_and_the_rest_is_stored(
    listener: StorageListener, tmp_path: Path
) -> None:
    report = make_dataset(None, sop_class=BASIC_TEXT_SR, modality="SR")
    files = _files(tmp_path / "out", mr_slice(), report)
    result = send(_node(listener), "SCANNER", files, limits=FAST)
    assert result.sent == [files[0]]
    assert result.failed == [(files[1], "the node does not accept this SOP class")]
    assert len(list(listener.store.files())) == 1


def test_an_object_over_the_size_limit_aborts_and_keeps_what_was_complete(tmp_path: Path) -> None:
    limits = NetworkLimits(max_dataset_bytes=20_000, acse_timeout_s=2, dimse_timeout_s=5)
    server = StorageListener(LocalStore(tmp_path / "store", min_free_bytes=0), our_ae="NRTEST", port=0, limits=limits)
    server.start()
    try:
        files = _files(tmp_path / "out", mr_slice(size=16), mr_slice(size=256, seed=1))  # 0.5 KB, then 128 KB
        with pytest.raises(NetworkError):
            send(_node(server), "SCANNER", files, limits=FAST)
        stored = list(server.store.files())
        assert [p.name for p in stored] == [f"{make_sop(files[0])}.dcm"]
        assert leftovers(tmp_path / "store") == []
    finally:
        server.stop()


def make_sop(path: Path) -> str:
    import pydicom

    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def test_disk_full_is_a_dimse_failure_and_the_listener_goes_on(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store", min_free_bytes=1_000_000, free_space=lambda _p: 1000)
    server = StorageListener(store, our_ae="NRTEST", port=0, limits=FAST)
    server.start()
    try:
        files = _files(tmp_path / "out", mr_slice())
        result = send(_node(server), "SCANNER", files, limits=FAST)
        [(path, reason)] = result.failed
        assert path == files[0] and "0xA700" in reason and "not enough disk space" in reason
        assert echo(_node(server), "SCANNER", FAST) < 5
        assert leftovers(tmp_path / "store") == [] if (tmp_path / "store").exists() else True
    finally:
        server.stop()


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_malformed_objects_are_refused_with_a_status_and_a_log_line(
    listener: StorageListener, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad_uid = mr_slice()
    bad_uid.StudyInstanceUID = "not-a-uid"
    no_pixels = mr_slice(seed=1)
    del no_pixels.PixelData
    files = _files(tmp_path / "out", bad_uid, no_pixels, mr_slice(seed=2))
    with caplog.at_level(logging.WARNING, logger="neuroreview.network"):
        result = send(_node(listener), "SCANNER", files, limits=FAST)
    reasons = dict(result.failed)
    assert result.sent == [files[2]]
    assert "0xC000" in reasons[files[0]] and "Study Instance UID" in reasons[files[0]]
    assert "0xA900" in reasons[files[1]] and "without pixel data" in reasons[files[1]]
    refusals = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused MR Image Storage")]
    assert len(refusals) == 2


def test_too_many_associations_at_once_are_rejected(tmp_path: Path) -> None:
    limits = NetworkLimits(max_associations=1, acse_timeout_s=2, dimse_timeout_s=5)
    server = StorageListener(LocalStore(tmp_path / "store", min_free_bytes=0), our_ae="NRTEST", port=0, limits=limits)
    server.start()
    holder = AE(ae_title="HOLDER")
    holder.add_requested_context(VERIFICATION)
    first = holder.associate(LOCAL, server.address[1], ae_title="NRTEST")
    try:
        assert first.is_established
        with pytest.raises(NetworkError, match="too many associations"):
            echo(_node(server), "SECOND", FAST)
    finally:
        first.release()
        holder.shutdown()
        server.stop()


class GetServer:
    """A pynetdicom C-GET SCP that sends ``datasets``; with ``abort_after_bytes`` its connection drops
    once that many P-DATA bytes went out (the peer vanishes in the middle of an object)."""

    def __init__(self, datasets: list, abort_after_bytes: int | None = None, pause_s: float = 0.0) -> None:
        self.datasets = datasets
        self.pause_s = pause_s  # between objects, so that a cancel lands in the middle
        self.abort_after_bytes = abort_after_bytes
        self.sent = 0
        self.ae = AE(ae_title="GETSCP")
        self.ae.add_supported_context(STUDY_ROOT_GET)
        self.ae.add_supported_context(MRImageStorage, scu_role=True, scp_role=True)
        handlers = [(evt.EVT_C_GET, self._on_get), (evt.EVT_DATA_SENT, self._on_sent)]
        self.server = self.ae.start_server((LOCAL, 0), block=False, evt_handlers=handlers)
        self.node = DicomNode("GETSCP", LOCAL, self.server.server_address[1])

    def _on_get(self, event):
        yield len(self.datasets)
        for ds in self.datasets:
            time.sleep(self.pause_s)
            yield 0xFF00, ds

    def _on_sent(self, event) -> None:
        if event.data[0] == 0x04:
            self.sent += len(event.data)
            if self.abort_after_bytes is not None and self.sent > self.abort_after_bytes:
                self.abort_after_bytes = None
                event.assoc.dul.socket.socket.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.server.shutdown()
        self.ae.shutdown()


def test_peer_abort_mid_transfer_keeps_complete_files_and_removes_nothing_else(tmp_path: Path) -> None:
    study = "1.2.3.4"
    datasets = [mr_slice(study, "1.2.3.4.1", size=16, seed=0), mr_slice(study, "1.2.3.4.1", size=16, seed=1)]
    datasets.append(mr_slice(study, "1.2.3.4.1", size=256, seed=2))  # 128 KB: aborted half-way
    peer = GetServer(datasets, abort_after_bytes=40_000)
    store = LocalStore(tmp_path / "store", min_free_bytes=0)
    small_pdus = NetworkLimits(max_pdu=4096, acse_timeout_s=2, dimse_timeout_s=5, network_timeout_s=5)
    try:
        with pytest.raises(NetworkError, match=r"stopped answering|aborted"):
            retrieve_study(peer.node, "NRTEST", study, store, limits=small_pdus)
    finally:
        peer.close()
    assert sorted(p.name for p in store.files()) == sorted(f"{d.SOPInstanceUID}.dcm" for d in datasets[:2])
    assert leftovers(tmp_path / "store") == []
    assert transfers()[-1]["details"]["outcome"] == "failed"


def test_cancel_stops_the_retrieval_and_keeps_what_arrived(tmp_path: Path) -> None:
    study = "1.2.3.5"
    peer = GetServer([mr_slice(study, "1.2.3.5.1", seed=n) for n in range(6)])
    store = LocalStore(tmp_path / "store", min_free_bytes=0)
    arrived = threading.Event()
    seen: list[int] = []

    def progress(done: int, _total: int | None) -> None:
        seen.append(done)
        if done >= 2:
            arrived.set()

    try:
        result = retrieve_study(
            peer.node, "NRTEST", study, store, limits=FAST, progress=progress, cancel=arrived.is_set
        )
    finally:
        peer.close()
    assert result.cancelled and 2 <= len(result.stored) < 6
    assert sorted(store.files()) == sorted(result.stored)
    assert leftovers(tmp_path / "store") == []
    assert transfers()[-1]["details"]["outcome"] == "cancelled"


def test_undecodable_bytes_are_refused_as_cannot_understand(
    listener: StorageListener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pynetdicom import _config

    good = _files(tmp_path / "out", mr_slice())[0]
    raw = good.read_bytes()
    meta_end = 132 + 12 + int.from_bytes(raw[140:144], "little")  # preamble, DICM, group length element
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(raw[:meta_end] + b"\x08\x00\x16\x00UI\xff\x7f" + b"\x01" * 40)  # a length past the end
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)  # pynetdicom sends the bytes as they are
    result = send(_node(listener), "SCANNER", [broken], limits=FAST)
    [(path, reason)] = result.failed
    assert path == broken and "0xC000" in reason and "cannot be decoded" in reason
    assert list(listener.store.files()) == []


def test_fast_polling_reaches_pynetdicoms_loop_delay(tmp_path: Path) -> None:
    """retrieve_study sets pynetdicom's idle pause to 0 on its own association; if a pynetdicom release
    renamed the attribute, this fails instead of the retrieval silently slowing down."""
    from core.network.retrieve import fast_polling

    peer = GetServer([])
    ae = AE(ae_title="NRTEST")
    ae.add_requested_context(STUDY_ROOT_GET)
    assoc = ae.associate(LOCAL, peer.node.port, ae_title="GETSCP")
    try:
        assert assoc.is_established and assoc.dul._run_loop_delay > 0
        fast_polling(assoc)
        assert assoc.dul._run_loop_delay == 0
    finally:
        assoc.release()
        ae.shutdown()
        peer.close()
