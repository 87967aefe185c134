import numpy as np

import fastsgd
from fastsgd.datasets import make_line


def test_lesson_line_is_fitted():
    X, y = make_line()
    r = fastsgd.fit(X, y, w0=(-1.0, 1.0), learning_rate=0.1, epochs=100, shuffle=False)
    best = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(r.w, best, atol=0.01)
    assert r.loss_history[0] > 100 * r.loss
