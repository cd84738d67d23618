import sys

# Everything runs under the guard: worker processes started with 'spawn' re-import this file as
# __mp_main__, and must neither re-run the stage nor expect the snakemake object.
if __name__ == "__main__":
    # The workflow's own package, also where it is not pip-installed (conda envs, clusters).
    sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

    from roomgrid.runlog import logged
    from roomgrid.stages import run_pca

    with logged(snakemake.log[0]):
        p = snakemake.params
        run_pca(snakemake.input.photos, dict(zip(p.cities, snakemake.input.features)),
                snakemake.output[0], n_components=p.n_components, batch_size=p.batch_size,
                method=p.method, dataset=p.dataset)
