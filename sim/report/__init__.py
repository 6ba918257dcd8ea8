"""Matplotlib figures and one self-contained HTML report for a run; the same
figure helpers draw `compare`'s paired figures."""

from sim.report.figures import make_figures
from sim.report.plotting import FigureFile
from sim.report.report import write_report

__all__ = ["FigureFile", "make_figures", "write_report"]
