"""``neuroreview-classify`` run in-process on tiny weights and tiny PNG/DICOM inputs."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from handmade_models import write_decisive_tiny_weights
from PIL import Image

from core.cli.classify import main
from core.imaging.render import render_for_model
from core.model.classifier import Classifier
from core.model.model_config import load_model_config

SLICE_KEYS = {"source", "frame", "label", "probabilities", "p_tumor", "model_sha256", "device", "precision", "ms"}
SLICE_KEYS |= {"use", "intended_use"}  # the research-use statement; the intended-use decision


@pytest.fixture(autouse=True)
def _float32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROREVIEW_PRECISION", "float32")  # skip the bfloat16 self-check: faster tests


@pytest.fixture(scope="module")
def decisive_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("decisive")
    write_decisive_tiny_weights(folder)
    return folder


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    from pydicom.data import get_testdata_file

    folder = tmp_path / "study"
    folder.mkdir()
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 256, (40, 30), dtype=np.uint8)).save(folder / "wide.png")
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(folder / "colour.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    shutil.copy(get_testdata_file("MR_small.dcm"), folder / "mr.dcm")
    return folder


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_rows_match_the_classifier(inputs: Path, decisive_weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert main([str(inputs), "--weights", str(decisive_weights), "--out", str(out), "--quiet"]) == 0
    rows = _rows(out)
    slices = [r for r in rows if "error" not in r]
    errors = [r for r in rows if "error" in r]
    assert sorted(Path(r["source"]).name for r in slices) == ["colour.png", "mr.dcm", "wide.png"]
    assert [(Path(r["source"]).name, r["error_type"]) for r in errors] == [("broken.png", "InvalidImageError")]
    assert set(errors[0]) == {"source", "error", "error_type"} and errors[0]["error"]
    sha = load_model_config(decisive_weights).weights_sha256
    clf = Classifier.from_folder(decisive_weights, warm_up=False)
    for row in slices:
        colour = row["source"].endswith("colour.png")  # random colours: a colour picture, outside the intended use
        assert set(row) == SLICE_KEYS | ({"intended_use_reason"} if colour else set())
        assert row["intended_use"] == ("outside" if colour else "inside")
        assert row["frame"] == 0 and row["model_sha256"] == sha and row["device"] == "CPU"
        assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert row["p_tumor"] == pytest.approx(1 - row["probabilities"]["notumor"], abs=1e-5)
        assert row["label"] == max(row["probabilities"], key=row["probabilities"].get)
        assert row["ms"] >= 0
    wide = next(r for r in slices if r["source"].endswith("wide.png"))
    (expected,) = clf.predict([render_for_model(np.asarray(Image.open(inputs / "wide.png")))])
    np.testing.assert_allclose(list(wide["probabilities"].values()), expected.probabilities, atol=2e-6)
    assert wide["label"] == expected.label
    assert len({r["label"] for r in slices}) > 1 or len({r["p_tumor"] for r in slices}) > 1


def test_csv_output(inputs: Path, tiny_weights_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                str(inputs / "wide.png"),
                str(inputs / "broken.png"),
                "--weights",
                str(tiny_weights_dir),
                "--format",
                "csv",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    table = list(csv.DictReader(captured.out.splitlines()))
    assert list(table[0]) == [
        "source", "frame", "label", "p_glioma", "p_meningioma", "p_notumor", "p_pituitary", "p_tumor",
        "model_sha256", "device", "precision", "ms", "intended_use", "intended_use_reason", "guard_score",
        "heatmap", "saliency_map", "use", "error", "error_type", "skipped",
    ]  # fmt: skip
    error, ok = table
    assert error["error_type"] == "InvalidImageError" and error["label"] == ""
    assert ok["label"] in ("glioma", "meningioma", "notumor", "pituitary") and ok["error"] == ""
    assert ok["use"] == "Research use only - not for diagnostic use" and error["use"] == ""
    assert float(ok["p_tumor"]) == pytest.approx(1 - float(ok["p_notumor"]), abs=1e-5)
    assert "slices" in captured.err and "Research use only" in captured.err  # progress bar + disclaimer


def test_heatmaps_go_to_their_own_folder(inputs: Path, tiny_weights_dir: Path, tmp_path: Path) -> None:
    before = sorted(p.name for p in inputs.iterdir())
    heat = tmp_path / "heat"
    out = tmp_path / "rows.jsonl"
    args = [str(inputs), "--weights", str(tiny_weights_dir), "--heatmaps", str(heat), "--out", str(out), "--quiet"]
    assert main([*args, "--method", "gradcam++"]) == 0
    assert sorted(p.name for p in inputs.iterdir()) == before  # nothing written beside the sources
    pngs = sorted(heat.glob("*.png"))
    assert len(pngs) == 2  # colour.png is a colour picture, outside the intended use: no heatmap
    rows = [r for r in _rows(out) if "heatmap" in r]
    assert sorted(Path(r["heatmap"]) for r in rows) == pngs
    with Image.open(pngs[0]) as img:
        assert img.mode == "RGB" and "not for diagnostic use" in img.text["Disclaimer"]
        assert "gradcam++" in img.text["Comment"]
    first_run = {p: p.read_bytes() for p in pngs}
    assert main(args) == 0  # a second run into the same folders: heatmaps are added, --out is replaced
    again = sorted(Path(r["heatmap"]) for r in _rows(out) if "heatmap" in r)
    assert len(again) == 2 and set(again).isdisjoint(first_run) and len(list(heat.glob("*.png"))) == 4
    assert {p: p.read_bytes() for p in pngs} == first_run


def test_heatmaps_inside_a_source_folder_are_refused(
    inputs: Path, tiny_weights_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([str(inputs), "--weights", str(tiny_weights_dir), "--heatmaps", str(inputs / "maps"), "--quiet"])
    assert code == 2
    assert "source folder" in capsys.readouterr().err
    assert not (inputs / "maps").exists()


def test_nothing_readable_exits_1(inputs: Path, tiny_weights_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = inputs / "nope.dcm"
    assert main([str(inputs / "broken.png"), str(missing), "--weights", str(tiny_weights_dir), "--quiet"]) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {Path(r["source"]).name for r in rows} == {"broken.png", "nope.dcm"}
    assert all(set(r) == {"source", "error", "error_type"} for r in rows)


def test_weights_problems_exit_3(
    inputs: Path, tiny_weights_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(inputs), "--weights", str(tmp_path / "empty")]) == 3
    assert "cannot load the classifier" in capsys.readouterr().err
    tampered = tmp_path / "tampered"
    shutil.copytree(tiny_weights_dir, tampered)
    weights = next(tampered.glob("*.h5"))
    data = bytearray(weights.read_bytes())
    data[100] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert main([str(inputs), "--weights", str(tampered)]) == 3
    err = capsys.readouterr().err
    assert "integrity" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [[], ["x.png", "--format", "xml"], ["x.png", "--batch", "0"], ["x.png", "--batch", "two"], ["x.png", "--bogus"]],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "not for diagnostic use" in capsys.readouterr().out


def test_unexpected_failure_is_a_message_not_a_traceback(
    inputs: Path, tiny_weights_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(self: Classifier, *args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(Classifier, "predict", boom)
    assert main([str(inputs / "wide.png"), "--weights", str(tiny_weights_dir), "--quiet"]) == 4
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: simulated failure" in err and "Traceback" not in err


def test_output_over_a_source_is_refused(inputs: Path, tiny_weights_dir: Path) -> None:
    target = inputs / "wide.png"
    before = target.read_bytes()
    assert main([str(target), "--weights", str(tiny_weights_dir), "--out", str(target), "--quiet"]) == 2
    assert target.read_bytes() == before


def test_export_flags_are_wired(
    inputs: Path, tiny_weights_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = tmp_path / "exports" / "report.pdf"
    dicom = tmp_path / "exports" / "dicom"
    args = [str(inputs), "--weights", str(tiny_weights_dir), "--quiet", "--pdf", str(pdf), "--dicom-out", str(dicom)]
    assert main(args) == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    assert sorted(p.suffix for p in dicom.iterdir()) == [".dcm", ".dcm"]  # SR + SC for the one DICOM series
    assert "wrote" in capsys.readouterr().err
    refused = [str(inputs), "--weights", str(tiny_weights_dir), "--quiet", "--pdf", str(inputs / "r.pdf")]
    assert main(refused) == 2
    assert not (inputs / "r.pdf").exists()


def test_interrupted_run_leaves_the_earlier_rows_file_intact(
    inputs: Path, tiny_weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "rows.jsonl"
    args = [str(inputs), "--weights", str(tiny_weights_dir), "--out", str(out), "--quiet", "--batch", "1"]
    assert main(args) == 0
    complete = out.read_bytes()
    calls = {"n": 0}
    original = Classifier.predict

    def interrupted_on_second_batch(self: Classifier, *a: object, **kw: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Classifier, "predict", interrupted_on_second_batch)
    assert main(args) == 130
    assert calls["n"] == 2  # one batch had been written to the temporary file when the run stopped
    assert out.read_bytes() == complete
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".rows")) == []


def test_rows_file_appears_only_when_the_run_completes(
    inputs: Path, tiny_weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "rows.csv"
    seen: list[bool] = []
    original = Classifier.predict

    def watching(self: Classifier, *a: object, **kw: object) -> object:
        seen.append(out.exists())
        return original(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Classifier, "predict", watching)
    args = [str(inputs), "--weights", str(tiny_weights_dir), "--out", str(out), "--format", "csv", "--quiet"]
    assert main(args) == 0
    assert seen and not any(seen)
    assert out.read_text(encoding="utf-8").startswith("source,")


def test_series_out_gives_one_verdict_per_series(inputs: Path, decisive_weights: Path, tmp_path: Path) -> None:
    rows_path, series_path = tmp_path / "rows.jsonl", tmp_path / "series.jsonl"
    argv = [str(inputs), "--weights", str(decisive_weights), "--out", str(rows_path), "--quiet"]
    assert main([*argv, "--series-out", str(series_path)]) == 0
    slices = [r for r in _rows(rows_path) if "p_tumor" in r]
    series = _rows(series_path)
    assert len(series) == 2  # the folder of PNG images and the MR series
    for row in series:
        every = [r for r in slices if (r["source"].endswith(".dcm")) == (row["description"] != "study")]
        assert row["slices"] == len(every) and row["slices_in_series"] == len(every)
        members = [r for r in every if r["intended_use"] == "inside"]  # colour.png is left out of the verdict
        assert row["n_excluded"] == len(every) - len(members)
        key = next(r for r in members if r["source"] == row["key_source"] and r["frame"] == row["key_frame"])
        # one image or unrelated images: the series score is the highest slice score, from the key slice
        assert row["p_tumor"] == pytest.approx(max(r["p_tumor"] for r in members), abs=1e-5)
        assert key["p_tumor"] == pytest.approx(row["p_tumor"], abs=1e-5)
        assert row["label"] in {"glioma", "meningioma", "notumor", "pituitary"} and row["series_uid"]
        assert "not for diagnostic use" in row["use"].lower()


def test_series_out_over_the_rows_file_is_refused(inputs: Path, tiny_weights_dir: Path, tmp_path: Path) -> None:
    same = tmp_path / "rows.jsonl"
    argv = [str(inputs), "--weights", str(tiny_weights_dir), "--out", str(same), "--series-out", str(same)]
    assert main(argv) == 2 and not same.exists()


def test_saliency_maps_are_raw_16_bit_maps_in_the_slice_grid_with_a_sidecar(
    inputs: Path, decisive_weights: Path, tmp_path: Path
) -> None:
    maps = tmp_path / "maps"
    out = tmp_path / "rows.jsonl"
    args = [str(inputs), "--weights", str(decisive_weights), "--out", str(out), "--quiet"]
    assert main([*args, "--saliency-maps", str(maps), "--heatmap-class", "meningioma", "--method", "layercam"]) == 0
    rows = [r for r in _rows(out) if "error" not in r]
    assert len(rows) == 3 and all("heatmap" not in r for r in rows)
    colour = next(r for r in rows if r["source"].endswith("colour.png"))
    assert colour["intended_use"] == "outside" and "saliency_map" not in colour  # no map over a colour picture
    rows = [r for r in rows if r is not colour]
    clf = Classifier.from_folder(decisive_weights, warm_up=False)
    for row in rows:
        png = Path(row["saliency_map"])
        assert png.parent == maps and png.suffix == ".png"
        sidecar = json.loads(png.with_suffix(".json").read_text(encoding="utf-8"))
        assert sidecar["source"] == row["source"] and sidecar["frame"] == row["frame"]
        assert sidecar["class"] == "meningioma" and sidecar["method"] == "layercam"
        raw = np.load(png.with_suffix(".npy"))
        with Image.open(png) as img:
            assert img.mode.startswith("I") and "not for diagnostic use" in img.text["Disclaimer"]
            stored = np.asarray(img)
        assert stored.shape == raw.shape == (sidecar["rows"], sidecar["columns"])
        np.testing.assert_allclose(stored / 65535.0, raw, atol=1 / 65535)
    wide = next(r for r in rows if r["source"].endswith("wide.png"))
    raw = np.load(Path(wide["saliency_map"]).with_suffix(".npy"))
    assert raw.shape == (40, 30)  # the source's rows x columns
    rendered = render_for_model(np.asarray(Image.open(inputs / "wide.png")))
    (expected,) = clf.predict([rendered], heatmap="meningioma", method="layercam")
    np.testing.assert_allclose(raw, expected.heatmap, atol=1e-5)


def test_heatmap_class_applies_to_overlays_and_unknown_classes_are_usage_errors(
    inputs: Path, decisive_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    heat = tmp_path / "heat"
    args = [str(inputs / "wide.png"), "--weights", str(decisive_weights), "--quiet", "--heatmaps", str(heat)]
    assert main([*args, "--heatmap-class", "pituitary"]) == 0
    (png,) = heat.glob("*.png")
    assert "_pituitary_" in png.name
    with Image.open(png) as img:
        assert "for pituitary" in img.text["Comment"]
    capsys.readouterr()
    assert main([*args, "--heatmap-class", "astrocytoma"]) == 2
    assert "astrocytoma" in capsys.readouterr().err


def test_an_outside_slice_says_why_and_leaves_the_series_verdict(
    decisive_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dicom_factory import make_dataset, phantom, write

    study = tmp_path / "mixed"
    uid = "1.2.826.0.1.3680043.8.498.1"
    for i in range(3):
        write(make_dataset(phantom(24, 24, seed=i), series_uid=uid, instance=i + 1), study / f"mr{i}.dcm")
    write(make_dataset(phantom(24, 24), modality="CT", series_uid="1.2.826.0.1.3680043.8.498.2"), study / "ct.dcm")
    rows_path, series_path, heat = tmp_path / "rows.jsonl", tmp_path / "series.jsonl", tmp_path / "heat"
    argv = [str(study), "--weights", str(decisive_weights), "--out", str(rows_path), "--quiet"]
    assert main([*argv, "--series-out", str(series_path), "--heatmaps", str(heat)]) == 0
    rows = {Path(r["source"]).name: r for r in _rows(rows_path)}
    ct = rows["ct.dcm"]
    assert ct["intended_use"] == "outside" and ct["intended_use_reason"] == "modality CT (CT), not MR"
    assert set(ct["probabilities"]) == {"glioma", "meningioma", "notumor", "pituitary"}  # kept for research
    assert "heatmap" not in ct and "heatmap" in rows["mr0.dcm"]
    assert all(rows[f"mr{i}.dcm"]["intended_use"] == "inside" for i in range(3))
    series = _rows(series_path)
    assert len(series) == 2
    outside = next(r for r in series if r["n_excluded"])
    assert next(r for r in series if not r["n_excluded"])["slices"] == 3
    assert outside["label"] == "outside intended use" and outside["p_tumor"] is None
    assert "modality CT (CT), not MR (1)" in outside["excluded"]
    assert "1 classified slice(s) outside the intended use." in capsys.readouterr().err
