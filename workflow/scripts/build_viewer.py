import sys

# Everything runs under the guard: worker processes started with 'spawn' re-import this file as
# __mp_main__, and must neither re-run the stage nor expect the snakemake object.
if __name__ == "__main__":
    # The workflow's own package, also where it is not pip-installed (conda envs, clusters).
    sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

    from roomgrid.runlog import logged
    from roomgrid.stages import run_viewer

    with logged(snakemake.log[0]):
        p = snakemake.params
        run_viewer(snakemake.input.cells, snakemake.input.facts, snakemake.input.photos,
                   snakemake.input.neighbours, snakemake.output.page, cell_px=p.cell_px,
                   tile_px=p.tile_px, title=p.title, leaflet_dir=p.leaflet_dir, photo_roots=p.city_dirs)
