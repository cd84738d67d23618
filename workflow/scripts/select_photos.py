import sys

# Everything runs under the guard: worker processes started with 'spawn' re-import this file as
# __mp_main__, and must neither re-run the stage nor expect the snakemake object.
if __name__ == "__main__":
    # The workflow's own package, also where it is not pip-installed (conda envs, clusters).
    sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

    from roomgrid.runlog import logged
    from roomgrid.select import read_exclusions, select_photos, write_selection

    with logged(snakemake.log[0]):
        p = snakemake.params
        table, duplicates = select_photos(
            snakemake.input.photos, snakemake.input.scans, keep_bins=p.keep,
            graphic_below=p.graphic_below, photo_from=p.photo_from, max_distance=p.max_distance,
            exclusions=read_exclusions(snakemake.input.exclusions or None),
            stacks=dict(zip(p.cities, snakemake.input.stacks)),
            max_pixel_difference=p.max_pixel_difference)
        write_selection(table, duplicates, snakemake.output.photos, snakemake.output.duplicates,
                        snakemake.output.summary)
