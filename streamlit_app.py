"""Voice Outcome Explorer: `streamlit run streamlit_app.py`.

Builds the navigation; each page lives in pages/, draws the shared sidebar through
pages/shared/sidebar.py and only shows what core computes.
"""

from __future__ import annotations

import threading

import streamlit as st

st.set_page_config(page_title="Voice Outcome Explorer", page_icon="assets/logo.svg", layout="wide")

PAGES = {
    "Data": [
        st.Page("pages/overview.py", title="Overview", icon=":material/home:", default=True),
        st.Page("pages/cohort.py", title="Cohort", icon=":material/groups:"),
        st.Page("pages/audio.py", title="Audio", icon=":material/graphic_eq:"),
    ],
    "Model": [
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/results.py", title="Results", icon=":material/leaderboard:"),
    ],
    "Explain": [
        st.Page("pages/explain.py", title="Explain", icon=":material/visibility:"),
        st.Page("pages/patient.py", title="Patient", icon=":material/person:"),
    ],
    "Share": [
        st.Page("pages/present.py", title="Present", icon=":material/slideshow:"),
        st.Page("pages/predict.py", title="Predict", icon=":material/upload_file:"),
    ],
}


@st.cache_resource(show_spinner=False)
def _warm_up_tensorflow() -> threading.Thread:
    """Import TensorFlow once per server in the background, so the first visit to a page
    that loads a model does not wait for it (the import takes about 4 s on two cores)."""
    from core.models.runtime import tensorflow

    thread = threading.Thread(target=tensorflow, name="voe-tensorflow-warm-up", daemon=True)
    thread.start()
    return thread


_warm_up_tensorflow()
navigation = st.navigation(PAGES)
st.logo("assets/logo.svg", size="large")
navigation.run()
