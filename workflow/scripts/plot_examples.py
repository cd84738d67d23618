import sys

# Everything runs under the guard: worker processes started with 'spawn' re-import this file as
# __mp_main__, and must neither re-run the stage nor expect the snakemake object.
if __name__ == "__main__":
    # The workflow's own package, also where it is not pip-installed (conda envs, clusters).
    sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

    from roomgrid.io import read_table
    from roomgrid.report import plot_bin_examples, plot_duplicate_examples
    from roomgrid.runlog import logged

    with logged(snakemake.log[0]):
        thumbs = dict(zip(snakemake.params.cities, snakemake.input.thumbs))
        plot_bin_examples(read_table(snakemake.input.photos), thumbs, snakemake.output.bins)
        plot_duplicate_examples(read_table(snakemake.input.duplicates), thumbs,
                                snakemake.output.duplicates)
