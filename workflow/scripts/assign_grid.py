from roomgrid.runlog import logged
from roomgrid.stages import run_grid

with logged(snakemake.log[0]):
    run_grid(snakemake.input.points, snakemake.input.photos, snakemake.output.cells,
             snakemake.output.facts, n_jobs=snakemake.threads, **snakemake.params)
