from pathlib import Path

from roomgrid.runlog import logged
from roomgrid.scrape import scrape_city

# Guarded: worker processes started with 'spawn' re-import this file as __mp_main__.
if __name__ == "__main__":
    with logged(snakemake.log[0]):
        scrape_city(snakemake.wildcards.city, Path(snakemake.output[0]).parent, snakemake.params.settings)
