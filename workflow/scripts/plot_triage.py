import sys

# Everything runs under the guard: worker processes started with 'spawn' re-import this file as
# __mp_main__, and must neither re-run the stage nor expect the snakemake object.
if __name__ == "__main__":
    # The workflow's own package, also where it is not pip-installed (conda envs, clusters).
    sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

    import json
    from roomgrid.io import read_table
    from roomgrid.report import plot_triage
    from roomgrid.runlog import logged

    with logged(snakemake.log[0]):
        summary = json.loads(open(snakemake.input.summary).read())
        plot_triage(read_table(snakemake.input.photos), summary, snakemake.output[0], **snakemake.params)
