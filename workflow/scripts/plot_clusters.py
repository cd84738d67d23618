import sys

# Everything runs under the guard: worker processes started with 'spawn' re-import this file as
# __mp_main__, and must neither re-run the stage nor expect the snakemake object.
if __name__ == "__main__":
    # The workflow's own package, also where it is not pip-installed (conda envs, clusters).
    sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

    import json

    from roomgrid.io import read_table
    from roomgrid.report_cull import plot_clusters
    from roomgrid.runlog import logged

    with logged(snakemake.log[0]):
        p = snakemake.params
        with open(snakemake.input.facts) as handle:
            facts = json.load(handle)
        plot_clusters(read_table(snakemake.input.table), facts,
                      dict(zip(p.cities, snakemake.input.thumbs)), snakemake.output[0],
                      names=p.names)
