"""Train: choose settings, launch cross-validation in a background process, follow it live."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import figures, jobs
from core.augment import SPEC_AUGMENT_MODES
from core.commands.cohort_options import cohort_argv
from core.config import VOWELS, hyperparameter_table, preset, with_overrides
from core.errors import CoreError
from core.models.backbones import BACKBONES
from core.models.download import fetch_in_background, fetch_jobs
from core.models.weights import all_status
from core.results import learning_curves
from core.runs import load_run
from core.workspace import runs_dir
from pages.shared.queue import queue_panel, start_next, submit
from pages.shared.sidebar import current_cohort
from pages.shared.sweeps import sweep_section

st.title("Train")
cohort = current_cohort()
if cohort is None:
    st.stop()


@st.fragment(run_every=2.0)
def live_panel(job: jobs.Job) -> None:
    """Progress of the running job, redrawn every 2 s without rerunning the page."""
    state = jobs.status(job)
    fraction, text = jobs.progress_text(state)
    st.progress(fraction, text=text)
    if state["run_dir"]:
        try:
            run = load_run(state["run_dir"])
            curves = learning_curves(run)
        except CoreError:
            curves = pd.DataFrame()
        if not curves.empty:
            auroc = curves[(curves["metric"] == "auroc") & (curves["part"].isin(["train", "val"]))]
            fig = figures.learning_curves(auroc, label="AUROC", height=300, range_y=[0, 1.02])
            st.plotly_chart(fig, width="stretch", key="live_curves")
    if not state["alive"]:
        if state["status"] == "complete":
            st.success(f"Run {job.name!r} finished. Its metrics are on the Results page.")
        elif state["status"] == "cancelled":
            st.warning(f"Run {job.name!r} was cancelled; `python -m core train --resume RUN` continues it.")
        else:
            st.error(f"Run {job.name!r} stopped with status {state['status']!r}.\n\n{state['log_tail']}")
        st.session_state.pop("job", None)
        if st.button("Start another run"):
            st.rerun()
    elif st.button("Cancel this run", type="secondary"):
        jobs.cancel(job)
        st.rerun(scope="fragment")


start_next(runs_dir())
job = jobs.active_job(runs_dir()) or st.session_state.get("job")
if job is not None:
    st.subheader(f"Run {job.name!r}")
    live_panel(job)
queue_panel(runs_dir())

left, right = st.columns([2, 3])
with left:
    name = st.text_input("Run name", value="demo", key="t_name", max_chars=40)
    preset_name = st.radio(
        "Preset",
        ["quick", "seed", "voice"],
        horizontal=True,
        key="t_preset",
        help="seed = the study's exact protocol (EfficientNetB0, 20 + 60 epochs): on a 2-core CPU the demo's "
        "5 folds took about 12 min with early stopping, at most about 27 min; "
        "quick = small CNN, few epochs, finishes the demo's 5 folds in 1–2 min on a CPU; "
        "voice = recommended for real recordings: the whole vowel (0.4 s windows every 0.2 s, up to 24), "
        "images fitted to the signal (no empty mel filter, no repeated column, band up to each file's "
        "Nyquist), "
        "small CNN as in quick.",
    )
    base = preset(preset_name)
    # Widget keys carry the preset so switching preset restores its defaults.
    labels = {key: spec.label for key, spec in BACKBONES.items()}
    backbone = st.selectbox(
        "Backbone",
        list(labels),
        index=list(labels).index(base.model.backbone),
        format_func=labels.get,
        key=f"t_backbone_{preset_name}",
    )
    inputs = st.radio(
        "Input",
        ["dual", "mel", "stft"],
        horizontal=True,
        key="t_inputs",
        help="dual = Mel and STFT through one shared backbone, as in the study.",
    )
    split = st.radio(
        "Split",
        ["patient", "segment_leaky"],
        horizontal=True,
        key="t_split",
        format_func={"patient": "by patient", "segment_leaky": "by segment (leaky)"}.get,
    )
    if split == "segment_leaky":
        st.warning(
            "A segment-level split puts segments of one patient in train and test, as the study's "
            "notebook did. Its scores are optimistic; the run is labelled leaky everywhere."
        )
    c1, c2 = st.columns(2)
    folds = c1.number_input("Folds", 2, 10, base.split.n_folds, key=f"t_folds_{preset_name}")
    repeats = c2.number_input(
        "Repeats",
        1,
        40,
        base.split.repeats,
        key=f"t_repeats_{preset_name}",
        help="Repeated cross-validation with seeds 42, 43 … for 95 % intervals.",
    )
    warmup = c1.number_input(
        "Warm-up epochs", 0, 200, base.train.warmup_epochs, key=f"t_warmup_{preset_name}"
    )
    finetune = c2.number_input(
        "Fine-tune epochs", 0, 400, base.train.finetune_epochs, key=f"t_finetune_{preset_name}"
    )
    augment = st.checkbox(
        "Brightness/contrast augmentation",
        key="t_augment",
        help="Slower: the backbone's features cannot be cached when the images change.",
    )
    spec_augment = st.radio(
        "Spectrogram augmentation",
        list(SPEC_AUGMENT_MODES),
        index=list(SPEC_AUGMENT_MODES).index(base.train.spec_augment),
        horizontal=True,
        key=f"t_spec_augment_{preset_name}",
        help="mask = SpecAugment's time and frequency masks on training images; mask+mix adds mixup "
        "between training pairs (labels mixed too). Slower: the backbone's features cannot be cached.",
    )
    vowels = st.multiselect(
        "Vowels (pre-op)",
        list(VOWELS),
        default=list(base.preprocess.selection.vowels),
        key=f"t_vowels_{preset_name}",
        help="One model over every chosen vowel: each patient's recordings of all of them are cut into "
        "segments, and the patient's probability is the mean over all of those segments. A patient's "
        "vowels always stay in the same fold.",
    )
    backend = st.radio(
        "Backend",
        ["local", "ray"],
        horizontal=True,
        key="t_backend",
        help="local = folds one after another; ray = one Ray task per fold, in parallel.",
    )

overrides = {
    "model.backbone": backbone,
    "model.inputs": inputs,
    "split.kind": split,
    "split.n_folds": int(folds),
    "split.repeats": int(repeats),
    "train.warmup_epochs": int(warmup),
    "train.finetune_epochs": int(finetune),
    "train.augment": bool(augment),
    "train.spec_augment": spec_augment,
    "preprocess.selection.vowels": list(vowels),
}
try:
    config = with_overrides(base, overrides)
except CoreError as exc:
    st.error(f"These settings do not work together: {exc}")
    st.stop()

with right:
    st.markdown("**Hyper-parameters of this run** (the study's table)")
    st.dataframe(pd.DataFrame(hyperparameter_table(config)), hide_index=True, width="stretch", height=520)


def weights_panel(backbone: str, wanted: bool, polling: bool) -> None:
    """Each backbone's ImageNet weights on this machine, and a background Fetch for the chosen one."""
    states = pd.DataFrame([s.to_dict() for s in all_status()])
    states["sha256"] = states["sha256"].str[:16]
    st.dataframe(
        states[["label", "state", "sha256", "file", "note"]],
        hide_index=True,
        width="stretch",
        key="t_weights_table",
    )
    job = fetch_jobs().get(backbone)
    state = states.set_index("backbone").loc[backbone, "state"]
    if job is not None and not job.finished:
        fraction, text = job.progress()
        st.progress(fraction, text=text)
    elif job is not None and job.error:
        st.error(
            f"{job.error}. Training starts from random initialisation and says so; "
            "`python -m core weights import FILE --backbone B` brings a file from another machine."
        )
    if state == "missing" and (job is None or job.finished):
        if st.button(f"Fetch ImageNet weights for {BACKBONES[backbone].label}", key="t_fetch"):
            fetch_in_background(backbone)
            st.rerun()
    elif state in ("cached", "imported") and wanted:
        st.caption(f"{BACKBONES[backbone].label} starts from this ImageNet file; the run records its sha256.")
    if wanted and state == "missing":
        st.caption(
            "Without the file, training fetches it first; offline it starts from random "
            "initialisation and the run says so."
        )
    if polling and not any(not j.finished for j in fetch_jobs().values()):
        st.rerun()  # the download ended: redraw the page once and stop polling


with st.expander("ImageNet weights", expanded=config.model.weights == "imagenet"):
    downloading = any(not j.finished for j in fetch_jobs().values())
    st.fragment(run_every=1.0 if downloading else None)(weights_panel)(
        backbone, config.model.weights == "imagenet", downloading
    )

if st.button("Queue this run" if job is not None else "Start training", type="primary", key="t_start"):
    # the settings travel as one config file (train --config FILE); the label mapping as cohort options
    options = ["--backend", backend, *(cohort_argv(cohort.source)[2:] if cohort.source is not None else [])]
    try:
        submit(
            runs_dir(),
            command="train",
            cohort=cohort.root,
            name=name or "run",
            preset=config.preset,
            config=config.to_dict(),
            options=options,
        )
    except CoreError as exc:
        st.error(str(exc))

sweep_section(cohort, runs_dir())
