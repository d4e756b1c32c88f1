"""Explainers on tiny synthetic staged models with known answers.

``BandModel`` looks only at one frequency band of the mel image: its probability is a
sigmoid of the mean brightness of image rows ``BAND`` (a 4-row band, occlusion band
``BAND_INDEX`` counting from the lowest), and the STFT map enters the head with weight 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from core.errors import ExplainError  # noqa: E402
from core.explain import (  # noqa: E402
    EXPLAINERS,
    BranchExplanation,
    ExplainStore,
    ImageAxes,
    aggregate_occlusion,
    band_rows,
    branch_masking,
    chunk_columns,
    deletion_insertion,
    delta_cam,
    get_explainer,
    masking_summary,
    mean_image,
    occlusion_table,
    pick_cases,
    randomisation_check,
    region_table,
    select_segments,
    summarise,
)
from core.explain.integrated_gradients import IntegratedGradients  # noqa: E402
from core.explain.occlusion import OcclusionSettings, occlusion_probabilities  # noqa: E402
from core.explain.staged import runner_for  # noqa: E402

SIZE = 40
POOL = 4
K = 10
BAND = (24, 28)  # image rows, top-down; band 3 from the bottom when split into 10
BAND_INDEX = 3


class BandModel:
    """Staged model whose probability depends only on one band of one branch.

    The tail's channel 0 is the grey level inside ``rows`` of the image (0 elsewhere),
    channel 1 a quarter of the grey level outside it; the head reads channel 0 of the
    ``looks_at`` branch only.
    """

    def __init__(self, *, rows=BAND, looks_at="mel", branches=("mel", "stft"), weight=12.0, bias=-6.0):
        self.branches = tuple(branches)
        self.looks_at = looks_at
        mask = np.zeros((1, SIZE, 1, 1), dtype=np.float32)
        mask[:, rows[0] : rows[1]] = 1.0
        self.row_mask = tf.Variable(mask)
        cells = np.zeros((SIZE // POOL,), dtype=np.float32)
        cells[rows[0] // POOL : rows[1] // POOL] = 1.0 / (np.ceil((rows[1] - rows[0]) / POOL))
        self.cell_weights = tf.Variable(cells)
        self.weight = tf.Variable(weight)
        self.bias = tf.Variable(bias)

    def prefix(self, images):
        return tf.cast(images, tf.float32) / 255.0

    def tail(self, x):
        grey = tf.reduce_mean(x, axis=-1, keepdims=True)
        inside = grey * self.row_mask
        outside = 0.25 * grey * (1.0 - self.row_mask)
        return tf.nn.avg_pool2d(tf.concat([inside, outside], axis=-1), POOL, POOL, "VALID")

    def head(self, *maps):
        own = dict(zip(self.branches, maps, strict=True))
        rows = tf.reduce_mean(own[self.looks_at][..., 0], axis=2)  # [n, h]: mean over time
        level = tf.reduce_sum(rows * self.cell_weights, axis=1)
        others = sum(tf.reduce_mean(m) for b, m in own.items() if b != self.looks_at)
        return tf.sigmoid(self.weight * level + self.bias) + 0.0 * others

    def get_trainable_state(self):
        return [v.numpy().copy() for v in (self.row_mask, self.cell_weights, self.weight, self.bias)]

    def set_trainable_state(self, state):
        for v, s in zip((self.row_mask, self.cell_weights, self.weight, self.bias), state, strict=True):
            v.assign(s)


def images(n, seed=0, size=SIZE):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def model():
    return BandModel()


@pytest.fixture(scope="module")
def pair():
    grey = images(3, seed=1)[..., :1]
    mel = np.repeat(grey, 3, axis=-1)
    stft = np.repeat(images(3, seed=2)[..., :1], 3, axis=-1)
    return mel, stft


def band_of_peak(heatmap):
    """Occlusion band (0 = lowest) holding the row with the largest total importance."""
    row = int(np.argmax(heatmap.sum(axis=1)))
    return next(i for i, (a, b) in enumerate(band_rows(heatmap.shape[0], K)) if a <= row < b)


# Occlusion fills with black here: with the default "mean" fill a band of a pure-noise
# image is about as bright as the image mean, so occluding it changes little either way.
PARAMS = {"smoothgrad": {"samples": 8}, "integrated_gradients": {"steps": 16}, "occlusion": {"fill": "black"}}


@pytest.mark.parametrize("method", [*sorted(EXPLAINERS), "masking"])
@pytest.mark.parametrize("n", [1, 3])
def test_every_method_shapes_ranges_and_known_answer(method, n, model, pair):
    mel, stft = pair[0][:n], pair[1][:n]
    expected_prob = runner_for(model).predict(mel, stft)
    if method == "masking":
        table = branch_masking(model, mel, stft)
        assert table.shape == (n, 6)
        np.testing.assert_allclose(table["prob"], expected_prob, atol=1e-6)
        # The unused branch changes nothing; the used one (band brightness → black) lowers p.
        assert np.abs(table["delta_stft"]).max() < 1e-6
        assert (table["delta_mel"] > 0.01).all()
        return
    explanation = get_explainer(method, **PARAMS.get(method, {})).explain(model, mel, stft)
    assert set(explanation) == {"mel", "stft"}
    for branch, e in explanation.items():
        assert isinstance(e, BranchExplanation) and e.method == method and e.branch == branch
        assert e.heatmap.shape == (n, SIZE, SIZE) and e.heatmap.dtype == np.float32
        assert e.raw.ndim == 3 and e.raw.shape[0] == n
        assert np.isfinite(e.raw).all()
        assert e.heatmap.min() >= 0.0 and e.heatmap.max() <= 1.0
        np.testing.assert_allclose(e.prob, expected_prob, atol=1e-6)
    for i in range(n):
        assert explanation["mel"].heatmap[i].max() == pytest.approx(1.0)
        assert band_of_peak(explanation["mel"].heatmap[i]) == BAND_INDEX, method
        rows = explanation["mel"].heatmap[i].mean(axis=1)
        inside = rows[BAND[0] : BAND[1]].mean()
        outside = np.delete(rows, np.arange(*BAND)).mean()
        assert inside > outside, method
    if method != "eigencam":  # EigenCAM is class-agnostic: it shows the STFT map's own structure
        assert np.abs(explanation["stft"].raw).max() < 1e-6, method
        assert explanation["stft"].heatmap.max() == 0.0


def test_gradcam_raw_map_is_channel_weighted_feature_map(model, pair):
    mel, stft = pair
    e = get_explainer("gradcam").explain(model, mel, stft)["mel"]
    maps = runner_for(model).feature_maps(mel)
    h = SIZE // POOL
    assert e.raw.shape == (3, h, h)
    # Channel 1 has zero gradient; channel 0's weight is positive, so the raw map is ∝ channel 0.
    ratio = e.raw[maps[..., 0] > 0] / maps[..., 0][maps[..., 0] > 0]
    assert ratio.min() > 0
    assert np.abs(e.raw[maps[..., 0] == 0]).max() == 0.0


def test_gradcam_target_zero_flips_the_evidence(model, pair):
    mel, stft = pair
    poor = get_explainer("gradcam", target=1).explain(model, mel, stft)["mel"]
    well = get_explainer("gradcam", target=0).explain(model, mel, stft)["mel"]
    np.testing.assert_allclose(well.raw, -poor.raw, rtol=1e-5, atol=1e-7)
    assert well.heatmap.max() == 0.0 and poor.heatmap.max() == 1.0


def test_integrated_gradients_completeness(model, pair):
    mel, stft = pair
    ig = IntegratedGradients(steps=64)
    e = ig.explain(model, mel, stft)["mel"]
    runner = runner_for(model)
    gap = ig.completeness_gap(
        runner, mel.astype(np.float32), {"stft": runner.feature_maps(stft)}, e.raw, branch="mel"
    )
    total = np.abs(e.raw.reshape(3, -1).sum(axis=1))
    assert (np.abs(gap) < 0.02 * total + 1e-3).all()


def test_delta_cam_common_scale():
    both = BandModel(looks_at="mel")
    mel = np.full((2, SIZE, SIZE, 3), 200, dtype=np.uint8)
    stft = np.full((2, SIZE, SIZE, 3), 200, dtype=np.uint8)
    e = get_explainer("gradcam").explain(both, mel, stft)
    delta, scale = delta_cam(e["mel"], e["stft"])
    assert delta.shape == (2, SIZE, SIZE)
    assert delta.min() >= -1 and delta.max() == pytest.approx(1.0)
    assert (scale > 0).all()
    assert delta[:, BAND[0] + 1 : BAND[1] - 1].min() > 0.9
    # Swap the looked-at branch: ΔCAM changes sign.
    other = BandModel(looks_at="stft")
    e2 = get_explainer("gradcam").explain(other, mel, stft)
    delta2, _ = delta_cam(e2["mel"], e2["stft"])
    np.testing.assert_allclose(delta2, -delta, atol=1e-6)
    with pytest.raises(ExplainError):
        delta_cam(e["mel"], e["mel"])


def test_single_branch_model():
    stft_only = BandModel(looks_at="stft", branches=("stft",))
    stft = images(2, seed=5)
    e = get_explainer("gradcam").explain(stft_only, None, stft)
    assert set(e) == {"stft"}
    assert band_of_peak(e["stft"].heatmap[0]) == BAND_INDEX
    table = branch_masking(stft_only, None, stft)
    assert table["delta_mel"].isna().all() and (table["delta_stft"] > 0).all()
    occ = occlusion_table(stft_only, None, stft)
    assert set(occ["branch"]) == {"stft"}
    with pytest.raises(ExplainError, match="takes stft"):
        get_explainer("gradcam").explain(stft_only, stft, None)


def test_occlusion_matches_one_pair_at_a_time(model, pair):
    mel, stft = pair
    prob, occluded = occlusion_probabilities(model, mel, stft, OcclusionSettings(fill="black"))
    runner = runner_for(model)
    # Recompute band 3 of segment 1's mel image the slow, obvious way.
    start, stop = band_rows(SIZE, K)[BAND_INDEX]
    one = mel[1:2].copy()
    one[:, start:stop] = 0
    assert occluded["mel"][1, BAND_INDEX] == pytest.approx(float(runner.predict(one, stft[1:2])[0]), abs=1e-6)
    start, stop = chunk_columns(SIZE, K)[7]
    one = stft[2:3].copy()
    one[:, :, start:stop] = 0
    assert occluded["stft"][2, K + 7] == pytest.approx(float(runner.predict(mel[2:3], one)[0]), abs=1e-6)
    np.testing.assert_allclose(prob, runner.predict(mel, stft), atol=1e-6)


def test_occlusion_mean_fill_on_a_bright_band(model):
    mel = np.full((1, SIZE, SIZE, 3), 40, dtype=np.uint8)
    mel[:, BAND[0] : BAND[1]] = 220
    stft = images(1, seed=3)
    table = occlusion_table(model, mel, stft)  # default fill: the image's mean grey level
    bands = table[(table["branch"] == "mel") & (table["axis"] == "frequency")].set_index("region")["delta"]
    assert bands.idxmax() == BAND_INDEX and bands[BAND_INDEX] > 0.1
    assert np.abs(bands.drop(BAND_INDEX)).max() < 1e-6


def test_occlusion_table_and_aggregates(model, pair):
    mel, stft = pair
    axes = ImageAxes.from_config(_config(SIZE))
    table = occlusion_table(model, mel, stft, axes=axes, segment_ids=np.array([10, 11, 12]), fill="black")
    assert table.shape[0] == 3 * 2 * (K + K)
    assert set(table["segment_id"]) == {10, 11, 12}
    np.testing.assert_allclose(table["delta"], table["prob"] - table["occluded_prob"])
    mel_bands = table[(table["branch"] == "mel") & (table["axis"] == "frequency")]
    assert (mel_bands.groupby("segment_id")["delta"].idxmax().map(mel_bands["region"]) == BAND_INDEX).all()
    assert np.abs(table.loc[table["branch"] == "stft", "delta"]).max() < 1e-6
    summary = aggregate_occlusion(table[table["segment_id"] == 11], scope="segment 11")
    assert summary.shape[0] == 2 * (K + K) and (summary["n_segments"] == 1).all()
    top = summary[(summary["branch"] == "mel") & (summary["axis"] == "frequency") & (summary["rank"] == 1)]
    assert int(top["region"].iloc[0]) == BAND_INDEX
    fold = aggregate_occlusion(table, scope="fold 1")
    assert (fold["n_segments"] == 3).all()
    assert np.isfinite(fold["low_hz"].dropna()).all() and fold["low_hz"].notna().sum() == 2 * K


def _config(size):
    from core.config import PreprocessConfig, SpectrogramConfig

    return PreprocessConfig(spectrogram=SpectrogramConfig(image_size=size))


def test_region_boundaries_in_hz_and_ms():
    config = _config(224)
    axes = ImageAxes.from_config(config)
    regions = region_table(224, axes=axes)
    for branch in ("mel", "stft"):
        bands = regions[(regions["branch"] == branch) & (regions["axis"] == "frequency")].sort_values(
            "region"
        )
        assert bands["low_hz"].iloc[0] == 0.0 and bands["high_hz"].iloc[-1] == 8000.0
        # Bands tile the spectrum, lowest first.
        np.testing.assert_allclose(bands["high_hz"].to_numpy()[:-1], bands["low_hz"].to_numpy()[1:])
        assert (np.diff(bands["low_hz"]) > 0).all()
        chunks = regions[(regions["branch"] == branch) & (regions["axis"] == "time")].sort_values("region")
        real = chunks[chunks["signal_fraction"] > 0]
        assert chunks["start_ms"].iloc[0] >= 0 and (np.diff(real["start_ms"]) > 0).all()
        assert chunks["signal_fraction"].iloc[0] == 1.0 and chunks["signal_fraction"].iloc[-1] < 1.0
        # Time ends at the segment's real length: no chunk reaches into padding past 50 ms.
        assert chunks["end_ms"].max() <= axes.segment_ms == 50.0
    mel = regions[(regions["branch"] == "mel") & (regions["axis"] == "frequency")]
    stft = regions[(regions["branch"] == "stft") & (regions["axis"] == "frequency")]
    # Mel bands widen with frequency; STFT bands are equal up to whole-pixel rounding.
    mel_widths = (mel["high_hz"] - mel["low_hz"]).to_numpy()
    assert mel_widths[-1] > 3 * mel_widths[0] and mel["high_hz"].iloc[0] < stft["high_hz"].iloc[0]
    widths = (stft["high_hz"] - stft["low_hz"]).to_numpy()
    assert widths.max() < 1.2 * widths.min()
    with pytest.raises(ExplainError):
        band_rows(8, 9)


def test_masking_with_training_mean_and_summary(model, pair):
    mel, stft = pair
    baseline = {"mel": mean_image(mel), "stft": mean_image(stft)}
    table = branch_masking(model, mel, stft, baseline=baseline, segment_ids=np.array([5, 6, 7]))
    runner = runner_for(model)
    expected = runner.predict(np.repeat(baseline["mel"][None], 3, 0), stft)
    np.testing.assert_allclose(table["prob_mel_masked"], expected, atol=1e-6)
    summary = masking_summary(table, fold=2)
    assert summary.loc[0, "fold"] == 2 and summary.loc[0, "n_segments"] == 3
    assert summary.loc[0, "mel_branch_mean"] == pytest.approx(table["delta_mel"].mean())
    assert abs(summary.loc[0, "stft_branch_mean"]) < 1e-6 and summary.loc[0, "dominant_branch"] == "mel"
    with pytest.raises(ExplainError, match="baseline"):
        branch_masking(model, mel, stft, baseline={"mel": baseline["mel"]})


def _predictions():
    return pd.DataFrame(
        {
            "segment_id": np.arange(8),
            "patient_id": ["P01", "P01", "P02", "P02", "P03", "P03", "P04", "P04"],
            "label": [1, 1, 1, 0, 0, 0, 1, 0],
            "prob": [0.9, 0.7, 0.2, 0.1, 0.3, 0.35, 0.45, 0.05],
        }
    )


def test_pick_cases_per_cell_with_fallback():
    cases = pick_cases(_predictions(), threshold=0.5, k=2)
    tp = cases[cases["cell"] == "TP"]
    assert tp["segment_id"].tolist() == [0, 1] and not tp["fallback"].any()
    fn = cases[cases["cell"] == "FN"]
    assert fn["segment_id"].tolist() == [2, 6]  # most confident miss first
    tn = cases[cases["cell"] == "TN"]
    assert tn["segment_id"].tolist() == [7, 3]
    # No false positive at 0.5: the label-0 segments nearest to one, flagged as fallback.
    fp = cases[cases["cell"] == "FP"]
    assert fp["segment_id"].tolist() == [5, 4] and fp["fallback"].all()
    assert (fp["predicted"] == 0).all()
    assert cases.groupby("cell")["rank"].max().to_dict() == {"FN": 2, "FP": 2, "TN": 2, "TP": 2}


def test_select_segments_scopes():
    predictions = _predictions()
    assert select_segments(predictions, patient_id="P02").tolist() == [2, 3]
    assert select_segments(predictions, cell="FN", threshold=0.5).tolist() == [2, 6]
    assert select_segments(predictions, segment_id=4).tolist() == [4]
    assert len(select_segments(predictions)) == 8
    with pytest.raises(ExplainError):
        select_segments(predictions, cell="FP", threshold=0.5)
    with pytest.raises(ExplainError):
        select_segments(predictions, cell="FN")


def test_deletion_insertion_prefers_a_faithful_map(model, pair):
    mel, stft = pair
    faithful = get_explainer("gradcam").explain(model, mel, stft)["mel"].heatmap
    misleading = 1.0 - faithful
    good = deletion_insertion(model, mel, stft, {"mel": faithful}, steps=10, fill="black")
    bad = deletion_insertion(model, mel, stft, {"mel": misleading}, steps=10, fill="black")
    assert good.shape == (3, 8)
    assert (good["deletion_gain"] > 0).all() and (good["insertion_gain"] > 0).all()
    assert (bad["deletion_gain"] < 0).all() and (bad["insertion_gain"] < 0).all()
    assert (good["deletion_auc"] < bad["deletion_auc"]).all()


def test_randomisation_check_detects_model_dependence(model, pair):
    mel, stft = pair
    before = model.get_trainable_state()
    table = randomisation_check(model, mel, stft, get_explainer("gradcam"), seed=3)
    assert table.shape[0] == 3 * 2
    mel_rows = table[table["branch"] == "mel"]
    assert (mel_rows["spearman"] < 0.5).all() and mel_rows["differs"].all()
    # The STFT map is empty in both models: no correlation, does not count as differing.
    assert table.loc[table["branch"] == "stft", "spearman"].isna().all()
    for a, b in zip(before, model.get_trainable_state(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_randomisation_check_needs_state_access(pair):
    class Bare(BandModel):
        get_trainable_state = None

    with pytest.raises(ExplainError, match="get_trainable_state"):
        randomisation_check(Bare(), pair[0], pair[1], get_explainer("gradcam"))


def test_summary_is_built_from_the_numbers(model, pair):
    mel, stft = pair
    axes = ImageAxes.from_config(_config(SIZE))
    masking = branch_masking(model, mel[:1], stft[:1])
    occlusion = occlusion_table(model, mel[:1], stft[:1], axes=axes, fill="black")
    prob = float(masking["prob"].iloc[0])
    threshold = prob - 0.05
    s = summarise(prob=prob, threshold=threshold, masking=masking, occlusion=occlusion, subject="segment 0")
    assert s.facts["predicted"] == "poor" and s.facts["decisive_branch"] == "mel"
    assert s.facts["bands"][0]["region"] == BAND_INDEX
    band = occlusion[(occlusion["branch"] == "mel") & (occlusion["axis"] == "frequency")].set_index("region")
    assert f"{band.loc[BAND_INDEX, 'delta']:+.2f}" in s.text
    assert f"{prob:.2f}" in s.text and "mel image carried the decision towards poor" in s.text
    assert "No single time chunk" in s.text or "In time" in s.text
    # A "well" prediction of the same numbers: the mel evidence points the other way.
    s2 = summarise(prob=prob, threshold=min(0.99, prob + 0.05), masking=masking, occlusion=occlusion)
    assert s2.facts["predicted"] == "well" and s2.facts["decisive_branch"] is None
    patient = summarise(prob=np.array([0.2, 0.8, 0.9]), threshold=0.5, subject="patient P07")
    assert "over 3 segments" in patient.text and "2 of 3" in patient.text


def test_store_caches_per_parameters(tmp_path):
    store = ExplainStore(tmp_path / "run")
    calls = []

    def compute():
        calls.append(1)
        return pd.DataFrame({"segment_id": [1, 2], "delta": [0.5, -0.25]})

    params = {"method": "occlusion", "segments": np.array([1, 2])}
    first = store.table(1, "occlusion", params, compute)
    again = store.table(1, "occlusion", params, compute)
    pd.testing.assert_frame_equal(first, again)
    assert len(calls) == 1
    store.table(1, "occlusion", {**params, "fill": "black"}, compute)
    assert len(calls) == 2
    arrays = store.arrays(2, "gradcam", {"k": 1}, lambda: {"heatmap": np.ones((2, 4, 4), np.float32)})
    assert store.load_arrays(2, "gradcam", {"k": 1})["heatmap"].shape == (2, 4, 4)
    assert arrays["heatmap"].sum() == 32
    entries = store.entries()
    assert sorted(entries["name"]) == ["gradcam", "occlusion", "occlusion"]
    assert not list((tmp_path / "run" / "explain").rglob("*.tmp"))
    assert (tmp_path / "run" / "explain" / "fold1").is_dir()


def test_bad_inputs_raise_explain_errors(model, pair):
    mel, stft = pair
    with pytest.raises(ExplainError, match="shape"):
        get_explainer("gradcam").explain(model, mel[:, :, :30], stft)
    with pytest.raises(ExplainError, match="target"):
        get_explainer("gradcam", target=2)
    with pytest.raises(ExplainError, match="unknown explanation method"):
        get_explainer("lime")
    with pytest.raises(ExplainError, match="fill"):
        occlusion_table(model, mel, stft, fill="white")
    with pytest.raises(ExplainError, match="prefix"):
        get_explainer("gradcam").explain(object(), mel, stft)
