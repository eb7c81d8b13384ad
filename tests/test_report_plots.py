"""Report figures at the issue's scale: 7 stages x 400 steps x 40 layers x 16 experts, 400 envs."""

from __future__ import annotations

import pytest
from synthetic_metrics import full_scale_run

from cascade.report.figures import draw_all, save_png
from cascade.report.series import lay_out

# axes per figure: 3 curves; 1 reason group; 1 curriculum stage; 1 length;
# 6 router stages x (start, end) + a shared colour bar; skip, entropy (+2 colour bars), ratio
EXPECTED_AXES = {"training": 3, "reasons": 1, "difficulty": 1, "length": 1, "router_loads": 13, "router_layers": 5}


@pytest.mark.slow
def test_full_scale_figures_are_written_with_the_expected_axes(tmp_path):
    stages = lay_out(full_scale_run())
    figures = draw_all(stages)
    assert {stem: len(fig.axes) for stem, _, fig in figures} == EXPECTED_AXES
    by_stem = {stem: fig for stem, _, fig in figures}
    router = by_stem["router_layers"].axes
    assert router[2].get_yscale() == "log", "the max/min load ratio has its own log axis"
    assert [ax.get_ylabel() for ax in by_stem["training"].axes] == ["loss", "reward", "accuracy"]
    legend = [t.get_text() for t in by_stem["difficulty"].axes[0].get_legend().get_texts()]
    assert len(legend) == 22 and legend[0] == "other 380 envs (min-max)"
    for stem, _, fig in figures:
        data = save_png(fig, tmp_path / f"{stem}.png")
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / f"{stem}.png").stat().st_size > 10_000, stem


def test_absent_reasons_count_as_zero_in_the_stacked_area():
    """A reason logged on some steps only must not leave gaps: the stack always sums to 1."""
    stages = lay_out([("rl", [{"step": 1, "task/reason/correct": 1.0}, {"step": 2, "task/reason/wrong_answer": 1.0}])])
    fig = dict((s, f) for s, _, f in draw_all(stages))["reasons"]
    ax = fig.axes[0]
    tops = [path.vertices[:, 1].max() for coll in ax.collections for path in coll.get_paths()]
    assert len(ax.collections) >= 2 and max(tops) == pytest.approx(1.0)
