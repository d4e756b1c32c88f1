"""PNG figures of one segment's Mel or STFT spectrogram, for papers.

Figures are drawn on a standalone ``matplotlib.figure.Figure`` (Agg canvas, no pyplot
state), so exporting from a Streamlit page or a worker thread is safe. The axes give
time in ms from the segment's start and frequency in Hz (mel-spaced for the Mel
branch); the colour bar is in dB. Titles and file names use pseudonymous ids only.
"""

from __future__ import annotations

from pathlib import Path

import librosa.display
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from core.audio import window_lengths
from core.config import PreprocessConfig
from core.dataset import SegmentDataset
from core.errors import DatasetError
from core.spectrogram import Kind, matrix_column_ms, real_frames


def export_spectrogram_png(
    db: np.ndarray,
    path: Path | str,
    *,
    kind: Kind,
    config: PreprocessConfig,
    title: str | None = None,
    dpi: int = 200,
    figsize: tuple[float, float] = (4.0, 3.2),
    cmap: str = "magma",
) -> Path:
    """Draw one dB matrix with axes in ms and Hz and a dB colour bar, and save it as PNG.

    Parameters
    ----------
    db : np.ndarray [shape=(rows, frames)]
        Mel (``n_mels`` rows) or STFT (``n_fft // 2 + 1`` rows) power in dB, row 0 the
        lowest frequency, as in ``SegmentDataset.mel_db[i]`` / ``stft_db[i]``.
    path : Path or str
        Output file; parent folders are created.
    kind : {"mel", "stft"}
    config : PreprocessConfig
        The settings that produced ``db`` (sample rate, window length, FFT).
    title : str, optional
    dpi : int
    figsize : tuple of float
        Inches.
    cmap : str
        Matplotlib colour map.

    Returns
    -------
    path : Path
        The written file.
    """
    db = np.asarray(db, dtype=np.float32)
    if db.ndim != 2:
        raise DatasetError(f"spectrogram of shape {db.shape}; expected (rows, frames)")
    sr = config.audio.sample_rate
    n_samples, _, _ = window_lengths(sr=sr, config=config.window)
    spec = config.spectrogram
    times_s = matrix_column_ms(kind, sr=sr, n_samples=n_samples, config=spec)[: db.shape[1]] / 1000.0
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    mesh = librosa.display.specshow(
        db,
        sr=sr,
        x_coords=times_s,
        x_axis="ms",
        y_axis="mel" if kind == "mel" else "linear",
        fmax=sr / 2,
        ax=ax,
        cmap=cmap,
    )
    real = real_frames(kind, n_samples=n_samples, config=spec)
    if real < db.shape[1]:
        # Columns right of this line repeat the last real frame (time axis fixed to `frames`).
        ax.axvline(times_s[real - 1], color="white", linestyle=":", linewidth=0.8)
    ax.set_xlabel("Time (ms)")
    ax.set_ylabel("Frequency (Hz)")
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(mesh, ax=ax, format="%+.0f dB")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def export_segment_png(
    dataset: SegmentDataset,
    segment_id: int,
    out_dir: Path | str,
    *,
    branch: Kind = "mel",
    dpi: int = 200,
) -> Path:
    """Save one segment's Mel or STFT spectrogram as ``<recording>_seg<k>_<branch>.png``.

    Parameters
    ----------
    dataset : SegmentDataset
    segment_id : int
        Row of ``dataset.segments``.
    out_dir : Path or str
        Folder for the file.
    branch : {"mel", "stft"}
    dpi : int

    Returns
    -------
    path : Path
    """
    if not 0 <= segment_id < len(dataset):
        raise DatasetError(f"segment_id={segment_id}; expected 0..{len(dataset) - 1}")
    if branch not in ("mel", "stft"):
        raise DatasetError(f"branch={branch!r}; expected mel or stft")
    row = dataset.segments.iloc[segment_id]
    db = dataset.mel_db[segment_id] if branch == "mel" else dataset.stft_db[segment_id]
    title = (
        f"{row.recording_id} segment {int(row.segment_index)} "
        f"({row.start_s * 1000:.0f}-{row.end_s * 1000:.0f} ms), {branch.upper()}"
    )
    name = f"{row.recording_id}_seg{int(row.segment_index):02d}_{branch}.png"
    return export_spectrogram_png(
        db, Path(out_dir) / name, kind=branch, config=dataset.config, title=title, dpi=dpi
    )
