from roomgrid.runlog import logged
from roomgrid.stages import run_grid

# Guarded: worker processes started with 'spawn' re-import this file as __mp_main__.
if __name__ == "__main__":
    with logged(snakemake.log[0]):
        run_grid(snakemake.input.points, snakemake.input.photos, snakemake.output.cells,
                 snakemake.output.facts, n_jobs=snakemake.threads, **snakemake.params)
