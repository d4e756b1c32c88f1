"""The Cohort page's label-mapping form: a label sheet and its columns, or the folder's layout,
and the positive class. Widgets only; detection, inference and counts come from core.cohort."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.cohort import CohortSource
from core.cohort.label_sheet import find_label_sheets, read_label_table
from core.cohort.sheet_columns import SheetColumns, detect_columns, infer_positive, label_values
from core.errors import CoreError
from pages.shared.sidebar import keep_source

LAYOUT_MODE = "The folder's own layout"
SHEET_MODE = "A label sheet (CSV or Excel)"
NONE = "(none)"
#: (SheetColumns field, label, required) in the order the form shows them.
COLUMN_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("path", "File path column", True),
    ("patient", "Patient / speaker column", False),
    ("label", "Label column", True),
    ("vowel", "Vowel column", False),
    ("phase", "Phase column (pre/post)", False),
    ("take", "Take column", False),
)


def _shown(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _folder_form(source: CohortSource) -> CohortSource:
    """Class folders: which folder is the positive class. Study/notebook: nothing to choose."""
    root = source.root
    folders = CohortSource(root).class_folders()
    if not folders:
        st.caption(
            "The study and notebook layouts read labels from folder names or their sheet: well = 0, poor = 1."
        )
        return CohortSource(root)
    default = "(default: healthy / normal / control / HC folders are 0, every other folder 1)"
    options = [default, *folders]
    current = source.positive if source.labels is None and source.positive in folders else default
    pick = st.selectbox(
        "Positive class (label 1): class folder",
        options,
        index=options.index(current),
        key="c_folder_positive",
        help="The chosen folder is label 1, every other class folder 0.",
    )
    return CohortSource(root, positive=None if pick == default else pick)


def _sheet_form(source: CohortSource) -> CohortSource | None:
    """Sheet, columns (pre-filled with the detected ones), positive value; None until complete."""
    root = source.root
    sheets = find_label_sheets(root)
    if source.labels is not None and source.labels not in sheets:
        sheets.insert(0, source.labels)
    other = st.text_input(
        "Another sheet (a path on this machine)", key="c_sheet_path", placeholder="/data/voices/labels.xlsx"
    )
    if other.strip():
        sheet = Path(other.strip()).expanduser()
    elif sheets:
        index = sheets.index(source.labels) if source.labels in sheets else 0
        sheet = st.selectbox(
            "Label sheet", sheets, index=index, format_func=lambda p: _shown(root, p), key="c_sheet"
        )
    else:
        st.info("No .csv or .xlsx file in this folder: give the sheet's path above.")
        return None
    try:
        table = read_label_table(sheet if sheet.is_absolute() else root / sheet)
    except CoreError as exc:
        st.error(str(exc))
        return None
    headers = list(table.columns)
    same = source.labels is not None and source.labels == sheet.resolve()
    given = (
        SheetColumns(
            path=source.path_column,
            patient=source.patient_column,
            label=source.label_column,
            vowel=source.vowel_column,
            phase=source.phase_column,
            take=source.take_column,
        )
        if same
        else None
    )
    try:
        detected = detect_columns(headers, given, strict=False)
    except CoreError:
        detected = detect_columns(headers, strict=False)
    st.caption("Columns found by their names are filled in; change any that is wrong.")
    chosen: dict[str, str | None] = {}
    columns = st.columns(3)
    for i, (name, label, required) in enumerate(COLUMN_FIELDS):
        options = headers if required else [NONE, *headers]
        value = getattr(detected, name)
        index = options.index(value) if value in options else (None if required else 0)
        pick = columns[i % 3].selectbox(
            label, options, index=index, key=f"c_col_{name}_{sheet.name}", placeholder="choose a column"
        )
        chosen[name] = None if pick in (None, NONE) else pick
    if chosen["path"] is None or chosen["label"] is None:
        st.warning("Choose the file path and label columns.")
        return None
    values = label_values(table, chosen["label"])
    try:
        inferred: str | None = infer_positive(values, column=chosen["label"])
    except CoreError:
        inferred = None
    current = source.positive if same and source.positive in values else inferred
    positive = st.selectbox(
        "Positive class (label 1): value of the label column",
        values,
        index=values.index(current) if current in values else None,
        key=f"c_positive_{sheet.name}_{chosen['label']}",
        placeholder="choose the positive value",
        help="Rows with this value are label 1, every other value 0.",
    )
    if positive is None:
        st.warning(
            f"The values {', '.join(map(repr, values))} do not say which class is positive: choose one."
        )
        return None
    return CohortSource(
        root,
        labels=sheet if sheet.is_absolute() else root / sheet,
        path_column=chosen["path"],
        patient_column=chosen["patient"],
        label_column=chosen["label"],
        positive=positive,
        vowel_column=chosen["vowel"],
        phase_column=chosen["phase"],
        take_column=chosen["take"],
    )


def label_mapping_form(source: CohortSource) -> None:
    """Draw the form; "Use this mapping" keeps the new source for the folder and reruns the page."""
    modes = [LAYOUT_MODE, SHEET_MODE]
    mode = st.radio("Labels from", modes, index=int(source.labels is not None), horizontal=True, key="c_mode")
    chosen = _folder_form(source) if mode == LAYOUT_MODE else _sheet_form(source)
    if chosen is None:
        return
    if chosen.labels is not None:
        try:
            preview = chosen.label_sheet.preview(source.root)  # type: ignore[union-attr]
        except CoreError as exc:
            st.error(str(exc))
            return
        st.markdown("**Preview** (from the sheet alone, before any audio is read)")
        st.dataframe(preview, hide_index=True, width="stretch")
    if chosen == source:
        st.caption("This mapping is in use on every page.")
    elif st.button("Use this mapping", type="primary", key="c_apply"):
        keep_source(chosen)
        st.rerun()
