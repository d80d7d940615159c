"""Figures as PNGs and image grids (NumPy + matplotlib, no pyplot state):
interpolation grids and point mixes (drawing), the experiments' charts
(charts)."""
