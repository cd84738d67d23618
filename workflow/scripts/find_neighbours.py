from roomgrid.runlog import logged
from roomgrid.stages import run_neighbours

with logged(snakemake.log[0]):
    run_neighbours(snakemake.input[0], snakemake.output[0], k=snakemake.params.k,
                   seed=snakemake.params.seed, n_jobs=snakemake.threads)
