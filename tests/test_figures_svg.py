"""Figures are sharp (SVG), byte-identical on reruns, with legends of at least 9 pt outside
the data and labelled start lines (issue 11)."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pytest

from pipeline import config
from pipeline.evaluation import fit_outcome, load_series, measured
from pipeline.report import figures


@pytest.fixture(scope="module")
def thi(prepared_project):
    cfg = config.load_intervention("thi_month", prepared_project)
    series = measured(cfg, load_series(config.paths(prepared_project).series("thi_month")))
    return cfg, fit_outcome(cfg, cfg.headline, series), config.load_disclosure(prepared_project)


def _impact(thi):
    cfg, result, rule = thi
    return figures.impact_figure(result, cfg, cfg.headline.label, rule, cfg.headline.events)


def test_figures_are_svg_whose_bytes_depend_only_on_the_picture(thi):
    first, second = (figures.svg_bytes(_impact(thi)) for _ in range(2))
    plt.close("all")
    assert first.startswith(b"<?xml") and b"<svg" in first[:400]
    assert first == second
    assert b"<dc:date>" not in first and b"Matplotlib v" not in first
    assert b"<text" not in first          # glyphs as paths: no font needed on the reader's side
    # coordinates to 0.01 pt: a last-bit difference between BLAS kernels cannot show; glyph
    # scale factors kept exact (rounded, 0.015625 became 0.02 and distorted every letter)
    outside = re.sub(rb"(?:scale|matrix)\([^)]*\)", b"", first)
    assert not re.search(rb"\d\.\d{3}", outside)
    assert b"scale(0.015625)" in first


def test_legends_are_9_pt_and_outside_the_data(thi):
    fig = _impact(thi)
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert all(t.get_fontsize() >= 9 for t in legend.get_texts())
    box, data = legend.get_window_extent(), ax.get_window_extent()
    assert box.x0 >= data.x1               # to the right of the axes, never over the series
    plt.close(fig)


def test_start_lines_are_labelled_with_the_phase_names(thi):
    cfg, result, _ = thi
    fig = _impact(thi)
    labels = [t.get_text() for t in fig.axes[0].texts]
    for phase in cfg.phases:
        assert phase.name in labels
    assert all(t.get_fontsize() >= 9 for t in fig.axes[0].texts)
    plt.close(fig)


def test_a_last_bit_difference_does_not_change_the_bytes():
    """Clip-path ids are hashes of full-precision coordinates in matplotlib; a last-bit
    difference in an axes box (another BLAS kernel, through tick labels and the tight layout)
    renamed them and changed the pulmonary rehab report's bytes on 3 of 4 kernels."""

    def picture(height):
        fig = plt.figure(figsize=(4, 3))
        ax = fig.add_axes([0.125, 0.15, 0.7, height])
        ax.plot([0, 1, 2], [0.2, 0.5, 0.4], "o-")
        data = figures.svg_bytes(fig)
        plt.close(fig)
        return data

    one, other = picture(0.7), picture(0.7 + 1e-12)
    assert one == other and b'id="p1"' in one and b"url(#p1)" in one
