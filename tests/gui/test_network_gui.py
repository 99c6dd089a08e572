"""The workstation's DICOM network features against a real Orthanc (and DCMTK's storescu), offscreen."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest
from orthanc_server import ORTHANC_AE, OrthancServer, PacsStudy, free_port

from core.network import DicomNode, LocalStore
from desktop_app.main_window import MainWindow
from desktop_app.network_dialogs import NetworkSettingsDialog, SendDialog
from desktop_app.network_settings import NetworkSettings
from desktop_app.network_task import NetworkRunner
from desktop_app.query_dialog import QueryRetrieveDialog
from desktop_app.settings import AppSettings

from .conftest import write_series

pytestmark = pytest.mark.gui
WAIT_MS = 30_000


@pytest.fixture
def net_settings(app_settings: AppSettings, orthanc: OrthancServer) -> NetworkSettings:
    settings = NetworkSettings(app_settings.store)
    settings.our_ae = "NRGUI"
    settings.nodes = [DicomNode.parse(orthanc.node), DicomNode("SCANNER", "127.0.0.1", 104)]
    return settings


@pytest.fixture
def runner():
    pool = NetworkRunner()
    yield pool
    pool.shutdown()


@pytest.fixture
def window(qtbot, app_settings: AppSettings, tiny_weights_dir: Path) -> MainWindow:
    win = MainWindow(weights_folder=tiny_weights_dir, settings=app_settings, load_model=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def test_query_dialog_searches_and_retrieves_with_progress(
    qtbot, net_settings: NetworkSettings, runner: NetworkRunner, pacs_study: PacsStudy, tmp_path: Path
) -> None:
    dialog = QueryRetrieveDialog(net_settings, runner, store=LocalStore(tmp_path / "store", min_free_bytes=0))
    qtbot.addWidget(dialog)
    dialog.patient_name.setText("Net^*")
    with qtbot.waitSignal(dialog.search_finished, timeout=WAIT_MS):
        dialog.search_button.click()
    assert dialog.table.rowCount() == 1 and dialog.table.item(0, 0).text() == "Net^Orthanc"
    assert dialog.table.item(0, 6).text() == "4" and "1 study found" in dialog.status.text()
    dialog.table.selectRow(0)
    assert dialog.retrieve_button.isEnabled()
    progress: list[tuple[int, int]] = []
    with qtbot.waitSignal(dialog.study_retrieved, timeout=WAIT_MS) as retrieved:
        dialog.retrieve_button.click()
        dialog.task.signals.progress.connect(lambda done, total: progress.append((done, total)))
    folder = retrieved.args[0]
    assert folder == tmp_path / "store" / pacs_study.study_uid
    assert sorted(p.stem for p in folder.rglob("*.dcm")) == sorted(pacs_study.sop_uids)
    assert "4 new" in dialog.status.text() and dialog.search_button.isEnabled()
    assert progress and progress[-1][0] == 4


def test_a_bad_search_field_is_reported_without_contacting_the_node(
    qtbot, net_settings: NetworkSettings, runner: NetworkRunner
) -> None:
    dialog = QueryRetrieveDialog(net_settings, runner)
    qtbot.addWidget(dialog)
    dialog.study_date.setText("yesterday")
    with qtbot.waitSignal(dialog.failed, timeout=1000) as failed:
        dialog.search_button.click()
    assert "StudyDate" in failed.args[0] and dialog.task is None


def test_retrieved_study_opens_in_the_browser(qtbot, window: MainWindow, orthanc: OrthancServer, pacs_study) -> None:
    NetworkSettings(window.settings.store).nodes = [DicomNode.parse(orthanc.node)]
    dialog = window.network.open_query()
    with qtbot.waitSignal(dialog.search_finished, timeout=WAIT_MS):
        dialog.patient_id.setText("NETPAT1")
        dialog.search()
    dialog.table.selectRow(0)
    with qtbot.waitSignal(window.indexing_finished, timeout=WAIT_MS):
        dialog.retrieve()
    [series] = window.browser.series()
    assert series.uid == pacs_study.series_uid and len(series.slices) == 4
    assert window.series is not None and window.series.uid == pacs_study.series_uid


def test_settings_page_tests_the_connection_and_saves(
    qtbot, app_settings: AppSettings, runner: NetworkRunner, orthanc: OrthancServer
) -> None:
    settings = NetworkSettings(app_settings.store)
    dialog = NetworkSettingsDialog(settings, runner)
    qtbot.addWidget(dialog)
    dialog.ae_edit.setText("NRSAVED")
    dialog.add_node(DicomNode.parse(orthanc.node))
    with qtbot.waitSignal(dialog.echo_finished, timeout=WAIT_MS) as echoed:
        dialog.test_button.click()
    assert echoed.args[0].startswith(f"{orthanc.node}: success")
    dialog.add_node(None)
    dialog.table.item(1, 0).setText("BAD\\TITLE")
    dialog.save()
    assert "node 2: not a valid AE title" in dialog.status.text() and settings.nodes == []
    dialog.table.removeRow(1)
    with qtbot.waitSignal(dialog.applied, timeout=1000):
        dialog.save()
    reread = NetworkSettings(AppSettings(app_settings.store).store)
    assert reread.our_ae == "NRSAVED" and [str(n) for n in reread.nodes] == [orthanc.node]


def test_listener_from_the_settings_shows_incoming_studies_in_the_browser(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    if shutil.which("storescu") is None:
        pytest.skip("DCMTK storescu missing (make test installs the package 'dcmtk')")
    settings = NetworkSettings(window.settings.store)
    settings.port = free_port()
    settings.our_ae = "NRGUI"
    settings.listener_enabled = True
    settings.nodes = [DicomNode("SCANNER", "127.0.0.1", 104)]
    window.network.apply_listener_setting()
    assert window.network.listener.running
    files = write_series(tmp_path / "scanner", 3)
    with qtbot.waitSignal(window.network.listener.studies_arrived, timeout=WAIT_MS):
        done = subprocess.run(
            ["storescu", "-aet", "SCANNER", "-aec", "NRGUI", "127.0.0.1", str(settings.port), *map(str, files)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    qtbot.waitUntil(lambda: window.browser.series_count() == 1 and len(window.browser.series()[0].slices) == 3)
    stranger = subprocess.run(
        ["storescu", "-aet", "STRANGER", "-aec", "NRGUI", "127.0.0.1", str(settings.port), str(files[0])],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert stranger.returncode != 0  # only configured nodes are accepted


def test_listener_without_configured_nodes_refuses_to_start(qtbot, window: MainWindow) -> None:
    settings = NetworkSettings(window.settings.store)
    settings.listener_enabled = True
    with qtbot.waitSignal(window.network.listener.failed, timeout=1000) as failed:
        window.network.apply_listener_setting()
    assert "add the scanner or PACS as a node first" in failed.args[0]
    assert not window.network.listener.running


def test_send_dialog_sends_exported_results_to_the_pacs(
    qtbot, net_settings: NetworkSettings, runner: NetworkRunner, orthanc: OrthancServer, tmp_path: Path
) -> None:
    files = write_series(tmp_path / "results", 2)
    dialog = SendDialog(net_settings, runner, files)
    qtbot.addWidget(dialog)
    assert "not for diagnostic use" in " ".join(w.text() for w in dialog.findChildren(type(dialog.status)))
    with qtbot.waitSignal(dialog.send_finished, timeout=WAIT_MS) as sent:
        dialog.send_button.click()
    assert sent.args[0].sent == files and "Sent 2 file(s)" in dialog.status.text()
    if shutil.which("findscu"):
        answers = tmp_path / "answers"
        answers.mkdir()
        study = str(pydicom.dcmread(files[0]).StudyInstanceUID)
        subprocess.run(
            ["findscu", "-S", "-aec", ORTHANC_AE, "-X", "-od", str(answers), "-k", "QueryRetrieveLevel=IMAGE",
             "-k", f"StudyInstanceUID={study}", "-k", "SOPInstanceUID", "127.0.0.1", str(orthanc.port)],
            capture_output=True, timeout=60, check=True,
        )  # fmt: skip
        assert len(list(answers.iterdir())) == 2


def test_cancel_in_the_dialog_stops_the_retrieval_and_keeps_what_arrived(
    qtbot, app_settings: AppSettings, runner: NetworkRunner, tmp_path: Path
) -> None:
    from network.helpers import leftovers, mr_slice
    from network.test_failures import GetServer

    peer = GetServer([mr_slice("1.2.3.6", "1.2.3.6.1", seed=n) for n in range(40)], pause_s=0.05)
    try:
        settings = NetworkSettings(app_settings.store)
        settings.nodes = [peer.node]
        dialog = QueryRetrieveDialog(settings, runner, store=LocalStore(tmp_path / "store", min_free_bytes=0))
        qtbot.addWidget(dialog)
        dialog.studies = [{"StudyInstanceUID": "1.2.3.6"}]
        dialog.table.setRowCount(1)
        dialog.table.selectRow(0)
        with qtbot.waitSignal(dialog.retrieve_finished, timeout=WAIT_MS) as finished:
            dialog.retrieve()
            dialog.task.signals.progress.connect(lambda done, _total: done >= 3 and dialog.cancel_button.click())
    finally:
        peer.close()
    result = finished.args[0]
    assert result.cancelled and 3 <= len(result.stored) < 40 and "(cancelled)" in dialog.status.text()
    assert sorted(p for p in (tmp_path / "store").rglob("*.dcm")) == sorted(result.stored)
    assert leftovers(tmp_path / "store") == []


def test_send_to_pacs_offers_the_last_dicom_export(qtbot, window: MainWindow, tmp_path: Path) -> None:
    sr, sc = tmp_path / "neuroreview_SR.dcm", tmp_path / "neuroreview_SC.dcm"
    window.export_finished.emit([tmp_path / "report.pdf"])
    window.export_finished.emit([sr, sc])
    window.export_finished.emit([tmp_path / "results.csv"])  # not DICOM: the last DICOM export stays
    dialog = window.network.open_send()
    assert dialog.files == [sr, sc] and dialog.list.count() == 2
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Network")
    assert [a.text() for a in menu.actions()] == [
        "Query / Retrieve from PACS...",
        "Send results to PACS...",
        "DICOM network settings...",
    ]
