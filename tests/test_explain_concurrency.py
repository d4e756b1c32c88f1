"""The randomisation check scrambles a copy: a shared model's weights and concurrent Grad-CAMs stay intact."""

from __future__ import annotations

import threading

import numpy as np

from core.config import preset  # noqa: E402
from core.explain import get_explainer  # noqa: E402
from core.explain.faithfulness import model_copy, randomisation_check  # noqa: E402


def small_model():
    from core.models.dual import build_model

    config = preset("quick").model
    return build_model(config, image_size=48, unfreeze_ratio=0.5, backbone_seed=1, head_seed=2)


def pair(n=3, size=48):
    rng = np.random.default_rng(0)
    return (
        rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
        rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
    )


def weights_bytes(model):
    return [np.ascontiguousarray(w.numpy()).tobytes() for w in model.keras_model.weights]


def test_a_model_copy_predicts_the_same_and_owns_its_weights():
    model = small_model()
    mel, stft = pair()
    twin = model_copy(model)
    np.testing.assert_array_equal(twin.predict(mel, stft), model.predict(mel, stft))
    twin.set_trainable_state([np.zeros_like(w) for w in twin.get_trainable_state()])
    assert not np.allclose(twin.predict(mel, stft), model.predict(mel, stft))


def test_randomisation_check_leaves_the_shared_model_alone_under_a_concurrent_gradcam():
    model = small_model()
    mel, stft = pair()
    gradcam = get_explainer("gradcam")
    before_weights = weights_bytes(model)
    before = gradcam.explain(model, mel, stft)
    seen: list[dict] = []
    stop = threading.Event()

    def other_session():
        while not stop.is_set():
            seen.append(gradcam.explain(model, mel, stft))

    thread = threading.Thread(target=other_session)
    thread.start()
    try:
        table = randomisation_check(model, mel, stft, gradcam, seed=3)
    finally:
        stop.set()
        thread.join()
    assert weights_bytes(model) == before_weights
    assert len(seen) >= 1
    for maps in seen:
        for branch, expl in before.items():
            np.testing.assert_array_equal(maps[branch].heatmap, expl.heatmap)
    # the check did randomise (the copy): maps of the scrambled model differ from the trained ones
    assert table["spearman"].notna().any() and (table["spearman"] < 0.999).any()
