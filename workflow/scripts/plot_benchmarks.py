import sys

# Everything runs under the guard: worker processes started with 'spawn' re-import this file as
# __mp_main__, and must neither re-run the stage nor expect the snakemake object.
if __name__ == "__main__":
    # The workflow's own package, also where it is not pip-installed (conda envs, clusters).
    sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

    from roomgrid.report import plot_benchmarks
    from roomgrid.runlog import logged

    with logged(snakemake.log[0]):
        plot_benchmarks(list(snakemake.input), snakemake.output[0])
