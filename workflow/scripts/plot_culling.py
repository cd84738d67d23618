import sys

# Everything runs under the guard: worker processes started with 'spawn' re-import this file as
# __mp_main__, and must neither re-run the stage nor expect the snakemake object.
if __name__ == "__main__":
    # The workflow's own package, also where it is not pip-installed (conda envs, clusters).
    sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

    import json

    from roomgrid.report_cull import plot_culling
    from roomgrid.runlog import logged

    with logged(snakemake.log[0]):
        with open(snakemake.input.metrics) as metrics, open(snakemake.input.summary) as summary:
            plot_culling(json.load(metrics), json.load(summary), snakemake.output[0])
