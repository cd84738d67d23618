import sys

# Everything runs under the guard: worker processes started with 'spawn' re-import this file as
# __mp_main__, and must neither re-run the stage nor expect the snakemake object.
if __name__ == "__main__":
    # The workflow's own package, also where it is not pip-installed (conda envs, clusters).
    sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

    from pathlib import Path
    from roomgrid.runlog import logged
    from roomgrid.scrape import scrape_city

    with logged(snakemake.log[0]):
        scrape_city(snakemake.wildcards.city, Path(snakemake.output[0]).parent, snakemake.params.settings)
