"""Figures of the paper's results (Ratzon, Derdikman & Barak 2024, eLife 13:RP90069)."""

from repdrift.plotting.fig2 import draw_fig2 as draw_fig2
