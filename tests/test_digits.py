"""`fastsgd digits`: the accuracy bar on the fixed split and the printed output's format.
(Speed is measured in benchmarks/bench_classify.py, not here.)"""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from fastsgd import cli, reference
from fastsgd._commands import digits

PROB_LINE = re.compile(r"^  \|(.{16})\|   +(\d{1,3}\.\d)% it's (a|an) (\d)$")
ART_LINE = re.compile(r"^  \|(.{16})\|")


@pytest.fixture(scope="module")
def split():
    return digits.load_split()


@pytest.fixture(scope="module")
def model(split):
    return digits.train(split, epochs=20, batch_size=32, lr="auto", seed=0)


@pytest.fixture(scope="module")
def printed(split):
    lines: list[str] = []
    args = cli.build_parser().parse_args(["digits", "--show", "3"])
    assert args._run(args, out=lines.append) == 0
    return "\n".join(lines).splitlines()


def test_split_is_the_fixed_stratified_80_20_one(split):
    assert split.X_train.shape == (1437, 64)
    assert split.X_test.shape == (360, 64)
    assert split.images_test.shape == (360, 8, 8)
    # standardised with the training rows' statistics
    np.testing.assert_allclose(split.X_train.mean(axis=0), 0, atol=1e-12)
    assert set(np.round(split.X_train.std(axis=0), 12)) <= {0.0, 1.0}
    # stratified: every class keeps its share in the test set (within one image)
    share_all = np.bincount(np.concatenate([split.y_train, split.y_test])) / 1797
    assert np.abs(np.bincount(split.y_test) - 360 * share_all).max() <= 1
    # the raw images: gray levels 0..16
    assert split.images_test.min() == 0
    assert split.images_test.max() == 16


def test_accuracy_bar(split, model):
    P = model.predict_proba(split.X_test)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    acc = np.mean(np.argmax(P, axis=1) == split.y_test)
    assert acc >= 0.96
    assert model.score(split.X_test, split.y_test) == acc
    # a multinomial model: ten scores per image, the probabilities their softmax
    assert model.coef_.shape == (10, 64)
    Z = split.X_test @ model.coef_.T + model.intercept_
    np.testing.assert_allclose(P, reference.softmax(Z), rtol=1e-10, atol=1e-15)


def test_printed_accuracy_matches_the_model(printed, split, model):
    text = "\n".join(printed)
    m = re.search(r"^test accuracy: (0\.\d{4}) \((\d+) of 360 right\)$", text, re.MULTILINE)
    assert m is not None, text
    acc, right = float(m.group(1)), int(m.group(2))
    assert acc >= 0.96
    assert acc == round(right / 360, 4)
    want = int(np.sum(np.argmax(model.predict_proba(split.X_test), axis=1) == split.y_test))
    assert right == want
    assert re.search(r"^fit time: \d+\.\d ms", text, re.MULTILINE)
    assert "learning rate" in text
    assert "(auto)" in text


def test_printed_images_with_top3_probabilities(printed, split, model):
    blocks = []
    for i, line in enumerate(printed):
        if (
            line == "  +----------------+"
            and i + 9 < len(printed)
            and ART_LINE.match(printed[i + 1])
        ):
            blocks.append(printed[i + 1 : i + 9])
    assert len(blocks) == 3
    P = model.predict_proba(split.X_test)
    y_pred = np.argmax(P, axis=1)
    shown = digits.pick_examples(y_pred, split.y_test, 3)
    for block, idx in zip(blocks, shown, strict=True):
        art = [ART_LINE.match(line).group(1) for line in block]
        assert all(set(row) <= set(digits.RAMP) for row in art)
        # the art is the image: ink wherever the gray level (0..16, whole numbers) is not 0
        ink = np.array([[row[2 * j] != " " for j in range(8)] for row in art])
        np.testing.assert_array_equal(ink, split.images_test[idx] > 0)
        probs = [PROB_LINE.match(line) for line in block[:3]]
        assert all(probs), block
        values = [float(p.group(2)) for p in probs]
        classes = [int(p.group(4)) for p in probs]
        assert values == sorted(values, reverse=True)
        assert sum(values) <= 100.05
        for p in probs:  # "an 8", "a 3"
            assert p.group(3) == ("an" if p.group(4) == "8" else "a")
        top3 = np.argsort(-P[idx], kind="stable")[:3]
        assert classes == top3.tolist()
        assert values == [round(100 * P[idx, c], 1) for c in top3]
        verdict = block[4]
        assert f"test image {idx}, true label {split.y_test[idx]}:" in verdict
        assert ("right" in verdict) == (y_pred[idx] == split.y_test[idx])


def test_a_wrong_prediction_is_shown_and_marked(split, model):
    y_pred = np.argmax(model.predict_proba(split.X_test), axis=1)
    wrong = np.flatnonzero(y_pred != split.y_test)
    assert 0 < len(wrong) <= 14  # 0.96 of 360 allows 14 mistakes
    shown = digits.pick_examples(y_pred, split.y_test, 4)
    assert shown[:3] == [0, 1, 2]
    assert shown[-1] == wrong[0]
    text = digits.describe(
        split.images_test[wrong[0]], model.predict_proba(split.X_test[wrong[0] : wrong[0] + 1])[0],
        int(split.y_test[wrong[0]]), int(wrong[0]),
    )  # fmt: skip
    assert "WRONG: it is " in text


def test_grid_picks_every_mistake_then_right_ones():
    y_true = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    y_pred = np.array([0, 1, 9, 3, 9, 5, 6, 9])
    assert digits.grid_indices(y_pred, y_true, 5) == [0, 1, 2, 4, 7]
    assert digits.grid_indices(y_pred, y_true, 2) == [2, 4]


def test_out_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "digits.png"
    assert cli.main(["digits", "--show", "0", "--epochs", "2", "--out", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {path}" in capsys.readouterr().out


def test_out_without_matplotlib_names_the_plot_extra(tmp_path, capsys, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    path = tmp_path / "digits.png"
    assert cli.main(["digits", "--show", "0", "--epochs", "1", "--out", str(path)]) == 2
    err = capsys.readouterr().err
    assert "fastsgd[plot]" in err
    assert not path.exists()


@pytest.mark.parametrize(
    "argv", [["--lr", "-1"], ["--lr", "fast"], ["--epochs", "0"], ["--batch-size", "x"]]
)
def test_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["digits", *argv])
    assert exc.value.code == 2
    assert argv[0] in capsys.readouterr().err
