"""Voice Outcome Explorer: `streamlit run streamlit_app.py`.

Builds the navigation; each page lives in pages/, draws the shared sidebar through
pages/shared/sidebar.py and only shows what core computes.
"""

from __future__ import annotations

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

navigation = st.navigation(PAGES)
st.logo("assets/logo.svg", size="large")
navigation.run()
