import sys

# Everything runs under the guard: worker processes started with 'spawn' re-import this file as
# __mp_main__, and must neither re-run the stage nor expect the snakemake object.
if __name__ == "__main__":
    # The workflow's own package, also where it is not pip-installed (conda envs, clusters).
    sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

    from roomgrid.runlog import logged
    from roomgrid.stages import run_clusters

    with logged(snakemake.log[0]):
        p = snakemake.params
        run_clusters(dict(zip(p.cities, snakemake.input.scans)),
                     dict(zip(p.cities, snakemake.input.features)), snakemake.output.table,
                     snakemake.output.facts, dataset=p.dataset, k=p.k, seed=p.seed)
