"""roomgrid: lay listing photos on a zoomable grid where each sits next to look-alikes.

One module per stage; the Snakemake rules in ``workflow/rules`` only call into them.
"""

__version__ = "0.1.0"
