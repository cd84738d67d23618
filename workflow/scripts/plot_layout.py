import json

from roomgrid.io import read_table
from roomgrid.report import plot_layout
from roomgrid.runlog import logged

with logged(snakemake.log[0]):
    plot_layout(read_table(snakemake.input.points), read_table(snakemake.input.cells),
                json.loads(open(snakemake.input.facts).read()),
                json.loads(open(snakemake.input.tsne).read()), snakemake.output[0])
